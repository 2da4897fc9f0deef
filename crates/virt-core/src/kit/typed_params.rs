//! Typed parameters of the tunable and per-device statistics calls: libvirt's parameter names
//! (`VIR_DOMAIN_MEMORY_*`, `VIR_DOMAIN_SCHEDULER_*`, `VIR_DOMAIN_BLOCK_STATS_*`), the check a
//! set call makes of what it was given (libvirt's virTypedParamsValidate, with its errors),
//! and `<memtune>` as the memory parameters every driver reads and changes the same way.

use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::model::tuning::MemTune;
use crate::types::{TypedParam, TypedValue};
use crate::VirtError;

/// VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: no limit, in KiB (2^53 - 1).
pub const MEMORY_UNLIMITED: u64 = 9_007_199_254_740_991;

/// VIR_DOMAIN_MEMORY_HARD_LIMIT (ULLONG, KiB).
pub const MEMORY_HARD_LIMIT: &str = "hard_limit";
/// VIR_DOMAIN_MEMORY_SOFT_LIMIT (ULLONG, KiB).
pub const MEMORY_SOFT_LIMIT: &str = "soft_limit";
/// VIR_DOMAIN_MEMORY_SWAP_HARD_LIMIT (ULLONG, KiB).
pub const MEMORY_SWAP_HARD_LIMIT: &str = "swap_hard_limit";
/// VIR_DOMAIN_MEMORY_MIN_GUARANTEE (ULLONG, KiB).
pub const MEMORY_MIN_GUARANTEE: &str = "min_guarantee";

/// VIR_DOMAIN_SCHEDULER_CPU_SHARES (ULLONG).
pub const SCHED_CPU_SHARES: &str = "cpu_shares";
/// VIR_DOMAIN_SCHEDULER_VCPU_PERIOD (ULLONG, µs).
pub const SCHED_VCPU_PERIOD: &str = "vcpu_period";
/// VIR_DOMAIN_SCHEDULER_VCPU_QUOTA (LLONG, µs).
pub const SCHED_VCPU_QUOTA: &str = "vcpu_quota";
/// VIR_DOMAIN_SCHEDULER_EMULATOR_PERIOD (ULLONG, µs).
pub const SCHED_EMULATOR_PERIOD: &str = "emulator_period";
/// VIR_DOMAIN_SCHEDULER_EMULATOR_QUOTA (LLONG, µs).
pub const SCHED_EMULATOR_QUOTA: &str = "emulator_quota";
/// VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD (ULLONG, µs).
pub const SCHED_GLOBAL_PERIOD: &str = "global_period";
/// VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA (LLONG, µs).
pub const SCHED_GLOBAL_QUOTA: &str = "global_quota";
/// VIR_DOMAIN_SCHEDULER_IOTHREAD_PERIOD (ULLONG, µs).
pub const SCHED_IOTHREAD_PERIOD: &str = "iothread_period";
/// VIR_DOMAIN_SCHEDULER_IOTHREAD_QUOTA (LLONG, µs).
pub const SCHED_IOTHREAD_QUOTA: &str = "iothread_quota";
/// VIR_DOMAIN_SCHEDULER_WEIGHT (UINT; Xen credit and the test driver).
pub const SCHED_WEIGHT: &str = "weight";
/// VIR_DOMAIN_SCHEDULER_CAP (UINT; Xen credit).
pub const SCHED_CAP: &str = "cap";

/// VIR_DOMAIN_BLOCK_STATS_READ_REQ (LLONG).
pub const BLOCK_READ_REQ: &str = "rd_operations";
/// VIR_DOMAIN_BLOCK_STATS_READ_BYTES (LLONG).
pub const BLOCK_READ_BYTES: &str = "rd_bytes";
/// VIR_DOMAIN_BLOCK_STATS_WRITE_REQ (LLONG).
pub const BLOCK_WRITE_REQ: &str = "wr_operations";
/// VIR_DOMAIN_BLOCK_STATS_WRITE_BYTES (LLONG).
pub const BLOCK_WRITE_BYTES: &str = "wr_bytes";
/// VIR_DOMAIN_BLOCK_STATS_FLUSH_REQ (LLONG).
pub const BLOCK_FLUSH_REQ: &str = "flush_operations";
/// VIR_DOMAIN_BLOCK_STATS_READ_TOTAL_TIMES (LLONG, ns).
pub const BLOCK_READ_TOTAL_TIMES: &str = "rd_total_times";
/// VIR_DOMAIN_BLOCK_STATS_WRITE_TOTAL_TIMES (LLONG, ns).
pub const BLOCK_WRITE_TOTAL_TIMES: &str = "wr_total_times";
/// VIR_DOMAIN_BLOCK_STATS_FLUSH_TOTAL_TIMES (LLONG, ns).
pub const BLOCK_FLUSH_TOTAL_TIMES: &str = "flush_total_times";
/// VIR_DOMAIN_BLOCK_STATS_ERRS (LLONG).
pub const BLOCK_ERRS: &str = "errs";

/// A typed parameter's type (libvirt virTypedParameterType), for [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// VIR_TYPED_PARAM_INT.
    Int,
    /// VIR_TYPED_PARAM_UINT.
    UInt,
    /// VIR_TYPED_PARAM_LLONG.
    LLong,
    /// VIR_TYPED_PARAM_ULLONG.
    ULLong,
    /// VIR_TYPED_PARAM_DOUBLE.
    Double,
    /// VIR_TYPED_PARAM_BOOLEAN.
    Bool,
    /// VIR_TYPED_PARAM_STRING.
    String,
}

impl ParamType {
    /// The type of `v`.
    pub fn of(v: &TypedValue) -> ParamType {
        match v {
            TypedValue::Int(_) => ParamType::Int,
            TypedValue::UInt(_) => ParamType::UInt,
            TypedValue::LLong(_) => ParamType::LLong,
            TypedValue::ULLong(_) => ParamType::ULLong,
            TypedValue::Double(_) => ParamType::Double,
            TypedValue::Bool(_) => ParamType::Bool,
            TypedValue::String(_) => ParamType::String,
        }
    }

    /// libvirt's name (virTypedParameterTypeToString).
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::UInt => "uint",
            ParamType::LLong => "llong",
            ParamType::ULLong => "ullong",
            ParamType::Double => "double",
            ParamType::Bool => "boolean",
            ParamType::String => "string",
        }
    }
}

/// The memory parameters QEMU, LXC and the test driver accept (all ULLONG).
pub const MEMORY_PARAMS: &[(&str, ParamType)] = &[
    (MEMORY_HARD_LIMIT, ParamType::ULLong),
    (MEMORY_SOFT_LIMIT, ParamType::ULLong),
    (MEMORY_SWAP_HARD_LIMIT, ParamType::ULLong),
];

/// The scheduler parameters of cgroup CPU control (QEMU's full set; LXC takes the first three).
pub const CGROUP_SCHED_PARAMS: &[(&str, ParamType)] = &[
    (SCHED_CPU_SHARES, ParamType::ULLong),
    (SCHED_VCPU_PERIOD, ParamType::ULLong),
    (SCHED_VCPU_QUOTA, ParamType::LLong),
    (SCHED_EMULATOR_PERIOD, ParamType::ULLong),
    (SCHED_EMULATOR_QUOTA, ParamType::LLong),
    (SCHED_GLOBAL_PERIOD, ParamType::ULLong),
    (SCHED_GLOBAL_QUOTA, ParamType::LLong),
    (SCHED_IOTHREAD_PERIOD, ParamType::ULLong),
    (SCHED_IOTHREAD_QUOTA, ParamType::LLong),
];

/// libvirt's bounds of the CFS period and quota (QEMU_SCHED_MIN_PERIOD ...).
const MIN_PERIOD: u64 = 1000;
const MAX_PERIOD: u64 = 1_000_000;
const MIN_QUOTA: i64 = 1000;
const MAX_QUOTA: i64 = 17_592_186_044_415;

/// `<cputune>`'s bandwidth as the first `n` of libvirt's scheduler parameters
/// ([`CGROUP_SCHED_PARAMS`] order: QEMU has nine, LXC three), unset as 0.
pub fn cputune_params(t: &crate::model::tuning::CpuTune, n: usize) -> Vec<TypedParam> {
    let u = |v: Option<u64>| TypedValue::ULLong(v.unwrap_or(0));
    let l = |v: Option<i64>| TypedValue::LLong(v.unwrap_or(0));
    let all = [
        TypedParam::new(SCHED_CPU_SHARES, u(t.shares)),
        TypedParam::new(SCHED_VCPU_PERIOD, u(t.period)),
        TypedParam::new(SCHED_VCPU_QUOTA, l(t.quota)),
        TypedParam::new(SCHED_EMULATOR_PERIOD, u(t.emulator_period)),
        TypedParam::new(SCHED_EMULATOR_QUOTA, l(t.emulator_quota)),
        TypedParam::new(SCHED_GLOBAL_PERIOD, u(t.global_period)),
        TypedParam::new(SCHED_GLOBAL_QUOTA, l(t.global_quota)),
        TypedParam::new(SCHED_IOTHREAD_PERIOD, u(t.iothread_period)),
        TypedParam::new(SCHED_IOTHREAD_QUOTA, l(t.iothread_quota)),
    ];
    all.into_iter().take(n).collect()
}

/// Applies validated scheduler `params` to `t`, with libvirt's range checks of periods and
/// quotas (a quota of -1 is unlimited); errors are INVALID_ARG from `domain`.
pub fn apply_cputune(
    params: &[TypedParam],
    t: &mut crate::model::tuning::CpuTune,
    domain: ErrorDomain,
) -> DriverResult<()> {
    let out_of_range = |field: &str, lo: i64, hi: i64| {
        VirtError::new(
            ErrorCode::InvalidArg,
            domain,
            format!("value of '{field}' is out of range [{lo}, {hi}]"),
        )
    };
    for p in params {
        match (&p.value, p.field.as_str()) {
            (TypedValue::ULLong(v), SCHED_CPU_SHARES) => t.shares = Some(*v),
            (TypedValue::ULLong(v), f) => {
                if !(MIN_PERIOD..=MAX_PERIOD).contains(v) {
                    return Err(out_of_range(f, MIN_PERIOD as i64, MAX_PERIOD as i64));
                }
                let slot = match f {
                    SCHED_VCPU_PERIOD => &mut t.period,
                    SCHED_EMULATOR_PERIOD => &mut t.emulator_period,
                    SCHED_GLOBAL_PERIOD => &mut t.global_period,
                    _ => &mut t.iothread_period,
                };
                *slot = Some(*v);
            }
            (TypedValue::LLong(v), f) => {
                if *v != -1 && !(MIN_QUOTA..=MAX_QUOTA).contains(v) {
                    return Err(out_of_range(f, MIN_QUOTA, MAX_QUOTA));
                }
                let slot = match f {
                    SCHED_VCPU_QUOTA => &mut t.quota,
                    SCHED_EMULATOR_QUOTA => &mut t.emulator_quota,
                    SCHED_GLOBAL_QUOTA => &mut t.global_quota,
                    _ => &mut t.iothread_quota,
                };
                *slot = Some(*v);
            }
            _ => {}
        }
    }
    Ok(())
}

/// libvirt's virTypedParamsValidate: every parameter is one of `allowed` with its type, and
/// none occurs twice. Errors as libvirt's, for the first offending field in name order:
/// ARGUMENT_UNSUPPORTED "parameter 'x' not supported"; INVALID_ARG "parameter 'x' occurs
/// multiple times"; INVALID_ARG "invalid type 'string' for parameter 'x', expected 'ullong'".
pub fn validate(
    params: &[TypedParam],
    allowed: &[(&str, ParamType)],
    domain: ErrorDomain,
) -> DriverResult<()> {
    let mut sorted: Vec<&TypedParam> = params.iter().collect();
    sorted.sort_by(|a, b| a.field.cmp(&b.field));
    let mut last: Option<&str> = None;
    for p in sorted {
        let Some((_, want)) = allowed.iter().find(|(name, _)| *name == p.field) else {
            return Err(VirtError::new(
                ErrorCode::ArgumentUnsupported,
                domain,
                format!("parameter '{}' not supported", p.field),
            ));
        };
        if last == Some(p.field.as_str()) {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                domain,
                format!("parameter '{}' occurs multiple times", p.field),
            ));
        }
        let got = ParamType::of(&p.value);
        if got != *want {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                domain,
                format!(
                    "invalid type '{}' for parameter '{}', expected '{}'",
                    got.name(),
                    p.field,
                    want.name()
                ),
            ));
        }
        last = Some(p.field.as_str());
    }
    Ok(())
}

/// libvirt's API-layer check of a set call's parameter count (virCheckPositiveArgGoto):
/// INVALID_ARG "nparams in {api} must be greater than zero".
pub fn require_some(params: &[TypedParam], api: &str) -> DriverResult<()> {
    if params.is_empty() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            format!("nparams in {api} must be greater than zero"),
        ));
    }
    Ok(())
}

/// The value of the ULLONG parameter `field`, when given (call after [`validate`]).
pub fn get_ullong(params: &[TypedParam], field: &str) -> Option<u64> {
    params
        .iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::ULLong(v) => Some(v),
            _ => None,
        })
}

/// The value of the LLONG parameter `field`, when given (call after [`validate`]).
pub fn get_llong(params: &[TypedParam], field: &str) -> Option<i64> {
    params
        .iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::LLong(v) => Some(v),
            _ => None,
        })
}

/// The value of the UINT parameter `field`, when given (call after [`validate`]).
pub fn get_uint(params: &[TypedParam], field: &str) -> Option<u32> {
    params
        .iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::UInt(v) => Some(v),
            _ => None,
        })
}

/// A `<memtune>` limit as the parameter's value: unset is [`MEMORY_UNLIMITED`].
fn limit_value(kib: Option<u64>) -> TypedValue {
    TypedValue::ULLong(kib.unwrap_or(MEMORY_UNLIMITED))
}

/// A parameter's value as a `<memtune>` limit: [`MEMORY_UNLIMITED`] and above mean unset.
fn limit_from(v: u64) -> Option<u64> {
    (v < MEMORY_UNLIMITED).then_some(v)
}

/// `hard_limit`, `soft_limit`, `swap_hard_limit` of `mt`, in that order (libvirt's QEMU, LXC
/// and test drivers answer these three).
pub fn memtune_params(mt: &MemTune) -> Vec<TypedParam> {
    vec![
        TypedParam::new(MEMORY_HARD_LIMIT, limit_value(mt.hard_limit_kib)),
        TypedParam::new(MEMORY_SOFT_LIMIT, limit_value(mt.soft_limit_kib)),
        TypedParam::new(MEMORY_SWAP_HARD_LIMIT, limit_value(mt.swap_hard_limit_kib)),
    ]
}

/// What a virDomainSetMemoryParameters call changes: each limit given, `None` inside for
/// unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemTuneChange {
    /// `hard_limit`, when given.
    pub hard_limit: Option<Option<u64>>,
    /// `soft_limit`, when given.
    pub soft_limit: Option<Option<u64>>,
    /// `swap_hard_limit`, when given.
    pub swap_hard_limit: Option<Option<u64>>,
}

impl MemTuneChange {
    /// The change `params` asks for, validated against [`MEMORY_PARAMS`] (so `min_guarantee`
    /// is ARGUMENT_UNSUPPORTED, as in libvirt's QEMU, LXC and test drivers).
    pub fn parse(params: &[TypedParam], domain: ErrorDomain) -> DriverResult<MemTuneChange> {
        validate(params, MEMORY_PARAMS, domain)?;
        Ok(MemTuneChange {
            hard_limit: get_ullong(params, MEMORY_HARD_LIMIT).map(limit_from),
            soft_limit: get_ullong(params, MEMORY_SOFT_LIMIT).map(limit_from),
            swap_hard_limit: get_ullong(params, MEMORY_SWAP_HARD_LIMIT).map(limit_from),
        })
    }

    /// libvirt's rule when the hard or swap limit changes: the hard limit (new, else the one
    /// of `reference`) must not exceed the swap hard limit (likewise), else INVALID_ARG
    /// "memory hard_limit tunable value must be lower than or equal to swap_hard_limit".
    pub fn check(&self, reference: &MemTune, domain: ErrorDomain) -> DriverResult<()> {
        if self.hard_limit.is_none() && self.swap_hard_limit.is_none() {
            return Ok(());
        }
        let hard = self.hard_limit.unwrap_or(reference.hard_limit_kib);
        let swap = self
            .swap_hard_limit
            .unwrap_or(reference.swap_hard_limit_kib);
        let (hard, swap) = (
            hard.unwrap_or(MEMORY_UNLIMITED),
            swap.unwrap_or(MEMORY_UNLIMITED),
        );
        if hard > swap {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                domain,
                "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
            ));
        }
        Ok(())
    }

    /// Writes the change into `mt`.
    pub fn apply(&self, mt: &mut MemTune) {
        if let Some(v) = self.hard_limit {
            mt.hard_limit_kib = v;
        }
        if let Some(v) = self.soft_limit {
            mt.soft_limit_kib = v;
        }
        if let Some(v) = self.swap_hard_limit {
            mt.swap_hard_limit_kib = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::tuning::CpuTune;

    #[test]
    fn scheduler_values_are_range_checked_and_unset_reads_zero() {
        let mut t = CpuTune::default();
        let p = cputune_params(&t, 9);
        assert_eq!(p.len(), 9);
        assert_eq!(cputune_params(&t, 3).len(), 3);
        assert_eq!(p[0], TypedParam::new("cpu_shares", TypedValue::ULLong(0)));
        apply_cputune(
            &[
                TypedParam::new("cpu_shares", TypedValue::ULLong(512)),
                TypedParam::new("vcpu_quota", TypedValue::LLong(-1)),
                TypedParam::new("global_period", TypedValue::ULLong(100_000)),
            ],
            &mut t,
            ErrorDomain::Qemu,
        )
        .expect("valid");
        assert_eq!(
            (t.shares, t.quota, t.global_period),
            (Some(512), Some(-1), Some(100_000))
        );
        let e = apply_cputune(
            &[TypedParam::new("vcpu_period", TypedValue::ULLong(10))],
            &mut t,
            ErrorDomain::Qemu,
        )
        .expect_err("range");
        assert_eq!(
            e.message(),
            "invalid argument: value of 'vcpu_period' is out of range [1000, 1000000]"
        );
    }

    use super::*;

    fn ull(f: &str, v: u64) -> TypedParam {
        TypedParam::new(f, TypedValue::ULLong(v))
    }

    #[test]
    fn validate_reports_libvirts_errors_in_name_order() {
        let d = ErrorDomain::Test;
        assert!(validate(&[ull("hard_limit", 1)], MEMORY_PARAMS, d).is_ok());
        let e = validate(
            &[ull("soft_limit", 1), ull("min_guarantee", 1)],
            MEMORY_PARAMS,
            d,
        )
        .expect_err("unknown");
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(
            e.message(),
            "argument unsupported: parameter 'min_guarantee' not supported"
        );
        let e = validate(
            &[ull("hard_limit", 1), ull("hard_limit", 2)],
            MEMORY_PARAMS,
            d,
        )
        .expect_err("dup");
        assert_eq!(
            e.message(),
            "invalid argument: parameter 'hard_limit' occurs multiple times"
        );
        let e = validate(
            &[TypedParam::new("soft_limit", TypedValue::UInt(3))],
            MEMORY_PARAMS,
            d,
        )
        .expect_err("type");
        assert_eq!(
            e.message(),
            "invalid argument: invalid type 'uint' for parameter 'soft_limit', expected 'ullong'"
        );
    }

    #[test]
    fn memtune_round_trips_unlimited_and_checks_hard_against_swap() {
        let mut mt = MemTune::default();
        let p = memtune_params(&mt);
        assert_eq!(p[0], ull("hard_limit", MEMORY_UNLIMITED));
        let c = MemTuneChange::parse(
            &[ull("hard_limit", 100), ull("swap_hard_limit", 50)],
            ErrorDomain::Test,
        )
        .expect("valid");
        assert!(c.check(&mt, ErrorDomain::Test).is_err());
        let c = MemTuneChange::parse(&[ull("hard_limit", 100)], ErrorDomain::Test).expect("ok");
        c.check(&mt, ErrorDomain::Test).expect("swap unlimited");
        c.apply(&mut mt);
        assert_eq!(mt.hard_limit_kib, Some(100));
        let c = MemTuneChange::parse(&[ull("hard_limit", MEMORY_UNLIMITED)], ErrorDomain::Test)
            .expect("ok");
        c.apply(&mut mt);
        assert_eq!(mt.hard_limit_kib, None);
    }
}
