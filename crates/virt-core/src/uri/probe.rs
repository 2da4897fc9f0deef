//! Which URI a connection without one opens, when neither the environment nor a config file
//! names one: libvirt's probe for driver daemon sockets.
//!
//! libvirt (9.x, `src/remote/remote_sockets.c`, used by the client library and by virtproxyd
//! for a NULL URI) looks for the modular daemons' sockets in a fixed order and takes the first
//! that exists: as root `xen`, `qemu`, `lxc` (then `vbox`, `bhyve`, `vz`, which this project has
//! no daemon for) on their system sockets, the read-only one for a read-only connection; as
//! another user `qemu` (then `vbox`) on the per-user sockets. The URI is then `DRIVER:///system`
//! or `DRIVER:///session`. libvirt's non-root client goes on to auto-start `virtqemud` when its
//! binary is installed; this project starts no daemon on demand, so a probe that finds no socket
//! is an error that says how to name a URI.

use std::path::{Path, PathBuf};

/// Drivers probed for a system connection, in libvirt's order: (URI scheme, daemon).
pub const SYSTEM_PROBE: &[(&str, &str)] = &[
    ("xen", "virtxend"),
    ("qemu", "virtqemud"),
    ("lxc", "virtlxcd"),
];

/// Drivers probed for a session (non-root) connection, in libvirt's order.
pub const SESSION_PROBE: &[(&str, &str)] = &[("qemu", "virtqemud")];

/// The outcome of a probe: the URI found, or every socket looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// The first driver whose socket exists, e.g. `qemu:///system`.
    Found(String),
    /// No socket exists; these were tried, in order.
    NotFound(Vec<PathBuf>),
}

/// Probes for a system (`session == false`) or session connection; `socket(scheme, daemon)`
/// names the socket to look for (read-write or read-only, as the caller connects).
pub fn probe_default_uri(
    session: bool,
    socket: impl Fn(&'static str, &'static str) -> PathBuf,
) -> Probed {
    let (order, path) = if session {
        (SESSION_PROBE, "session")
    } else {
        (SYSTEM_PROBE, "system")
    };
    let mut tried = Vec::new();
    for &(scheme, daemon) in order {
        let s = socket(scheme, daemon);
        if is_socket(&s) {
            return Probed::Found(format!("{scheme}:///{path}"));
        }
        tried.push(s);
    }
    Probed::NotFound(tried)
}

/// The driver daemons a local URI can reach on their own sockets: (URI scheme, daemon, whether
/// it has a per-user session instance). The same drivers virt-proxy routes to.
pub const LOCAL_DAEMONS: &[(&str, &str, bool)] = &[
    ("qemu", "virtqemud", true),
    ("lxc", "virtlxcd", false),
    ("xen", "virtxend", false),
];

/// The driver daemon that serves a local URI of `driver` with `path`, and whether it is the
/// session instance: `qemu` + `/system` is `("virtqemud", false)`, `/session` is
/// `("virtqemud", true)`, `lxc:///` and `xen:///` (no path or `/`) are their system instances.
/// `None` for a driver no daemon serves (`test`), a session URI of a system-only driver, or any
/// other path (`qemu:///embed`): those go to virt-proxy, which answers them or says why not.
pub fn local_daemon(driver: &str, path: &str) -> Option<(&'static str, bool)> {
    let &(_, daemon, has_session) = LOCAL_DAEMONS.iter().find(|(s, _, _)| *s == driver)?;
    match path {
        "/system" => Some((daemon, false)),
        "/session" if has_session => Some((daemon, true)),
        "" | "/" if !has_session => Some((daemon, false)),
        _ => None,
    }
}

/// Whether `path` is a UNIX socket (a daemon listening there, or systemd holding it for one).
pub fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(dir: &Path, name: &str) {
        let l = std::os::unix::net::UnixListener::bind(dir.join(name)).expect("bind");
        std::mem::forget(l);
    }

    #[test]
    fn local_daemon_names_the_driver_daemon_and_its_instance() {
        assert_eq!(local_daemon("qemu", "/system"), Some(("virtqemud", false)));
        assert_eq!(local_daemon("qemu", "/session"), Some(("virtqemud", true)));
        assert_eq!(local_daemon("lxc", "/"), Some(("virtlxcd", false)));
        assert_eq!(local_daemon("xen", ""), Some(("virtxend", false)));
        assert_eq!(local_daemon("xen", "/system"), Some(("virtxend", false)));
        assert_eq!(local_daemon("lxc", "/session"), None);
        assert_eq!(local_daemon("qemu", "/"), None);
        assert_eq!(local_daemon("qemu", "/embed"), None);
        assert_eq!(local_daemon("test", "/default"), None);
    }

    #[test]
    fn system_probe_takes_xen_then_qemu_then_lxc_and_session_only_qemu() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |_: &str, d: &str| dir.path().join(format!("{d}-sock"));
        let tried = match probe_default_uri(false, at) {
            Probed::NotFound(t) => t,
            other => panic!("{other:?}"),
        };
        let names: Vec<String> = tried
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["virtxend-sock", "virtqemud-sock", "virtlxcd-sock"]);
        sock(dir.path(), "virtlxcd-sock");
        assert_eq!(
            probe_default_uri(false, at),
            Probed::Found("lxc:///system".into())
        );
        sock(dir.path(), "virtqemud-sock");
        assert_eq!(
            probe_default_uri(false, at),
            Probed::Found("qemu:///system".into())
        );
        assert_eq!(
            probe_default_uri(true, at),
            Probed::Found("qemu:///session".into())
        );
        // A regular file where the socket should be is no daemon.
        std::fs::write(dir.path().join("virtxend-sock"), b"").expect("write");
        assert_eq!(
            probe_default_uri(false, at),
            Probed::Found("qemu:///system".into())
        );
    }
}
