//! Guests outlive their daemon: a hypervisor daemon runs them (QEMU, a container's controller)
//! as its children in sessions of their own, and after a restart finds them re-parented. On a
//! host whose PID 1 does not reap orphans they would stay zombies; so the daemon makes itself
//! a child subreaper (the orphans of its own children come to it) and reaps the orphans
//! nobody waits for (see [`crate::procfs::reap_orphans`], which never takes a child that
//! tokio or std is waiting for).

/// Makes this process a child subreaper (a warning when the kernel refuses) and reaps its
/// orphans on SIGCHLD and every 5 s. Call from within the tokio runtime.
pub fn adopt_orphans() -> Result<(), std::io::Error> {
    use tokio::signal::unix::{signal, SignalKind};
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "cannot become a child subreaper");
    }
    let mut sigchld = signal(SignalKind::child())?;
    tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            tokio::select! {
                s = sigchld.recv() => if s.is_none() { break },
                _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            }
            seen = crate::procfs::reap_orphans(&seen);
        }
    });
    Ok(())
}
