//! [`Connection`]: opening a connection URI and turning its transport into a gRPC channel.
//!
//! How a URI becomes a channel (ARCHITECTURE "Connection URIs"):
//!
//! 1. No URI: [`virt_core::uri::UriResolver`] looks at `VIRSH_DEFAULT_CONNECT_URI`,
//!    `LIBVIRT_DEFAULT_URI` and the client config (`uri_default`), as libvirt does. When
//!    nothing is configured we probe as libvirt does ([`virt_core::uri::probe`]): the first
//!    driver daemon whose socket exists (`xen`, `qemu`, `lxc` on the system sockets for root,
//!    `qemu` on the per-user ones otherwise; the read-only sockets for a read-only connection).
//!    If none exists the open fails with NO_CONNECT ([`ClientError::NoDefaultUri`]); the test
//!    driver is never opened unless named.
//! 2. `test:///...` without transport or host: the gRPC services run in this process over the
//!    shared [`TestRegistry`](virt_core::test_driver::TestRegistry) (one per process, so concurrent connections to `test:///default`
//!    see one state, as libvirt's do).
//! 3. Any other local URI: a UNIX socket under RUN, where RUN follows `VIRT_ROOT` and the mode
//!    (`/session` paths use the per-user tree, `/system`, `lxc:///` and `xen:///` the system
//!    one, anything else the caller's: system for root, session otherwise). `?socket=PATH`
//!    names the socket directly and wins. Otherwise, as libvirt's client does with modular
//!    daemons (its `mode=auto`), a URI a driver daemon serves (`qemu:///system`,
//!    `qemu:///session`, `lxc:///system`, `xen:///system`, see [`local_daemon`]) goes straight
//!    to that daemon's socket, `RUN/virtqemud-sock` or, read-only, `RUN/virtqemud-sock-ro`,
//!    when it exists; when only the proxy's socket `RUN/virt-proxy-sock[-ro]` exists (a
//!    socket-activated proxy) the call goes through virt-proxy; when neither exists the open
//!    fails naming the daemon's socket. `?mode=direct` always takes the daemon's socket,
//!    `?mode=legacy` always the proxy's (libvirt's values; its "legacy" daemon is libvirtd,
//!    whose place virt-proxy takes). Any other URI (`test+unix:///default`, `qemu:///embed`)
//!    goes to the proxy, which serves or refuses it.
//! 4. `+tls` (or a host name without a transport), `+tcp` and `+ssh`: the remote proxy, through
//!    [`crate::remote`]. `+ext`, `+libssh` and `+libssh2` are not available; the error says so.
//!
//! Network and storage calls of a local hypervisor URI reached directly go to virtnetworkd's
//! and virtstoraged's own sockets (as libvirt's client opens `network:///system` beside
//! `qemu:///system`), connected on the first such call; through the proxy, an explicit
//! `?socket=`, the embedded test driver or a remote proxy they take the connection's channel.
//!
//! Every request carries the `virt-uri` metadata: the URI without transport and host, which the
//! proxy routes on and the driver registry opens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tower::Layer;

use virt_core::paths::{Mode, Paths};
use virt_core::proto::connect_service_client::ConnectServiceClient;
use virt_core::proto::console_service_client::ConsoleServiceClient;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::event_service_client::EventServiceClient;
use virt_core::proto::guest_service_client::GuestServiceClient;
use virt_core::proto::network_service_client::NetworkServiceClient;
use virt_core::proto::snapshot_service_client::SnapshotServiceClient;
use virt_core::proto::stats_service_client::StatsServiceClient;
use virt_core::proto::storage_service_client::StorageServiceClient;
use virt_core::readonly::{ConnectionLayer, ConnectionService};
use virt_core::test_driver::TestRegistry;
use virt_core::uri::probe::{
    is_socket, local_daemon, probe_default_uri, secondary_daemon, Probed, Secondary,
};
use virt_core::uri::{ConnectUri, Transport, UriResolver};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::error::ClientError;
use crate::h2_channel::{ClientChannel, H2Channel};

/// The daemon name the embedded services report in `Info`.
pub const EMBEDDED_DAEMON: &str = "virt-embedded";

/// Name of the proxy daemon, whose sockets local connections use.
pub const PROXY_DAEMON: &str = "virt-proxy";

/// Metadata key naming the connection URI on every request.
pub const URI_METADATA_KEY: &str = "virt-uri";

/// Adds `virt-uri: <daemon uri>` to every request.
#[derive(Clone, Debug)]
pub struct UriInterceptor {
    uri: AsciiMetadataValue,
}

impl Interceptor for UriInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(URI_METADATA_KEY, self.uri.clone());
        Ok(req)
    }
}

/// The channel type every generated client of a [`Connection`] uses: the transport, behind the
/// read-only guard, behind the `virt-uri` interceptor.
pub type ConnChannel = InterceptedService<ConnectionService<ClientChannel>, UriInterceptor>;

/// Where a connection's channel goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpointed {
    /// The in-process test driver.
    Embedded,
    /// A remote proxy over TLS, plain TCP or ssh ([`crate::remote`]).
    Remote(virt_core::uri::Transport),
    /// A daemon's UNIX socket.
    Socket(PathBuf),
}

/// An open connection to one hypervisor URI. Cheap to clone; clones share the channel.
#[derive(Clone, Debug)]
pub struct Connection {
    uri: String,
    daemon_uri: String,
    read_only: bool,
    endpoint: Endpointed,
    channel: ClientChannel,
    /// The channel of network calls: `channel` unless the connection goes straight to a local
    /// hypervisor daemon, then virtnetworkd's socket, connected on the first network call.
    network: ClientChannel,
    /// The channel of storage calls, as `network` for virtstoraged.
    storage: ClientChannel,
    interceptor: UriInterceptor,
}

/// The process-wide test driver registry behind every embedded connection.
fn test_registry() -> Arc<TestRegistry> {
    static REGISTRY: OnceLock<Arc<TestRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Arc::new(TestRegistry::new(Arc::new(virt_xml::LibvirtXml))))
        .clone()
}

impl Connection {
    /// Opens `uri` (or the default URI, see the module doc); `read_only` asks for a read-only
    /// connection, which the server enforces. libvirt: virConnectOpen / virConnectOpenReadOnly.
    pub async fn open(uri: Option<&str>, read_only: bool) -> Result<Connection, ClientError> {
        let text = resolve_uri(uri, read_only)?;
        let parsed = ConnectUri::parse(&text)?;
        let daemon_uri = parsed.daemon_uri();
        let endpoint = choose_endpoint(&text, &parsed, read_only)?;
        let channel = match &endpoint {
            Endpointed::Embedded => {
                let routes = virt_core::service::routes(test_registry(), EMBEDDED_DAEMON);
                let channel = virt_core::service::embedded_channel(routes, read_only)
                    .await
                    .map_err(|e| ClientError::Embedded(e.to_string()))?;
                ClientChannel::Tonic(channel)
            }
            Endpointed::Socket(path) => ClientChannel::Local(connect_unix(path).await?),
            Endpointed::Remote(Transport::Tls) => {
                ClientChannel::Tonic(crate::remote::tls_channel(&parsed, &text).await?)
            }
            Endpointed::Remote(Transport::Tcp) => {
                ClientChannel::Tonic(crate::remote::tcp_channel(&parsed, &text).await?)
            }
            Endpointed::Remote(_) => {
                ClientChannel::Tonic(crate::remote::ssh_channel(&parsed, &text, read_only).await?)
            }
        };
        let value: AsciiMetadataValue = MetadataValue::try_from(daemon_uri.as_str())
            .map_err(|_| ClientError::BadUriMetadata(daemon_uri.clone()))?;
        let secondary = |service| match &endpoint {
            Endpointed::Socket(primary) => secondary_socket(
                &parsed,
                read_only,
                local_root().as_deref(),
                service,
                primary,
            )
            .map(|path| ClientChannel::Local(H2Channel::lazy(&path)))
            .unwrap_or_else(|| channel.clone()),
            _ => channel.clone(),
        };
        let network = secondary(Secondary::Network);
        let storage = secondary(Secondary::Storage);
        Ok(Connection {
            uri: text,
            daemon_uri,
            read_only,
            endpoint,
            channel,
            network,
            storage,
            interceptor: UriInterceptor { uri: value },
        })
    }

    /// The URI as requested (after default resolution).
    pub fn requested_uri(&self) -> &str {
        &self.uri
    }

    /// The URI sent to the server in `virt-uri` (no transport, no host).
    pub fn daemon_uri(&self) -> &str {
        &self.daemon_uri
    }

    /// Whether the connection was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Where the channel goes.
    pub fn endpoint(&self) -> &Endpointed {
        &self.endpoint
    }

    fn intercepted(&self) -> ConnChannel {
        self.intercepted_on(&self.channel)
    }

    fn intercepted_on(&self, channel: &ClientChannel) -> ConnChannel {
        // Read-only is enforced here as well as by the server, as libvirt checks it in the
        // public API and in the daemon: a session daemon has no read-only socket, so this is
        // the only check a read-only session connection gets.
        let guarded = ConnectionLayer::new(self.read_only).layer(channel.clone());
        InterceptedService::new(guarded, self.interceptor.clone())
    }

    /// A NetworkService client on this connection: virtnetworkd's socket for a local
    /// hypervisor URI reached directly (libvirt's client opens `network:///system` beside
    /// `qemu:///system` the same way), else the connection's own channel (the proxy routes by
    /// service; the embedded test driver serves networks itself).
    pub fn network_client(&self) -> NetworkServiceClient<ConnChannel> {
        NetworkServiceClient::new(self.intercepted_on(&self.network))
    }

    /// A StorageService client on this connection, as [`Connection::network_client`] for
    /// virtstoraged.
    pub fn storage_client(&self) -> StorageServiceClient<ConnChannel> {
        StorageServiceClient::new(self.intercepted_on(&self.storage))
    }

    /// A DomainService client on this connection.
    pub fn domain_client(&self) -> DomainServiceClient<ConnChannel> {
        DomainServiceClient::new(self.intercepted())
    }

    /// A ConnectService client on this connection.
    pub fn connect_client(&self) -> ConnectServiceClient<ConnChannel> {
        ConnectServiceClient::new(self.intercepted())
    }

    /// A StatsService client on this connection.
    pub fn stats_client(&self) -> StatsServiceClient<ConnChannel> {
        StatsServiceClient::new(self.intercepted())
    }

    /// An EventService client on this connection.
    pub fn event_client(&self) -> EventServiceClient<ConnChannel> {
        EventServiceClient::new(self.intercepted())
    }

    /// A GuestService client on this connection.
    pub fn guest_client(&self) -> GuestServiceClient<ConnChannel> {
        GuestServiceClient::new(self.intercepted())
    }

    /// A ConsoleService client on this connection.
    pub fn console_client(&self) -> ConsoleServiceClient<ConnChannel> {
        ConsoleServiceClient::new(self.intercepted())
    }

    /// A SnapshotService client on this connection.
    pub fn snapshot_client(&self) -> SnapshotServiceClient<ConnChannel> {
        SnapshotServiceClient::new(self.intercepted())
    }
}

/// The URI to open: `explicit`, else the configured default (`VIRSH_DEFAULT_CONNECT_URI`,
/// `LIBVIRT_DEFAULT_URI`, `uri_default` in the client config), with aliases resolved, else the
/// probe for a local driver daemon ([`probe_local_uri`]). A broken client config is an error,
/// as libvirt makes it.
pub fn resolve_uri(explicit: Option<&str>, read_only: bool) -> Result<String, ClientError> {
    let explicit = explicit.filter(|u| !u.is_empty());
    let resolver = UriResolver::from_process();
    match resolver.resolve(explicit, false)? {
        Some(uri) => Ok(uri),
        None => probe_local_uri(
            local_root().as_deref(),
            Mode::current(),
            read_only,
            resolver.config_path(),
        ),
    }
}

/// `VIRT_ROOT`, when set: the tree local sockets live under.
fn local_root() -> Option<PathBuf> {
    std::env::var_os("VIRT_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// libvirt's probe for a connection without a URI: the first driver daemon socket that exists
/// under `root` for `mode`, read-only when asked and the mode has one. `config` names the client
/// config file in the error.
pub fn probe_local_uri(
    root: Option<&Path>,
    mode: Mode,
    read_only: bool,
    config: Option<&Path>,
) -> Result<String, ClientError> {
    let paths = Paths::resolve(root, mode);
    let probed = probe_default_uri(mode == Mode::Session, |_, daemon| {
        if read_only && paths.has_ro_socket() {
            paths.socket_ro(daemon)
        } else {
            paths.socket(daemon)
        }
    });
    match probed {
        Probed::Found(uri) => Ok(uri),
        Probed::NotFound(tried) => Err(ClientError::NoDefaultUri {
            config: config.map(Path::to_path_buf),
            tried,
        }),
    }
}

/// Picks the endpoint for a parsed URI; `text` is the URI as given, for error messages.
pub fn choose_endpoint(
    text: &str,
    uri: &ConnectUri,
    read_only: bool,
) -> Result<Endpointed, ClientError> {
    let unavailable = |transport: &str| ClientError::TransportUnavailable {
        uri: text.to_string(),
        transport: transport.to_string(),
    };
    if uri.is_remote() {
        return match uri.effective_transport() {
            t @ (Transport::Tls | Transport::Tcp | Transport::Ssh) => Ok(Endpointed::Remote(t)),
            other => Err(unavailable(other.as_str())),
        };
    }
    if uri.is_in_process_test() {
        return Ok(Endpointed::Embedded);
    }
    if let Some(socket) = uri.param("socket") {
        return Ok(Endpointed::Socket(PathBuf::from(socket)));
    }
    local_socket(uri, read_only, local_root().as_deref()).map(Endpointed::Socket)
}

/// How a local URI reaches its driver daemon: libvirt's `mode` URI parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LocalMode {
    /// The daemon's own socket when it exists, else the proxy's when that exists.
    Auto,
    /// Always the driver daemon's socket.
    Direct,
    /// Always the proxy's socket (libvirt's legacy daemon, libvirtd).
    Legacy,
}

impl LocalMode {
    fn of(uri: &ConnectUri) -> Result<LocalMode, ClientError> {
        match uri.param("mode") {
            None => Ok(LocalMode::Auto),
            Some(m) if m.eq_ignore_ascii_case("auto") => Ok(LocalMode::Auto),
            Some(m) if m.eq_ignore_ascii_case("direct") => Ok(LocalMode::Direct),
            Some(m) if m.eq_ignore_ascii_case("legacy") => Ok(LocalMode::Legacy),
            Some(m) => Err(ClientError::Virt(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Remote,
                format!("unknown remote mode '{m}': use auto, direct or legacy"),
            ))),
        }
    }
}

/// The UNIX socket a local URI without `?socket=` connects to, under `root` (`VIRT_ROOT`) when
/// given: the driver daemon's or the proxy's, read-only when asked and the tree has read-only
/// sockets (see the module doc).
pub fn local_socket(
    uri: &ConnectUri,
    read_only: bool,
    root: Option<&Path>,
) -> Result<PathBuf, ClientError> {
    let local_mode = LocalMode::of(uri)?;
    let daemon = local_daemon(&uri.driver, &uri.path);
    let mode = match (daemon, uri.path.as_str()) {
        (Some((_, true)), _) | (None, "/session") => Mode::Session,
        (Some((_, false)), _) | (None, "/system") => Mode::System,
        (None, _) => Mode::current(),
    };
    let paths = Paths::resolve(root, mode);
    let pick = |name: &str| {
        if read_only && paths.has_ro_socket() {
            paths.socket_ro(name)
        } else {
            paths.socket(name)
        }
    };
    let proxy = pick(PROXY_DAEMON);
    let Some((daemon, _)) = daemon else {
        return Ok(proxy);
    };
    let direct = pick(daemon);
    Ok(match local_mode {
        LocalMode::Direct => direct,
        LocalMode::Legacy => proxy,
        LocalMode::Auto if is_socket(&direct) || !is_socket(&proxy) => direct,
        LocalMode::Auto => proxy,
    })
}

/// The socket of the daemon serving `service` (virtnetworkd, virtstoraged) for a connection
/// whose own channel goes to `primary`: `None` when that channel serves it already (an explicit
/// `?socket=`, the proxy's socket, the service's own daemon) or no daemon serves it for this URI
/// (then the primary daemon answers NO_SUPPORT).
fn secondary_socket(
    uri: &ConnectUri,
    read_only: bool,
    root: Option<&Path>,
    service: Secondary,
    primary: &Path,
) -> Option<PathBuf> {
    if uri.param("socket").is_some() {
        return None;
    }
    let (daemon, session) = secondary_daemon(service, &uri.driver, &uri.path)?;
    let paths = Paths::resolve(root, if session { Mode::Session } else { Mode::System });
    let proxy = |ro: bool| {
        if ro {
            paths.socket_ro(PROXY_DAEMON)
        } else {
            paths.socket(PROXY_DAEMON)
        }
    };
    if primary == proxy(true) || primary == proxy(false) {
        return None;
    }
    let socket = if read_only && paths.has_ro_socket() {
        paths.socket_ro(daemon)
    } else {
        paths.socket(daemon)
    };
    (socket != primary).then_some(socket)
}

/// Connects the local channel to the UNIX socket at `path` ([`H2Channel`]).
async fn connect_unix(path: &Path) -> Result<H2Channel, ClientError> {
    // Connected up front so that a missing daemon is reported with the socket's path and the
    // system's reason, as libvirt does; the channel reconnects the same way if it must.
    H2Channel::connect(path)
        .await
        .map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_uri_probes_driver_sockets_and_never_opens_the_test_driver() {
        let root = tempfile::tempdir().expect("tempdir");
        let conf = root.path().join("virt.conf");
        let err = probe_local_uri(Some(root.path()), Mode::System, false, Some(&conf))
            .expect_err("no daemon");
        assert_eq!(err.code(), virt_core::ErrorCode::NoConnect);
        let run = root.path().join("run/virt");
        let text = err.to_string();
        assert!(
            text.starts_with("no connection URI given and no default: pass one")
                && text.contains(&format!("uri_default in {}", conf.display()))
                && text.contains(&format!(
                    "looked for {}, {}, {}",
                    run.join("virtxend-sock").display(),
                    run.join("virtqemud-sock").display(),
                    run.join("virtlxcd-sock").display()
                )),
            "{text}"
        );
        std::fs::create_dir_all(&run).expect("mkdir");
        let _q = std::os::unix::net::UnixListener::bind(run.join("virtqemud-sock")).expect("bind");
        let got = probe_local_uri(Some(root.path()), Mode::System, false, None).expect("qemu");
        assert_eq!(got, "qemu:///system");
        let got = probe_local_uri(Some(root.path()), Mode::Session, false, None).expect("session");
        assert_eq!(got, "qemu:///session");
        // Read-only connections look for the read-only socket.
        assert!(probe_local_uri(Some(root.path()), Mode::System, true, None).is_err());
    }

    #[test]
    fn network_and_storage_calls_of_a_direct_connection_go_to_their_own_daemons() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run/virt");
        let pick = |uri: &str, ro: bool, primary: &Path, service| {
            let parsed = ConnectUri::parse(uri).expect("uri");
            secondary_socket(&parsed, ro, Some(root.path()), service, primary)
        };
        let qemu = run.join("virtqemud-sock");
        for uri in ["qemu:///system", "lxc:///system", "xen:///system"] {
            assert_eq!(
                pick(uri, false, &qemu, Secondary::Network),
                Some(run.join("virtnetworkd-sock")),
                "{uri}"
            );
            assert_eq!(
                pick(
                    uri,
                    true,
                    &run.join("virtqemud-sock-ro"),
                    Secondary::Storage
                ),
                Some(run.join("virtstoraged-sock-ro")),
                "{uri}"
            );
        }
        // Through the proxy, or on a socket the URI names, the one channel serves everything.
        let proxy = run.join("virt-proxy-sock");
        assert_eq!(
            pick("qemu:///system", false, &proxy, Secondary::Network),
            None
        );
        let named = "qemu:///system?socket=/tmp/x-sock";
        assert_eq!(
            pick(named, false, Path::new("/tmp/x-sock"), Secondary::Network),
            None
        );
        // network:///system is virtnetworkd itself; a session has no network daemon.
        let net = run.join("virtnetworkd-sock");
        assert_eq!(
            pick("network:///system", false, &net, Secondary::Network),
            None
        );
        assert_eq!(
            pick("network:///system", false, &net, Secondary::Storage),
            None
        );
        assert_eq!(
            pick("qemu:///session", false, &qemu, Secondary::Network),
            None
        );
    }

    /// Binds a listening socket at `RUN/name` under `root` (kept open until the test ends).
    fn listen(root: &Path, name: &str) -> std::os::unix::net::UnixListener {
        let run = root.join("run/virt");
        std::fs::create_dir_all(&run).expect("mkdir run");
        std::os::unix::net::UnixListener::bind(run.join(name)).expect("bind")
    }

    fn socket_for(root: &Path, uri: &str, read_only: bool) -> PathBuf {
        let parsed = ConnectUri::parse(uri).expect("uri");
        local_socket(&parsed, read_only, Some(root)).expect("local socket")
    }

    #[test]
    fn local_uri_goes_straight_to_the_driver_daemon_when_its_socket_exists() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run/virt");
        let _proxy = listen(root.path(), "virt-proxy-sock");
        let _qemu = listen(root.path(), "virtqemud-sock");
        for uri in ["qemu:///system", "qemu:///session", "qemu+unix:///system"] {
            assert_eq!(
                socket_for(root.path(), uri, false),
                run.join("virtqemud-sock"),
                "{uri}"
            );
        }
        let _lxc = listen(root.path(), "virtlxcd-sock");
        assert_eq!(
            socket_for(root.path(), "lxc:///", false),
            run.join("virtlxcd-sock")
        );
        // Drivers no daemon serves go to the proxy, which serves or refuses them.
        assert_eq!(
            socket_for(root.path(), "test+unix:///default", false),
            run.join("virt-proxy-sock")
        );
        assert_eq!(
            socket_for(root.path(), "qemu:///embed?root=/x", false),
            run.join("virt-proxy-sock")
        );
        // libvirt's mode=legacy forces the proxy, as it forces libvirtd.
        assert_eq!(
            socket_for(root.path(), "qemu:///system?mode=legacy", false),
            run.join("virt-proxy-sock")
        );
        let parsed = ConnectUri::parse("qemu:///system?mode=sideways").expect("uri");
        let err = local_socket(&parsed, false, Some(root.path())).expect_err("bad mode");
        assert_eq!(err.code(), virt_core::ErrorCode::InvalidArg);
        assert!(err.to_string().contains("'sideways'"), "{err}");
    }

    #[test]
    fn local_uri_goes_through_the_proxy_when_only_its_socket_exists() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run/virt");
        let _proxy = listen(root.path(), "virt-proxy-sock");
        assert_eq!(
            socket_for(root.path(), "qemu:///system", false),
            run.join("virt-proxy-sock")
        );
        assert_eq!(
            socket_for(root.path(), "xen:///system", false),
            run.join("virt-proxy-sock")
        );
        // A regular file where the daemon's socket should be is no daemon.
        std::fs::write(run.join("virtqemud-sock"), b"").expect("write");
        assert_eq!(
            socket_for(root.path(), "qemu:///system", false),
            run.join("virt-proxy-sock")
        );
        // mode=direct insists on the daemon's socket.
        assert_eq!(
            socket_for(root.path(), "qemu:///system?mode=direct", false),
            run.join("virtqemud-sock")
        );
    }

    #[test]
    fn local_uri_with_no_socket_at_all_names_the_driver_daemons() {
        let root = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            socket_for(root.path(), "qemu:///system", false),
            root.path().join("run/virt/virtqemud-sock")
        );
    }

    #[test]
    fn read_only_connection_picks_the_read_only_sockets() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run/virt");
        let _proxy_ro = listen(root.path(), "virt-proxy-sock-ro");
        // Only the read-write daemon socket: a read-only connection does not take it.
        let _qemu = listen(root.path(), "virtqemud-sock");
        assert_eq!(
            socket_for(root.path(), "qemu:///system", true),
            run.join("virt-proxy-sock-ro")
        );
        let _qemu_ro = listen(root.path(), "virtqemud-sock-ro");
        assert_eq!(
            socket_for(root.path(), "qemu:///system", true),
            run.join("virtqemud-sock-ro")
        );
        assert_eq!(
            socket_for(root.path(), "qemu:///system", false),
            run.join("virtqemud-sock")
        );
    }

    #[test]
    fn explicit_socket_parameter_wins_over_every_local_socket() {
        let root = tempfile::tempdir().expect("tempdir");
        let _qemu = listen(root.path(), "virtqemud-sock");
        let _proxy = listen(root.path(), "virt-proxy-sock");
        for ro in [false, true] {
            let text = "qemu+unix:///system?socket=/elsewhere/sock&mode=direct";
            let parsed = ConnectUri::parse(text).expect("uri");
            assert_eq!(
                choose_endpoint(text, &parsed, ro).expect("endpoint"),
                Endpointed::Socket(PathBuf::from("/elsewhere/sock"))
            );
        }
    }
}
