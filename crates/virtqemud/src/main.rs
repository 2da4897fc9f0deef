//! The `virtqemud` daemon: the shared runtime serving [`virtqemud::registry`].
//!
//! Besides serving, `main` makes the daemon a child subreaper (orphans of its QEMUs are handed
//! to it rather than to a PID 1 that may never reap them) and reaps those orphans, then
//! reattaches to running guests and autostarts before accepting calls.

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
    virt_core::runtime::reaper::adopt_orphans().context("cannot watch SIGCHLD")?;
    let daemon = Daemon::from_args(virtqemud::DAEMON_NAME, &cli.daemon)?;
    let codec = Arc::new(virt_xml::LibvirtXml);
    let driver = virtqemud::QemuDriver::open(daemon.paths(), codec);
    driver.start_guests().await;
    tokio::spawn({
        let driver = driver.clone();
        async move { driver.probe_emulators().await }
    });
    let registry = Arc::new(virtqemud::registry(driver.clone()));
    let routes = virt_core::service::routes(registry, virtqemud::DAEMON_NAME);
    // Running guests keep the daemon from an idle exit.
    // With --metrics-listen, every scrape makes one bulk stats call to the driver.
    daemon
        .with_monitoring(driver.clone())
        .serve(routes, move || driver.has_active())
        .await
        .context("virtqemud stopped with an error")
}
