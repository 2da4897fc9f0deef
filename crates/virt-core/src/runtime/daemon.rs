//! [`Daemon`]: binds the listeners, serves the routes on them, and stops cleanly.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use super::activation;
use super::args::DaemonArgs;
use super::config::{DaemonConfig, UnixAuth};
use super::conn::ConnTracker;
use super::listener::Listener;
use super::metrics::{self, CallLayer, DomainStatsSource, Metrics, MetricsListen};
use super::notify::{watchdog_from_env, watchdog_loop, Notifier};
use super::polkit::{Gate, Polkit, PolkitLayer, ACTION_MANAGE, ACTION_MONITOR};
use super::services::add_runtime_services;
use super::tls::{self, TlsAcceptor, TlsAuthLayer};
use super::RuntimeError;
use crate::paths::Paths;
use crate::readonly::ConnectionLayer;
use futures_util::StreamExt;

/// How long in-flight calls and open streams get after shutdown starts before their
/// connections are cut.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One daemon instance: its name (`virtqemud`), its paths, and how it stops.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    paths: Paths,
    timeout: Option<Duration>,
    grace: Duration,
    notifier: Option<Notifier>,
    tcp: Vec<TcpListen>,
    busy_poll: Duration,
    metrics: Option<MetricsListen>,
    domain_stats: Option<DomainStatsSource>,
    config: DaemonConfig,
}

/// A TCP listener besides the UNIX sockets: mutual TLS (the remote listener), or plain TCP,
/// which carries no authentication at all and is only for an administrator who asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpListen {
    /// Address and port.
    pub addr: std::net::SocketAddr,
    /// TLS settings; `None` for plain TCP.
    pub tls: Option<super::tls::TlsSettings>,
}

impl Daemon {
    /// A daemon called `name` (socket names derive from it) using `paths`, with no idle timeout.
    pub fn new(name: &str, paths: Paths) -> Daemon {
        Daemon {
            name: name.to_string(),
            paths,
            timeout: None,
            grace: DEFAULT_SHUTDOWN_GRACE,
            notifier: None,
            tcp: Vec::new(),
            busy_poll: crate::busy_poll::budget_from_env(),
            metrics: None,
            domain_stats: None,
            config: DaemonConfig::default(),
        }
    }

    /// Serve `GET /metrics` on `listen` (see [`super::metrics`]): daemon facts, calls, and
    /// the domains of [`Daemon::with_domain_stats`]. The address type's `FromStr` is the one
    /// `--metrics-listen` and the config file's `metrics_listen` use.
    pub fn with_metrics(mut self, listen: MetricsListen) -> Daemon {
        self.metrics = Some(listen);
        self
    }

    /// Where a driver daemon's scrape gets every domain's bulk stats (one call per scrape).
    /// Without [`Daemon::with_metrics`] it is never called.
    pub fn with_domain_stats(mut self, source: DomainStatsSource) -> Daemon {
        self.domain_stats = Some(source);
        self
    }

    /// [`Daemon::with_domain_stats`] from the driver's [`crate::driver::Monitoring`].
    pub fn with_monitoring(self, driver: Arc<dyn crate::driver::Monitoring>) -> Daemon {
        self.with_domain_stats(DomainStatsSource::from_monitoring(driver))
    }

    /// Also listen on these TCP addresses (read-write; TLS ones admit only authorized clients).
    pub fn with_tcp_listeners(mut self, listeners: Vec<TcpListen>) -> Daemon {
        self.tcp = listeners;
        self
    }

    /// A daemon configured from the shared command-line options and its config file,
    /// `CONFIG_DIR/NAME.conf` (see [`super::config`]); an unreadable or wrong file is an error
    /// naming file and line.
    pub fn from_args(name: &str, args: &DaemonArgs) -> Result<Daemon, RuntimeError> {
        let paths = Paths::resolve(args.root.as_deref(), args.mode());
        let config = DaemonConfig::load(&DaemonConfig::file(&paths.config_dir, name), &|_| false)?;
        Ok(Daemon::from_args_with_config(name, args, config))
    }

    /// As [`Daemon::from_args`] with the config already read (virt-proxy reads the same file
    /// for its own keys, from `--config PATH` when given).
    /// The metrics address is `--metrics-listen`, else the file's `metrics_listen`.
    pub fn from_args_with_config(name: &str, args: &DaemonArgs, config: DaemonConfig) -> Daemon {
        let listen = args
            .metrics_listen
            .clone()
            .or_else(|| config.metrics_listen.clone());
        let d = Daemon::new(name, Paths::resolve(args.root.as_deref(), args.mode()))
            .with_idle_timeout(args.idle_timeout())
            .with_busy_poll(args.busy_poll())
            .with_config(config);
        match listen {
            Some(listen) => d.with_metrics(listen),
            None => d,
        }
    }

    /// Uses `config`'s socket authentication, group and modes.
    pub fn with_config(mut self, config: DaemonConfig) -> Daemon {
        self.config = config;
        self
    }

    /// How long a UNIX-socket connection polls for the client's next call after answering
    /// (zero: never); see [`crate::busy_poll`]. The default is `VIRT_BUSY_POLL_US`, else
    /// [`crate::busy_poll::DEFAULT_BUDGET`].
    pub fn with_busy_poll(mut self, budget: Duration) -> Daemon {
        self.busy_poll = budget;
        self
    }

    /// Exit after `timeout` with no client connection while not busy (`None`: never).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Daemon {
        self.timeout = timeout;
        self
    }

    /// How long shutdown waits for in-flight calls before cutting connections.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Daemon {
        self.grace = grace;
        self
    }

    /// Notify through `notifier` instead of `$NOTIFY_SOCKET` (tests, embedding).
    pub fn with_notifier(mut self, notifier: Notifier) -> Daemon {
        self.notifier = Some(notifier);
        self
    }

    /// The daemon's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon's directories.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Serves `routes` (the daemon's gRPC services) on the read-write and read-only sockets
    /// until SIGTERM/SIGINT or the idle timeout. `busy` says whether the daemon must not
    /// idle-exit (e.g. guests running). SIGHUP is logged and otherwise ignored.
    pub async fn serve(
        self,
        routes: Routes,
        busy: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Result<(), RuntimeError> {
        let signals = shutdown_signals()?;
        self.serve_with_shutdown(routes, busy, signals).await
    }

    /// As [`Daemon::serve`], stopping when `shutdown` completes instead of on signals.
    pub async fn serve_with_shutdown(
        self,
        routes: Routes,
        busy: impl Fn() -> bool + Send + Sync + 'static,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RuntimeError> {
        self.run(routes, true, busy, shutdown).await
    }

    /// Serves any tower service of HTTP/2 requests (virt-proxy's forwarder) on the daemon's
    /// listeners, with everything else [`Daemon::serve`] does: socket activation, health and
    /// reflection (answered by the runtime before `svc` sees the call), sd_notify, idle exit and
    /// graceful stop. Read-only enforcement is left to `svc`: every request carries
    /// [`crate::readonly::ConnectionInfo`] saying whether it came in on the read-only socket.
    pub async fn serve_service<S>(
        self,
        svc: S,
        busy: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Result<(), RuntimeError>
    where
        S: HttpService,
        S::Future: Send + 'static,
    {
        let signals = shutdown_signals()?;
        self.serve_service_with_shutdown(svc, busy, signals).await
    }

    /// As [`Daemon::serve_service`], stopping when `shutdown` completes instead of on signals.
    pub async fn serve_service_with_shutdown<S>(
        self,
        svc: S,
        busy: impl Fn() -> bool + Send + Sync + 'static,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RuntimeError>
    where
        S: HttpService,
        S::Future: Send + 'static,
    {
        self.run(service_routes(svc), false, busy, shutdown).await
    }

    async fn run(
        self,
        routes: Routes,
        enforce_read_only: bool,
        busy: impl Fn() -> bool + Send + Sync + 'static,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RuntimeError> {
        self.paths.create_dirs()?;
        let listeners = self.listeners()?;
        let notifier = Arc::new(self.notifier.unwrap_or_else(Notifier::from_env));
        let (routes, health) = add_runtime_services(routes).await;
        let tracker = ConnTracker::new();
        let (stop_tx, stop_rx) = watch::channel(false);
        let metrics = Metrics::new(&self.name, tracker.clone(), self.domain_stats.clone());
        let calls = CallLayer::new(self.metrics.as_ref().map(|_| metrics.calls()));
        let metrics_server = match &self.metrics {
            Some(listen) => {
                let bound = metrics::bind(listen).await?;
                tracing::info!(daemon = %self.name, listen = %bound.label, "serving metrics");
                Some(tokio::spawn(metrics::serve(
                    bound,
                    metrics.clone(),
                    stop_rx.clone(),
                )))
            }
            None => None,
        };

        let polkit = Arc::new(Polkit::default());
        let gate = |auth: UnixAuth, action: &'static str| {
            (auth == UnixAuth::Polkit).then(|| Arc::new(Gate::new(polkit.clone(), action)))
        };
        let rw_gate = gate(self.config.auth_unix_rw, ACTION_MANAGE);
        let ro_gate = gate(self.config.auth_unix_ro, ACTION_MONITOR);
        if rw_gate.is_some() || ro_gate.is_some() {
            tracing::info!(
                read_write = rw_gate.is_some(),
                read_only = ro_gate.is_some(),
                bus = %polkit.bus_address(),
                "UNIX socket clients are authorized by polkit"
            );
        }

        let mut labels: Vec<String> = listeners.iter().map(|l| l.label.clone()).collect();
        let mut servers = JoinSet::new();
        for tcp in &self.tcp {
            let listener = tokio::net::TcpListener::bind(tcp.addr)
                .await
                .map_err(|source| RuntimeError::BindTcp {
                    addr: tcp.addr,
                    source,
                })?;
            let addr = listener.local_addr().unwrap_or(tcp.addr);
            let mut stop = stop_rx.clone();
            let signal = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let layer = if enforce_read_only {
                ConnectionLayer::new(false)
            } else {
                ConnectionLayer::tag_only(false)
            };
            let t = tracker.clone();
            match &tcp.tls {
                Some(settings) => {
                    let acceptor = TlsAcceptor::new(settings)
                        .map_err(|source| RuntimeError::Tls { source })?;
                    let label = format!("tls://{addr}");
                    let server = Server::builder()
                        .layer(calls.clone())
                        .layer(TlsAuthLayer::new(settings.allowed_dns.clone()))
                        .layer(layer)
                        .add_routes(routes.clone());
                    let incoming =
                        tls::incoming(listener, acceptor).map(move |c| c.map(|c| t.track(c)));
                    servers.spawn(async move {
                        let res = server.serve_with_incoming_shutdown(incoming, signal).await;
                        (label, res)
                    });
                    labels.push(format!("tls://{addr}"));
                }
                None => {
                    tracing::warn!(%addr, "plain TCP listener enabled: clients are not authenticated");
                    let label = format!("tcp://{addr}");
                    let server = Server::builder()
                        .layer(calls.clone())
                        .layer(layer)
                        .add_routes(routes.clone());
                    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener)
                        .map(move |c| c.map(|c| t.track(c)));
                    servers.spawn(async move {
                        let res = server.serve_with_incoming_shutdown(incoming, signal).await;
                        (label, res)
                    });
                    labels.push(format!("tcp://{addr}"));
                }
            }
        }
        for listener in listeners {
            let label = listener.label.clone();
            let layer = if enforce_read_only {
                ConnectionLayer::new(listener.read_only)
            } else {
                ConnectionLayer::tag_only(listener.read_only)
            };
            let gate = if listener.read_only {
                ro_gate.clone()
            } else {
                rw_gate.clone()
            };
            // Outermost the call counter, so polkit's and the read-only refusals are counted.
            let server = Server::builder()
                .layer(calls.clone())
                .layer(PolkitLayer::new(gate))
                .layer(layer)
                .add_routes(routes.clone());
            let incoming = listener.incoming(tracker.clone(), self.busy_poll);
            let mut stop = stop_rx.clone();
            servers.spawn(async move {
                let signal = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let res = server.serve_with_incoming_shutdown(incoming, signal).await;
                (label, res)
            });
        }

        let status = format!("STATUS={} serving on {}", self.name, labels.join(", "));
        tracing::info!(daemon = %self.name, listeners = ?labels, "ready");
        notifier.send_logged(&["READY=1", &status]);
        let watchdog =
            watchdog_from_env().map(|p| tokio::spawn(watchdog_loop(notifier.clone(), p)));

        let early = tokio::select! {
            () = shutdown => { tracing::info!("shutdown requested"); None }
            () = idle(&tracker, self.timeout, &busy) => { tracing::info!("idle timeout, exiting"); None }
            Some(joined) = servers.join_next() => Some(joined),
        };

        let stopping = format!("STATUS={} stopping", self.name);
        notifier.send_logged(&["STOPPING=1", &stopping]);
        health.set_all(ServingStatus::NotServing).await;
        stop_tx.send_replace(true);
        let mut result = early.map_or(Ok(()), server_result);
        if tokio::time::timeout(self.grace, drain(&mut servers, &mut result))
            .await
            .is_err()
        {
            tracing::warn!(
                open = tracker.open(),
                "grace period over, cutting connections"
            );
            tracker.kill();
            drain(&mut servers, &mut result).await;
        }
        if let Some(w) = watchdog {
            w.abort();
        }
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        result
    }

    /// The listeners: adopted from systemd when activated, else bound under the run dir.
    fn listeners(&self) -> Result<Vec<Listener>, RuntimeError> {
        if let Some(act) = activation::from_env(&self.name)? {
            if self.config.unix_sock_group.is_some()
                || self.config.unix_sock_rw_perms.is_some()
                || self.config.unix_sock_ro_perms.is_some()
            {
                tracing::info!(
                    "sockets passed by systemd keep the unit's SocketMode=/SocketGroup=; \
                     unix_sock_group and unix_sock_*_perms apply to sockets the daemon binds"
                );
            }
            let mut out = Vec::new();
            if let Some(fd) = act.rw {
                out.push(Listener::adopt(fd, false)?);
            }
            if let Some(fd) = act.ro {
                out.push(Listener::adopt(fd, true)?);
            }
            return Ok(out);
        }
        let gid = self.config.unix_sock_group;
        let mut out = vec![Listener::bind_with_group(
            &self.paths.socket(&self.name),
            self.config.rw_mode(),
            gid,
            false,
        )?];
        if self.paths.has_ro_socket() {
            out.push(Listener::bind_with_group(
                &self.paths.socket_ro(&self.name),
                self.config.ro_mode(),
                gid,
                true,
            )?);
        }
        Ok(out)
    }
}

/// A tower service a daemon can serve with [`Daemon::serve_service`]: HTTP/2 requests in,
/// responses out, never failing at the service level (errors travel as gRPC statuses).
pub trait HttpService:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HttpService for S where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Routes that send every call no other route takes (all but health and reflection) to `svc`.
pub fn service_routes<S>(svc: S) -> Routes
where
    S: HttpService,
    S::Future: Send + 'static,
{
    let router = Routes::default()
        .into_axum_router()
        .fallback_service(ToTonicBody(svc));
    Routes::from(router)
}

/// Adapts a service over [`tonic::body::Body`] requests to any request body (axum's).
#[derive(Clone)]
struct ToTonicBody<S>(S);

impl<S, B> tower::Service<http::Request<B>> for ToTonicBody<S>
where
    S: HttpService,
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.0.call(req.map(tonic::body::Body::new))
    }
}

type Joined = Result<(String, Result<(), tonic::transport::Error>), tokio::task::JoinError>;

fn server_result(joined: Joined) -> Result<(), RuntimeError> {
    match joined {
        Ok((_, Ok(()))) => Ok(()),
        Ok((listener, Err(source))) => Err(RuntimeError::Serve { listener, source }),
        Err(source) => Err(RuntimeError::Task {
            listener: "listener".to_string(),
            source,
        }),
    }
}

/// Waits for every server task, keeping the first error in `result`.
async fn drain(
    servers: &mut JoinSet<(String, Result<(), tonic::transport::Error>)>,
    result: &mut Result<(), RuntimeError>,
) {
    while let Some(joined) = servers.join_next().await {
        let r = server_result(joined);
        if result.is_ok() {
            *result = r;
        }
    }
}

/// Completes once nobody has been connected for `timeout` while `busy()` was false; never
/// when `timeout` is `None`.
async fn idle(tracker: &ConnTracker, timeout: Option<Duration>, busy: &(dyn Fn() -> bool + Sync)) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if tracker.open() > 0 || busy() {
            tracker.touch();
        } else if tracker.quiet_since().elapsed() >= timeout {
            return;
        }
    }
}

/// Installs SIGTERM, SIGINT and SIGHUP handlers; the future completes on SIGTERM or SIGINT.
fn shutdown_signals() -> Result<impl Future<Output = ()> + Send, RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let err = |source| RuntimeError::Signal { source };
    let mut term = signal(SignalKind::terminate()).map_err(err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(err)?;
    let mut hup = signal(SignalKind::hangup()).map_err(err)?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM received"); return; }
                _ = int.recv() => { tracing::info!("SIGINT received"); return; }
                _ = hup.recv() => tracing::info!("SIGHUP received; reloading is not supported"),
            }
        }
    })
}

#[cfg(test)]
#[path = "daemon_tests.rs"]
mod tests;
