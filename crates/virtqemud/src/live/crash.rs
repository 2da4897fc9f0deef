//! What a guest panic does, per `<on_crash>` (libvirt's `processGuestPanicEvent`).
//!
//! A panic reaches us only through a panic device (`<panic>`: QEMU's pvpanic, whose guest
//! driver reports the kernel's panic). QEMU (with `-no-shutdown`) stops the vCPUs in runstate
//! `guest-panicked` and sends GUEST_PANICKED, then STOP. The event task makes the domain
//! CRASHED / PANICKED with the CRASHED / PANICKED event (`events.rs`); then, as libvirt:
//!
//! | `<on_crash>` | then |
//! |---|---|
//! | `destroy` (default) | QEMU is killed: SHUTOFF / CRASHED, STOPPED / CRASHED |
//! | `restart` | `system_reset` + `cont`: the guest boots again, RUNNING / CRASHED |
//! | `preserve` | nothing: the guest stays crashed for inspection (`virsh dump`, destroy) |
//! | `coredump-destroy`, `coredump-restart` | a memory dump first, then as `destroy` / `restart` |
//!
//! The dump is ELF, memory only (`dump-guest-memory` without paging, into a file the daemon
//! opens and hands QEMU with `getfd`), written to `STATE/qemu/dump/ID-NAME-YYYY-MM-DD-HH:MM:SS`
//! (libvirt's `auto_dump_path` naming; the time is UTC here, local time in libvirt). A dump
//! that fails leaves the guest crashed, as libvirt does. `on_poweroff` `restart` and
//! `on_reboot` `destroy` are handled where their events are (`events.rs`, `monitor_setup.rs`).

use std::os::fd::AsFd;
use std::path::PathBuf;

use serde_json::json;
use virt_core::events::lifecycle as ev;
use virt_core::model::enums::LifecycleAction;
use virt_core::state::reason;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::QemuDriver;

/// `YYYY-MM-DD-HH:MM:SS` of `secs` since the epoch, UTC.
pub(crate) fn dump_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = virt_core::timefmt::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

impl QemuDriver {
    /// Where automatic crash dumps go: `STATE/qemu/dump`.
    pub(crate) fn dump_dir(&self) -> PathBuf {
        self.save_dir.with_file_name("dump")
    }

    /// The `<on_crash>` action after GUEST_PANICKED (see the module docs); the state change
    /// to CRASHED is the caller's.
    pub(super) fn on_guest_panicked(&self, uuid: Uuid, gen: u64) {
        let Some(action) = self.with_run(&uuid, gen, |r| r.live.crash_action()) else {
            return;
        };
        if action == LifecycleAction::Preserve {
            return;
        }
        let me = self.arc();
        tokio::spawn(async move { me.crash_action(uuid, gen, action).await });
    }

    async fn crash_action(&self, uuid: Uuid, gen: u64, action: LifecycleAction) {
        use LifecycleAction::*;
        if matches!(action, CoredumpDestroy | CoredumpRestart) {
            match self.auto_dump(uuid, gen).await {
                Ok(path) => tracing::info!(%uuid, path = %path.display(), "crash dump written"),
                Err(e) => {
                    tracing::error!(%uuid, error = %e, "crash dump failed; the domain stays crashed");
                    return;
                }
            }
        }
        match action {
            Restart | CoredumpRestart => self.restart_crashed(uuid, gen).await,
            _ => self.destroy_crashed(uuid, gen).await,
        }
    }

    /// Kills a crashed guest: SHUTOFF / CRASHED.
    async fn destroy_crashed(&self, uuid: Uuid, gen: u64) {
        let Some(proc) = self.with_run(&uuid, gen, |r| {
            r.destroying = true;
            r.proc.clone()
        }) else {
            return;
        };
        if let Err(e) = proc.terminate(false).await {
            tracing::error!(%uuid, error = %e, "cannot kill a crashed domain's QEMU");
        }
        self.stop_run(
            &uuid,
            gen,
            reason::shutoff::CRASHED,
            Some(ev::stopped::CRASHED),
        )
        .await;
    }

    /// Boots a crashed guest again: `system_reset` (QEMU refuses `cont` in runstate
    /// guest-panicked before a reset) and `cont`; the RESUME event makes it RUNNING / CRASHED.
    async fn restart_crashed(&self, uuid: Uuid, gen: u64) {
        let Some(qmp) = self
            .with_run(&uuid, gen, |r| {
                r.running_reason = reason::running::CRASHED;
                r.qmp.clone()
            })
            .flatten()
        else {
            return;
        };
        let res = async {
            qmp.execute("system_reset", None).await?;
            qmp.execute("cont", None).await
        }
        .await;
        if let Err(e) = res {
            tracing::error!(%uuid, error = %e, "restart after a crash failed; killing the domain");
            self.destroy_crashed(uuid, gen).await;
        }
    }

    /// Dumps a crashed guest's memory into the dump dir; answers the file.
    async fn auto_dump(&self, uuid: Uuid, gen: u64) -> Result<PathBuf, VirtError> {
        use std::os::unix::fs::OpenOptionsExt;
        let (qmp, id, name) = self
            .with_run(&uuid, gen, |r| (r.qmp.clone(), r.id, r.live.name.clone()))
            .and_then(|(q, id, n)| Some((q?, id, n)))
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let dir = self.dump_dir();
        let system = |what: String, e: std::io::Error| {
            VirtError::new(
                virt_core::error::ErrorCode::SystemError,
                virt_core::error::ErrorDomain::Qemu,
                format!("{what}: {e}"),
            )
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| system(format!("cannot create {}", dir.display()), e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let short: String = name.chars().take(20).collect();
        let path = dir.join(format!("{id}-{short}-{}", dump_time(now)));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| system(format!("cannot create {}", path.display()), e))?;
        qmp.send_fd("dump", file.as_fd())
            .await
            .map_err(|e| e.to_virt("getfd"))?;
        qmp.execute(
            "dump-guest-memory",
            Some(json!({"paging": false, "protocol": "fd:dump", "format": "elf"})),
        )
        .await
        .map_err(|e| e.to_virt("dump-guest-memory"))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::dump_time;

    #[test]
    fn dump_names_carry_the_utc_time_as_libvirt_formats_it() {
        assert_eq!(dump_time(0), "1970-01-01-00:00:00");
        assert_eq!(dump_time(1_306_858_282), "2011-05-31-16:11:22");
        assert_eq!(dump_time(951_825_600), "2000-02-29-12:00:00");
    }
}
