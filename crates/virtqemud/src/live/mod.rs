//! Running guests: the per-run record ([`Run`]), the per-domain job lock ([`Job`]), state
//! changes that save the status file and publish lifecycle events, and the stop path.
//!
//! # How a run is tracked
//!
//! A domain's [`Run`] exists from the moment its QEMU is spawned until the stop path takes it
//! out, under the driver's state lock, exactly once: whichever of destroy, monitor EOF or a
//! failed start gets there first does the cleanup, the others find nothing to stop. Every run
//! has a generation number, so a late event from an earlier run never touches a later one.
//!
//! State follows QMP events (spec qemu-driver.md §3.3, in `events.rs`); the API calls change
//! state themselves too, once QEMU has answered, so a caller sees the new state when the call
//! returns. Both go through [`QemuDriver::transition`], which applies a change only if the
//! state is not already there: the event and the answer race, the lifecycle event is emitted
//! once.
//!
//! Every state-changing API call holds the domain's job lock; waiting for it gives up after
//! 30 s with OPERATION_TIMEOUT "cannot acquire state change lock (held by API)", as libvirt.
//! Monitor calls are made with the job held and the state lock released, so events are
//! processed meanwhile. Destroy kills first and takes the job afterwards (a hung monitor call
//! cannot block it). Guest agent calls take the run's agent job instead (`agent.rs`), as
//! libvirt's agent jobs run alongside normal ones, each command under its own deadline.

mod agent;
mod bandwidth;
mod blkio;
mod numa;
mod perf;
pub(crate) use numa::check_start as check_numatune_start;
mod blockjob;
mod cgroup;
mod channels;
mod console;
mod crash;
mod events;
mod external;
mod guest;
mod hotplug;
mod iothreads;
mod iotune;
pub(crate) mod jobs;
mod lifecycle;
mod mgmt;
pub(crate) mod monitor;
mod monitor_setup;
mod pinning;
pub(crate) mod prepare;
mod reattach;
mod resources;
mod save;
pub(crate) mod snapshot;
mod start;
pub(crate) mod stats;
mod tunables;
mod unfinished;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use virt_core::kit::table::Entry as _;

use serde_json::Value;
use tokio::sync::{oneshot, OwnedMutexGuard};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::model::DomainDef;
use virt_core::proto::domain_event::Payload;
use virt_core::state::{reason, reason_virsh_name, DomainState, StateReason};
use virt_core::types::DomainLookup;
use virt_core::uuid::Uuid;
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

use crate::domains::Dom;
use crate::process::{self, ProcHandle};
use crate::qmp::Qmp;
use crate::status_file::Status;
use crate::QemuDriver;

/// How long a state-changing call waits for the job lock (libvirt's 30 s).
pub const JOB_WAIT: Duration = Duration::from_secs(30);

/// One run of a domain: from spawn to the stop path.
#[derive(Debug)]
pub(crate) struct Run {
    /// The domain ID.
    pub id: u32,
    /// Unique per run within this daemon.
    pub gen: u64,
    /// The live definition (pty paths filled in).
    pub live: DomainDef,
    pub state: StateReason,
    pub proc: Arc<ProcHandle>,
    /// The monitor connection, once made.
    pub qmp: Option<Qmp>,
    pub monitor: PathBuf,
    pub lib_dir: PathBuf,
    pub log: PathBuf,
    pub vcpus: Vec<(u32, i32)>,
    pub taps: Vec<String>,
    pub ptys: Vec<(String, String)>,
    pub balloon_kib: u64,
    /// A host-requested reboot is in flight: the next SHUTDOWN resets instead of stopping.
    pub fake_reboot: bool,
    /// A destroy is killing QEMU: the monitor EOF is not a crash.
    pub destroying: bool,
    /// The reason the next STOP event records (USER when we asked, else UNKNOWN).
    pub paused_reason: i32,
    /// The reason the next RESUME event records.
    pub running_reason: i32,
    /// The open console session, ended when the domain stops.
    pub console: virt_core::kit::console::Session,
    /// Detaches waiting for DEVICE_DELETED, by device alias.
    pub unplugs: HashMap<String, oneshot::Sender<()>>,
    /// The guest agent connection and the agent job.
    pub agent: Arc<agent::AgentLink>,
    /// The swtpm of an emulated TPM, stopped after QEMU.
    pub swtpm: Option<process::Pid>,
    /// The virtiofsd of each virtiofs share (filesystem alias, process), stopped after QEMU.
    pub virtiofsd: Vec<(String, process::Pid)>,
    /// Write thresholds armed by virDomainSetBlockThreshold, by QEMU node name (`iotune.rs`).
    pub thresholds: HashMap<String, Threshold>,
}

/// A write threshold armed on a disk's node: what its BLOCK_THRESHOLD events name.
#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    /// The disk target (`vda`).
    pub target: String,
    /// The image's path.
    pub path: String,
    /// The image's index (`vda[N]`), from the node name.
    pub index: Option<u32>,
    /// Set as `vda[N]`: no event for the bare target.
    pub with_index: bool,
}

impl Run {
    /// The status file's content.
    pub fn status(&self, codec: &dyn virt_core::xml::DomainXmlCodec) -> Status {
        Status {
            state: self.state,
            pid: self.proc.pid(),
            id: self.id,
            monitor: self.monitor.clone(),
            lib_dir: self.lib_dir.clone(),
            log: self.log.clone(),
            vcpus: self.vcpus.clone(),
            taps: self.taps.clone(),
            ptys: self.ptys.clone(),
            balloon_kib: self.balloon_kib,
            fake_reboot: self.fake_reboot,
            agent_timeout: None,
            swtpm: self.swtpm,
            virtiofsd: self.virtiofsd.clone(),
            domain_xml: codec.format_domain(
                &self.live,
                FormatOptions {
                    id: Some(self.id),
                    secure: true,
                    inactive: false,
                },
            ),
        }
    }
}

/// The per-domain job lock and the name of the API holding it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Job {
    lock: Arc<tokio::sync::Mutex<()>>,
    holder: Arc<Mutex<&'static str>>,
    /// When the job was last taken (read while it is held: domcontrol's time in the state).
    taken: Arc<Mutex<Option<std::time::Instant>>>,
    /// The running background job's progress and the last finished one's statistics
    /// (domjobinfo), readable while the job lock is held.
    pub progress: Arc<Mutex<jobs::Progress>>,
}

impl Job {
    /// Takes the job for `api`, waiting up to [`JOB_WAIT`].
    pub async fn acquire(&self, api: &'static str) -> Result<JobGuard, VirtError> {
        match tokio::time::timeout(JOB_WAIT, self.lock.clone().lock_owned()).await {
            Ok(g) => {
                *self.holder.lock().expect("job holder lock poisoned") = api;
                *self.taken.lock().expect("job time lock poisoned") =
                    Some(std::time::Instant::now());
                Ok(JobGuard { _g: g })
            }
            Err(_) => {
                let held = *self.holder.lock().expect("job holder lock poisoned");
                Err(VirtError::new(
                    ErrorCode::OperationTimeout,
                    ErrorDomain::Qemu,
                    format!("cannot acquire state change lock (held by {held})"),
                ))
            }
        }
    }
}

impl Job {
    /// When the job holding the domain now was taken; `None` while nobody holds it.
    pub fn busy_since(&self) -> Option<std::time::Instant> {
        if self.lock.try_lock().is_ok() {
            return None;
        }
        *self.taken.lock().expect("job time lock poisoned")
    }
}

/// A held job; dropping it releases the job.
pub(crate) struct JobGuard {
    _g: OwnedMutexGuard<()>,
}

pub(crate) async fn set_stats_period(qmp: &Qmp, alias: &str, period: u32) -> Result<(), VirtError> {
    qmp.execute(
        "qom-set",
        Some(serde_json::json!({
            "path": format!("/machine/peripheral/{alias}"),
            "property": "guest-stats-polling-interval",
            "value": period,
        })),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_virt("qom-set"))
}

/// OPERATION_INVALID "domain is not running" naming the domain.
pub(crate) fn not_running(dom: &Dom) -> VirtError {
    VirtError::operation_invalid("domain is not running")
        .with_object(&dom.def.name, dom.def.uuid.to_string())
}

/// What an API call needs of a running domain, copied out of the state lock.
#[derive(Clone)]
pub(crate) struct Active {
    pub uuid: Uuid,
    pub gen: u64,
    pub qmp: Qmp,
    pub state: StateReason,
}

impl QemuDriver {
    /// The driver as an `Arc` (for tasks that outlive a call).
    pub(crate) fn arc(&self) -> Arc<QemuDriver> {
        self.me
            .upgrade()
            .expect("the driver is alive while it is called")
    }

    /// Whether any guest runs (keeps the daemon from an idle exit).
    pub fn has_active(&self) -> bool {
        self.lock().by_uuid.values().any(Dom::is_active)
    }

    /// Takes the job of the domain `lookup` names; returns the guard and the UUID.
    pub(crate) async fn job(
        &self,
        lookup: &DomainLookup,
        api: &'static str,
    ) -> Result<(JobGuard, Uuid), VirtError> {
        let (uuid, job) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            (d.def.uuid, d.job.clone())
        };
        Ok((job.acquire(api).await?, uuid))
    }

    /// The running domain `uuid` (after a job was taken: it may have stopped meanwhile).
    pub(crate) fn active(&self, uuid: &Uuid) -> Result<Active, VirtError> {
        let st = self.lock();
        let d = st.get(&DomainLookup::Uuid(*uuid))?;
        match &d.run {
            Some(r) if r.qmp.is_some() => Ok(Active {
                uuid: *uuid,
                gen: r.gen,
                qmp: r.qmp.clone().expect("checked"),
                state: r.state,
            }),
            _ => Err(not_running(d)),
        }
    }

    /// Runs `f` on the run `gen` of domain `uuid` under the state lock; `None` when that run is
    /// over. For what the status file does not record (or is saved right after anyway).
    pub(crate) fn with_run<T>(
        &self,
        uuid: &Uuid,
        gen: u64,
        f: impl FnOnce(&mut Run) -> T,
    ) -> Option<T> {
        let mut st = self.lock();
        let run = st
            .by_uuid
            .get_mut(uuid)?
            .run
            .as_mut()
            .filter(|r| r.gen == gen)?;
        Some(f(run))
    }

    /// [`QemuDriver::with_run`], then saves the status file (each save is an fsync'ed atomic
    /// write: only for changes the file records).
    pub(crate) fn update_run<T>(
        &self,
        uuid: &Uuid,
        gen: u64,
        f: impl FnOnce(&mut Run) -> T,
    ) -> Option<T> {
        let mut st = self.lock();
        let dom = st.by_uuid.get_mut(uuid)?;
        let run = dom.run.as_mut().filter(|r| r.gen == gen)?;
        let out = f(run);
        self.save_status(dom);
        Some(out)
    }

    /// Moves the run to `to` unless it is there already, saving the status and emitting
    /// `event` (libvirt type, detail) on a change. `when` guards the change on the current
    /// state. Returns whether it changed.
    pub(crate) fn transition(
        &self,
        uuid: &Uuid,
        gen: u64,
        to: StateReason,
        event: Option<(i32, i32)>,
        when: impl FnOnce(&Run) -> bool,
    ) -> bool {
        let mut st = self.lock();
        let Some(dom) = st.by_uuid.get_mut(uuid) else {
            return false;
        };
        let Some(run) = dom.run.as_mut().filter(|r| r.gen == gen) else {
            return false;
        };
        // While a destroy kills QEMU, its dying words (SHUTDOWN host-signal, STOP) are not
        // state changes: the stop path reports DESTROYED.
        if run.state == to || run.destroying || !when(run) {
            return false;
        }
        run.state = to;
        self.save_status(dom);
        if let Some((t, d)) = event {
            self.bus.emit(dom.handle(), ev::payload(t, d));
        }
        true
    }

    /// Emits a non-lifecycle event for the run `gen` of `uuid`.
    pub(crate) fn emit_for(&self, uuid: &Uuid, gen: u64, payload: Payload) {
        let st = self.lock();
        if let Some(d) = st
            .by_uuid
            .get(uuid)
            .filter(|d| d.run.as_ref().is_some_and(|r| r.gen == gen))
        {
            self.bus.emit(d.handle(), payload);
        }
    }

    /// Writes the status file of an active domain (logged on failure: the guest keeps
    /// running, a restart would then see the previous state).
    pub(crate) fn save_status(&self, dom: &Dom) {
        if let Some(run) = &dom.run {
            let mut status = run.status(self.codec.as_ref());
            if dom.agent_timeout != virt_core::guest::AgentTimeout::Default {
                status.agent_timeout = Some(dom.agent_timeout.libvirt());
            }
            if let Err(e) = self.statuses.save(&dom.def.name, &status) {
                tracing::error!(domain = %dom.def.name, error = %e, "cannot write the status file");
            }
        }
    }

    /// The stop path (spec §3.7), once per run: takes the run out, makes sure QEMU is dead,
    /// stops its swtpm, removes taps, the private dir and the status file, logs "shutting
    /// down, reason=R", records SHUTOFF/`why`, drops a transient domain (and its TPM state,
    /// as libvirt) and emits STOPPED/`event` if given. Returns false when that run had
    /// already stopped.
    pub(crate) async fn stop_run(
        &self,
        uuid: &Uuid,
        gen: u64,
        why: i32,
        event: Option<i32>,
    ) -> bool {
        let (run, name, handle, gone) = {
            let mut st = self.lock();
            let Some(dom) = st.by_uuid.get_mut(uuid) else {
                return false;
            };
            if dom.run.as_ref().is_none_or(|r| r.gen != gen) {
                return false;
            }
            let handle = dom.handle();
            let run = dom.run.take().expect("checked above");
            dom.last = StateReason::new(DomainState::Shutoff, why);
            let name = dom.def.name.clone();
            let gone = (!dom.persistent).then_some(dom.undefine_flags);
            if !dom.persistent {
                // A transient domain's snapshot metadata goes with it, as libvirt's does.
                if !dom.snapshots.is_empty() {
                    self.discard_snapshot_metadata(&dom.def.name);
                }
                st.remove(uuid);
            }
            (run, name, handle, gone)
        };
        self.release_run(run, &name, gone, why).await;
        let word = reason_virsh_name(DomainState::Shutoff, why);
        tracing::info!(domain = %name, reason = word, "domain stopped");
        if let Some(detail) = event {
            self.bus.emit(handle, ev::payload(ev::STOPPED, detail));
        }
        true
    }

    /// What a run holds, given back once it is out of the table: QEMU killed (or reaped),
    /// swtpm and virtiofsd stopped, PCI devices given back to the host, the cgroup, memory
    /// files, taps, the private dir and the status file removed, the log closed with
    /// "shutting down, reason=`why`". `gone`: the undefine flags of a transient domain.
    pub(crate) async fn release_run(&self, mut run: Run, name: &str, gone: Option<u32>, why: i32) {
        run.console.end();
        drop(run.qmp);
        if process::is_alive(run.proc.pid()) {
            if let Err(e) = run.proc.terminate(false).await {
                tracing::error!(domain = %name, error = %e, "cannot kill QEMU on the stop path");
            }
        } else {
            process::reap(run.proc.pid().pid);
        }
        self.stop_external(&run.live, run.swtpm, gone).await;
        crate::virtiofs::stop_all(&run.virtiofsd, name).await;
        crate::hostdev::reattach_pci(&run.live, &crate::hostdev::HostRoots::default());
        self.leave_cgroup(run.id, &run.live).await;
        self.unregister_machine(run.id, &run.live).await;
        perf::forget(run.id);
        if let Ok(memory) = self.memory_placement(&run.live, &run.id.to_string()) {
            crate::memory::cleanup(&memory);
        }
        cleanup_run_files(name, &run.lib_dir, &run.log, &run.taps, why);
        self.detach_sibling_devices(&run.live).await;
        self.statuses.remove(name);
    }

    /// A QMP command on `a`'s monitor, its error in libvirt's terms.
    pub(crate) async fn qmp(
        &self,
        a: &Active,
        cmd: &str,
        args: Option<Value>,
    ) -> Result<Value, VirtError> {
        a.qmp.execute(cmd, args).await.map_err(|e| e.to_virt(cmd))
    }
}

/// The file side of the stop path: taps, the private and channel dirs, the log's closing line.
pub(crate) fn cleanup_run_files(
    name: &str,
    lib_dir: &std::path::Path,
    log: &std::path::Path,
    taps: &[String],
    why: i32,
) {
    for tap in taps {
        remove_tap(name, tap);
    }
    if let Err(e) = std::fs::remove_dir_all(lib_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(domain = %name, dir = %lib_dir.display(), error = %e, "cannot remove the private dir");
        }
    }
    channels::remove_dir(name, lib_dir);
    let word = reason_virsh_name(DomainState::Shutoff, why);
    process::log_line(log, &format!("shutting down, reason={word}"));
}

/// Removes a tap device this daemon created for a run (gone already when QEMU was its last
/// holder; `net::delete_tap` takes care of the other cases).
fn remove_tap(domain: &str, tap: &str) {
    if let Err(e) = crate::tap::delete_tap(tap) {
        tracing::warn!(domain, tap, error = %e.message(), "cannot delete the tap device");
    }
}

/// The paused reason `query-status` implies (spec §3.3, reconnect).
pub(crate) fn paused_reason_of(status: &str) -> i32 {
    use reason::paused::*;
    match status {
        "inmigrate" | "postmigrate" | "finish-migrate" => 2,
        "io-error" => IOERROR,
        "paused" | "prelaunch" => USER,
        "save-vm" => SAVE,
        "shutdown" => SHUTTING_DOWN,
        "watchdog" => WATCHDOG,
        "guest-panicked" => CRASHED,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_held_job_times_out_after_30_s_naming_its_holder() {
        let job = Job::default();
        let held = job.acquire("virDomainSuspend").await.expect("free");
        let t = tokio::time::Instant::now();
        let e = job
            .acquire("virDomainResume")
            .await
            .err()
            .expect("times out");
        assert_eq!(t.elapsed(), JOB_WAIT);
        assert_eq!(e.code, ErrorCode::OperationTimeout);
        assert_eq!(
            e.detail,
            "cannot acquire state change lock (held by virDomainSuspend)"
        );
        drop(held);
        job.acquire("virDomainResume").await.expect("released");
    }
}
