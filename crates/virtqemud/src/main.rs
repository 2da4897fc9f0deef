//! The `virtqemud` daemon: the shared runtime serving [`virtqemud::QemuRegistry`].

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// virtqemud: serves qemu:///system (as root) or qemu:///session on NAME-sock / NAME-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virtqemud", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    let daemon = Daemon::from_args(virtqemud::DAEMON_NAME, &cli.daemon);
    let codec = Arc::new(virt_xml::LibvirtXml);
    let driver = virtqemud::QemuDriver::open(daemon.paths(), codec);
    let registry = Arc::new(virtqemud::QemuRegistry::new(Arc::new(driver)));
    let routes = virt_core::service::routes(registry, virtqemud::DAEMON_NAME);
    // Nothing runs yet, so nothing keeps the daemon from an idle exit.
    daemon
        .serve(routes, || false)
        .await
        .context("virtqemud stopped with an error")
}
