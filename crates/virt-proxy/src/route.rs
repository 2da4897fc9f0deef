//! Which daemon serves a connection URI, and on which sockets.
//!
//! `test:` URIs are the proxy's own embedded test driver. `qemu:///system|session`, `lxc:///`
//! (`/system`), `xen:///` (`/system`) go to virtqemud, virtlxcd and virtxend;
//! `network:///system` and `storage:///system|session` to virtnetworkd and virtstoraged, which
//! also take the network and storage calls of every local hypervisor URI
//! ([`Routing::for_method`]), as libvirt's secondary drivers do.
//!
//! A call without `virt-uri` (or with an empty one) goes where libvirt sends a NULL URI
//! ([`Routing::resolve`]): to `uri_default` from the config file (libvirt.conf's key) when set,
//! else to the first driver daemon whose socket exists, in libvirt's probe order
//! ([`virt_core::uri::probe`]: xen, qemu, lxc for a system proxy; qemu for a session one; the
//! read-only socket for a read-only caller). If neither gives a URI the call fails with
//! NO_CONNECT (UNAVAILABLE) saying how to name one. Never the test driver unless configured. Their sockets are `RUN/DAEMON-sock` and `RUN/DAEMON-sock-ro` where RUN
//! follows the same rules as the daemons' own [`Paths`]: under the proxy's `--root` when given
//! (one tree for both modes, as the daemons do), else the system or session tree named by the
//! URI's path. The config file can name any of them instead ([`ProxyConfig::socket`]).

use std::path::{Path, PathBuf};

use virt_core::runtime::{Mode, Paths};
use virt_core::uri::probe::{probe_default_uri, secondary_daemon, Probed, Secondary};
use virt_core::uri::ConnectUri;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::config::ProxyConfig;

/// The drivers the proxy routes to: (URI scheme, daemon, modes served).
const DRIVERS: &[(&str, &str, &[Mode])] = &[
    ("qemu", "virtqemud", &[Mode::System, Mode::Session]),
    ("lxc", "virtlxcd", &[Mode::System, Mode::Session]),
    ("xen", "virtxend", &[Mode::System]),
    ("network", "virtnetworkd", &[Mode::System]),
    ("storage", "virtstoraged", &[Mode::System, Mode::Session]),
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

/// A call's destination: the URI it is for and where that goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The connection URI: the call's `virt-uri`, or the default one resolved for it.
    pub uri: String,
    /// Where it goes.
    pub target: Target,
}

/// The routing table: the proxy's root, mode and config.
#[derive(Clone, Debug)]
pub struct Routing {
    root: Option<PathBuf>,
    mode: Mode,
    config: ProxyConfig,
}

impl Routing {
    /// Routes under `root` (the proxy's `--root`, if any) with the config's socket overrides,
    /// for a proxy of the caller's mode (system for root).
    pub fn new(root: Option<&Path>, config: ProxyConfig) -> Routing {
        Routing {
            root: root.map(Path::to_path_buf),
            mode: Mode::current(),
            config,
        }
    }

    /// The same routing for a proxy in `mode`, which picks the drivers a call without a URI
    /// probes for.
    pub fn with_mode(mut self, mode: Mode) -> Routing {
        self.mode = mode;
        self
    }

    /// Where a call with `virt-uri` metadata `uri` (none or empty: the default URI) goes; a
    /// `read_only` caller probes read-only sockets. Errors: NO_CONNECT for a URI no daemon
    /// serves, or when no URI is given and no default resolves.
    pub fn resolve(&self, uri: Option<&str>, read_only: bool) -> Result<Resolved, VirtError> {
        let uri = match uri.filter(|u| !u.is_empty()) {
            Some(u) => u.to_string(),
            None => self.default_uri(read_only)?,
        };
        let target = self.route(&uri)?;
        Ok(Resolved { uri, target })
    }

    /// The URI of a call that names none: `uri_default`, else the probe.
    pub fn default_uri(&self, read_only: bool) -> Result<String, VirtError> {
        if let Some(u) = &self.config.uri_default {
            return Ok(u.clone());
        }
        let session = self.mode == Mode::Session;
        let probed = probe_default_uri(session, |scheme, daemon| {
            let mode = if session { Mode::Session } else { Mode::System };
            self.backend(scheme, daemon, mode)
                .socket_for(read_only)
                .to_path_buf()
        });
        match probed {
            Probed::Found(uri) => Ok(uri),
            Probed::NotFound(tried) => {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                Err(VirtError::new(
                    ErrorCode::NoConnect,
                    ErrorDomain::Remote,
                    format!(
                        "a call without virt-uri metadata: no uri_default in virt-proxy.conf and \
                         no driver daemon socket to probe (looked for {}); send the connection \
                         URI in the 'virt-uri' metadata, e.g. virt-uri: qemu:///system",
                        tried.join(", ")
                    ),
                ))
            }
        }
    }

    /// The target for connection URI `text`. Errors: NO_CONNECT for a URI no daemon serves.
    pub fn route(&self, text: &str) -> Result<Target, VirtError> {
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

    /// Where a call to gRPC method `grpc_path` goes once its URI is `resolved`: network and
    /// storage calls of a local hypervisor URI go to virtnetworkd and virtstoraged, as
    /// libvirt's secondary drivers do (`qemu:///system` and `lxc:///system` share one network
    /// daemon); everything else where the URI says. A secondary call on a URI whose daemon has
    /// no such service (a session's networks) stays with that daemon, which answers NO_SUPPORT.
    pub fn for_method(&self, resolved: Resolved, grpc_path: &str) -> Resolved {
        let (Some(service), Target::Backend(b)) = (Secondary::of_path(grpc_path), &resolved.target)
        else {
            return resolved;
        };
        let Ok(parsed) = ConnectUri::parse(&resolved.uri) else {
            return resolved;
        };
        let Some((daemon, session)) = secondary_daemon(service, b.scheme, &parsed.path) else {
            return resolved;
        };
        let mode = if session { Mode::Session } else { Mode::System };
        let target = Target::Backend(self.backend(service.scheme(), daemon, mode));
        Resolved {
            uri: resolved.uri,
            target,
        }
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
    fn network_and_storage_calls_of_every_local_uri_reach_their_own_daemons() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = Routing::new(Some(root.path()), ProxyConfig::default());
        let run = root.path().join("run/virt");
        let at = |uri: &str, path: &str| {
            let resolved = r.resolve(Some(uri), false).expect("resolves");
            backend(Ok(r.for_method(resolved, path).target)).socket
        };
        for uri in ["qemu:///system", "lxc:///system", "xen:///system"] {
            assert_eq!(
                at(uri, "/virt.v1.NetworkService/StartNetwork"),
                run.join("virtnetworkd-sock"),
                "{uri}"
            );
            assert_eq!(
                at(uri, "/virt.v1.StorageService/ListStorageVolumes"),
                run.join("virtstoraged-sock"),
                "{uri}"
            );
        }
        assert_eq!(
            at("qemu:///system", "/virt.v1.DomainService/LookupDomain"),
            run.join("virtqemud-sock")
        );
        // network:/// and storage:/// go to their own daemon, for every call.
        assert_eq!(
            at("network:///system", "/virt.v1.NetworkService/StartNetwork"),
            run.join("virtnetworkd-sock")
        );
        assert_eq!(
            at(
                "network:///system",
                "/virt.v1.StorageService/ListStorageVolumes"
            ),
            run.join("virtnetworkd-sock")
        );
        // A session has no network daemon: virtqemud answers NO_SUPPORT itself.
        assert_eq!(
            at("qemu:///session", "/virt.v1.NetworkService/StartNetwork"),
            run.join("virtqemud-sock")
        );
        let embedded = r.resolve(Some("test:///default"), false).expect("test");
        assert_eq!(
            r.for_method(embedded, "/virt.v1.NetworkService/StartNetwork")
                .target,
            Target::Embedded
        );
    }

    #[test]
    fn test_uris_are_embedded() {
        let r = Routing::new(None, ProxyConfig::default());
        for uri in ["test:///default", "test:///tmp/x.xml"] {
            assert_eq!(r.route(uri).expect("routed"), Target::Embedded, "{uri:?}");
        }
    }

    /// A listening socket at `path` (kept open for the test's life).
    fn listen(path: &Path) -> std::os::unix::net::UnixListener {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::os::unix::net::UnixListener::bind(path).expect("bind")
    }

    #[test]
    fn no_uri_probes_sockets_in_libvirts_order_and_never_the_test_driver() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = Routing::new(Some(root.path()), ProxyConfig::default()).with_mode(Mode::System);
        let e = r.resolve(None, false).expect_err("nothing to probe");
        assert_eq!(e.code, ErrorCode::NoConnect);
        let run = root.path().join("run/virt");
        assert!(
            e.message()
                .starts_with("no connection driver available for a call without virt-uri metadata")
                && e.message()
                    .contains(&format!("{}", run.join("virtxend-sock").display()))
                && e.message().contains("virt-uri: qemu:///system"),
            "{}",
            e.message()
        );
        let _lxc = listen(&run.join("virtlxcd-sock"));
        assert_eq!(
            r.resolve(Some(""), false).expect("lxc").uri,
            "lxc:///system"
        );
        let _qemu = listen(&run.join("virtqemud-sock"));
        let got = r.resolve(None, false).expect("qemu");
        assert_eq!(got.uri, "qemu:///system");
        assert_eq!(backend(Ok(got.target)).daemon, "virtqemud");
        // A read-only caller probes the read-only sockets: none here.
        assert!(r.resolve(None, true).is_err());
        let _qemu_ro = listen(&run.join("virtqemud-sock-ro"));
        assert_eq!(r.resolve(None, true).expect("ro").uri, "qemu:///system");
        // xen comes first in libvirt's order.
        let _xen = listen(&run.join("virtxend-sock"));
        assert_eq!(r.resolve(None, false).expect("xen").uri, "xen:///system");
        // A session proxy probes qemu only, on /session.
        let s = Routing::new(Some(root.path()), ProxyConfig::default()).with_mode(Mode::Session);
        assert_eq!(
            s.resolve(None, false).expect("session").uri,
            "qemu:///session"
        );
        // An explicit URI is taken as it is.
        assert_eq!(
            r.resolve(Some("test:///default"), false).expect("test"),
            Resolved {
                uri: "test:///default".into(),
                target: Target::Embedded
            }
        );
    }

    #[test]
    fn uri_default_from_the_config_wins_over_the_probe() {
        let root = tempfile::tempdir().expect("tempdir");
        let _qemu = listen(&root.path().join("run/virt/virtqemud-sock"));
        let cfg = ProxyConfig::parse(Path::new("c"), "uri_default = \"test:///default\"")
            .expect("config");
        let r = Routing::new(Some(root.path()), cfg).with_mode(Mode::System);
        let got = r.resolve(None, false).expect("configured");
        assert_eq!(got.uri, "test:///default");
        assert_eq!(got.target, Target::Embedded);
    }

    #[test]
    fn driver_uris_map_to_their_daemon_sockets_under_the_root() {
        let r = Routing::new(Some(Path::new("/r")), ProxyConfig::default());
        let q = backend(r.route("qemu:///system"));
        assert_eq!(q.daemon, "virtqemud");
        assert_eq!(q.socket, Path::new("/r/run/virt/virtqemud-sock"));
        assert_eq!(
            q.socket_for(true),
            Path::new("/r/run/virt/virtqemud-sock-ro")
        );
        let s = backend(r.route("qemu:///session"));
        assert_eq!(s.mode, Mode::Session);
        assert_eq!(backend(r.route("lxc:///")).daemon, "virtlxcd");
        // virtlxcd's session instance: a user's containers in user namespaces.
        let lxc_session = backend(r.route("lxc:///session"));
        assert_eq!(lxc_session.daemon, "virtlxcd");
        assert!(
            lxc_session.socket.ends_with("virtlxcd-sock"),
            "{lxc_session:?}"
        );
        assert_eq!(
            backend(r.route("xen:///system")).socket,
            Path::new("/r/run/virt/virtxend-sock")
        );
        // Under a root both qemu modes share one socket: listed once.
        assert_eq!(r.backends().len(), 5);
    }

    #[test]
    fn system_uris_without_root_use_run_virt_and_config_overrides_win() {
        let r = Routing::new(None, ProxyConfig::default());
        let q = backend(r.route("qemu:///system"));
        assert_eq!(q.socket, Path::new("/run/virt/virtqemud-sock"));
        let cfg =
            ProxyConfig::parse(Path::new("c"), "qemu_system_socket = \"/srv/q\"").expect("config");
        let r = Routing::new(None, cfg);
        let q = backend(r.route("qemu:///system"));
        assert_eq!(q.socket, Path::new("/srv/q"));
        assert_eq!(q.socket_ro, Path::new("/run/virt/virtqemud-sock-ro"));
    }

    #[test]
    fn unknown_drivers_and_paths_are_no_connect_naming_the_uri() {
        let r = Routing::new(None, ProxyConfig::default());
        for (uri, why) in [
            ("vbox:///session", "virt-proxy routes no such driver"),
            ("qemu:///", "unexpected qemu URI path '/'"),
            ("xen:///session", "virtxend has no session instance"),
        ] {
            let e = r.route(uri).expect_err(uri);
            assert_eq!(e.code, ErrorCode::NoConnect);
            assert_eq!(
                e.message(),
                format!("no connection driver available for {uri}: {why}")
            );
        }
    }
}
