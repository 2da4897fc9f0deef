//! The daemon runtime: everything a driver daemon's `main` needs besides its driver.
//!
//! A daemon (virtqemud, virtxend, virtlxcd, virt-proxy) parses its command line with
//! [`DaemonArgs`] flattened into its own clap parser, builds its gRPC services into a
//! [`tonic::service::Routes`] and hands them to [`Daemon::serve`]:
//!
//! ```no_run
//! # async fn demo(routes: tonic::service::Routes, args: virt_core::runtime::DaemonArgs)
//! # -> Result<(), virt_core::runtime::RuntimeError> {
//! use virt_core::runtime::{init_tracing_with, Daemon};
//! init_tracing_with(args.verbose);
//! Daemon::from_args("virtqemud", &args)?.serve(routes, || false).await
//! # }
//! ```
//!
//! What happens then, in order:
//!
//! 1. **Paths** ([`Paths`]): config, state and run directories are resolved from the mode
//!    (system for uid 0, session otherwise) and the optional `--root` / `VIRT_ROOT`, and created.
//!    **Config** ([`config`]): `CONFIG_DIR/NAME.conf` is read (libvirt's syntax; a missing file
//!    means defaults, an error stops the daemon naming file and line): socket authentication
//!    (`auth_unix_rw`, `auth_unix_ro`: none or polkit), the sockets' group and modes, and
//!    `metrics_listen`.
//! 2. **Listeners** ([`listener`]): if systemd passed sockets (`LISTEN_PID`, `LISTEN_FDS`,
//!    `LISTEN_FDNAMES`, see [`activation`]) they are adopted by name; otherwise the runtime binds
//!    `RUN/NAME-sock` (read-write, mode 0600) and, in system layout, `RUN/NAME-sock-ro`
//!    (read-only, mode 0666). A stale socket file is removed; a live daemon answering on it is
//!    an error ("daemon already running on PATH"). Every accepted connection goes through
//!    [`authority::AuthorityFix`], so that clients sending the socket path as HTTP/2
//!    `:authority` (grpc-core, grpc-java) are served. To let a group manage the daemon, grant it
//!    through systemd (`SocketGroup=`, `SocketMode=0660` in `NAME.socket`) or the config file
//!    (`unix_sock_group`, `unix_sock_rw_perms`); the runtime widens the read-write socket only
//!    when told to, or to 0666 when `auth_unix_rw = "polkit"` makes polkit the gate (as libvirt).
//! 3. **Services** ([`services`]): `grpc.health.v1.Health` (SERVING for "" and every `virt.v1`
//!    service) and server reflection (v1 and v1alpha) are added to the daemon's routes.
//! 4. **Per connection** ([`polkit`], [`crate::readonly`], [`conn`]): with polkit on for a socket,
//!    each connection's first call asks polkit and the answer holds for the connection; every request gets a [`ConnectionInfo`] in its
//!    `http::Extensions`; on the read-only listener any method not in
//!    `proto/readonly-allowlist.txt` is refused with PERMISSION_DENIED / OPERATION_DENIED
//!    before it reaches the service. Accepted connections are counted for the idle timeout.
//! 5. **Metrics** ([`metrics`]): with `--metrics-listen ADDR` ([`Daemon::with_metrics`]),
//!    `GET /metrics` on a loopback address or a UNIX socket serves the daemon's facts, its
//!    calls by method and code (a layer around the routes on every listener) and, for a driver
//!    daemon ([`Daemon::with_domain_stats`]), every domain's bulk stats.
//! 6. **Ready** ([`notify`]): `READY=1` and a `STATUS=` line go to `$NOTIFY_SOCKET`; if systemd
//!    set `WATCHDOG_USEC`, `WATCHDOG=1` is sent every half period.
//! 7. **Stop**: on SIGTERM/SIGINT, or after `--timeout SECS` with no open connection while the
//!    daemon's `busy()` says false, the runtime sends `STOPPING=1`, marks health NOT_SERVING,
//!    stops accepting, lets in-flight calls finish and cuts connections still open after a grace
//!    period (5 s; long-lived streams such as event subscriptions end there). Sockets it bound
//!    itself are unlinked; sockets systemd passed are left to systemd.
//!
//! virt-proxy, which forwards calls it never decodes, hands the runtime a tower service instead
//! ([`Daemon::serve_service`], any [`HttpService`]): everything above applies, except that the
//! read-only allowlist is left to the service (each request still carries [`ConnectionInfo`]),
//! because the proxy sends read-only calls to a daemon's read-only socket and lets that daemon
//! decide.
//!
//! [`crate::service::embedded_channel`] (below this layer, without the `server` feature) serves
//! routes in-process over a memory pipe, with the same per-request treatment but without health
//! and reflection, for `test:///default` without a daemon.

pub mod activation;
#[cfg(test)]
mod activation_tests;
pub mod args;
pub mod authority;
pub mod config;
pub mod conn;
mod daemon;
pub mod listener;
pub mod metrics;
pub mod notify;
pub mod polkit;
pub mod reaper;
pub mod services;
#[cfg(test)]
mod test_support;
pub mod tls;

use std::path::PathBuf;

/// Re-exported from the layer below: every daemon's `main` resolves its tree.
pub use crate::paths::{Mode, Paths};
/// Re-exported from the layer below (see [`crate::readonly`]).
pub use crate::readonly::ConnectionInfo;
pub use args::DaemonArgs;
pub use daemon::{service_routes, Daemon, HttpService, TcpListen, DEFAULT_SHUTDOWN_GRACE};
pub use metrics::{DomainStatsSource, MetricsListen};

/// Errors of the daemon runtime. Each names the path or step that failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A directory of the daemon's tree could not be created.
    #[error(transparent)]
    CreateDir(#[from] crate::paths::CreateDirError),
    /// Another daemon answers on the socket we were asked to bind.
    #[error("daemon already running on {}", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// Something that is not a socket sits where the socket should be.
    #[error("refusing to replace {}: it is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// A stale socket file could not be removed.
    #[error("cannot remove stale socket {}", path.display())]
    RemoveStale {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Binding a listening socket failed.
    #[error("cannot bind socket {}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Setting a socket's group (`unix_sock_group`) failed.
    #[error("cannot set group {gid} on socket {}", path.display())]
    Chown {
        /// The socket path.
        path: PathBuf,
        /// The group.
        gid: u32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The daemon's config file is unreadable or wrong (the message names file and line).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Setting a socket's permissions failed.
    #[error("cannot set mode {mode:o} on socket {}", path.display())]
    Chmod {
        /// The socket path.
        path: PathBuf,
        /// The mode we wanted.
        mode: u32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The socket-activation variables (`LISTEN_*`) are malformed.
    #[error("cannot read socket activation variables")]
    Activation {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// systemd passed sockets, but none for the read-write role.
    #[error("socket activation passed no read-write socket (fd names: {names})")]
    ActivationNoReadWrite {
        /// The names systemd gave, `:`-separated.
        names: String,
    },
    /// A passed file descriptor could not be used as a listener.
    #[error("cannot adopt socket-activation fd {fd}")]
    AdoptFd {
        /// The file descriptor.
        fd: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install signal handlers")]
    Signal {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server on a listener failed.
    #[error("serving {listener} failed")]
    Serve {
        /// Which listener (its path or `embedded`).
        listener: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// A TCP listener could not be bound.
    #[error("cannot listen on {addr}")]
    BindTcp {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS listener's certificates or key could not be loaded.
    #[error("cannot start the TLS listener")]
    Tls {
        /// Why, naming the file.
        #[source]
        source: tls::TlsError,
    },
    /// The metrics endpoint could not listen.
    #[error("cannot listen for metrics on {listen}")]
    Metrics {
        /// The address (`127.0.0.1:9177`, `unix:/path`).
        listen: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A server task ended abnormally (panicked).
    #[error("server task for {listener} ended abnormally")]
    Task {
        /// Which listener.
        listener: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Installs the tracing subscriber: `fmt` to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    init_tracing_with(false);
}

/// As [`init_tracing`]; `verbose` (the daemon's `--verbose`) makes the default filter `debug`.
/// `RUST_LOG`, when set, wins. Calling it twice is harmless (the second call does nothing).
/// Colours only go to a terminal: under systemd stderr is the journal, where escape codes
/// would be stored in every line.
pub fn init_tracing_with(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
