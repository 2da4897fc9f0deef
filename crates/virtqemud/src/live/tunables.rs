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
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{exclusive, impact, impact_read, Impact};
use virt_core::kit::table::Entry as _;
use virt_core::kit::typed_params::{self as tp, MemTuneChange};
use virt_core::model::tuning::CpuTune;
use virt_core::types::{DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use crate::QemuDriver;

/// libvirt's bounds of the CFS period and quota (QEMU_SCHED_MIN_PERIOD ...).
const MIN_PERIOD: u64 = 1000;
const MAX_PERIOD: u64 = 1_000_000;
const MIN_QUOTA: i64 = 1000;
const MAX_QUOTA: i64 = 17_592_186_044_415;

fn both_exclusive(flags: u32) -> DriverResult<()> {
    exclusive(
        flags,
        LIVE,
        "VIR_DOMAIN_AFFECT_LIVE",
        CONFIG,
        "VIR_DOMAIN_AFFECT_CONFIG",
    )
}

/// `<cputune>`'s bandwidth as libvirt's nine scheduler parameters, unset as 0.
pub(crate) fn sched_params(t: &CpuTune) -> Vec<TypedParam> {
    let u = |v: Option<u64>| TypedValue::ULLong(v.unwrap_or(0));
    let l = |v: Option<i64>| TypedValue::LLong(v.unwrap_or(0));
    vec![
        TypedParam::new(tp::SCHED_CPU_SHARES, u(t.shares)),
        TypedParam::new(tp::SCHED_VCPU_PERIOD, u(t.period)),
        TypedParam::new(tp::SCHED_VCPU_QUOTA, l(t.quota)),
        TypedParam::new(tp::SCHED_EMULATOR_PERIOD, u(t.emulator_period)),
        TypedParam::new(tp::SCHED_EMULATOR_QUOTA, l(t.emulator_quota)),
        TypedParam::new(tp::SCHED_GLOBAL_PERIOD, u(t.global_period)),
        TypedParam::new(tp::SCHED_GLOBAL_QUOTA, l(t.global_quota)),
        TypedParam::new(tp::SCHED_IOTHREAD_PERIOD, u(t.iothread_period)),
        TypedParam::new(tp::SCHED_IOTHREAD_QUOTA, l(t.iothread_quota)),
    ]
}

fn out_of_range(field: &str, lo: i64, hi: i64) -> VirtError {
    VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::Qemu,
        format!("value of '{field}' is out of range [{lo}, {hi}]"),
    )
}

/// Applies validated scheduler `params` to `t`, with libvirt's range checks of periods and
/// quotas (a quota of -1 is unlimited).
pub(crate) fn apply_sched(params: &[TypedParam], t: &mut CpuTune) -> DriverResult<()> {
    for p in params {
        match (&p.value, p.field.as_str()) {
            (TypedValue::ULLong(v), tp::SCHED_CPU_SHARES) => t.shares = Some(*v),
            (TypedValue::ULLong(v), f) => {
                if !(MIN_PERIOD..=MAX_PERIOD).contains(v) {
                    return Err(out_of_range(f, MIN_PERIOD as i64, MAX_PERIOD as i64));
                }
                let slot = match f {
                    tp::SCHED_VCPU_PERIOD => &mut t.period,
                    tp::SCHED_EMULATOR_PERIOD => &mut t.emulator_period,
                    tp::SCHED_GLOBAL_PERIOD => &mut t.global_period,
                    _ => &mut t.iothread_period,
                };
                *slot = Some(*v);
            }
            (TypedValue::LLong(v), f) => {
                if *v != -1 && !(MIN_QUOTA..=MAX_QUOTA).contains(v) {
                    return Err(out_of_range(f, MIN_QUOTA, MAX_QUOTA));
                }
                let slot = match f {
                    tp::SCHED_VCPU_QUOTA => &mut t.quota,
                    tp::SCHED_EMULATOR_QUOTA => &mut t.emulator_quota,
                    tp::SCHED_GLOBAL_QUOTA => &mut t.global_quota,
                    _ => &mut t.iothread_quota,
                };
                *slot = Some(*v);
            }
            _ => {}
        }
    }
    Ok(())
}

impl QemuDriver {
    /// libvirt: virDomainGetMemoryParameters.
    pub(crate) fn qemu_memory_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        both_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetMemoryParameters",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        let def = match (&d.run, live) {
            (Some(r), true) => &r.live,
            _ => &d.def,
        };
        Ok(tp::memtune_params(&def.memtune))
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
        both_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetSchedulerParametersFlags",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        let def = match (&d.run, live) {
            (Some(r), true) => &r.live,
            _ => &d.def,
        };
        Ok(sched_params(&def.cputune))
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
            apply_sched(params, &mut new)?;
            self.with_run(&uuid, a.gen, |r| r.live.cputune = new);
            if let Err(e) = self.apply_cputune(&uuid, a.gen, &a.qmp).await {
                self.with_run(&uuid, a.gen, |r| r.live.cputune = old);
                return Err(e);
            }
            // Recorded in the status file.
            self.update_run(&uuid, a.gen, |_| ());
        }
        if config {
            self.edit_config(&lookup, |def| apply_sched(params, &mut def.cputune))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_values_are_range_checked_and_unset_reads_zero() {
        let mut t = CpuTune::default();
        let p = sched_params(&t);
        assert_eq!(p.len(), 9);
        assert_eq!(p[0], TypedParam::new("cpu_shares", TypedValue::ULLong(0)));
        apply_sched(
            &[
                TypedParam::new("cpu_shares", TypedValue::ULLong(512)),
                TypedParam::new("vcpu_quota", TypedValue::LLong(-1)),
                TypedParam::new("global_period", TypedValue::ULLong(100_000)),
            ],
            &mut t,
        )
        .expect("valid");
        assert_eq!(
            (t.shares, t.quota, t.global_period),
            (Some(512), Some(-1), Some(100_000))
        );
        let e = apply_sched(
            &[TypedParam::new("vcpu_period", TypedValue::ULLong(10))],
            &mut t,
        )
        .expect_err("range");
        assert_eq!(
            e.message(),
            "invalid argument: value of 'vcpu_period' is out of range [1000, 1000000]"
        );
    }
}
