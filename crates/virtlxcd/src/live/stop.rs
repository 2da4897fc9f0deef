//! The end of a run: each running container has a watch (a `Watch` connection to its
//! controller) that learns how it ended; the stop path records the state and reason, emits the
//! lifecycle event, releases the host resources and, for a reboot, starts it again.

use std::path::PathBuf;

use virt_core::events::lifecycle as ev;
use virt_core::kit::table::Entry as _;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainLookup;
use virt_core::uuid::Uuid;

use crate::plan::control::{Reply, Request};
use crate::plan::{Exit, ExitReason};
use crate::LxcDriver;

/// SHUTOFF reason and STOPPED event detail of an exit.
pub(crate) fn stopped_as(reason: ExitReason) -> (i32, i32) {
    match reason {
        ExitReason::Shutdown | ExitReason::Reboot => {
            (reason::shutoff::SHUTDOWN, ev::stopped::SHUTDOWN)
        }
        ExitReason::Destroyed => (reason::shutoff::DESTROYED, ev::stopped::DESTROYED),
        ExitReason::Crashed => (reason::shutoff::CRASHED, ev::stopped::CRASHED),
        ExitReason::Failed => (reason::shutoff::FAILED, ev::stopped::FAILED),
    }
}

impl LxcDriver {
    /// Watches run `gen` of domain `uuid`: when its controller reports the end (or its socket
    /// closes without a word: then the exit record, else FAILED), the stop path runs.
    pub(crate) fn watch(&self, uuid: Uuid, gen: u64, socket: PathBuf) {
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let exit = match super::ctl::open(&socket, &Request::Watch).await {
                Ok((mut conn, _)) => match super::ctl::read_reply(&mut conn).await {
                    Ok(Some(Reply::Exited(exit))) => Some(exit),
                    _ => None,
                },
                Err(e) => {
                    tracing::warn!(socket = %socket.display(), error = %e, "cannot watch a container");
                    None
                }
            };
            let exit = exit.unwrap_or_else(|| me.exit_record_of(uuid));
            me.finish_stop(uuid, gen, exit).await;
        });
    }

    /// The exit record the controller of `uuid` left, or FAILED when there is none.
    pub(crate) fn exit_record_of(&self, uuid: Uuid) -> Exit {
        let name = self
            .lock()
            .by_uuid
            .get(&uuid)
            .map(|d| d.def.name.clone())
            .unwrap_or_default();
        self.read_exit_record(&name)
    }

    /// `RUN/lxc/NAME.exit`, or FAILED when it is missing or unreadable.
    pub(crate) fn read_exit_record(&self, name: &str) -> Exit {
        let path = self.run_root.join(format!("{name}.exit"));
        std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Exit {
                reason: ExitReason::Failed,
                status: -1,
                message: "the controller ended without an exit record".into(),
            })
    }

    /// The stop path of run `gen` of `uuid` (nothing when that run is not current any more):
    /// state and reason, status and plan files, the event, the transient domain's record, the
    /// host resources; a reboot starts the container again with the same live definition.
    pub(crate) async fn finish_stop(&self, uuid: Uuid, gen: u64, exit: Exit) {
        let (run, handle, name, transient) = {
            let mut st = self.lock();
            let Some(d) = st.by_uuid.get_mut(&uuid) else {
                return;
            };
            if d.run.as_ref().is_none_or(|r| r.generation != gen) {
                return;
            }
            let run = d.run.take().expect("checked above");
            let (why, _) = stopped_as(exit.reason);
            d.last = StateReason::new(DomainState::Shutoff, why);
            // The run is gone, so the handle has no ID.
            let handle = virt_core::kit::table::Entry::handle(d);
            let name = d.def.name.clone();
            let transient = !d.persistent;
            if transient && exit.reason != ExitReason::Reboot {
                st.remove(&uuid);
            }
            (run, handle, name, transient)
        };
        tracing::info!(domain = %name, reason = ?exit.reason, status = exit.status, message = %exit.message, "container stopped");
        super::status::remove(&self.run_root, &name);
        for f in [format!("{name}.plan"), format!("{name}.exit")] {
            let _ = std::fs::remove_file(self.run_root.join(f));
        }
        let live = run.live.clone();
        self.release(super::start::Made {
            veths: run.veths,
            ports: run.ports,
            cgroup: run.cgroup,
            files: Vec::new(),
            machine: self
                .cgroup_prefix
                .as_deref()
                .map(|p| virt_core::cgroup::machine_name(p, run.id, &name)),
        })
        .await;
        if exit.reason == ExitReason::Reboot {
            self.reboot_restart(uuid, live, transient).await;
            return;
        }
        let (_, detail) = stopped_as(exit.reason);
        self.bus.emit(handle, ev::payload(ev::STOPPED, detail));
    }

    /// A container whose init asked for a reboot runs again with its live definition
    /// (libvirt keeps the current definition across an LXC reboot).
    async fn reboot_restart(&self, uuid: Uuid, live: virt_core::model::DomainDef, transient: bool) {
        let Ok((_, _job)) = self.job(&DomainLookup::Uuid(uuid)).await else {
            return;
        };
        let mut def = live;
        def.devices.interfaces.iter_mut().for_each(|n| {
            n.source_portid = None;
        });
        if let Err(e) = self.start_domain(uuid, def).await {
            tracing::warn!(%uuid, error = %e, "the container asked for a reboot and could not start again");
            let mut st = self.lock();
            if let Some(d) = st.by_uuid.get_mut(&uuid) {
                d.last = StateReason::new(DomainState::Shutoff, reason::shutoff::FAILED);
                let h = d.handle();
                if transient {
                    st.remove(&uuid);
                }
                drop(st);
                self.bus
                    .emit(h, ev::payload(ev::STOPPED, ev::stopped::FAILED));
            }
        }
    }
}
