//! The OpenMetrics endpoint every daemon can serve: `GET /metrics` over HTTP/1.1.
//!
//! Asked for with `--metrics-listen ADDR` ([`super::DaemonArgs`]) or
//! [`super::Daemon::with_metrics`], the runtime serves, on a loopback TCP address
//! (`127.0.0.1:9177`, `[::1]:9177`, `localhost:9177`) or a UNIX socket (`unix:/path`, mode
//! 0600; `unix:/path,mode=0660` to widen it), the daemon's facts and, for a driver daemon,
//! every domain's bulk stats. Any other address is refused ([`MetricsListenError::NotLoopback`]):
//! guest names and stats are not for the network. A remote Prometheus reaches them through
//! whatever the administrator puts in front (an SSH tunnel, a TLS-terminating proxy).
//!
//! What a scrape holds:
//!
//! - daemon facts: `virt_daemon_info{daemon,version} 1`, `process_start_time_seconds`,
//!   `virt_daemon_uptime_seconds`, `virt_daemon_connected_clients` (the connections the
//!   runtime's [`super::conn::ConnTracker`] counts; metrics connections are not clients and do
//!   not hold off the idle exit);
//! - calls ([`calls`]): `grpc_server_started_total`, `grpc_server_handled_total` by
//!   `grpc_service`, `grpc_method`, `grpc_code`, and the `grpc_server_handling_seconds`
//!   histogram, counted by a tower layer the runtime puts around the routes on every listener;
//! - domains ([`domain`]): when the daemon handed a [`DomainStatsSource`], ONE
//!   `all_domain_stats(0, 0)` call per scrape (every domain, every group the driver has), in
//!   process, its keys turned into the `libvirt-exporter` names; `libvirt_up` says whether it
//!   worked and `virt_domain_stats_scrape_duration_seconds` how long it took. A scrape of 100
//!   guests costs one bulk stats call: no per-domain call is made.
//!
//! Prometheus text 0.0.4 is served by default; OpenMetrics 1.0 (`# EOF`, counter families
//! without `_total`, `application/openmetrics-text; version=1.0.0`) when the `Accept` header
//! asks for `application/openmetrics-text`.
//!
//! hyper is already in every daemon through tonic; only its `http1` server is added (plus
//! `http-body-util` for the response body), no HTTP framework.

pub mod calls;
pub mod domain;
mod endpoint;
#[cfg(test)]
mod tests;
pub mod text;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use calls::{CallLayer, CallStats};
pub use endpoint::{bind, serve, Bound};
use text::{Format, Kind, Num, Writer};

use super::conn::ConnTracker;
use crate::driver::{DriverResult, Monitoring};
use crate::types::StatsRecord;

/// Default mode of a metrics UNIX socket: the daemon's user only.
pub const DEFAULT_UNIX_MODE: u32 = 0o600;

/// How long a scrape waits for the bulk stats call before reporting `libvirt_up 0`.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the metrics endpoint listens: `--metrics-listen` / `metrics_listen`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsListen {
    /// A loopback TCP address.
    Tcp(SocketAddr),
    /// A UNIX socket at an absolute path, with its mode.
    Unix {
        /// The socket path.
        path: PathBuf,
        /// Its permission bits (default [`DEFAULT_UNIX_MODE`]).
        mode: u32,
    },
}

/// Why a metrics address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsListenError {
    /// Nothing given.
    #[error("empty metrics address: give HOST:PORT on loopback or unix:/path")]
    Empty,
    /// A TCP address that is not loopback.
    #[error(
        "metrics address {0} is not a loopback address: guest names and stats are not for the \
         network; use 127.0.0.1:PORT, [::1]:PORT or unix:/path"
    )]
    NotLoopback(String),
    /// Neither `HOST:PORT` nor `unix:/path`.
    #[error("invalid metrics address {0:?}: expected 127.0.0.1:PORT, [::1]:PORT, localhost:PORT or unix:/path[,mode=0600]")]
    Invalid(String),
    /// A UNIX socket path that is not absolute.
    #[error("metrics socket path {0:?} is not absolute")]
    RelativePath(String),
    /// A bad `mode=` on a UNIX socket.
    #[error("invalid metrics socket mode {0:?}: expected octal permission bits such as 0600")]
    Mode(String),
}

impl FromStr for MetricsListen {
    type Err = MetricsListenError;

    fn from_str(s: &str) -> Result<MetricsListen, MetricsListenError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(MetricsListenError::Empty);
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            let (path, mode) = match rest.rsplit_once(",mode=") {
                Some((p, m)) => {
                    let mode = u32::from_str_radix(m, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| MetricsListenError::Mode(m.to_string()))?;
                    (p, mode)
                }
                None => (rest, DEFAULT_UNIX_MODE),
            };
            if !path.starts_with('/') {
                return Err(MetricsListenError::RelativePath(path.to_string()));
            }
            return Ok(MetricsListen::Unix {
                path: PathBuf::from(path),
                mode,
            });
        }
        let addr = if let Some(port) = s.strip_prefix("localhost:") {
            let port: u16 = port
                .parse()
                .map_err(|_| MetricsListenError::Invalid(s.to_string()))?;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        } else {
            s.parse::<SocketAddr>()
                .map_err(|_| MetricsListenError::Invalid(s.to_string()))?
        };
        if !addr.ip().is_loopback() {
            return Err(MetricsListenError::NotLoopback(addr.to_string()));
        }
        Ok(MetricsListen::Tcp(addr))
    }
}

impl fmt::Display for MetricsListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsListen::Tcp(a) => write!(f, "{a}"),
            MetricsListen::Unix { path, mode } if *mode == DEFAULT_UNIX_MODE => {
                write!(f, "unix:{}", path.display())
            }
            MetricsListen::Unix { path, mode } => {
                write!(f, "unix:{},mode={mode:04o}", path.display())
            }
        }
    }
}

/// What one bulk stats call returns.
pub type DomainStatsFuture = Pin<Box<dyn Future<Output = DriverResult<Vec<StatsRecord>>> + Send>>;

/// Where a driver daemon's scrape gets every domain's stats: one call per scrape.
#[derive(Clone)]
pub struct DomainStatsSource(Arc<dyn Fn() -> DomainStatsFuture + Send + Sync>);

impl fmt::Debug for DomainStatsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DomainStatsSource")
    }
}

impl DomainStatsSource {
    /// `Monitoring::all_domain_stats(0, 0)` of `driver`: every domain, every group.
    pub fn from_monitoring(driver: Arc<dyn Monitoring>) -> DomainStatsSource {
        DomainStatsSource(Arc::new(move || {
            let driver = driver.clone();
            Box::pin(async move { driver.all_domain_stats(0, 0).await })
        }))
    }

    /// Any function making the bulk stats call (tests, a driver without [`Monitoring`]).
    pub fn from_fn(f: impl Fn() -> DomainStatsFuture + Send + Sync + 'static) -> DomainStatsSource {
        DomainStatsSource(Arc::new(f))
    }

    /// Makes the call.
    pub fn call(&self) -> DomainStatsFuture {
        (self.0)()
    }
}

/// The facts one daemon exports, shared by its call layers and its `/metrics` endpoint.
#[derive(Debug)]
pub struct Metrics {
    daemon: String,
    started: SystemTime,
    started_at: Instant,
    tracker: Arc<ConnTracker>,
    calls: Arc<CallStats>,
    domains: Option<DomainStatsSource>,
}

impl Metrics {
    /// The metrics of daemon `daemon`, counting clients with `tracker`, with the domain stats
    /// of `domains` when it is a driver daemon.
    pub fn new(
        daemon: &str,
        tracker: Arc<ConnTracker>,
        domains: Option<DomainStatsSource>,
    ) -> Arc<Metrics> {
        Arc::new(Metrics {
            daemon: daemon.to_string(),
            started: SystemTime::now(),
            started_at: Instant::now(),
            tracker,
            calls: Arc::new(CallStats::default()),
            domains,
        })
    }

    /// The call counters, for [`CallLayer`].
    pub fn calls(&self) -> Arc<CallStats> {
        self.calls.clone()
    }

    /// A scrape in `format`.
    pub async fn render(&self, format: Format) -> String {
        let mut w = Writer::new(format);
        self.write_facts(&mut w);
        self.write_calls(&mut w);
        if let Some(source) = &self.domains {
            write_domains(source, &mut w).await;
        }
        w.finish()
    }

    fn write_facts(&self, w: &mut Writer) {
        w.family(
            "virt_daemon_info",
            Kind::Gauge,
            "The daemon's name and version.",
        );
        w.sample(
            "virt_daemon_info",
            &[
                ("daemon", self.daemon.as_str()),
                ("version", env!("CARGO_PKG_VERSION")),
            ],
            Num::U(1),
        );
        let start = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let none: &[(&str, &str)] = &[];
        w.family(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the daemon since the Unix epoch, in seconds.",
        );
        w.sample("process_start_time_seconds", none, Num::F(start));
        w.family(
            "virt_daemon_uptime_seconds",
            Kind::Gauge,
            "Time since the daemon started, in seconds.",
        );
        w.sample(
            "virt_daemon_uptime_seconds",
            none,
            Num::F(self.started_at.elapsed().as_secs_f64()),
        );
        w.family(
            "virt_daemon_connected_clients",
            Kind::Gauge,
            "Client connections open on the daemon's gRPC listeners.",
        );
        w.sample(
            "virt_daemon_connected_clients",
            none,
            Num::U(self.tracker.open() as u64),
        );
    }

    fn write_calls(&self, w: &mut Writer) {
        use std::sync::atomic::Ordering::Relaxed;
        let methods = self.calls.snapshot();
        let split = |path: &str| -> (String, String) {
            calls::split_path(path).map_or(("other".into(), "other".into()), |(s, m)| {
                (s.to_string(), m.to_string())
            })
        };
        w.family(
            "grpc_server_started_total",
            Kind::Counter,
            "Total number of calls started on the server.",
        );
        for (path, m) in &methods {
            let (s, me) = split(path);
            w.sample(
                "grpc_server_started_total",
                &[("grpc_service", s.as_str()), ("grpc_method", me.as_str())],
                Num::U(m.started.load(Relaxed)),
            );
        }
        w.family(
            "grpc_server_handled_total",
            Kind::Counter,
            "Total number of calls completed on the server, by gRPC status code.",
        );
        for (path, m) in &methods {
            let (s, me) = split(path);
            for (code, n) in m.handled.iter().enumerate() {
                let n = n.load(Relaxed);
                if n > 0 {
                    w.sample(
                        "grpc_server_handled_total",
                        &[
                            ("grpc_service", s.as_str()),
                            ("grpc_method", me.as_str()),
                            ("grpc_code", calls::CODE_NAMES[code]),
                        ],
                        Num::U(n),
                    );
                }
            }
        }
        w.family(
            "grpc_server_handling_seconds",
            Kind::Histogram,
            "Time from a call's request to its status (a stream's end), in seconds.",
        );
        for (path, m) in &methods {
            let (s, me) = split(path);
            let mut cumulative = 0u64;
            for (i, n) in m.buckets.iter().enumerate() {
                cumulative += n.load(Relaxed);
                let le = calls::BUCKETS
                    .get(i)
                    .map_or("+Inf".to_string(), |b| Num::F(*b).to_string());
                w.sample(
                    "grpc_server_handling_seconds_bucket",
                    &[
                        ("grpc_service", s.as_str()),
                        ("grpc_method", me.as_str()),
                        ("le", le.as_str()),
                    ],
                    Num::U(cumulative),
                );
            }
            let labels = [("grpc_service", s.as_str()), ("grpc_method", me.as_str())];
            let sum = m.sum_nanos.load(Relaxed) as f64 / 1e9;
            w.sample("grpc_server_handling_seconds_sum", &labels, Num::F(sum));
            w.sample(
                "grpc_server_handling_seconds_count",
                &labels,
                Num::U(cumulative),
            );
        }
    }
}

async fn write_domains(source: &DomainStatsSource, w: &mut Writer) {
    let start = Instant::now();
    let result = tokio::time::timeout(STATS_TIMEOUT, source.call()).await;
    let elapsed = start.elapsed().as_secs_f64();
    let none: &[(&str, &str)] = &[];
    let records = match result {
        Ok(Ok(records)) => Some(records),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the bulk domain stats call failed");
            None
        }
        Err(_) => {
            tracing::warn!(timeout = ?STATS_TIMEOUT, "metrics: the bulk domain stats call timed out");
            None
        }
    };
    w.family(
        "libvirt_up",
        Kind::Gauge,
        "Whether the bulk domain stats call of this scrape succeeded.",
    );
    w.sample("libvirt_up", none, Num::U(u64::from(records.is_some())));
    w.family(
        "virt_domain_stats_scrape_duration_seconds",
        Kind::Gauge,
        "Time the bulk domain stats call of this scrape took, in seconds.",
    );
    w.sample(
        "virt_domain_stats_scrape_duration_seconds",
        none,
        Num::F(elapsed),
    );
    if let Some(records) = records {
        w.family(
            "libvirt_domains",
            Kind::Gauge,
            "Number of domains in the bulk stats.",
        );
        w.sample("libvirt_domains", none, Num::U(records.len() as u64));
        let mut families = domain::Families::default();
        for r in &records {
            domain::add_record(r, &mut families);
        }
        families.write(w);
    }
}
