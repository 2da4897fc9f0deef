//! The `virtlxcd` daemon: the shared runtime serving [`virtlxcd::LxcRegistry`].
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

/// Reaps orphans re-parented to the daemon (see `virt_core::procfs::reap_orphans`): checked
/// on SIGCHLD and every 5 s.
fn spawn_reaper() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigchld = signal(SignalKind::child()).context("cannot watch SIGCHLD")?;
    tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            tokio::select! {
                s = sigchld.recv() => if s.is_none() { break },
                _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            }
            seen = virt_core::procfs::reap_orphans(&seen);
        }
    });
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing_with(cli.daemon.verbose);
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "cannot become a child subreaper");
    }
    spawn_reaper()?;
    let daemon = Daemon::from_args(virtlxcd::DAEMON_NAME, &cli.daemon);
    let codec = Arc::new(virt_xml::LibvirtXml);
    let driver = virtlxcd::LxcDriver::open(daemon.paths(), codec);
    driver.start_guests().await;
    let registry = Arc::new(virtlxcd::LxcRegistry::new(driver.clone()));
    let routes = virt_core::service::routes(registry, virtlxcd::DAEMON_NAME);
    // Running containers keep the daemon from an idle exit.
    daemon
        .serve(routes, move || driver.has_active())
        .await
        .context("virtlxcd stopped with an error")
}
