//! The `virt-proxy` daemon: the shared runtime serving [`virt_proxy::Proxy`].
//!
//! `VIRT_PROXY_WORKERS=N` sets the tokio worker threads (0: a single-threaded runtime, which
//! on a 2-vCPU machine cut the hop's median by ~20 us in tests/benches/proxy.rs); unset, one per
//! core.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::config::DaemonConfig;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs, Paths};
use virt_proxy::config::{ProxyConfig, CONFIG_FILE};

/// mimalloc: every call allocates request, response and HTTP/2 frame buffers, and the profile of
/// the daemon showed glibc malloc among its top costs (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// virt-proxy: routes connection URIs to the driver daemons, serves test:///, on
/// NAME-sock / NAME-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virt-proxy", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Config file (default CONFIG_DIR/virt-proxy.conf; a missing file means defaults).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Bridge stdin/stdout to this host's proxy socket instead of serving (the remote end of
    /// the `+ssh` transport).
    #[arg(long)]
    stdio: bool,
    /// With --stdio: the connection URI, which picks the system or session proxy.
    #[arg(requires = "stdio", value_name = "URI")]
    uri: Option<String>,
    /// With --stdio: the proxy socket to connect to, overriding the URI's.
    #[arg(long, requires = "stdio", value_name = "PATH")]
    socket: Option<std::path::PathBuf>,
    /// With --stdio: use the read-only socket.
    #[arg(long, requires = "stdio")]
    readonly: bool,
}

fn main() -> anyhow::Result<()> {
    // Worker threads: VIRT_PROXY_WORKERS (0: one thread, no cross-thread wake-ups), else
    // tokio's default (one per core).
    let workers = std::env::var("VIRT_PROXY_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let runtime = match workers {
        Some(0) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .context("cannot start the tokio runtime")?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.stdio {
        let socket = virt_proxy::stdio::bridge_socket(
            cli.uri.as_deref(),
            cli.socket.as_deref(),
            cli.readonly,
            cli.daemon.root.as_deref(),
        );
        return virt_proxy::stdio::bridge(&socket, tokio::io::stdin(), tokio::io::stdout())
            .await
            .context("virt-proxy --stdio");
    }
    init_tracing_with(cli.daemon.verbose);
    let paths = Paths::resolve(cli.daemon.root.as_deref(), cli.daemon.mode());
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| paths.config_dir.join(CONFIG_FILE));
    let config = ProxyConfig::load(&config_path)?;
    // The runtime's keys (socket authentication, modes, metrics) live in the same file.
    let daemon_config = DaemonConfig::load(&config_path, &virt_proxy::config::is_proxy_key)?;
    let timeout = match cli.daemon.timeout {
        Some(_) => cli.daemon.idle_timeout(),
        None => config
            .timeout
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
    };
    let tcp = config
        .tcp_listeners(cli.daemon.mode(), cli.daemon.root.as_deref())
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("config file {}", config_path.display()))?;
    let proxy = virt_proxy::proxy_service(cli.daemon.root.as_deref(), cli.daemon.mode(), config);
    Daemon::from_args_with_config(virt_proxy::DAEMON_NAME, &cli.daemon, daemon_config)
        .with_idle_timeout(timeout)
        .with_tcp_listeners(tcp)
        .serve_service(proxy, || false)
        .await
        .context("virt-proxy stopped with an error")
}
