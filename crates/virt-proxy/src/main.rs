//! The `virt-proxy` daemon: the shared runtime serving [`virt_proxy::ProxyRegistry`].

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// mimalloc: every call allocates request, response and HTTP/2 frame buffers, and the profile of
/// the daemon showed glibc malloc among its top costs (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// virt-proxy: serves the virt.v1 API on NAME-sock / NAME-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virt-proxy", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
    let registry = Arc::new(virt_proxy::ProxyRegistry::new());
    let routes = virt_core::service::routes(registry, virt_proxy::DAEMON_NAME);
    Daemon::from_args(virt_proxy::DAEMON_NAME, &cli.daemon)
        .serve(routes, || false)
        .await
        .context("virt-proxy stopped with an error")
}
