//! virtiofs: one `virtiofsd` per `<filesystem>` with `<driver type='virtiofs'/>`, started
//! before QEMU as libvirt 9.0 starts it (qemu_virtiofs.c) and stopped after it.
//!
//! # Sequence
//!
//! 1. The daemon binds the vhost-user socket itself, `PRIVATE/ALIAS-fs.sock` (libvirt's
//!    name), and hands the listening descriptor to virtiofsd as `--fd=3`, so QEMU can connect
//!    the moment virtiofsd runs, without polling for a socket file.
//! 2. `virtiofsd --fd=3 -o source=DIR` runs in its own session (`crate::process`), its output
//!    in `LOG/NAME-ALIAS-virtiofsd.log` under a "Starting external device: virtiofsd" line
//!    with its command line, as libvirt logs external devices.
//! 3. QEMU gets `-chardev socket,id=chr-vu-ALIAS,path=SOCK` and a `vhost-user-fs-pci` with the
//!    mount tag (`command/fs.rs`).
//! 4. Each virtiofsd is recorded (alias, pid and start time) in the run and its status file,
//!    so a restarted daemon knows it; at the stop path, after QEMU, it is given a moment to
//!    leave by itself (it does once QEMU's connection closes), then terminated, reaped when it
//!    is our child. A zombie or a recycled pid is never taken for it.
//!
//! The binary is the one QEMU's vhost-user descriptors name (`/usr/share/qemu/vhost-user/*.json`
//! with `"type": "fs"`, libvirt's lookup) when it exists, else `/usr/libexec/virtiofsd` (the
//! Rust virtiofsd's place on Debian), else `virtiofsd` on PATH.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::fs::Filesystem;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::process::{self, Pid, ProcHandle};

/// How long a stop waits for virtiofsd to leave by itself once QEMU has gone.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Directories of QEMU's vhost-user backend descriptors, in libvirt's order of precedence.
const VHOST_USER_DIRS: &[&str] = &[
    "/etc/qemu/vhost-user",
    "/usr/local/share/qemu/vhost-user",
    "/usr/share/qemu/vhost-user",
];

/// Where the Rust virtiofsd lives on Debian.
const LIBEXEC: &str = "/usr/libexec/virtiofsd";

/// Whether `fs` is a virtiofs share.
pub(crate) fn is_virtiofs(fs: &Filesystem) -> bool {
    fs.driver_type.as_deref() == Some("virtiofs")
}

/// The vhost-user socket of filesystem `alias` in the private dir (libvirt's name).
pub(crate) fn socket_path(domain_dir: &Path, alias: &str) -> PathBuf {
    domain_dir.join(format!("{alias}-fs.sock"))
}

/// virtiofsd's own log.
pub(crate) fn log_path(log_dir: &Path, name: &str, alias: &str) -> PathBuf {
    log_dir.join(format!("{name}-{alias}-virtiofsd.log"))
}

fn internal(detail: String) -> VirtError {
    VirtError::new(ErrorCode::InternalError, ErrorDomain::Qemu, detail)
}

/// The `binary` of the first vhost-user descriptor of type `fs` in `dirs` (files sorted by
/// name, as QEMU's descriptors are read) whose binary exists.
pub(crate) fn binary_from_descriptors(dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(d) {
            files.extend(rd.flatten().map(|e| e.path()));
        }
    }
    files.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    files.into_iter().find_map(|f| {
        let text = std::fs::read_to_string(&f).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        if v.get("type")?.as_str()? != "fs" {
            return None;
        }
        let bin = PathBuf::from(v.get("binary")?.as_str()?);
        is_executable(&bin).then_some(bin)
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The virtiofsd to run (see the module docs).
pub(crate) fn find_binary() -> Result<PathBuf, VirtError> {
    let dirs: Vec<PathBuf> = VHOST_USER_DIRS.iter().map(PathBuf::from).collect();
    if let Some(b) = binary_from_descriptors(&dirs) {
        return Ok(b);
    }
    if is_executable(Path::new(LIBEXEC)) {
        return Ok(LIBEXEC.into());
    }
    crate::tpm::swtpm::find_binary("virtiofsd").map_err(|_| {
        internal(
            "virtiofsd is not installed: no vhost-user descriptor of type 'fs' names an \
             existing binary, and neither /usr/libexec/virtiofsd nor virtiofsd on PATH exists"
                .into(),
        )
    })
}

/// virtiofsd's arguments for `fs` with its listening socket at descriptor 3.
pub(crate) fn args(fs: &Filesystem) -> Vec<String> {
    let source = fs.source.as_deref().unwrap_or("");
    vec![
        "--fd=3".into(),
        "-o".into(),
        format!("source={}", source.replace(',', ",,")),
    ]
}

/// The virtiofsd processes of one start; dropping it kills and reaps them unless
/// [`Started::keep`] handed them over.
#[derive(Debug, Default)]
pub(crate) struct Started {
    procs: Vec<(String, Pid)>,
    kept: bool,
}

impl Started {
    /// Keeps them running past this handle: (alias, process) for the run's record.
    pub(crate) fn keep(mut self) -> Vec<(String, Pid)> {
        self.kept = true;
        std::mem::take(&mut self.procs)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for (_, pid) in &self.procs {
            if let Some(p) = ProcHandle::open(*pid) {
                p.signal(nix::libc::SIGKILL);
            }
            // SAFETY: waitpid on our own child's pid, just killed (ECHILD if reaped already),
            // writing only into `status`.
            unsafe {
                let mut status = 0;
                nix::libc::waitpid(pid.pid, &mut status, 0);
            }
        }
    }
}

/// What [`start_all`] needs of the domain.
pub(crate) struct Launch<'a> {
    /// The live definition (filesystem aliases assigned).
    pub def: &'a DomainDef,
    /// The private dir (sockets).
    pub domain_dir: &'a Path,
    /// The log dir (virtiofsd's logs).
    pub log_dir: &'a Path,
}

/// Starts one virtiofsd per virtiofs filesystem (see the module docs). On failure the ones
/// already started are killed.
pub(crate) fn start_all(l: &Launch<'_>) -> Result<Started, VirtError> {
    let mut started = Started::default();
    let shares: Vec<&Filesystem> = l
        .def
        .devices
        .filesystems
        .iter()
        .filter(|f| is_virtiofs(f))
        .collect();
    if shares.is_empty() {
        return Ok(started);
    }
    let binary = find_binary()?;
    for (i, fs) in shares.into_iter().enumerate() {
        let alias = fs.alias.clone().unwrap_or_else(|| format!("fs{i}"));
        let source = fs.source.as_deref().unwrap_or("");
        if !Path::new(source).is_dir() {
            return Err(internal(format!(
                "the virtiofs export directory '{source}' does not exist"
            )));
        }
        let sock = socket_path(l.domain_dir, &alias);
        let listener = bind(&sock)?;
        let args = args(fs);
        let rendered = format!("{} {}", binary.display(), args.join(" "));
        let env: Vec<(String, String)> = ["PATH", "HOME", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        let launch = process::Launch {
            program: binary.clone(),
            args,
            env,
            fds: vec![(3, listener)],
            rendered,
        };
        let log = log_path(l.log_dir, &l.def.name, &alias);
        let journal = crate::journal::Journal::of(l.domain_dir);
        let (pid, log_start) = process::spawn_logged(
            launch,
            &log,
            "Starting external device: virtiofsd",
            Some(&|p| journal.note(p)),
        )
        .map_err(|e| e.to_virt())?;
        started.procs.push((alias.clone(), pid));
        // A virtiofsd that cannot serve the directory leaves at once: say why now rather
        // than as QEMU's failed vhost-user handshake.
        std::thread::sleep(Duration::from_millis(50));
        if !process::is_alive(pid) {
            let said = process::log_since(&log, log_start, 10);
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Qemu,
                format!("virtiofsd for filesystem '{alias}' died and reported: {said}"),
            ));
        }
    }
    Ok(started)
}

/// Binds the vhost-user socket at `path` (a stale one is removed first).
fn bind(path: &Path) -> Result<OwnedFd, VirtError> {
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("cannot bind the virtiofs socket {}: {e}", path.display()),
        )
    })?;
    Ok(l.into())
}

/// Stops the virtiofsd processes of a run after QEMU has gone (see the module docs).
pub(crate) async fn stop_all(procs: &[(String, Pid)], domain: &str) {
    for (alias, pid) in procs {
        let Some(p) = ProcHandle::open(*pid).filter(|_| process::is_alive(*pid)) else {
            process::reap(pid.pid);
            continue;
        };
        if p.wait_exit(EXIT_WAIT).await {
            continue;
        }
        if let Err(e) = p.terminate(false).await {
            tracing::error!(domain, alias = %alias, error = %e, "cannot stop virtiofsd");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fs_descriptor_names_the_binary_when_it_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("vfsd");
        std::fs::write(&bin, "#!/bin/sh\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let d = dir.path().join("vhost-user");
        std::fs::create_dir(&d).expect("mkdir");
        std::fs::write(
            d.join("40-gpu.json"),
            r#"{"type":"gpu","binary":"/bin/sh"}"#,
        )
        .expect("write");
        std::fs::write(
            d.join("50-missing.json"),
            r#"{"type":"fs","binary":"/nonexistent/virtiofsd"}"#,
        )
        .expect("write");
        assert_eq!(binary_from_descriptors(std::slice::from_ref(&d)), None);
        std::fs::write(
            d.join("60-fs.json"),
            format!(r#"{{"type":"fs","binary":"{}"}}"#, bin.display()),
        )
        .expect("write");
        assert_eq!(binary_from_descriptors(&[d]), Some(bin));
    }

    #[test]
    fn virtiofsd_gets_libvirts_arguments_and_paths() {
        let fs = Filesystem {
            source: Some("/srv/a,b".into()),
            ..Filesystem::default()
        };
        assert_eq!(args(&fs), ["--fd=3", "-o", "source=/srv/a,,b"]);
        assert_eq!(
            socket_path(Path::new("/run/virt/qemu/domain-1-g"), "fs0"),
            Path::new("/run/virt/qemu/domain-1-g/fs0-fs.sock")
        );
        assert_eq!(
            log_path(Path::new("/var/log/virt/qemu"), "g", "fs0"),
            Path::new("/var/log/virt/qemu/g-fs0-virtiofsd.log")
        );
    }
}
