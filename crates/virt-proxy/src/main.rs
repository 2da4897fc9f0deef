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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    let registry = Arc::new(virt_proxy::ProxyRegistry::new());
    let routes = virt_core::service::routes(registry, virt_proxy::DAEMON_NAME);
    Daemon::from_args(virt_proxy::DAEMON_NAME, &cli.daemon)
        .serve(routes, || false)
        .await
        .context("virt-proxy stopped with an error")
}
