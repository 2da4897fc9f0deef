//! Modification impact (libvirt's virDomainObjUpdateModificationImpact) and the argument
//! rules libvirt's API layer applies to the vCPU calls before any driver sees them.

use super::flags::modify::{CONFIG, GUEST, LIVE, MAXIMUM};
use super::DomainFacts;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// Which definitions a change (or a read) concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impact {
    /// The running domain's.
    pub live: bool,
    /// The persistent one.
    pub config: bool,
}

/// Resolves CURRENT (neither LIVE nor CONFIG) to LIVE for an active domain and CONFIG for an
/// inactive one; LIVE on an inactive domain and CONFIG on a transient one are
/// OPERATION_INVALID naming the domain.
pub fn impact(dom: &DomainFacts<'_>, flags: u32) -> DriverResult<Impact> {
    let (mut live, mut config) = (flags & LIVE != 0, flags & CONFIG != 0);
    if !live && !config {
        live = dom.is_active();
        config = !live;
    }
    if live && !dom.is_active() {
        return Err(dom.not_running());
    }
    if config && !dom.persistent {
        return Err(VirtError::operation_invalid(
            "transient domains do not have any persistent config",
        )
        .with_object(dom.name, dom.uuid.to_string()));
    }
    Ok(Impact { live, config })
}

/// [`impact`] for a call that reads one definition (virDomainGetVcpusFlags and the like):
/// LIVE and CONFIG together are refused first, as libvirt's API layer does; the answer is
/// whether the live definition is read.
pub fn impact_read(dom: &DomainFacts<'_>, flags: u32) -> DriverResult<bool> {
    affect_exclusive(flags)?;
    Ok(impact(dom, flags)?.live)
}

/// LIVE and CONFIG together refused, as libvirt's API layer refuses them for the calls that
/// read one definition (before the driver checks its flags).
pub fn affect_exclusive(flags: u32) -> DriverResult<()> {
    exclusive(
        flags,
        LIVE,
        "VIR_DOMAIN_AFFECT_LIVE",
        CONFIG,
        "VIR_DOMAIN_AFFECT_CONFIG",
    )
}

/// virDomainSetVcpusFlags' arguments as libvirt's API layer checks them, in its order:
/// MAXIMUM needs CONFIG, GUEST excludes CONFIG, and the count is not zero.
pub fn set_vcpus_args(count: u32, flags: u32) -> DriverResult<()> {
    if flags & MAXIMUM != 0 && flags & CONFIG == 0 {
        return Err(invalid_arg(
            "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'",
        ));
    }
    exclusive(
        flags,
        GUEST,
        "VIR_DOMAIN_VCPU_GUEST",
        CONFIG,
        "VIR_DOMAIN_AFFECT_CONFIG",
    )?;
    if count == 0 {
        return Err(invalid_arg(
            "nvcpus in virDomainSetVcpusFlags must not be zero",
        ));
    }
    Ok(())
}

/// INVALID_ARG "Flags 'A' and 'B' are mutually exclusive" when both bits are set.
pub fn exclusive(flags: u32, a: u32, a_name: &str, b: u32, b_name: &str) -> DriverResult<()> {
    if flags & a != 0 && flags & b != 0 {
        return Err(invalid_arg(format!(
            "Flags '{a_name}' and '{b_name}' are mutually exclusive"
        )));
    }
    Ok(())
}

/// INVALID_ARG from libvirt's API layer (error domain DOMAIN).
/// virDomainSetVcpusFlags on the persistent definition: MAXIMUM sets the maximum (the
/// current count follows it down), otherwise the current count, which may not pass the
/// maximum (INVALID_ARG in libvirt's words).
pub fn set_vcpus_config(
    def: &mut crate::model::DomainDef,
    count: u32,
    maximum: bool,
) -> DriverResult<()> {
    if maximum {
        def.vcpus = count;
        def.current_vcpus = def.current_vcpus.min(count);
    } else if count > def.vcpus {
        return Err(invalid_arg(format!(
            "requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {}",
            def.vcpus
        )));
    } else {
        def.current_vcpus = count;
    }
    Ok(())
}

/// virDomainSetMemoryFlags on the persistent definition: MAXIMUM sets the maximum (the
/// current amount follows it down), otherwise the current amount, which may not pass the
/// maximum (INVALID_ARG in libvirt's words).
pub fn set_memory_config(
    def: &mut crate::model::DomainDef,
    kib: u64,
    maximum: bool,
) -> DriverResult<()> {
    if maximum {
        def.memory_kib = kib;
        def.current_memory_kib = def.current_memory_kib.min(kib);
    } else {
        check_memory(def, kib)?;
        def.current_memory_kib = kib;
    }
    Ok(())
}

/// INVALID_ARG "cannot set memory higher than max memory" when `kib` passes `def`'s maximum
/// (virDomainSetMemoryFlags on a running domain checks its live definition the same way).
pub fn check_memory(def: &crate::model::DomainDef, kib: u64) -> DriverResult<()> {
    if kib > def.memory_kib {
        return Err(invalid_arg("cannot set memory higher than max memory"));
    }
    Ok(())
}

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Domain, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DomainState, StateReason};
    use crate::uuid::Uuid;

    fn dom(state: DomainState, persistent: bool) -> DomainFacts<'static> {
        DomainFacts {
            name: "d",
            uuid: Uuid([2; 16]),
            state: StateReason::new(state, 0),
            active: state.is_active(),
            persistent,
            autostart: false,
            managed_save: false,
            has_snapshot: false,
            has_checkpoint: false,
        }
    }

    #[test]
    fn current_follows_the_state_and_impossible_targets_are_refused() {
        let on = dom(DomainState::Running, true);
        let off = dom(DomainState::Shutoff, true);
        let transient = dom(DomainState::Running, false);
        assert_eq!(
            impact(&on, 0).expect("accepted"),
            Impact {
                live: true,
                config: false
            }
        );
        assert_eq!(
            impact(&off, 0).expect("accepted"),
            Impact {
                live: false,
                config: true
            }
        );
        assert_eq!(
            impact(&on, LIVE | CONFIG).expect("accepted"),
            Impact {
                live: true,
                config: true
            }
        );
        let e = impact(&off, LIVE).expect_err("refused");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert_eq!(
            e.message(),
            "Requested operation is not valid: domain is not running"
        );
        let e = impact(&transient, CONFIG).expect_err("refused");
        assert!(e
            .message()
            .contains("transient domains do not have any persistent config"));
        assert!(impact_read(&on, LIVE | CONFIG)
            .expect_err("refused")
            .message()
            .contains(
                "'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
            ));
        assert!(!impact_read(&off, 0).expect("accepted"));
    }

    #[test]
    fn vcpu_arguments_are_checked_in_libvirts_order() {
        let e = set_vcpus_args(0, MAXIMUM).expect_err("refused");
        assert!(e
            .message()
            .contains("required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'"));
        let e = set_vcpus_args(2, GUEST | CONFIG).expect_err("refused");
        assert!(e.message().contains("mutually exclusive"));
        let e = set_vcpus_args(0, LIVE).expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message().contains("must not be zero"));
        set_vcpus_args(1, MAXIMUM | CONFIG).expect("accepted");
    }
}
