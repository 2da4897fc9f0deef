//! The start journal, `RUN/qemu/domain-ID-NAME.start` beside the start's private dir: what a
//! start is making on the host, written before it is made, so that a daemon killed at any
//! instant of a start leaves nothing its successor cannot find.
//!
//! How a start uses it (`live/start.rs`):
//!
//! 1. The journal is created, atomically, naming the domain and the run's ID, before the
//!    private dir, the channel dir, the memory dir, swtpm, virtiofsd or QEMU exist.
//! 2. Every process the start spawns (swtpm, virtiofsd, QEMU) is appended, with its start
//!    time, and fsync'ed *before it may exec* (`process::spawn`'s record): a process that is
//!    not in the journal never ran anything but a copy of the daemon, which dies with it.
//! 3. When the start is over, either complete (the status file saved as RUNNING or PAUSED) or
//!    failed and cleaned up, the journal is removed.
//!
//! A daemon that starts finds the journals its predecessor left (`live/reattach.rs`). If the
//! status file of that name and ID records a finished start, the status file rules and the
//! guest is reattached as any other. Otherwise the start is undone as libvirt undoes a start
//! it cannot finish: every recorded process still alive (same pid and start time, not a
//! zombie) is killed, the private, channel and memory dirs and the status file go, the
//! domain is shut off (failed; a transient one is forgotten), and the journal goes last, so
//! a daemon killed during that clean-up has its successor do it again.
//!
//! The format is JSON lines: a header `{"name":"web","id":3}`, then one
//! `{"pid":1234,"starttime":98765}` per process. A torn last line (the daemon died while
//! appending it) is ignored: its process had not been let exec and died with the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::process::Pid;

/// The file suffix of a journal.
const SUFFIX: &str = ".start";

/// The journal of one start.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

/// A journal read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The domain.
    pub name: String,
    /// The run's domain ID.
    pub id: u32,
    /// Every process the start let exec.
    pub pids: Vec<Pid>,
    /// The start's private dir.
    pub lib_dir: PathBuf,
}

impl Journal {
    /// The journal of the start whose private dir is `lib_dir` (`lib_dir` + `.start`).
    pub fn of(lib_dir: &Path) -> Journal {
        let mut path = lib_dir.as_os_str().to_owned();
        path.push(SUFFIX);
        Journal { path: path.into() }
    }

    /// Creates the journal of domain `name` starting as ID `id` in `lib_dir` (atomically:
    /// the header is whole or absent).
    pub fn create(lib_dir: &Path, name: &str, id: u32) -> std::io::Result<Journal> {
        let j = Journal::of(lib_dir);
        if let Some(dir) = j.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let header = format!("{}\n", json!({ "name": name, "id": id }));
        virt_core::fsutil::write_atomic(&j.path, header.as_bytes(), 0o600)?;
        Ok(j)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `pid` and waits until it is on disk. The journal must exist: a process of a
    /// start nobody journals is refused.
    pub fn note(&self, pid: Pid) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        let line = format!(
            "{}\n",
            json!({ "pid": pid.pid, "starttime": pid.start_time })
        );
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// Removes the journal: the start is over. A missing file is fine.
    pub fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "cannot remove the start journal")
            }
        }
    }

    /// Reads the journal back.
    pub fn read(&self) -> Result<Entry, String> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        let lib_dir = self
            .path
            .to_str()
            .and_then(|p| p.strip_suffix(SUFFIX))
            .map(PathBuf::from)
            .ok_or("not a journal file name")?;
        parse(&text, lib_dir)
    }
}

/// Parses a journal's text (see the module docs).
fn parse(text: &str, lib_dir: PathBuf) -> Result<Entry, String> {
    let mut lines = text.lines();
    let header: Value = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("no header")?;
    let name = header
        .get("name")
        .and_then(Value::as_str)
        .ok_or("the header names no domain")?
        .to_string();
    let id = header
        .get("id")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("the header has no ID")?;
    let pids = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some(Pid {
                pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
                start_time: v.get("starttime")?.as_u64()?,
            })
        })
        .filter(|p| p.pid > 0)
        .collect();
    Ok(Entry {
        name,
        id,
        pids,
        lib_dir,
    })
}

/// Every journal in `dir` (the run dir), by name. The temporary file of a journal whose
/// creation a crash interrupted is removed: that start had not begun.
pub fn find_all(dir: &Path) -> Vec<Journal> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = e.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if file.starts_with(".domain-") && file.contains(&format!("{SUFFIX}.tmp.")) {
            let _ = std::fs::remove_file(&path);
        } else if file.starts_with("domain-") && file.ends_with(SUFFIX) {
            out.push(Journal { path });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_names_its_start_and_every_process_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = dir.path().join("domain-3-web");
        let j = Journal::create(&lib, "web 'odd\" name", 3).expect("create");
        assert_eq!(j.path(), dir.path().join("domain-3-web.start"));
        let a = Pid {
            pid: 10,
            start_time: 100,
        };
        let b = Pid {
            pid: 11,
            start_time: 101,
        };
        j.note(a).expect("note");
        j.note(b).expect("note");
        let e = j.read().expect("read");
        assert_eq!(
            e,
            Entry {
                name: "web 'odd\" name".into(),
                id: 3,
                pids: vec![a, b],
                lib_dir: lib.clone(),
            }
        );
        // Private dirs are not journals; other files neither.
        std::fs::create_dir_all(dir.path().join("domain-4-x.start")).expect("dir");
        std::fs::write(dir.path().join("web.xml"), "").expect("status");
        let torn = dir.path().join(".domain-5-y.start.tmp.123");
        std::fs::write(&torn, "{\"na").expect("torn temp file");
        let found: Vec<PathBuf> = find_all(dir.path())
            .iter()
            .map(|j| j.path().to_path_buf())
            .collect();
        assert_eq!(found, [j.path().to_path_buf()]);
        assert!(!torn.exists(), "a torn creation is removed");
        j.remove();
        j.remove();
        assert!(find_all(dir.path()).is_empty());
        assert!(j.note(a).is_err(), "no journal, no process");
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_torn_header_is_an_error() {
        let text = "{\"name\":\"g\",\"id\":7}\n{\"pid\":5,\"starttime\":9}\n{\"pid\":6,\"sta";
        let e = parse(text, "/r/domain-7-g".into()).expect("parses");
        assert_eq!(
            e.pids,
            [Pid {
                pid: 5,
                start_time: 9
            }]
        );
        assert!(parse("{\"name\":\"g\"", "/r".into()).is_err());
        assert!(parse("", "/r".into()).is_err());
        assert!(parse("{\"name\":\"g\"}\n", "/r".into()).is_err());
    }
}
