//! The `virtxend` daemon: the shared runtime serving [`virtxend::registry`].
//!
//! Besides serving, `main` makes the daemon a child subreaper (xl's per-domain monitor
//! processes are its descendants) and reaps orphans, then reattaches to running domains and
//! autostarts before accepting calls.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// virtxend: serves xen:///system on virtxend-sock / virtxend-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virtxend", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    virt_core::runtime::reaper::adopt_orphans().context("cannot watch SIGCHLD")?;
    let daemon = Daemon::from_args(virtxend::DAEMON_NAME, &cli.daemon)?;
    let codec = Arc::new(virt_xml::LibvirtXml);
    let driver = virtxend::XenDriver::open(daemon.paths(), codec);
    driver.start_guests().await;
    let registry = Arc::new(virtxend::registry(driver.clone()));
    let routes = virt_core::service::routes(registry, virtxend::DAEMON_NAME);
    // Running domains keep the daemon from an idle exit.
    // With --metrics-listen, every scrape makes one bulk stats call to the driver.
    daemon
        .with_monitoring(driver.clone())
        .serve(routes, move || driver.has_active())
        .await
        .context("virtxend stopped with an error")
}
