//! Daemon start (spec qemu-driver.md §5.2, §5.4): settle the starts the previous daemon left
//! unfinished (`unfinished.rs`), reattach to every guest a status file names, then autostart.
//!
//! For each `RUN/qemu/NAME.xml`: a guest still alive (same pid and start time, not a zombie)
//! gets its monitor reconnected, `query-status` reconciles state and reason, `query-cpus-fast`
//! refreshes the vCPU threads, `query-chardev` the channel states, and its event task
//! resumes; the status file is saved again. A guest that is gone (or whose monitor no longer answers) goes through the stop path with
//! reason CRASHED and STOPPED / FAILED, as libvirt does for a QEMU that died while the daemon
//! was away (`-no-shutdown` means a clean power-off would have left it running). IDs continue
//! above the highest one still running.
//!
//! Autostart: unless `RUN/qemu/autostarted` exists (created now), every persistent inactive
//! domain marked autostart is started, once per host boot (the run dir is a tmpfs).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use virt_core::kit::table::Entry as _;

use serde_json::Value;
use virt_core::driver::prelude::Lifecycle;
use virt_core::events::lifecycle as ev;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainLookup;

use super::start::{fill_ptys, vcpus_of};
use super::{paused_reason_of, Run};
use crate::domains::Dom;
use crate::process::{self, ProcHandle};
use crate::qmp::Qmp;
use crate::status_file::Status;
use crate::QemuDriver;

/// How long a reattach waits for a live guest's monitor.
const RECONNECT_WAIT: Duration = Duration::from_secs(10);

impl QemuDriver {
    /// Reattaches to running guests, then autostarts (see the module docs). Called once when
    /// the daemon starts, inside the runtime.
    pub async fn start_guests(self: &Arc<Self>) {
        let loaded = self.statuses.load_all();
        let loaded = self.settle_unfinished_starts(loaded).await;
        let mut tasks = Vec::new();
        for (name, parsed) in loaded {
            match parsed {
                Ok(st) => {
                    let me = self.clone();
                    tasks.push(tokio::spawn(async move { me.reattach(name, st).await }));
                }
                Err(e) => {
                    tracing::error!(error = %e, "skipping an unusable status file");
                }
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        self.autostart_all().await;
    }

    /// A reattached guest's volume disks get their paths again (the status keeps the pool and
    /// volume, as the XML does): a volume that cannot be resolved now keeps none, logged.
    async fn reresolve_volumes(&self, uuid: virt_core::uuid::Uuid, gen: u64) {
        use virt_core::model::enums::DiskType;
        let Some(disks) = self.with_run(&uuid, gen, |r| r.live.devices.disks.clone()) else {
            return;
        };
        for (i, mut d) in disks.into_iter().enumerate() {
            if d.disk_type != DiskType::Volume {
                continue;
            }
            match self.resolve_volume(&mut d).await {
                Ok(()) => {
                    self.with_run(&uuid, gen, |r| {
                        if let Some(slot) = r.live.devices.disks.get_mut(i) {
                            *slot = d;
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(disk = %d.target_dev, error = %e.message(), "cannot resolve a running guest's volume disk")
                }
            }
        }
    }

    async fn reattach(&self, name: String, st: Status) {
        let live = match self.parse_live(&st.domain_xml) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(domain = %name, error = %e.message(), "status file holds an unusable definition");
                return;
            }
        };
        let uuid = live.uuid;
        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
        self.next_id.fetch_max(st.id + 1, Ordering::Relaxed);
        let handle = process::is_alive(st.pid)
            .then(|| ProcHandle::open(st.pid))
            .flatten()
            .map(Arc::new);
        let Some(proc) = handle else {
            tracing::warn!(domain = %name, pid = st.pid.pid, "guest died while the daemon was away");
            process::reap(st.pid.pid);
            let forgotten = {
                let stt = self.lock();
                match stt.by_uuid.get(&uuid) {
                    Some(d) if d.persistent => None,
                    _ => Some(0),
                }
            };
            self.stop_external(&live, st.swtpm, forgotten).await;
            crate::virtiofs::stop_all(&st.virtiofsd, &name).await;
            // Its network ports are virtnetworkd's to give back.
            self.detach_sibling_devices(&live).await;
            self.forget_dead(&name, &live, &st);
            return;
        };
        {
            let mut stt = self.lock();
            if !stt.by_uuid.contains_key(&uuid) {
                if stt.by_name.contains_key(&live.name) {
                    tracing::error!(domain = %name, "status file's UUID differs from the definition of that name; ignoring it");
                    return;
                }
                stt.insert(Dom::new(live.clone(), false, false));
            }
            let dom = stt.by_uuid.get_mut(&uuid).expect("inserted above");
            let mut def = live.clone();
            fill_ptys(&mut def, &st.ptys);
            dom.run = Some(Run {
                id: st.id,
                gen,
                live: def,
                state: st.state,
                proc: proc.clone(),
                qmp: None,
                monitor: st.monitor.clone(),
                lib_dir: st.lib_dir.clone(),
                log: st.log.clone(),
                vcpus: st.vcpus.clone(),
                taps: st.taps.clone(),
                ptys: st.ptys.clone(),
                balloon_kib: st.balloon_kib,
                fake_reboot: st.fake_reboot,
                destroying: false,
                paused_reason: reason::paused::UNKNOWN,
                running_reason: reason::running::UNPAUSED,
                console: Default::default(),
                unplugs: Default::default(),
                agent: Default::default(),
                swtpm: st.swtpm,
                virtiofsd: st.virtiofsd.clone(),
                thresholds: Default::default(),
            });
            if let Some(t) = st.agent_timeout {
                match virt_core::guest::AgentTimeout::from_libvirt(t, virt_core::ErrorDomain::Qemu)
                {
                    Ok(t) => dom.agent_timeout = t,
                    Err(e) => {
                        tracing::warn!(domain = %name, error = %e.message(), "ignoring the status file's agent timeout")
                    }
                }
            }
        }
        if st.state == StateReason::new(DomainState::Paused, reason::paused::STARTING_UP) {
            // The previous daemon died while starting it: never finished, never reported
            // started; kill it as libvirt does.
            tracing::warn!(domain = %name, "guest was still starting when the daemon went away; killing it");
            self.stop_run(&uuid, gen, reason::shutoff::FAILED, None)
                .await;
            return;
        }
        match self.reconnect(&name, uuid, gen, &st).await {
            Ok(()) => {
                tracing::info!(domain = %name, pid = st.pid.pid, "reattached to a running guest");
                self.reresolve_volumes(uuid, gen).await;
            }
            Err(e) => {
                tracing::error!(domain = %name, error = %e, "cannot reconnect to the guest's monitor; killing it");
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

    /// The stop path for a guest found dead at reattach: its files go, the domain is shut off
    /// with reason CRASHED (a transient one is forgotten) and STOPPED / FAILED is emitted.
    fn forget_dead(&self, name: &str, live: &virt_core::model::DomainDef, st: &Status) {
        self.forget_cgroup(st.id, live);
        super::cleanup_run_files(
            name,
            &st.lib_dir,
            &st.log,
            &st.taps,
            reason::shutoff::CRASHED,
        );
        self.statuses.remove(name);
        let mut stt = self.lock();
        let handle = match stt.by_uuid.get_mut(&live.uuid) {
            Some(d) => {
                d.last = StateReason::new(DomainState::Shutoff, reason::shutoff::CRASHED);
                d.handle()
            }
            None => virt_core::types::DomainHandle {
                name: live.name.clone(),
                uuid: live.uuid,
                id: None,
            },
        };
        self.bus
            .emit(handle, ev::payload(ev::STOPPED, ev::stopped::FAILED));
    }

    async fn reconnect(
        &self,
        name: &str,
        uuid: virt_core::uuid::Uuid,
        gen: u64,
        st: &Status,
    ) -> Result<(), String> {
        let (qmp, events) = Qmp::connect(&st.monitor, RECONNECT_WAIT)
            .await
            .map_err(|e| e.to_string())?;
        let (status, cpus, chardevs) = tokio::join!(
            qmp.execute("query-status", None),
            qmp.execute("query-cpus-fast", None),
            qmp.execute("query-chardev", None)
        );
        let status = status.map_err(|e| e.to_string())?;
        let run_state = status.get("status").and_then(Value::as_str).unwrap_or("");
        let running = status
            .get("running")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let vcpus = cpus
            .map(|c| vcpus_of(&c))
            .unwrap_or_else(|_| st.vcpus.clone());
        let mut power_off = false;
        self.update_run(&uuid, gen, |r| {
            r.qmp = Some(qmp.clone());
            r.vcpus = vcpus;
            if let Ok(c) = &chardevs {
                super::channels::apply_chardev_states(&mut r.live, c);
            }
            r.state = if running {
                let why = if r.state.state == DomainState::Running {
                    r.state.reason
                } else {
                    reason::running::UNPAUSED
                };
                StateReason::new(DomainState::Running, why)
            } else if run_state == "shutdown" {
                power_off = !r.fake_reboot;
                StateReason::new(DomainState::Shutdown, 0)
            } else if r.state.state == DomainState::Paused
                && r.state.reason != reason::paused::STARTING_UP
            {
                r.state
            } else {
                StateReason::new(DomainState::Paused, paused_reason_of(run_state))
            };
        })
        .ok_or("the domain stopped meanwhile")?;
        tokio::spawn(super::events::event_loop(
            self.me.clone(),
            uuid,
            gen,
            events,
        ));
        if let Err(e) = self.apply_cputune(&uuid, gen, &qmp).await {
            tracing::warn!(domain = name, error = %e.message(), "cannot apply <cputune> to the reattached guest");
        }
        let pending_reboot = self
            .with_run(&uuid, gen, |r| r.fake_reboot && run_state == "shutdown")
            .unwrap_or(false);
        if power_off {
            // It powered off while we were away: finish the power-off now.
            tracing::info!(domain = name, "guest powered off while the daemon was away");
            if let Some(p) = self.with_run(&uuid, gen, |r| r.proc.clone()) {
                p.signal(nix::libc::SIGTERM);
            }
        } else if pending_reboot {
            let _ = qmp.execute("system_reset", None).await;
            let _ = qmp.execute("cont", None).await;
            self.update_run(&uuid, gen, |r| {
                r.state = StateReason::new(DomainState::Running, reason::running::BOOTED);
            });
        }
        Ok(())
    }

    async fn autostart_all(&self) {
        let marker = self.run_root.join("autostarted");
        if marker.exists() {
            return;
        }
        let _ = std::fs::create_dir_all(&self.run_root);
        if let Err(e) = virt_core::fsutil::write_atomic(&marker, b"", 0o600) {
            tracing::error!(error = %e, "cannot create the autostarted marker");
        }
        let names: Vec<String> = {
            let st = self.lock();
            let mut v: Vec<String> = st
                .by_uuid
                .values()
                .filter(|d| d.autostart && d.persistent && !d.is_active())
                .map(|d| d.def.name.clone())
                .collect();
            v.sort();
            v
        };
        for n in names {
            match self.create_domain(&DomainLookup::Name(n.clone()), 0).await {
                Ok(_) => tracing::info!(domain = %n, "autostarted"),
                Err(e) => tracing::error!(domain = %n, error = %e.message(), "autostart failed"),
            }
        }
    }
}
