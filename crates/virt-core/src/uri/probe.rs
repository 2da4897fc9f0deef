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
/// it has a per-user session instance). The same drivers virt-proxy routes to. virtlxcd's
/// session instance runs a user's containers in user namespaces (libvirt has none); a bare
/// `lxc:///` stays the system instance.
pub const LOCAL_DAEMONS: &[(&str, &str, bool)] = &[
    ("qemu", "virtqemud", true),
    ("lxc", "virtlxcd", true),
    ("xen", "virtxend", false),
    ("network", "virtnetworkd", false),
    ("storage", "virtstoraged", true),
];

/// A service a hypervisor connection reaches on another daemon, as libvirt's client opens
/// secondary drivers (network, storage) beside the hypervisor driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secondary {
    /// `virt.v1.NetworkService`: virtnetworkd.
    Network,
    /// `virt.v1.StorageService`: virtstoraged.
    Storage,
}

impl Secondary {
    /// The secondary service a gRPC path (`/virt.v1.NetworkService/StartNetwork`) belongs to.
    pub fn of_path(path: &str) -> Option<Secondary> {
        let service = path.strip_prefix('/')?.split('/').next()?;
        match service {
            "virt.v1.NetworkService" => Some(Secondary::Network),
            "virt.v1.StorageService" => Some(Secondary::Storage),
            _ => None,
        }
    }

    /// The URI scheme of its own daemon: `network`, `storage`.
    pub fn scheme(self) -> &'static str {
        match self {
            Secondary::Network => "network",
            Secondary::Storage => "storage",
        }
    }
}

/// Whether a `service` daemon serves connection URI `uri`: a local URI (no host) that
/// [`secondary_daemon`] sends to it, in either instance (each daemon instance gets only its
/// own mode's calls). virtnetworkd and virtstoraged check the `virt-uri` of a call with it.
pub fn serves_secondary(service: Secondary, uri: &str) -> bool {
    let Ok(u) = crate::uri::ConnectUri::parse(uri) else {
        return false;
    };
    u.host.is_none() && secondary_daemon(service, &u.driver, &u.path).is_some()
}

/// The daemon that serves `service` for a local URI of `driver` with `path`, and whether it is
/// its session instance: every local hypervisor URI (and the service's own scheme) reaches the
/// same network or storage daemon, as in libvirt; `network:///` and `storage:///` reach only
/// their own. Networks have no session instance
/// (`qemu:///session` gets `None`); storage has one.
pub fn secondary_daemon(
    service: Secondary,
    driver: &str,
    path: &str,
) -> Option<(&'static str, bool)> {
    // network:/// and storage:/// name one service each; the hypervisors' URIs reach both.
    if matches!(driver, "network" | "storage") && driver != service.scheme() {
        return None;
    }
    let (_, session) = local_daemon(driver, path)?;
    local_daemon(
        service.scheme(),
        if session { "/session" } else { "/system" },
    )
}

/// The driver daemon that serves a local URI of `driver` with `path`, and whether it is the
/// session instance: `qemu` + `/system` is `("virtqemud", false)`, `/session` is
/// `("virtqemud", true)`, `lxc:///` and `xen:///` (no path or `/`) are their system instances.
/// `lxc:///session` is virtlxcd's session instance (a user's containers, in user namespaces).
/// `None` for a driver no daemon serves (`test`), a session URI of a system-only driver, or any
/// other path (`qemu:///embed`): those go to virt-proxy, which answers them or says why not.
pub fn local_daemon(driver: &str, path: &str) -> Option<(&'static str, bool)> {
    let &(_, daemon, has_session) = LOCAL_DAEMONS.iter().find(|(s, _, _)| *s == driver)?;
    match path {
        "/system" => Some((daemon, false)),
        "/session" if has_session => Some((daemon, true)),
        "" | "/" if !has_session || driver == "lxc" => Some((daemon, false)),
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
        assert_eq!(local_daemon("lxc", "/session"), Some(("virtlxcd", true)));
        assert_eq!(local_daemon("qemu", "/"), None);
        assert_eq!(local_daemon("qemu", "/embed"), None);
        assert_eq!(local_daemon("test", "/default"), None);
        assert_eq!(
            local_daemon("network", "/system"),
            Some(("virtnetworkd", false))
        );
        assert_eq!(local_daemon("network", "/session"), None);
        assert_eq!(
            local_daemon("storage", "/session"),
            Some(("virtstoraged", true))
        );
    }

    #[test]
    fn every_local_hypervisor_uri_reaches_the_same_network_and_storage_daemons() {
        use Secondary::*;
        for (driver, path) in [("qemu", "/system"), ("lxc", "/"), ("xen", "/system")] {
            assert_eq!(
                secondary_daemon(Network, driver, path),
                Some(("virtnetworkd", false)),
                "{driver}:{path}"
            );
            assert_eq!(
                secondary_daemon(Storage, driver, path),
                Some(("virtstoraged", false)),
                "{driver}:{path}"
            );
        }
        assert_eq!(
            secondary_daemon(Network, "network", "/system"),
            Some(("virtnetworkd", false))
        );
        assert_eq!(secondary_daemon(Storage, "network", "/system"), None);
        assert_eq!(secondary_daemon(Network, "storage", "/system"), None);
        assert!(serves_secondary(Network, "lxc:///"));
        assert!(!serves_secondary(Network, "qemu://host/system"));
        assert!(serves_secondary(Storage, "storage:///session"));
        assert_eq!(secondary_daemon(Network, "qemu", "/session"), None);
        assert_eq!(
            secondary_daemon(Storage, "qemu", "/session"),
            Some(("virtstoraged", true))
        );
        assert_eq!(secondary_daemon(Network, "test", "/default"), None);
        assert_eq!(
            Secondary::of_path("/virt.v1.NetworkService/StartNetwork"),
            Some(Network)
        );
        assert_eq!(
            Secondary::of_path("/virt.v1.StorageService/ListStorageVolumes"),
            Some(Storage)
        );
        assert_eq!(
            Secondary::of_path("/virt.v1.DomainService/LookupDomain"),
            None
        );
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
