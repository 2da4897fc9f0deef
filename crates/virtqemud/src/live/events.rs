//! The per-run event task: QMP events in the order QEMU sent them become state changes and
//! driver events (spec qemu-driver.md §3.3), and the monitor's end is the guest's end.
//!
//! * STOP: RUNNING → PAUSED with the reason stored before asking (USER) or UNKNOWN;
//!   SUSPENDED / PAUSED. Ignored during a guest power-off or a fake reboot (from its SHUTDOWN
//!   to the RESET our `system_reset` causes: events are handled in QEMU's order while the
//!   reset runs in its own task, so only the event stream can tell which STOP is whose).
//! * RESUME: not RUNNING → RUNNING with the stored reason (UNPAUSED); RESUMED / UNPAUSED.
//!   Ignored while starting (the start path reports RUNNING / BOOTED itself).
//! * SHUTDOWN: with a fake reboot pending (or `<on_poweroff>restart`), `system_reset` +
//!   `cont` and the guest runs on; else SHUTDOWN / UNKNOWN, lifecycle SHUTDOWN with detail
//!   GUEST or HOST, and QEMU (kept alive by `-no-shutdown`) is told to quit with SIGTERM.
//! * Monitor EOF: after SHUTDOWN it is SHUTOFF / SHUTDOWN with STOPPED / SHUTDOWN; otherwise
//!   SHUTOFF / CRASHED with STOPPED / FAILED; during a destroy, nothing (destroy stops it);
//!   while starting, the start path reports the failure.
//! * RESET: REBOOT event; ends a fake reboot. BALLOON_CHANGE: balloon size, BALLOON_CHANGE event.
//!   DEVICE_DELETED: wakes a waiting detach, or finishes the removal. GUEST_PANICKED:
//!   CRASHED / PANICKED, then the `<on_crash>` action (`crash.rs`). SUSPEND / WAKEUP:
//!   PMSUSPENDED / RUNNING WAKEUP. RTC_CHANGE: RTC_CHANGE.
//! * VSERPORT_CHANGE: a virtio channel's state (`channels.rs`). SHUTDOWN and RESET also wake
//!   an agent shutdown or reboot waiting for them (`agent.rs`). BLOCK_WRITE_THRESHOLD:
//!   BLOCK_THRESHOLD events for the disk whose threshold was armed (`iotune.rs`).

use std::sync::Weak;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use virt_core::events::lifecycle as ev;
use virt_core::model::enums::LifecycleAction;
use virt_core::proto::domain_event::Payload;
use virt_core::proto::{BalloonChangeEvent, RebootEvent, RtcChangeEvent};
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::uuid::Uuid;

use crate::qmp::QmpEvent;
use crate::QemuDriver;

/// SHUTDOWN event details (virDomainEventShutdownDetailType).
const SHUTDOWN_GUEST: i32 = 1;
const SHUTDOWN_HOST: i32 = 2;

/// Follows one run's events until its monitor closes, then runs the EOF handling.
pub(crate) async fn event_loop(
    driver: Weak<QemuDriver>,
    uuid: Uuid,
    gen: u64,
    mut events: UnboundedReceiver<QmpEvent>,
) {
    while let Some(e) = events.recv().await {
        let Some(d) = driver.upgrade() else { return };
        d.on_event(uuid, gen, &e);
    }
    if let Some(d) = driver.upgrade() {
        d.on_monitor_eof(uuid, gen).await;
    }
}

fn running(r: i32) -> StateReason {
    StateReason::new(DomainState::Running, r)
}

impl QemuDriver {
    fn on_event(&self, uuid: Uuid, gen: u64, e: &QmpEvent) {
        tracing::debug!(%uuid, event = %e.event, data = %e.data, "qmp event");
        self.publish_qmp_event(&uuid, gen, e);
        match e.event.as_str() {
            "STOP" => {
                // The reason stored by whoever asked for the stop, consumed by this STOP.
                let why = self
                    .with_run(&uuid, gen, |r| {
                        if r.state.state == DomainState::Running && !r.fake_reboot {
                            std::mem::replace(&mut r.paused_reason, reason::paused::UNKNOWN)
                        } else {
                            r.paused_reason
                        }
                    })
                    .unwrap_or(0);
                let detail = match why {
                    reason::paused::IOERROR => 2,
                    reason::paused::WATCHDOG => 3,
                    _ => ev::suspended::PAUSED,
                };
                self.transition(
                    &uuid,
                    gen,
                    StateReason::new(DomainState::Paused, why),
                    Some((ev::SUSPENDED, detail)),
                    |r| r.state.state == DomainState::Running && !r.fake_reboot,
                );
            }
            "RESUME" => {
                let why = self
                    .with_run(&uuid, gen, |r| r.running_reason)
                    .unwrap_or(reason::running::UNPAUSED);
                self.transition(
                    &uuid,
                    gen,
                    running(why),
                    Some((ev::RESUMED, ev::resumed::UNPAUSED)),
                    |r| {
                        r.state.state != DomainState::Running
                            && r.state.reason != reason::paused::STARTING_UP
                            && r.state.state != DomainState::Shutdown
                    },
                );
            }
            "SHUTDOWN" => {
                if let Some(link) = self.with_run(&uuid, gen, |r| r.agent.clone()) {
                    link.shutdown.notify_waiters();
                }
                self.on_shutdown(uuid, gen, &e.data)
            }
            "VSERPORT_CHANGE" => self.on_vserport_change(uuid, gen, &e.data),
            "BLOCK_WRITE_THRESHOLD" => self.on_write_threshold(uuid, gen, &e.data),
            "RESET" => {
                if let Some(link) = self.with_run(&uuid, gen, |r| r.agent.clone()) {
                    link.reset.notify_waiters();
                }
                // Comes after the STOP of a fake reboot's power-off (our system_reset follows
                // it): from here STOP events are the guest's again.
                self.update_run(&uuid, gen, |r| r.fake_reboot = false);
                self.emit_for(&uuid, gen, Payload::Reboot(RebootEvent {}));
            }
            "BALLOON_CHANGE" => {
                if let Some(actual) = e.data.get("actual").and_then(Value::as_u64) {
                    let kib = actual / 1024;
                    self.update_run(&uuid, gen, |r| r.balloon_kib = kib);
                    self.emit_for(
                        &uuid,
                        gen,
                        Payload::BalloonChange(BalloonChangeEvent { actual_kib: kib }),
                    );
                }
            }
            "RTC_CHANGE" => {
                let offset = e.data.get("offset").and_then(Value::as_i64).unwrap_or(0);
                self.emit_for(
                    &uuid,
                    gen,
                    Payload::RtcChange(RtcChangeEvent { utc_offset: offset }),
                );
            }
            "DEVICE_DELETED" => {
                if let Some(alias) = e.data.get("device").and_then(Value::as_str) {
                    self.device_deleted(uuid, gen, alias);
                }
            }
            "GUEST_PANICKED" => {
                let changed = self.transition(
                    &uuid,
                    gen,
                    StateReason::new(DomainState::Crashed, 1),
                    Some((ev::CRASHED, 0)),
                    |r| r.state.state != DomainState::Crashed,
                );
                if changed {
                    self.on_guest_panicked(uuid, gen);
                }
            }
            "SUSPEND" => {
                self.transition(
                    &uuid,
                    gen,
                    StateReason::new(DomainState::PmSuspended, 0),
                    Some((ev::PMSUSPENDED, 0)),
                    |_| true,
                );
            }
            "WAKEUP" => {
                self.transition(
                    &uuid,
                    gen,
                    running(reason::running::WAKEUP),
                    Some((ev::STARTED, 4)),
                    |r| r.state.state == DomainState::PmSuspended,
                );
            }
            _ => {}
        }
    }

    fn on_shutdown(&self, uuid: Uuid, gen: u64, data: &Value) {
        let guest = data.get("guest").and_then(Value::as_bool).unwrap_or(false);
        let reboot = self
            .update_run(&uuid, gen, |r| {
                let restart = r.live.on_poweroff == Some(LifecycleAction::Restart);
                if restart {
                    r.fake_reboot = true;
                }
                r.state.state != DomainState::Shutdown && r.fake_reboot
            })
            .unwrap_or(false);
        if reboot {
            let me = self.arc();
            tokio::spawn(async move { me.fake_reboot(uuid, gen).await });
            return;
        }
        let detail = if guest { SHUTDOWN_GUEST } else { SHUTDOWN_HOST };
        let changed = self.transition(
            &uuid,
            gen,
            StateReason::new(DomainState::Shutdown, 0),
            Some((ev::SHUTDOWN, detail)),
            |r| r.state.state != DomainState::Shutdown,
        );
        if changed {
            // -no-shutdown kept QEMU alive to tell us; now it may go. The EOF stops the run.
            if let Some(p) = self.with_run(&uuid, gen, |r| r.proc.clone()) {
                p.signal(nix::libc::SIGTERM);
            }
        }
    }

    /// The second half of a host-requested reboot: the guest powered off, reset the machine
    /// and let it run again (QEMU refuses `cont` in runstate shutdown before a reset).
    async fn fake_reboot(&self, uuid: Uuid, gen: u64) {
        let Some(qmp) = self.with_run(&uuid, gen, |r| r.qmp.clone()).flatten() else {
            return;
        };
        let res = async {
            qmp.execute("system_reset", None).await?;
            qmp.execute("cont", None).await
        }
        .await;
        match res {
            Ok(_) => {
                // fake_reboot is cleared by the RESET event, in event order.
                self.update_run(&uuid, gen, |r| r.state = running(reason::running::BOOTED));
            }
            Err(e) => {
                tracing::error!(%uuid, error = %e, "fake reboot failed; killing the domain");
                self.with_run(&uuid, gen, |r| r.destroying = true);
                if let Some(p) = self.with_run(&uuid, gen, |r| r.proc.clone()) {
                    let _ = p.terminate(false).await;
                }
                self.stop_run(
                    &uuid,
                    gen,
                    reason::shutoff::CRASHED,
                    Some(ev::stopped::FAILED),
                )
                .await;
            }
        }
    }

    /// The monitor closed: QEMU exited (or is about to).
    async fn on_monitor_eof(&self, uuid: Uuid, gen: u64) {
        let Some((destroying, state, proc)) =
            self.with_run(&uuid, gen, |r| (r.destroying, r.state, r.proc.clone()))
        else {
            return;
        };
        if destroying
            || state.reason == reason::paused::STARTING_UP && state.state == DomainState::Paused
        {
            return;
        }
        // The socket closes a moment before the process is gone; a QEMU that closed its
        // monitor and lives on is killed.
        if !proc.wait_exit(Duration::from_secs(3)).await {
            let _ = proc.terminate(false).await;
        }
        let (why, detail) = if state.state == DomainState::Shutdown {
            (reason::shutoff::SHUTDOWN, ev::stopped::SHUTDOWN)
        } else {
            tracing::warn!(%uuid, "monitor closed without a SHUTDOWN event: assuming the domain crashed");
            (reason::shutoff::CRASHED, ev::stopped::FAILED)
        };
        self.stop_run(&uuid, gen, why, Some(detail)).await;
    }
}
