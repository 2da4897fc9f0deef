//! The `virtstoraged` daemon: loads pools, reattaches active ones, autostarts, then serves
//! StorageService (and NO_SUPPORT for domain calls) on virtstoraged-sock / -sock-ro.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// virtstoraged: storage pools and volumes for local hypervisor URIs.
#[derive(Parser, Debug)]
#[command(name = "virtstoraged", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    let daemon = Daemon::from_args(virtstoraged::DAEMON_NAME, &cli.daemon)?;
    let codec = Arc::new(virt_xml::LibvirtXml);
    let storage = virtstoraged::open(daemon.paths(), codec)
        .await
        .context("cannot load storage pools")?;
    for (pool, e) in storage.autostart().await {
        tracing::warn!(%pool, error = %e, "autostart failed");
    }
    let registry = Arc::new(virtstoraged::StorageRegistry::new(storage));
    let routes = virt_core::service::routes(registry, virtstoraged::DAEMON_NAME);
    daemon
        .serve(routes, || false)
        .await
        .context("virtstoraged stopped with an error")
}
