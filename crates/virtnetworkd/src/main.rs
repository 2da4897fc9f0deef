//! The `virtnetworkd` daemon: the shared runtime serving [`virtnetworkd::NetworkRegistry`].
//! Networks outlive the daemon: it reattaches to running ones at start, starts autostart ones,
//! and leaves them running when it stops.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// virtnetworkd: serves virtual networks on virtnetworkd-sock / virtnetworkd-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virtnetworkd", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    let daemon = Daemon::from_args(virtnetworkd::DAEMON_NAME, &cli.daemon)?;
    let codec = Arc::new(virt_xml::LibvirtXml);
    let nd = virtnetworkd::NetworkDaemon::open(daemon.paths(), codec).await;
    nd.networks.autostart_all().await;
    let registry = Arc::new(virtnetworkd::NetworkRegistry::new(nd.networks.clone()));
    let routes = virt_core::service::routes(registry, virtnetworkd::DAEMON_NAME);
    daemon
        .serve(routes, nd.busy_flag())
        .await
        .context("virtnetworkd stopped with an error")
}
