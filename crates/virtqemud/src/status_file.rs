//! The status file of a running domain, `RUN/qemu/NAME.xml`: what a restarted daemon needs
//! to find its guest again. Rewritten atomically (virt_core::fsutil) on every state change
//! and removed by the stop path.
//!
//! The shape follows libvirt's `<domstatus>` (spec qemu-driver.md §5.1), with our own
//! attributes where libvirt keeps the data elsewhere:
//!
//! ```xml
//! <domstatus state='1' reason='1' pid='28377' starttime='912345' id='3'>
//!   <monitor path='STATE/qemu/domain-3-web/monitor.sock' type='unix'/>
//!   <libDir path='STATE/qemu/domain-3-web'/>
//!   <log path='STATE/qemu/log/web.log'/>
//!   <vcpus><vcpu id='0' pid='28384'/></vcpus>
//!   <taps><tap name='vnet0'/></taps>
//!   <ptys><pty alias='serial0' path='/dev/pts/4'/></ptys>
//!   <balloon actual='262144'/>
//!   <swtpm pid='28370' starttime='912340'/>
//!   <virtiofsd alias='fs0' pid='28371' starttime='912341'/>
//!   <fakereboot/>
//!   <agentTimeout seconds='-2'/>
//!   <domain type='qemu' id='3'> …the live definition… </domain>
//! </domstatus>
//! ```
//!
//! `state` and `reason` are libvirt's numbers (virDomainState and its reason enum), `pid` and
//! `starttime` name the QEMU process ([`crate::process::Pid`]: a reused pid never passes for
//! the guest), `balloon actual` is KiB, `swtpm` names the guest's TPM emulator the same way
//! (libvirt keeps a pidfile for it instead), `agentTimeout` is the domain's guest agent
//! timeout in libvirt's numbers (-2 block, -1 default, 0 no wait, seconds), written when it
//! is not the default.

use std::path::{Path, PathBuf};

use quick_xml::escape::escape;
use quick_xml::events::Event;
use virt_core::state::{DomainState, StateReason};

use crate::process::Pid;

/// Everything a status file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// State and reason.
    pub state: StateReason,
    /// The QEMU process.
    pub pid: Pid,
    /// The domain ID.
    pub id: u32,
    /// The QMP socket.
    pub monitor: PathBuf,
    /// The per-run private directory.
    pub lib_dir: PathBuf,
    /// The domain's log.
    pub log: PathBuf,
    /// vCPU index and host thread id.
    pub vcpus: Vec<(u32, i32)>,
    /// Tap devices the daemon created for this run.
    pub taps: Vec<String>,
    /// Character device alias and pty path.
    pub ptys: Vec<(String, String)>,
    /// Current balloon size, KiB.
    pub balloon_kib: u64,
    /// A reboot asked by the host is in flight (powerdown sent, reset due on SHUTDOWN).
    pub fake_reboot: bool,
    /// The guest agent timeout (libvirt's number) when set away from the default.
    pub agent_timeout: Option<i32>,
    /// The swtpm process of an emulated TPM.
    pub swtpm: Option<Pid>,
    /// The virtiofsd process of each virtiofs share, by filesystem alias.
    pub virtiofsd: Vec<(String, Pid)>,
    /// The live definition, as domain XML.
    pub domain_xml: String,
}

/// A status file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("unusable status file {}: {why}", path.display())]
pub struct StatusError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

/// The status directory (`RUN/qemu`).
#[derive(Debug, Clone)]
pub struct StatusDir {
    dir: PathBuf,
}

fn attr(v: &str) -> String {
    escape(v).into_owned()
}

impl Status {
    /// The file's text.
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<domstatus state='{}' reason='{}' pid='{}' starttime='{}' id='{}'>\n",
            self.state.state as i32, self.state.reason, self.pid.pid, self.pid.start_time, self.id
        );
        let path = |p: &Path| attr(&p.display().to_string());
        s += &format!("  <monitor path='{}' type='unix'/>\n", path(&self.monitor));
        s += &format!("  <libDir path='{}'/>\n", path(&self.lib_dir));
        s += &format!("  <log path='{}'/>\n", path(&self.log));
        s += "  <vcpus>";
        for (id, tid) in &self.vcpus {
            s += &format!("<vcpu id='{id}' pid='{tid}'/>");
        }
        s += "</vcpus>\n  <taps>";
        for t in &self.taps {
            s += &format!("<tap name='{}'/>", attr(t));
        }
        s += "</taps>\n  <ptys>";
        for (a, p) in &self.ptys {
            s += &format!("<pty alias='{}' path='{}'/>", attr(a), attr(p));
        }
        s += "</ptys>\n";
        s += &format!("  <balloon actual='{}'/>\n", self.balloon_kib);
        if let Some(p) = self.swtpm {
            s += &format!("  <swtpm pid='{}' starttime='{}'/>\n", p.pid, p.start_time);
        }
        for (alias, p) in &self.virtiofsd {
            s += &format!(
                "  <virtiofsd alias='{}' pid='{}' starttime='{}'/>\n",
                attr(alias),
                p.pid,
                p.start_time
            );
        }
        if self.fake_reboot {
            s += "  <fakereboot/>\n";
        }
        if let Some(t) = self.agent_timeout {
            s += &format!("  <agentTimeout seconds='{t}'/>\n");
        }
        s += self.domain_xml.trim();
        s += "\n</domstatus>\n";
        s
    }

    /// Parses a status file's text.
    pub fn parse(text: &str) -> Result<Status, String> {
        let mut st = Status {
            state: StateReason::new(DomainState::NoState, 0),
            pid: Pid {
                pid: 0,
                start_time: 0,
            },
            id: 0,
            monitor: PathBuf::new(),
            lib_dir: PathBuf::new(),
            log: PathBuf::new(),
            vcpus: Vec::new(),
            taps: Vec::new(),
            ptys: Vec::new(),
            balloon_kib: 0,
            fake_reboot: false,
            agent_timeout: None,
            swtpm: None,
            virtiofsd: Vec::new(),
            domain_xml: String::new(),
        };
        let start = text
            .find("<domain ")
            .or_else(|| text.find("<domain>"))
            .ok_or("no <domain> element")?;
        let end = text.rfind("</domain>").ok_or("no </domain>")? + "</domain>".len();
        if end <= start {
            return Err("malformed <domain> element".into());
        }
        st.domain_xml = text[start..end].to_string();
        let mut reader = quick_xml::Reader::from_str(&text[..start]);
        let mut seen_root = false;
        loop {
            let ev = reader.read_event().map_err(|e| e.to_string())?;
            let e = match &ev {
                Event::Start(e) | Event::Empty(e) => e,
                Event::Eof => break,
                _ => continue,
            };
            let mut get = std::collections::HashMap::new();
            for a in e.attributes() {
                let a = a.map_err(|e| e.to_string())?;
                let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
                get.insert(k, v);
            }
            let num = |k: &str| -> Result<i64, String> {
                get.get(k)
                    .ok_or_else(|| format!("missing attribute {k}"))?
                    .parse::<i64>()
                    .map_err(|_| format!("attribute {k} is not a number"))
            };
            let text_of = |k: &str| get.get(k).cloned().unwrap_or_default();
            match e.name().as_ref() {
                b"domstatus" => {
                    seen_root = true;
                    let state = DomainState::from_number(num("state")? as i32);
                    st.state = StateReason::new(state, num("reason")? as i32);
                    st.pid = Pid {
                        pid: i32::try_from(num("pid")?).map_err(|_| "pid out of range")?,
                        start_time: u64::try_from(num("starttime")?)
                            .map_err(|_| "starttime out of range")?,
                    };
                    st.id = u32::try_from(num("id")?).map_err(|_| "id out of range")?;
                }
                b"monitor" => st.monitor = text_of("path").into(),
                b"libDir" => st.lib_dir = text_of("path").into(),
                b"log" => st.log = text_of("path").into(),
                b"vcpu" => st.vcpus.push((num("id")? as u32, num("pid")? as i32)),
                b"tap" => st.taps.push(text_of("name")),
                b"pty" => st.ptys.push((text_of("alias"), text_of("path"))),
                b"balloon" => st.balloon_kib = num("actual")?.max(0) as u64,
                b"fakereboot" => st.fake_reboot = true,
                b"agentTimeout" => {
                    st.agent_timeout = Some(
                        i32::try_from(num("seconds")?).map_err(|_| "agentTimeout out of range")?,
                    )
                }
                b"virtiofsd" => st.virtiofsd.push((
                    text_of("alias"),
                    Pid {
                        pid: i32::try_from(num("pid")?)
                            .map_err(|_| "virtiofsd pid out of range")?,
                        start_time: u64::try_from(num("starttime")?)
                            .map_err(|_| "virtiofsd starttime out of range")?,
                    },
                )),
                b"swtpm" => {
                    st.swtpm = Some(Pid {
                        pid: i32::try_from(num("pid")?).map_err(|_| "swtpm pid out of range")?,
                        start_time: u64::try_from(num("starttime")?)
                            .map_err(|_| "swtpm starttime out of range")?,
                    })
                }
                _ => {}
            }
        }
        if !seen_root {
            return Err("no <domstatus> element".into());
        }
        if st.pid.pid <= 0 || st.monitor.as_os_str().is_empty() {
            return Err("no pid or monitor path".into());
        }
        Ok(st)
    }
}

impl StatusDir {
    /// The status directory `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> StatusDir {
        StatusDir { dir: dir.into() }
    }

    /// `DIR/NAME.xml`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.xml"))
    }

    /// Writes the status of `name` atomically (mode 0600).
    pub fn save(&self, name: &str, st: &Status) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        virt_core::fsutil::write_atomic(&self.path(name), st.to_xml().as_bytes(), 0o600)
    }

    /// Removes the status of `name`; a missing file is fine.
    pub fn remove(&self, name: &str) {
        match std::fs::remove_file(self.path(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(name, error = %e, "cannot remove the status file"),
        }
    }

    /// Every status file: `(name, parsed)` or the error of an unusable file.
    pub fn load_all(&self) -> Vec<(String, Result<Status, StatusError>)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if file.starts_with('.') {
                if is_stale_temp(file) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            let Some(name) = file.strip_suffix(".xml") else {
                continue;
            };
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| Status::parse(&t))
                .map_err(|why| StatusError {
                    path: path.clone(),
                    why,
                });
            out.push((name.to_string(), parsed));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Whether `file` is the temporary file of an atomic write (`.NAME.tmp.PID`,
/// `virt_core::fsutil::write_atomic`) that a crashed writer left: a status file's, or the
/// event ring's beside them. This process's own writes in flight are left alone.
fn is_stale_temp(file: &str) -> bool {
    file.rsplit_once(".tmp.")
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid != std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            state: StateReason::new(DomainState::Paused, 1),
            pid: Pid {
                pid: 4242,
                start_time: 987_654,
            },
            id: 7,
            monitor: "/r/it's & <odd>/monitor.sock".into(),
            lib_dir: "/r/domain-7-a".into(),
            log: "/l/a.log".into(),
            vcpus: vec![(0, 4243), (1, 4244)],
            taps: vec!["vnet0".into()],
            ptys: vec![("serial0".into(), "/dev/pts/9".into())],
            balloon_kib: 65536,
            fake_reboot: true,
            agent_timeout: Some(-2),
            swtpm: Some(Pid {
                pid: 4240,
                start_time: 987_650,
            }),
            virtiofsd: vec![(
                "fs0".into(),
                Pid {
                    pid: 4241,
                    start_time: 987_651,
                },
            )],
            domain_xml: "<domain type='qemu' id='7'><name>a</name></domain>".into(),
        }
    }

    #[test]
    fn round_trips_and_survives_odd_paths() {
        let st = sample();
        assert_eq!(Status::parse(&st.to_xml()).expect("parses"), st);
        let plain = Status {
            fake_reboot: false,
            agent_timeout: None,
            swtpm: None,
            virtiofsd: vec![],
            vcpus: vec![],
            taps: vec![],
            ..sample()
        };
        assert_eq!(Status::parse(&plain.to_xml()).expect("parses"), plain);
    }

    #[test]
    fn damaged_files_are_errors_naming_the_problem() {
        let text = sample().to_xml();
        assert!(Status::parse(&text[..text.len() / 2]).is_err());
        let no_pid = text.replace("pid='4242' ", "");
        assert!(Status::parse(&no_pid)
            .expect_err("no pid")
            .contains("missing attribute pid"));
        assert!(Status::parse("").is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let sd = StatusDir::new(dir.path().join("qemu"));
        sd.save("a", &sample()).expect("saves");
        std::fs::write(dir.path().join("qemu/b.xml"), "junk").expect("write");
        let torn = dir.path().join("qemu/.events.tmp.1");
        std::fs::write(&torn, "VIRTEVT1").expect("write");
        let mine = dir
            .path()
            .join(format!("qemu/.events.tmp.{}", std::process::id()));
        std::fs::write(&mine, "VIRTEVT1").expect("write");
        let all = sd.load_all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1.as_ref().expect("a is fine"), &sample());
        assert!(all[1].1.is_err());
        assert!(!torn.exists(), "a crashed writer's temp file is removed");
        assert!(mine.exists(), "a write in flight is not");
        sd.remove("a");
        sd.remove("a");
        assert!(!sd.path("a").exists());
    }
}
