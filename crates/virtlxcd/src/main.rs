//! The `virtlxcd` daemon: the shared runtime serving [`virtlxcd::registry`].
//!
//! Besides serving, `main` makes the daemon a child subreaper (controllers of a previous
//! daemon are re-parented to it rather than to a PID 1 that may never reap them) and reaps
//! those orphans, then reattaches to running containers and autostarts before accepting calls.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use virt_core::runtime::{init_tracing_with, Daemon, DaemonArgs};

/// virtlxcd: serves lxc:///system (as root) or lxc:///session on NAME-sock / NAME-sock-ro.
#[derive(Parser, Debug)]
#[command(name = "virtlxcd", version, about)]
struct Cli {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    virt_core::runtime::reaper::adopt_orphans().context("cannot watch SIGCHLD")?;
    let daemon = Daemon::from_args(virtlxcd::DAEMON_NAME, &cli.daemon)?;
    let codec = Arc::new(virt_xml::LibvirtXml);
    let driver = virtlxcd::LxcDriver::open(daemon.paths(), codec);
    driver.start_guests().await;
    let registry = Arc::new(virtlxcd::registry(driver.clone()));
    let routes = virt_core::service::routes(registry, virtlxcd::DAEMON_NAME);
    // Running containers keep the daemon from an idle exit.
    // With --metrics-listen, every scrape makes one bulk stats call to the driver.
    daemon
        .with_monitoring(driver.clone())
        .serve(routes, move || driver.has_active())
        .await
        .context("virtlxcd stopped with an error")
}
