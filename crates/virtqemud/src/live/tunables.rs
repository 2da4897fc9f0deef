//! Memory and scheduler tunables of the QEMU driver (libvirt: virDomainGet/SetMemoryParameters,
//! virDomainGetSchedulerType, virDomainGet/SetSchedulerParametersFlags), over `<memtune>` and
//! `<cputune>` of the definitions.
//!
//! - Reads answer from the live definition (LIVE / current on a running domain) or the
//!   persistent one, unset values as libvirt's config reads them (memory: unlimited; scheduler:
//!   0). Live values are what was applied at start or by the last set, not re-read from the
//!   cgroup files.
//! - CONFIG changes edit the persistent definition.
//! - LIVE scheduler changes update the live `<cputune>` and write it to the guest's cgroup
//!   (`crate::cputune::apply_cgroup`, as at start), restoring the previous values if that fails.
//! - LIVE memory changes update the live `<memtune>` and write the memory controller's files
//!   of the guest's cgroup (`QemuDriver::apply_memtune`). virtqemud does not apply a defined
//!   `<memtune>` at start yet: only limits set live reach the cgroup.

use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact, Impact};
use virt_core::kit::table::Entry as _;
use virt_core::kit::typed_params::{self as tp, MemTuneChange};
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::VirtError;

use crate::QemuDriver;

impl QemuDriver {
    /// libvirt: virDomainGetMemoryParameters.
    pub(crate) fn qemu_memory_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetMemoryParameters",
        )?;
        Ok(tp::memtune_params(
            &self.lock().read_def(lookup, flags)?.memtune,
        ))
    }

    /// libvirt: virDomainSetMemoryParameters (CONFIG only; see the module doc).
    pub(crate) async fn qemu_set_memory_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetMemoryParameters")?;
        let change = MemTuneChange::parse(params, ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetMemoryParameters").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if live {
            let a = self.active(&uuid)?;
            let (id, current) = self
                .with_run(&uuid, a.gen, |r| (r.id, r.live.clone()))
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            change.check(&current.memtune, ErrorDomain::Qemu)?;
            self.apply_memtune(id, &current, &change)?;
            self.update_run(&uuid, a.gen, |r| change.apply(&mut r.live.memtune));
        }
        if config {
            self.edit_config(&lookup, |def| {
                change.check(&def.memtune, ErrorDomain::Qemu)?;
                change.apply(&mut def.memtune);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainGetSchedulerType: `posix` with its nine CFS parameters.
    pub(crate) fn qemu_scheduler_type(&self, lookup: &DomainLookup) -> DriverResult<(String, i32)> {
        self.lock().get(lookup)?;
        Ok(("posix".to_string(), 9))
    }

    /// libvirt: virDomainGetSchedulerParametersFlags.
    pub(crate) fn qemu_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetSchedulerParametersFlags",
        )?;
        Ok(tp::cputune_params(
            &self.lock().read_def(lookup, flags)?.cputune,
            9,
        ))
    }

    /// libvirt: virDomainSetSchedulerParametersFlags.
    pub(crate) async fn qemu_set_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(
            flags,
            LIVE | CONFIG,
            "qemuDomainSetSchedulerParametersFlags",
        )?;
        tp::validate(params, tp::CGROUP_SCHED_PARAMS, ErrorDomain::Qemu)?;
        let (_job, uuid) = self
            .job(lookup, "virDomainSetSchedulerParametersFlags")
            .await?;
        let lookup = DomainLookup::Uuid(uuid);
        let Impact { live, config } = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if live {
            let a = self.active(&uuid)?;
            let old = self
                .with_run(&uuid, a.gen, |r| r.live.cputune.clone())
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            let mut new = old.clone();
            tp::apply_cputune(params, &mut new, ErrorDomain::Qemu)?;
            self.with_run(&uuid, a.gen, |r| r.live.cputune = new);
            if let Err(e) = self.apply_cputune(&uuid, a.gen, &a.qmp).await {
                self.with_run(&uuid, a.gen, |r| r.live.cputune = old);
                return Err(e);
            }
            // Recorded in the status file.
            self.update_run(&uuid, a.gen, |_| ());
        }
        if config {
            self.edit_config(&lookup, |def| {
                tp::apply_cputune(params, &mut def.cputune, ErrorDomain::Qemu)
            })?;
        }
        Ok(())
    }
}
