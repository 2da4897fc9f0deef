//! Starting a guest (spec qemu-driver.md §3.2): start of a defined domain, create from XML
//! (transient), and the launch both share.
//!
//! The launch: allocate an ID, write the start journal (`crate::journal`: every process the
//! start spawns is recorded there before it execs, so a daemon killed at any instant leaves
//! its successor a start to adopt or undo, `unfinished.rs`), prepare the definition
//! (`prepare.rs`, shared with domxml-to-native's preview: the live definition with aliases, ports, channel socket paths
//! (`channels.rs`) and the firmware resolved, the private and channel dirs, the UEFI variable
//! store, swtpm for an emulated TPM (`external.rs`), taps), build the command line with `-S`
//! (vCPUs stopped), spawn QEMU in its own session with its log, record the run as PAUSED /
//! STARTING_UP with an early status file, connect the monitor (racing QEMU's exit, so a QEMU
//! that dies at once is reported with its last log lines within milliseconds), read pty paths
//! and channel states (`query-chardev`), vCPU threads (`query-cpus-fast`) and the balloon,
//! set what only the monitor sets (`monitor_setup.rs`: the reboot action, link states,
//! display passwords), then `cont` unless START_PAUSED. Only then the state becomes RUNNING / BOOTED (or PAUSED /
//! USER), the status file is saved and STARTED / BOOTED is emitted. A failure after the spawn
//! kills QEMU (and swtpm) and runs the stop path with reason FAILED (no event: nothing was
//! reported started). The journal goes when the launch is over, either way.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use virt_core::kit::table::Entry as _;

use serde_json::{json, Value};
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainHandle;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::prepare::{PrepareFor, Prepared};
use super::{Active, Run};
use crate::command;
use crate::host;
use crate::journal::Journal;
use crate::process::{self, ProcHandle};
use crate::qmp::Qmp;
use crate::QemuDriver;

/// virDomainCreateFlags.
pub(crate) use virt_core::kit::flags::create as create_flags;

/// How long QEMU may take from exec to an answering monitor.
const MONITOR_WAIT: Duration = Duration::from_secs(30);

fn internal(detail: String) -> VirtError {
    VirtError::new(ErrorCode::InternalError, ErrorDomain::Qemu, detail)
}

impl QemuDriver {
    pub(super) fn drop_managed_save(&self, uuid: &Uuid, path: &std::path::Path) {
        let _ = std::fs::remove_file(path);
        if let Some(d) = self.lock().by_uuid.get_mut(uuid) {
            d.managed_save = false;
        }
    }

    /// A transient domain that did not start (create or restore failed) is forgotten.
    pub(crate) fn forget_if_transient_and_stopped(&self, uuid: &Uuid) {
        let mut st = self.lock();
        if st
            .by_uuid
            .get(uuid)
            .is_some_and(|d| !d.persistent && !d.is_active())
        {
            st.remove(uuid);
        }
    }

    /// Spawns and sets up QEMU for `def` as domain `uuid` (the job is held by the caller),
    /// with the PAUSED and RESET_NVRAM `flags` of [`create_flags`].
    pub(crate) async fn launch(
        &self,
        uuid: Uuid,
        def: DomainDef,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        // A SPICE port picked free can be taken by another process (another daemon's guest)
        // before QEMU binds it: QEMU then fails at once, and a new port is worth a try.
        let autoport =
            def.devices.graphics.iter().any(|g| {
                g.graphics_type == virt_core::model::enums::GraphicsType::Spice && g.autoport
            });
        let mut tries = 0;
        loop {
            tries += 1;
            match self.launch_with(uuid, def.clone(), flags, None).await {
                Err(e) if autoport && tries < 3 && spice_port_taken(&e) => {
                    tracing::warn!(domain = %def.name, "the SPICE port was taken meanwhile; trying another");
                }
                r => return r,
            }
        }
    }

    /// [`QemuDriver::launch`], restoring from `incoming` (a saved image's migration stream,
    /// passed as an inherited descriptor to `-incoming fd:N`) when given.
    ///
    /// The start is journaled (`crate::journal`): the journal exists before anything of the
    /// start does and goes once the start is complete or cleaned up, so a daemon killed
    /// meanwhile leaves its successor every process and dir of the start to adopt or undo.
    pub(crate) async fn launch_with(
        &self,
        uuid: Uuid,
        def: DomainDef,
        flags: u32,
        incoming: Option<std::os::fd::OwnedFd>,
    ) -> DriverResult<DomainHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let lib_dir = self.domain_dir(&id.to_string(), &def.name);
        let journal = Journal::create(&lib_dir, &def.name, id).map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Qemu,
                format!("cannot write the start journal of '{}': {e}", def.name),
            )
        })?;
        let res = self
            .launch_journaled(uuid, def, flags, incoming, id, &journal)
            .await;
        journal.remove();
        res
    }

    /// [`QemuDriver::launch_with`] once the start's `journal` exists, as domain `id`.
    async fn launch_journaled(
        &self,
        uuid: Uuid,
        def: DomainDef,
        flags: u32,
        incoming: Option<std::os::fd::OwnedFd>,
        id: u32,
        journal: &Journal,
    ) -> DriverResult<DomainHandle> {
        let paused = flags & create_flags::PAUSED != 0;
        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
        let log = self.log_dir.join(format!("{}.log", def.name));
        // The live definition gets its aliases, ports and firmware here.
        let mut def = def;
        let reset_nvram = flags & create_flags::RESET_NVRAM != 0;
        let Prepared {
            ctx,
            tap_names,
            swtpm,
            virtiofsd,
        } = self
            .prepare_launch(&mut def, PrepareFor::Start { id, reset_nvram })
            .await?;
        let lib_dir = ctx.domain_dir.clone();
        let monitor = ctx.monitor.clone();
        let memory = ctx.memory.clone();
        let restoring = incoming.is_some();
        // Until QEMU runs, a failure undoes the preparation here, in one place.
        let (proc, log_start) = match self.exec(&def, ctx, incoming, &log, journal) {
            Ok(spawned) => spawned,
            Err(e) => {
                undo_prepare(&def, &lib_dir, &memory);
                self.detach_sibling_devices(&def).await;
                return Err(e);
            }
        };
        let mut live = def.clone();
        let mut names = tap_names.iter();
        for nic in &mut live.devices.interfaces {
            if crate::tap::uses_tap(nic) {
                nic.target_dev = names.next().cloned();
            }
        }
        let run = Run {
            id,
            gen,
            live,
            state: StateReason::new(DomainState::Paused, reason::paused::STARTING_UP),
            proc: proc.clone(),
            qmp: None,
            monitor: monitor.clone(),
            lib_dir,
            log: log.clone(),
            vcpus: Vec::new(),
            taps: tap_names,
            ptys: Vec::new(),
            balloon_kib: def.memory_kib,
            fake_reboot: false,
            destroying: false,
            paused_reason: reason::paused::UNKNOWN,
            running_reason: reason::running::UNPAUSED,
            console: Default::default(),
            unplugs: Default::default(),
            agent: Default::default(),
            swtpm: swtpm.map(|s| s.keep()),
            virtiofsd: virtiofsd.keep(),
            thresholds: Default::default(),
        };
        let vanished = {
            let mut st = self.lock();
            match st.by_uuid.get_mut(&uuid) {
                Some(dom) => {
                    dom.run = Some(run);
                    self.save_status(dom);
                    None
                }
                None => Some(run),
            }
        };
        if let Some(run) = vanished {
            // Nothing else knows this run: stop what the start ran before answering.
            self.release_run(run, &def.name, None, reason::shutoff::FAILED)
                .await;
            return Err(internal(format!(
                "domain '{}' vanished while starting",
                def.name
            )));
        }
        match self
            .setup(
                uuid,
                gen,
                proc.clone(),
                &monitor,
                &def,
                StartMode { paused, restoring },
            )
            .await
        {
            Ok(handle) => Ok(handle),
            Err(e) => {
                // A QEMU that fails early resets the monitor connection while it is still
                // exiting: give it a moment to finish, so the error quotes its log instead of
                // the reset.
                let exited =
                    !process::is_alive(proc.pid()) || proc.wait_exit(Duration::from_secs(2)).await;
                self.stop_run(&uuid, gen, reason::shutoff::FAILED, None)
                    .await;
                if exited {
                    let text = process::log_since(&log, log_start, 20);
                    Err(internal(format!(
                        "process exited while connecting to monitor: {text}"
                    )))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Builds the command line of `def` from `ctx` and runs QEMU (restoring from `incoming`
    /// when given), each process recorded in `journal` before it execs: the QEMU, and where its
    /// log of this start begins. It undoes nothing: its caller undoes the preparation, once.
    fn exec(
        &self,
        def: &DomainDef,
        ctx: crate::command::LaunchContext,
        incoming: Option<std::os::fd::OwnedFd>,
        log: &std::path::Path,
        journal: &Journal,
    ) -> DriverResult<(Arc<ProcHandle>, u64)> {
        let cmd = command::build(def, &ctx);
        // Our tap descriptors close here: QEMU holds its own duplicates, so each tap lives
        // exactly as long as QEMU does.
        drop(ctx);
        let cmd = cmd?;
        let rendered = cmd.render();
        let mut launch = process::Launch {
            rendered,
            program: cmd.program,
            args: cmd.args,
            env: cmd.env,
            fds: cmd.fds,
        };
        if let Some(fd) = incoming {
            let n = launch.fds.iter().map(|(n, _)| *n + 1).max().unwrap_or(3);
            launch.fds.push((n, fd));
            launch.args.push("-incoming".into());
            launch.args.push(format!("fd:{n}"));
            launch.rendered.push_str(&format!(" \\\n-incoming fd:{n}"));
        }
        let (pid, log_start) =
            process::spawn(launch, log, Some(&|p| journal.note(p))).map_err(|e| e.to_virt())?;
        let Some(proc) = ProcHandle::open(pid) else {
            let text = process::log_since(log, log_start, 20);
            process::log_line(log, "shutting down, reason=failed");
            return Err(internal(format!(
                "process exited while connecting to monitor: {text}"
            )));
        };
        Ok((Arc::new(proc), log_start))
    }

    /// Monitor connection and the setup queries; the final state, status and events.
    async fn setup(
        &self,
        uuid: Uuid,
        gen: u64,
        proc: Arc<ProcHandle>,
        monitor: &std::path::Path,
        def: &DomainDef,
        mode: StartMode,
    ) -> DriverResult<DomainHandle> {
        let StartMode { paused, restoring } = mode;
        // machined first: its scope takes QEMU in systemd's hierarchy, then our groups take it
        // in the controllers' (live/cgroup.rs).
        self.register_machine(&uuid, gen).await;
        self.join_cgroup(&uuid, gen)?;
        let connected = tokio::select! {
            r = Qmp::connect(monitor, MONITOR_WAIT) => r.map_err(|e| e.to_virt("qmp_capabilities")),
            _ = proc.wait_exit(MONITOR_WAIT * 2) => Err(internal("QEMU exited".into())),
        };
        let (qmp, events) = connected?;
        self.with_run(&uuid, gen, |r| r.qmp = Some(qmp.clone()))
            .ok_or_else(|| internal("the domain stopped while starting".into()))?;
        tokio::spawn(super::events::event_loop(
            self.me.clone(),
            uuid,
            gen,
            events,
        ));
        let a = Active {
            uuid,
            gen,
            qmp: qmp.clone(),
            state: StateReason::new(DomainState::Paused, reason::paused::STARTING_UP),
        };
        let (chardevs, cpus) = tokio::join!(
            self.qmp(&a, "query-chardev", None),
            self.qmp(&a, "query-cpus-fast", None)
        );
        let chardevs = chardevs?;
        let ptys = ptys_of(&chardevs);
        let vcpus = vcpus_of(&cpus?);
        let mut balloon_kib = def.memory_kib;
        if has_balloon(def) {
            if def.current_memory_kib > 0 && def.current_memory_kib < def.memory_kib {
                self.qmp(
                    &a,
                    "balloon",
                    Some(json!({"value": def.current_memory_kib * 1024})),
                )
                .await?;
            }
            // `<stats period='N'/>`: the guest's statistics are polled every N seconds, as
            // libvirt sets it up at start.
            if let Some(b) = def.devices.memballoon.as_ref() {
                if let Some(period) = b.stats_period {
                    let alias = b.alias.clone().unwrap_or_else(|| "balloon0".into());
                    let _ = super::set_stats_period(&a.qmp, &alias, period).await;
                }
            }
            if let Ok(v) = self.qmp(&a, "query-balloon", None).await {
                if let Some(b) = v.get("actual").and_then(Value::as_u64) {
                    balloon_kib = b / 1024;
                }
            }
        }
        let agent_up = self
            .with_run(&uuid, gen, |r| {
                super::channels::apply_chardev_states(&mut r.live, &chardevs)
            })
            .unwrap_or(false);
        let vnc_port = self.vnc_port(&a, def).await?;
        self.with_run(&uuid, gen, |r| {
            if let Some(port) = vnc_port {
                let vnc = r
                    .live
                    .devices
                    .graphics
                    .iter_mut()
                    .find(|g| g.graphics_type == virt_core::model::enums::GraphicsType::Vnc);
                if let Some(g) = vnc {
                    g.port = Some(port);
                }
            }
            fill_ptys(&mut r.live, &ptys);
            r.ptys = ptys;
            r.vcpus = vcpus;
            r.balloon_kib = balloon_kib;
            r.running_reason = if restoring {
                reason::running::RESTORED
            } else {
                reason::running::BOOTED
            };
        })
        .ok_or_else(|| internal("the domain stopped while starting".into()))?;
        self.apply_cputune(&uuid, gen, &qmp).await?;
        if let Some((id, live)) = self.with_run(&uuid, gen, |r| (r.id, r.live.clone())) {
            self.init_blkio(id, &live)?;
            self.init_numatune(id, &live)?;
            super::bandwidth::apply_all(&live)?;
            let pid = self.with_run(&uuid, gen, |r| r.proc.pid().pid).unwrap_or(0);
            super::perf::start(id, pid, &live)?;
        }
        self.init_lifecycle_actions(&a, def).await?;
        self.init_link_states(&a, def).await?;
        self.init_disk_throttling(&a, def).await?;
        self.init_passwords(&a, def).await?;
        if restoring {
            super::save::wait_incoming(&a).await?;
        }
        if !paused {
            self.qmp(&a, "cont", None).await?;
        }
        let to = if paused {
            StateReason::new(DomainState::Paused, reason::paused::USER)
        } else {
            StateReason::new(
                DomainState::Running,
                if restoring {
                    reason::running::RESTORED
                } else {
                    reason::running::BOOTED
                },
            )
        };
        let mut st = self.lock();
        let dom = st
            .by_uuid
            .get_mut(&uuid)
            .filter(|d| d.run.as_ref().is_some_and(|r| r.gen == gen))
            .ok_or_else(|| internal("the domain stopped while starting".into()))?;
        let run = dom.run.as_mut().expect("filtered above");
        run.state = to;
        run.running_reason = reason::running::UNPAUSED;
        self.save_status(dom);
        let handle = dom.handle();
        let (started, suspended) = if restoring {
            (ev::started::RESTORED, 4)
        } else {
            (ev::started::BOOTED, ev::suspended::PAUSED)
        };
        self.bus
            .emit(handle.clone(), ev::payload(ev::STARTED, started));
        if paused {
            self.bus
                .emit(handle.clone(), ev::payload(ev::SUSPENDED, suspended));
        }
        drop(st);
        if agent_up {
            self.emit_agent_lifecycle(
                uuid,
                gen,
                true,
                super::channels::AGENT_REASON_DOMAIN_STARTED,
            );
        }
        tracing::info!(domain = %def.name, id = handle.id, pid = proc.pid().pid, "domain started");
        Ok(handle)
    }
}

impl QemuDriver {
    /// A free TCP port for SPICE graphics with `autoport` (QEMU cannot pick one itself), put
    /// into the live definition. Ports other running guests show are skipped, and so are
    /// ports handed out in the last minute whose guest may not be listening yet.
    pub(super) fn pick_spice_port(&self, def: &mut DomainDef) -> DriverResult<Option<u16>> {
        use virt_core::model::enums::{GraphicsType, ListenType};
        // The address each display listens on by default, shown in the live XML.
        for g in &mut def.devices.graphics {
            if let Some(l) = g.listens.first_mut() {
                if l.listen_type == ListenType::Address && l.address.is_none() {
                    l.address = Some("127.0.0.1".into());
                }
            }
        }
        let Some(g) = def
            .devices
            .graphics
            .iter_mut()
            .find(|g| g.graphics_type == GraphicsType::Spice && g.autoport)
        else {
            return Ok(None);
        };
        if g.listens
            .first()
            .is_some_and(|l| l.listen_type == ListenType::None)
        {
            return Ok(None);
        }
        let addr = g
            .listens
            .first()
            .and_then(|l| l.address.clone())
            .unwrap_or_else(|| "127.0.0.1".into());
        let taken: Vec<u16> = {
            let st = self.lock();
            st.by_uuid
                .values()
                .filter_map(|d| d.run.as_ref())
                .flat_map(|r| r.live.devices.graphics.iter())
                .filter_map(|g| g.port.and_then(|p| u16::try_from(p).ok()))
                .collect()
        };
        let port = host::pick_display_port(&addr, &taken).ok_or_else(|| {
            VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                format!("unable to find an unused port for SPICE on {addr} (5900-65535)"),
            )
        })?;
        g.port = Some(u32::from(port));
        Ok(Some(port))
    }
}

/// Whether a failed start is QEMU refusing the SPICE port it was given (taken meanwhile).
fn spice_port_taken(e: &VirtError) -> bool {
    e.detail.contains("spice") && (e.detail.contains("bind") || e.detail.contains("in use"))
}

/// How a launch ends: vCPUs left paused, state restored from an incoming stream.
#[derive(Debug, Clone, Copy)]
struct StartMode {
    paused: bool,
    restoring: bool,
}

pub(super) fn refuse_autodestroy(flags: u32) -> DriverResult<()> {
    if flags & create_flags::AUTODESTROY != 0 {
        return Err(VirtError::new(
            ErrorCode::OperationUnsupported,
            ErrorDomain::Qemu,
            "VIR_DOMAIN_START_AUTODESTROY is not supported by virtqemud: \
             connections are not tracked, so nothing would destroy the domain",
        ));
    }
    Ok(())
}

/// Undoes the preparation of a start whose QEMU never ran: its dirs go, managed PCI devices
/// go back to their drivers.
pub(super) fn undo_prepare(
    def: &DomainDef,
    lib_dir: &std::path::Path,
    memory: &crate::command::MemoryPlacement,
) {
    discard_dirs(&def.name, lib_dir, memory);
    crate::hostdev::reattach_pci(def, &crate::hostdev::HostRoots::default());
}

/// Removes a failed start's private and channel dirs and its memory dir.
pub(super) fn discard_dirs(
    name: &str,
    lib_dir: &std::path::Path,
    memory: &crate::command::MemoryPlacement,
) {
    crate::memory::cleanup(memory);
    let _ = std::fs::remove_dir_all(lib_dir);
    super::channels::remove_dir(name, lib_dir);
}

/// Whether the definition has a working balloon device.
pub(crate) fn has_balloon(def: &DomainDef) -> bool {
    def.devices
        .memballoon
        .as_ref()
        .is_some_and(|b| b.model.to_string() != "none")
}

/// `query-chardev` → (alias, pty path) for each pty chardev (`charserial0` → `serial0`).
pub(crate) fn ptys_of(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in v.as_array().into_iter().flatten() {
        let (Some(label), Some(file)) = (
            c.get("label").and_then(Value::as_str),
            c.get("filename").and_then(Value::as_str),
        ) else {
            continue;
        };
        if let Some(path) = file.strip_prefix("pty:") {
            let alias = label.strip_prefix("char").unwrap_or(label);
            out.push((alias.to_string(), path.to_string()));
        }
    }
    out.sort();
    out
}

/// `query-cpus-fast` → (vCPU index, host thread id).
pub(crate) fn vcpus_of(v: &Value) -> Vec<(u32, i32)> {
    let mut out: Vec<(u32, i32)> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let idx = c.get("cpu-index")?.as_u64()?;
            let tid = c.get("thread-id")?.as_i64()?;
            Some((u32::try_from(idx).ok()?, i32::try_from(tid).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// Puts the pty paths into the live definition: `serialN` on the Nth serial port, and the
/// first console (the serial console of an HVM guest) shares serial0's; `parallelN` and
/// `consoleN` (a virtio console) on theirs; a pty channel's on its channel.
pub(crate) fn fill_ptys(live: &mut DomainDef, ptys: &[(String, String)]) {
    let index = |alias: &str, prefix: &str| alias.strip_prefix(prefix)?.parse::<usize>().ok();
    for (alias, path) in ptys {
        if let Some(i) = index(alias, "serial") {
            if let Some(s) = live.devices.serials.get_mut(i) {
                s.source.path = Some(path.clone());
            }
            if i == 0 {
                if let Some(c) = live
                    .devices
                    .consoles
                    .first_mut()
                    .filter(|c| c.target.target_type.as_deref() == Some("serial"))
                {
                    c.source.path = Some(path.clone());
                }
            }
        } else if let Some(i) = index(alias, "parallel") {
            if let Some(p) = live.devices.parallels.get_mut(i) {
                p.source.path = Some(path.clone());
            }
        } else if let Some(i) = index(alias, "console") {
            if let Some(c) = live.devices.consoles.get_mut(i) {
                c.source.path = Some(path.clone());
            }
        }
        super::channels::fill_pty(live, alias, path);
    }
}
