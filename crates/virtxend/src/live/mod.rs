//! Running domains: start through `xl create`, the Xen Store as the record of what runs (a
//! watch on `@releaseDomain` and `/vm` reconciles the table with it), stop paths, reattach
//! after a daemon restart, and the capabilities that need a running hypervisor.

mod console;
mod lifecycle;
mod resources;
mod stats;

use std::sync::atomic::Ordering;
use std::time::Duration;

use virt_core::driver::DriverResult;
use virt_core::events::lifecycle as ev;
use virt_core::kit::table::Entry as _;
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::uuid::Uuid;
use virt_core::xml::FormatOptions;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::domains::{Dom, Run};
use crate::driver::{hypervisor_check, no_xen, operation_failed, system_error};
use crate::xenstore::{Mode, XenStore};
use crate::xsview::{self, StoreDomain};
use crate::XenDriver;

pub use stats::SUPPORTED;

impl XenDriver {
    /// NO_XEN naming what is missing unless this host is a Xen control domain.
    pub(crate) fn need_xen(&self) -> DriverResult<()> {
        hypervisor_check().map_err(|why| no_xen(&why))
    }

    /// A read-only connection to the Xen Store (`XENSTORED_PATH`, else Xen's default socket).
    pub(crate) async fn store_ro(&self) -> DriverResult<XenStore> {
        XenStore::connect_path(crate::xenstore::socket_path_ro(), Mode::ReadOnly)
            .await
            .map_err(|e| {
                VirtError::new(
                    ErrorCode::NoXenstore,
                    ErrorDomain::Libxl,
                    format!("cannot connect to the Xen Store: {e}"),
                )
            })
    }

    /// The domains Xen runs, as the store lists them.
    pub(crate) async fn store_domains(&self) -> DriverResult<Vec<StoreDomain>> {
        let xs = self.store_ro().await?;
        let doms = xsview::domains(&xs).await.map_err(|e| {
            VirtError::new(
                ErrorCode::NoXenstore,
                ErrorDomain::Libxl,
                format!("cannot list domains in the Xen Store: {e}"),
            )
        });
        xs.close();
        doms
    }

    /// Takes the job lock of the domain `lookup` names; answers its UUID and the held lock.
    pub(crate) async fn job(
        &self,
        lookup: &DomainLookup,
    ) -> DriverResult<(Uuid, tokio::sync::OwnedMutexGuard<()>)> {
        let (uuid, job) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            (d.def.uuid, d.job.clone())
        };
        Ok((uuid, job.lock_owned().await))
    }

    /// The running domain `lookup` names: (Xen domain ID, UUID).
    pub(crate) fn running(&self, lookup: &DomainLookup) -> DriverResult<(u32, Uuid)> {
        let st = self.lock();
        let d = st.get(lookup)?;
        match &d.run {
            Some(r) => Ok((r.id, d.def.uuid)),
            None => Err(d.facts().not_running()),
        }
    }

    /// Writes the live definition of a running domain (`RUN/libxl/NAME.xml`), atomically.
    pub(crate) fn save_status(&self, d: &Dom) {
        let Some(r) = &d.run.as_ref().filter(|r| r.id != 0) else {
            return;
        };
        let xml = self.codec.format_domain(
            &r.live,
            FormatOptions {
                id: Some(r.id),
                secure: true,
                inactive: false,
            },
        );
        let (_, path) = self.run_files(&d.def.name);
        if let Err(e) = virt_core::fsutil::write_atomic(&path, xml.as_bytes(), 0o600) {
            tracing::warn!(domain = %d.def.name, error = %e, "cannot write the status file");
        }
    }

    /// Starts `def` (the job lock held): its xl.cfg in `RUN/libxl/NAME.cfg`, `xl create`, the
    /// domain ID from the store.
    pub(crate) async fn start_domain(
        &self,
        uuid: Uuid,
        def: DomainDef,
    ) -> DriverResult<DomainHandle> {
        self.need_xen()?;
        let cfg = crate::xl::to_native(&def)?;
        let (cfg_path, _) = self.run_files(&def.name);
        std::fs::create_dir_all(&self.run_root).map_err(system_error)?;
        virt_core::fsutil::write_atomic(&cfg_path, cfg.as_bytes(), 0o600)
            .map_err(|e| system_error(format!("cannot write {}: {e}", cfg_path.display())))?;
        let path = cfg_path.display().to_string();
        if let Err(e) = self.xl.run(&["create", "-q", &path]).await {
            let _ = std::fs::remove_file(&cfg_path);
            return Err(e);
        }
        let domid = match self.domid_of(uuid, &def.name).await {
            Some(id) => id,
            None => {
                return Err(operation_failed(format!(
                    "xl created domain '{}' but the Xen Store does not list it",
                    def.name
                )))
            }
        };
        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
        let handle = {
            let mut st = self.lock();
            let d = st.get_mut(&DomainLookup::Uuid(uuid))?;
            d.run = Some(Run {
                id: domid,
                generation: gen,
                state: StateReason::new(DomainState::Running, reason::running::BOOTED),
                live: def,
                stopping: None,
                console: Default::default(),
            });
            self.save_status(d);
            d.handle()
        };
        tracing::info!(domain = %handle.name, domid, "started");
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::STARTED, ev::started::BOOTED),
        );
        Ok(handle)
    }

    /// The Xen domain ID of the domain with `uuid` (or, without a `vm` entry, named `name`).
    pub(crate) async fn domid_of(&self, uuid: Uuid, name: &str) -> Option<u32> {
        let doms = self.store_domains().await.ok()?;
        doms.iter()
            .find(|d| d.uuid == Some(uuid))
            .or_else(|| doms.iter().find(|d| d.uuid.is_none() && d.name == name))
            .map(|d| d.domid)
    }

    /// The domain of run `gen` has ended with `reason` (SHUTOFF reason): the table, the
    /// status file, a transient domain's record, the event.
    pub(crate) fn finish_stop(&self, uuid: Uuid, gen: u64, why: i32) {
        let mut st = self.lock();
        let Some(d) = st.by_uuid.get_mut(&uuid) else {
            return;
        };
        if d.run.as_ref().map(|r| r.generation) != Some(gen) {
            return;
        }
        let mut run = d.run.take().expect("checked above");
        run.console.end();
        d.last = StateReason::new(DomainState::Shutoff, why);
        let (cfg, status) = self.run_files(&d.def.name);
        let _ = std::fs::remove_file(cfg);
        let _ = std::fs::remove_file(status);
        let handle = d.handle();
        if !d.persistent {
            st.remove(&uuid);
        }
        drop(st);
        let detail = match why {
            reason::shutoff::DESTROYED => ev::stopped::DESTROYED,
            reason::shutoff::CRASHED => ev::stopped::CRASHED,
            reason::shutoff::FAILED => ev::stopped::FAILED,
            _ => ev::stopped::SHUTDOWN,
        };
        tracing::info!(domain = %handle.name, reason = why, "stopped");
        self.bus.emit(handle, ev::payload(ev::STOPPED, detail));
    }

    /// Brings the table in line with what Xen runs: a running domain the store no longer
    /// lists has stopped (destroyed when we destroyed it, else shut down); one that xl's
    /// monitor rebooted has a new domain ID; a defined domain Xen runs that the table has as
    /// shut off (rebooted by xl's monitor after the old instance was reported gone, or
    /// started with `xl create` behind the daemon) is running again; paused and crashed come
    /// from `xl list`. A domain whose job runs (a start, a destroy) is left to its job.
    ///
    /// `xl list` costs a process and a hypercall per domain (a fraction of a second in a busy
    /// dom0), so it runs only when its answer can matter: `released` (Xen said a domain shut
    /// down or crashed) while a running domain of ours is still in the store, or Domain-0 is
    /// not in the table yet.
    pub(crate) async fn reconcile(&self, released: bool) {
        let Ok(present) = self.store_domains().await else {
            return;
        };
        let want_flags = {
            let st = self.lock();
            !st.by_uuid.contains_key(&Uuid([0; 16]))
                || (released
                    && st.by_uuid.values().any(|d| {
                        d.run.as_ref().is_some_and(|r| {
                            r.id != 0 && present.iter().any(|p| p.uuid == Some(d.def.uuid))
                        })
                    }))
        };
        let flags = if want_flags {
            self.xl.list().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut ended = Vec::new();
        let mut adopted = Vec::new();
        {
            let mut st = self.lock();
            if !st.by_uuid.contains_key(&Uuid([0; 16])) {
                if let Some(x) = flags.iter().find(|x| x.id == 0) {
                    st.insert(dom0(x));
                }
            }
            for d in st.by_uuid.values_mut() {
                if d.running_id() == Some(0) {
                    continue;
                }
                let uuid = d.def.uuid;
                let name = d.def.name.clone();
                let found = present
                    .iter()
                    .find(|p| p.uuid == Some(uuid))
                    .or_else(|| present.iter().find(|p| p.uuid.is_none() && p.name == name));
                let Some(run) = d.run.as_mut() else {
                    let idle = d.job.try_lock().is_ok();
                    if let (Some(p), true) = (found, idle) {
                        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(domain = %name, domid = p.domid, "running again (started by the toolstack)");
                        d.run = Some(Run {
                            id: p.domid,
                            generation: gen,
                            state: StateReason::new(DomainState::Running, reason::running::BOOTED),
                            live: d.def.clone(),
                            stopping: None,
                            console: Default::default(),
                        });
                        self.save_status(d);
                        adopted.push(d.handle());
                    }
                    continue;
                };
                match found {
                    None => {
                        let seen_crashed = run.state.state == DomainState::Crashed;
                        let why = run.stopping.unwrap_or(if seen_crashed {
                            reason::shutoff::CRASHED
                        } else {
                            reason::shutoff::SHUTDOWN
                        });
                        ended.push((uuid, run.generation, why));
                    }
                    Some(p) => {
                        let mut changed = false;
                        if p.domid != run.id {
                            tracing::info!(domain = %name, old = run.id, new = p.domid, "the domain was rebooted by the toolstack");
                            run.id = p.domid;
                            run.console.end();
                            changed = true;
                        }
                        if let Some(x) = flags.iter().find(|x| x.id == p.domid) {
                            let want = if x.crashed() {
                                Some(StateReason::new(DomainState::Crashed, 0))
                            } else if x.paused() && run.state.state != DomainState::Paused {
                                Some(StateReason::new(
                                    DomainState::Paused,
                                    reason::paused::UNKNOWN,
                                ))
                            } else if !x.paused() && run.state.state == DomainState::Paused {
                                Some(StateReason::new(
                                    DomainState::Running,
                                    reason::running::UNPAUSED,
                                ))
                            } else {
                                None
                            };
                            if let Some(s) = want.filter(|s| s.state != run.state.state) {
                                run.state = s;
                                changed = true;
                            }
                        }
                        if changed {
                            self.save_status(d);
                        }
                    }
                }
            }
        }
        for (uuid, gen, why) in ended {
            self.finish_stop(uuid, gen, why);
        }
        for handle in adopted {
            self.bus
                .emit(handle, ev::payload(ev::STARTED, ev::started::BOOTED));
        }
    }

    /// Follows the Xen Store: every `@releaseDomain` (a domain shut down or died) and every
    /// change under `/vm` (the toolstack creating or removing a domain) reconciles the
    /// table. Reconnects when the store goes away.
    fn spawn_watch(&self) {
        let me = self.me.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = watch_once(&me).await {
                    tracing::debug!(error = %e, "Xen Store watch ended");
                }
                if me.upgrade().is_none() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Reattaches to the domains a previous daemon started (live definitions in
    /// `RUN/libxl`), reports the ones that ended meanwhile, follows the Xen Store, and
    /// autostarts (once per host boot). The daemon calls this before serving.
    pub async fn start_guests(&self) {
        let hyp = hypervisor_check();
        if let Err(why) = &hyp {
            tracing::warn!("{why}: serving conversions, capabilities and definitions only");
        }
        let present = if hyp.is_ok() {
            self.store_domains().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the Xen Store");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        let entries = std::fs::read_dir(&self.run_root)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        // Paused and crashed domains to reattach as such (`xl list`, only when there are any
        // domains to reattach).
        let any_status = entries
            .iter()
            .any(|p| p.extension().and_then(|e| e.to_str()) == Some("xml"));
        let flags = if hyp.is_ok() && any_status {
            self.xl.list().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        for path in entries {
            if path.extension().and_then(|e| e.to_str()) != Some("xml") {
                continue;
            }
            let def = match std::fs::read_to_string(&path)
                .map_err(system_error)
                .and_then(|xml| self.parse_live(&xml))
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot read a status file; leaving it alone");
                    continue;
                }
            };
            let found = present
                .iter()
                .find(|p| p.uuid == Some(def.uuid))
                .map(|p| p.domid);
            let Some(domid) = found else {
                tracing::info!(domain = %def.name, "ended while the daemon was away");
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(path.with_extension("cfg"));
                let mut st = self.lock();
                if let Some(d) = st.by_uuid.get_mut(&def.uuid) {
                    d.last = StateReason::new(DomainState::Shutoff, reason::shutoff::UNKNOWN);
                }
                continue;
            };
            let state = match flags.iter().find(|x| x.id == domid) {
                Some(x) if x.crashed() => StateReason::new(DomainState::Crashed, 0),
                Some(x) if x.paused() => {
                    StateReason::new(DomainState::Paused, reason::paused::UNKNOWN)
                }
                _ => StateReason::new(DomainState::Running, reason::running::UNKNOWN),
            };
            let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
            let mut st = self.lock();
            let uuid = def.uuid;
            if !st.by_uuid.contains_key(&uuid) {
                st.insert(Dom::new(def.clone(), false, false));
            }
            let d = st.by_uuid.get_mut(&uuid).expect("inserted above");
            tracing::info!(domain = %def.name, domid, "reattached");
            d.run = Some(Run {
                id: domid,
                generation: gen,
                state,
                live: def,
                stopping: None,
                console: Default::default(),
            });
        }
        if hyp.is_err() {
            return;
        }
        self.reconcile(false).await;
        self.spawn_watch();
        let marker = self.run_root.join("autostarted");
        if marker.exists() {
            return;
        }
        let _ = std::fs::create_dir_all(&self.run_root);
        let _ = std::fs::write(&marker, b"");
        let names: Vec<_> = {
            let st = self.lock();
            st.by_uuid
                .values()
                .filter(|d| d.autostart && !d.is_active())
                .map(|d| d.def.uuid)
                .collect()
        };
        for uuid in names {
            if let Err(e) = self.create_by_uuid(uuid).await {
                tracing::warn!(%uuid, error = %e, "autostart failed");
            }
        }
    }
}

/// Domain-0 as libvirt's Xen driver lists it: running with ID 0, transient, the nil UUID,
/// its memory and vCPUs as Xen reports them; it refuses lifecycle changes
/// ([`XenDriver::not_dom0`]).
fn dom0(x: &crate::toolstack::XlDomain) -> Dom {
    let mut def = DomainDef {
        name: "Domain-0".into(),
        uuid: Uuid([0; 16]),
        virt_type: "xen".into(),
        memory_kib: x.mem_mib * 1024,
        current_memory_kib: x.mem_mib * 1024,
        vcpus: x.vcpus,
        current_vcpus: x.vcpus,
        ..DomainDef::default()
    };
    def.os.os_type = "linux".into();
    def.os.arch = Some(virt_core::hostinfo::host_arch());
    def.os.machine = Some("xenpv".into());
    let mut d = Dom::new(def.clone(), false, false);
    d.run = Some(Run {
        id: 0,
        generation: 0,
        state: StateReason::new(DomainState::Running, reason::running::UNKNOWN),
        live: def,
        stopping: None,
        console: Default::default(),
    });
    d
}

impl XenDriver {
    /// OPERATION_INVALID "Domain-0 cannot be WHAT" for Xen's control domain.
    pub(crate) fn not_dom0(&self, domid: u32, what: &str) -> DriverResult<()> {
        if domid == 0 {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Libxl,
                format!("Domain-0 cannot be {what}"),
            ));
        }
        Ok(())
    }
}

async fn watch_once(me: &std::sync::Weak<XenDriver>) -> Result<(), String> {
    let xs = XenStore::connect_path(crate::xenstore::socket_path_ro(), Mode::ReadOnly)
        .await
        .map_err(|e| e.to_string())?;
    let mut release = xs
        .watch("@releaseDomain")
        .await
        .map_err(|e| e.to_string())?;
    let mut vm = xs.watch("/vm").await.map_err(|e| e.to_string())?;
    let closed = || "connection closed".to_string();
    // Each watch fires once when registered; the table was reconciled just before.
    release.next().await.ok_or_else(closed)?;
    vm.next().await.ok_or_else(closed)?;
    loop {
        let mut released = tokio::select! {
            e = release.next() => { e.ok_or_else(closed)?; true }
            e = vm.next() => { e.ok_or_else(closed)?; false }
        };
        // A burst of events (a create or a destroy writes many nodes) is one pass: drain
        // what follows within 100 ms.
        loop {
            tokio::select! {
                e = release.next() => { e.ok_or_else(closed)?; released = true; }
                e = vm.next() => { e.ok_or_else(closed)?; }
                _ = tokio::time::sleep(Duration::from_millis(100)) => break,
            }
        }
        let Some(driver) = me.upgrade() else {
            return Ok(());
        };
        driver.reconcile(released).await;
    }
}
