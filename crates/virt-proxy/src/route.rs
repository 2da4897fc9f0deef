//! Which daemon serves a connection URI, and on which sockets.
//!
//! `test:` URIs (and a call with no `virt-uri`) are the proxy's own embedded test driver.
//! `qemu:///system|session`, `lxc:///` (`/system`), `xen:///` (`/system`) go to virtqemud,
//! virtlxcd and virtxend. Their sockets are `RUN/DAEMON-sock` and `RUN/DAEMON-sock-ro` where RUN
//! follows the same rules as the daemons' own [`Paths`]: under the proxy's `--root` when given
//! (one tree for both modes, as the daemons do), else the system or session tree named by the
//! URI's path. The config file can name any of them instead ([`ProxyConfig::socket`]).

use std::path::{Path, PathBuf};

use virt_core::runtime::{Mode, Paths};
use virt_core::uri::ConnectUri;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::config::ProxyConfig;

/// The drivers the proxy routes to: (URI scheme, daemon, modes served).
const DRIVERS: &[(&str, &str, &[Mode])] = &[
    ("qemu", "virtqemud", &[Mode::System, Mode::Session]),
    ("lxc", "virtlxcd", &[Mode::System]),
    ("xen", "virtxend", &[Mode::System]),
];

/// One driver daemon the proxy forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// URI scheme it serves: `qemu`.
    pub scheme: &'static str,
    /// Its program name: `virtqemud`.
    pub daemon: &'static str,
    /// System or session instance.
    pub mode: Mode,
    /// Its read-write socket.
    pub socket: PathBuf,
    /// Its read-only socket.
    pub socket_ro: PathBuf,
}

impl Backend {
    /// The socket a caller uses: the read-only one for a read-only caller, so that the proxy
    /// can never be used to escalate (the daemon enforces its own allowlist there).
    pub fn socket_for(&self, read_only: bool) -> &Path {
        if read_only {
            &self.socket_ro
        } else {
            &self.socket
        }
    }
}

/// Where a call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The proxy's embedded test driver.
    Embedded,
    /// A driver daemon.
    Backend(Backend),
}

/// The routing table: the proxy's root and config.
#[derive(Clone, Debug)]
pub struct Routing {
    root: Option<PathBuf>,
    config: ProxyConfig,
}

impl Routing {
    /// Routes under `root` (the proxy's `--root`, if any) with the config's socket overrides.
    pub fn new(root: Option<&Path>, config: ProxyConfig) -> Routing {
        Routing {
            root: root.map(Path::to_path_buf),
            config,
        }
    }

    /// The target for the `virt-uri` of a call. Errors: NO_CONNECT for a URI no daemon serves.
    pub fn route(&self, uri: Option<&str>) -> Result<Target, VirtError> {
        let Some(text) = uri.filter(|u| !u.is_empty()) else {
            return Ok(Target::Embedded);
        };
        let parsed = ConnectUri::parse(text)?;
        if parsed.driver == "test" {
            return Ok(Target::Embedded);
        }
        let no_connect = |why: &str| {
            VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Remote,
                format!("{text}: {why}"),
            )
        };
        let Some(&(scheme, daemon, modes)) = DRIVERS.iter().find(|(s, _, _)| *s == parsed.driver)
        else {
            return Err(no_connect("virt-proxy routes no such driver"));
        };
        let mode = match (parsed.path.as_str(), scheme) {
            ("/system", _) => Mode::System,
            ("/session", _) => Mode::Session,
            ("" | "/", "lxc" | "xen") => Mode::System,
            (p, _) => return Err(no_connect(&format!("unexpected {scheme} URI path '{p}'"))),
        };
        if !modes.contains(&mode) {
            return Err(no_connect(&format!("{daemon} has no session instance")));
        }
        Ok(Target::Backend(self.backend(scheme, daemon, mode)))
    }

    /// Every backend the proxy may forward to, each socket once (under a root, system and
    /// session share one tree).
    pub fn backends(&self) -> Vec<Backend> {
        let mut out: Vec<Backend> = Vec::new();
        for &(scheme, daemon, modes) in DRIVERS {
            for &mode in modes {
                let b = self.backend(scheme, daemon, mode);
                if !out.iter().any(|o| o.socket == b.socket) {
                    out.push(b);
                }
            }
        }
        out
    }

    fn backend(&self, scheme: &'static str, daemon: &'static str, mode: Mode) -> Backend {
        let paths = Paths::resolve(self.root.as_deref(), mode);
        let mode_name = match mode {
            Mode::System => "system",
            Mode::Session => "session",
        };
        let pick = |ro: bool, default: PathBuf| {
            self.config
                .socket(scheme, mode_name, ro)
                .map(Path::to_path_buf)
                .unwrap_or(default)
        };
        Backend {
            scheme,
            daemon,
            mode,
            socket: pick(false, paths.socket(daemon)),
            socket_ro: pick(true, paths.socket_ro(daemon)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(t: Result<Target, VirtError>) -> Backend {
        match t.expect("routed") {
            Target::Backend(b) => b,
            Target::Embedded => panic!("expected a backend"),
        }
    }

    #[test]
    fn test_uris_and_no_uri_are_embedded() {
        let r = Routing::new(None, ProxyConfig::default());
        for uri in [
            None,
            Some(""),
            Some("test:///default"),
            Some("test:///tmp/x.xml"),
        ] {
            assert_eq!(r.route(uri).expect("routed"), Target::Embedded, "{uri:?}");
        }
    }

    #[test]
    fn driver_uris_map_to_their_daemon_sockets_under_the_root() {
        let r = Routing::new(Some(Path::new("/r")), ProxyConfig::default());
        let q = backend(r.route(Some("qemu:///system")));
        assert_eq!(q.daemon, "virtqemud");
        assert_eq!(q.socket, Path::new("/r/run/virt/virtqemud-sock"));
        assert_eq!(
            q.socket_for(true),
            Path::new("/r/run/virt/virtqemud-sock-ro")
        );
        let s = backend(r.route(Some("qemu:///session")));
        assert_eq!(s.mode, Mode::Session);
        assert_eq!(backend(r.route(Some("lxc:///"))).daemon, "virtlxcd");
        assert_eq!(
            backend(r.route(Some("xen:///system"))).socket,
            Path::new("/r/run/virt/virtxend-sock")
        );
        // Under a root both qemu modes share one socket: listed once.
        assert_eq!(r.backends().len(), 3);
    }

    #[test]
    fn system_uris_without_root_use_run_virt_and_config_overrides_win() {
        let r = Routing::new(None, ProxyConfig::default());
        let q = backend(r.route(Some("qemu:///system")));
        assert_eq!(q.socket, Path::new("/run/virt/virtqemud-sock"));
        let cfg =
            ProxyConfig::parse(Path::new("c"), "qemu_system_socket = \"/srv/q\"").expect("config");
        let r = Routing::new(None, cfg);
        let q = backend(r.route(Some("qemu:///system")));
        assert_eq!(q.socket, Path::new("/srv/q"));
        assert_eq!(q.socket_ro, Path::new("/run/virt/virtqemud-sock-ro"));
    }

    #[test]
    fn unknown_drivers_and_paths_are_no_connect_naming_the_uri() {
        let r = Routing::new(None, ProxyConfig::default());
        for (uri, why) in [
            ("vbox:///session", "virt-proxy routes no such driver"),
            ("qemu:///", "unexpected qemu URI path '/'"),
            ("lxc:///session", "virtlxcd has no session instance"),
        ] {
            let e = r.route(Some(uri)).expect_err(uri);
            assert_eq!(e.code, ErrorCode::NoConnect);
            assert_eq!(
                e.message(),
                format!("no connection driver available for {uri}: {why}")
            );
        }
    }
}
