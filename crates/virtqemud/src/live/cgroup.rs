//! The driver's side of guest cgroups ([`crate::cgroup`]): QEMU joins its group when it has
//! started, before its vCPUs run, and the group goes on the stop path once QEMU is gone. The
//! live definition names the partition (`<resource><partition>/machine</partition>`) exactly
//! when the guest was placed, which is also what tells the stop path after a daemon restart
//! that there is a group to remove.
//!
//! Without usable cgroups (a read-only or missing cgroup filesystem, a session daemon) a guest
//! with the default partition runs where the daemon runs, as libvirt's does; one whose
//! definition names a partition is refused rather than started outside it.

use std::time::Duration;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::DomainDef;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::QemuDriver;
use virt_core::cgroup::{DomainCgroup, Hierarchies};

/// How long the stop path waits for the kernel to let go of a dead QEMU's group.
const REMOVE_TRIES: u32 = 40;
const REMOVE_PAUSE: Duration = Duration::from_millis(50);

impl QemuDriver {
    /// Moves the QEMU of run `gen` of `uuid` into its cgroup and records the partition in the
    /// live definition.
    pub(crate) fn join_cgroup(&self, uuid: &Uuid, gen: u64) -> DriverResult<()> {
        let Some(prefix) = self.cgroup_prefix.as_deref() else {
            return Ok(());
        };
        let Some((id, name, partition, pid)) = self.with_run(uuid, gen, |r| {
            let p = r.live.resource_partition.clone();
            (r.id, r.live.name.clone(), p, r.proc.pid().pid)
        }) else {
            return Err(VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                "the domain stopped while starting",
            ));
        };
        let h = Hierarchies::detect();
        if !h.usable() {
            return match partition {
                None => {
                    tracing::debug!(domain = %name, "no writable cgroup hierarchy; the guest stays in the daemon's cgroup");
                    Ok(())
                }
                Some(p) => Err(VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    ErrorDomain::Qemu,
                    format!("cgroup partition '{p}' requested but this host has no writable cgroup hierarchy"),
                )
                .at("/domain/resource/partition")),
            };
        }
        let cg = DomainCgroup::new(prefix, id, &name, partition.as_deref());
        cg.place(&h, pid)
            .map_err(|e| e.to_virt(ErrorDomain::Qemu))?;
        tracing::debug!(domain = %name, group = %cg.relative().display(), "QEMU placed in its cgroup");
        self.update_run(uuid, gen, |r| {
            r.live.resource_partition = Some(cg.partition.clone());
        });
        Ok(())
    }

    /// Registers the QEMU of run `gen` of `uuid` with systemd-machined as `qemu-ID-NAME`
    /// (`virt_core::machined`): never fails the start; absence and refusals are logged there.
    pub(crate) async fn register_machine(&self, uuid: &Uuid, gen: u64) {
        let (Some(machined), Some(prefix)) = (&self.machined, self.cgroup_prefix.as_deref()) else {
            return;
        };
        let Some((id, name, pid, taps)) = self.with_run(uuid, gen, |r| {
            (r.id, r.live.name.clone(), r.proc.pid().pid, r.taps.clone())
        }) else {
            return;
        };
        let machine = virt_core::cgroup::machine_name(prefix, id, &name);
        let h = Hierarchies::detect();
        if virt_core::machined::Placement::for_host(&h, true)
            == virt_core::machined::Placement::UnifiedConflict
        {
            machined.skip_once(
                "this host has only the unified cgroup hierarchy, where a machined scope and the \
                 guest's own group cannot both hold QEMU; guests are not registered with systemd-machined",
            );
            return;
        }
        let ifindices = taps
            .iter()
            .filter_map(|t| nix::net::if_::if_nametoindex(t.as_str()).ok())
            .filter_map(|i| i32::try_from(i).ok())
            .collect();
        let Ok(leader) = u32::try_from(pid) else {
            return;
        };
        machined
            .register(&virt_core::machined::Machine {
                name: machine,
                uuid: uuid.0,
                class: virt_core::machined::MachineClass::Vm,
                leader,
                root_directory: String::new(),
                ifindices,
            })
            .await;
    }

    /// Drops run `id`'s registration with systemd-machined (QEMU is gone).
    pub(crate) async fn unregister_machine(&self, id: u32, live: &DomainDef) {
        if let (Some(machined), Some(prefix)) = (&self.machined, self.cgroup_prefix.as_deref()) {
            machined
                .unregister(&virt_core::cgroup::machine_name(prefix, id, &live.name))
                .await;
        }
    }

    /// Applies `<cputune>` to the QEMU of run `gen` of `uuid` (`crate::cputune`): the pins on
    /// its threads (vCPUs as recorded, IOThreads from `query-iothreads`) and the CPU
    /// controller's files of its group when it was placed in one. At start and at reattach.
    pub(crate) async fn apply_cputune(
        &self,
        uuid: &Uuid,
        gen: u64,
        qmp: &crate::qmp::Qmp,
    ) -> DriverResult<()> {
        let Some((id, live, pid, vcpus)) = self.with_run(uuid, gen, |r| {
            (r.id, r.live.clone(), r.proc.pid().pid, r.vcpus.clone())
        }) else {
            return Ok(());
        };
        if live.cputune.is_empty() {
            return Ok(());
        }
        let iothreads = if live.iothreads > 0 {
            let v = qmp
                .execute("query-iothreads", None)
                .await
                .map_err(|e| e.to_virt("query-iothreads"))?;
            crate::cputune::iothreads_of(&v)
        } else {
            Vec::new()
        };
        let threads = crate::cputune::Threads {
            pid,
            vcpus,
            iothreads,
        };
        crate::cputune::apply_pins(&live, &threads)?;
        let tune = &live.cputune;
        let cgroup_wanted = tune.shares.is_some()
            || tune.period.is_some()
            || tune.quota.is_some()
            || tune.global_period.is_some()
            || tune.global_quota.is_some()
            || tune.emulator_period.is_some()
            || tune.emulator_quota.is_some()
            || tune.iothread_period.is_some()
            || tune.iothread_quota.is_some();
        if !cgroup_wanted {
            return Ok(());
        }
        let group = self
            .cgroup_of(id, &live)
            .and_then(|cg| Hierarchies::detect().cpu_group(&cg));
        let Some((dir, version)) = group else {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                "cgroup cpu is required for scheduler tuning",
            )
            .at("/domain/cputune"));
        };
        crate::cputune::apply_cgroup(&live, &threads, &dir, version)
    }

    /// Writes a `<memtune>` change into the memory controller's files of the guest's group,
    /// in libvirt's order (qemuDomainSetMemoryParameters): the soft limit, a lowered hard limit
    /// before the swap limit, a raised one after it. v1: `memory.soft_limit_in_bytes`,
    /// `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (`-1` unlimited); v2:
    /// `memory.high`, `memory.max`, `memory.swap.max` (`max`).
    pub(crate) fn apply_memtune(
        &self,
        id: u32,
        live: &DomainDef,
        change: &virt_core::kit::typed_params::MemTuneChange,
    ) -> DriverResult<()> {
        use virt_core::cgroup::Version;
        let group = self
            .cgroup_of(id, live)
            .and_then(|cg| Hierarchies::detect().controller_group(&cg, "memory"));
        let Some((dir, version)) = group else {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Qemu,
                "cgroup memory controller is not mounted",
            ));
        };
        let value = |kib: Option<u64>| match (kib, version) {
            (Some(k), _) => k.saturating_mul(1024).to_string(),
            (None, Version::V1) => "-1".to_string(),
            (None, Version::V2) => "max".to_string(),
        };
        let (soft, hard, swap) = match version {
            Version::V1 => (
                "memory.soft_limit_in_bytes",
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
            ),
            Version::V2 => ("memory.high", "memory.max", "memory.swap.max"),
        };
        let write = |file: &str, v: Option<u64>| -> DriverResult<()> {
            let path = dir.join(file);
            let text = value(v);
            std::fs::write(&path, &text).map_err(|e| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    format!("Unable to write to '{}': {e}", path.display()),
                )
            })
        };
        let limit = |v: Option<u64>| v.unwrap_or(u64::MAX);
        if let Some(v) = change.soft_limit {
            write(soft, v)?;
        }
        let mut hard_done = false;
        if let Some(v) = change.hard_limit {
            if limit(v) < limit(live.memtune.hard_limit_kib) {
                write(hard, v)?;
                hard_done = true;
            }
        }
        if let Some(v) = change.swap_hard_limit {
            write(swap, v)?;
        }
        if let (Some(v), false) = (change.hard_limit, hard_done) {
            write(hard, v)?;
        }
        Ok(())
    }

    /// The group run `id` of `live` was placed in, if it was.
    /// The guest's group in the cpuacct hierarchy, when QEMU was placed in one.
    pub(crate) fn cgroup_of_run(&self, id: u32, live: &DomainDef) -> Option<std::path::PathBuf> {
        let cg = self.cgroup_of(id, live)?;
        let (dir, _) = Hierarchies::detect().controller_group(&cg, "cpuacct")?;
        dir.is_dir().then_some(dir)
    }

    pub(super) fn cgroup_of(&self, id: u32, live: &DomainDef) -> Option<DomainCgroup> {
        let prefix = self.cgroup_prefix.as_deref()?;
        let partition = live.resource_partition.as_deref()?;
        Some(DomainCgroup::new(prefix, id, &live.name, Some(partition)))
    }

    /// Removes the group of a stopped run (QEMU is dead), waiting briefly while the kernel
    /// still counts the exiting process; failures are logged, the stop goes on.
    pub(crate) async fn leave_cgroup(&self, id: u32, live: &DomainDef) {
        let Some(cg) = self.cgroup_of(id, live) else {
            return;
        };
        let h = Hierarchies::detect();
        for _ in 0..REMOVE_TRIES {
            match cg.remove(&h) {
                Ok(true) => return,
                Ok(false) => tokio::time::sleep(REMOVE_PAUSE).await,
                Err(e) => {
                    tracing::warn!(domain = %live.name, error = %e, "cannot remove the guest's cgroup");
                    return;
                }
            }
        }
        tracing::warn!(domain = %live.name, group = %cg.relative().display(), "the guest's cgroup is still busy; left in place");
    }

    /// [`QemuDriver::leave_cgroup`] for a guest that died long ago (found dead at reattach):
    /// one attempt.
    pub(crate) fn forget_cgroup(&self, id: u32, live: &DomainDef) {
        if let Some(cg) = self.cgroup_of(id, live) {
            match cg.remove(&Hierarchies::detect()) {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(domain = %live.name, "the dead guest's cgroup is still busy; left in place")
                }
                Err(e) => {
                    tracing::warn!(domain = %live.name, error = %e, "cannot remove the dead guest's cgroup")
                }
            }
        }
    }
}
