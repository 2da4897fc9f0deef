//! Bulk statistics rules every driver shares (virConnectGetAllDomainStats,
//! virDomainListGetStats): the flags each call accepts, which groups a request means, and
//! the `state` group, which every driver fills from its own tracking.

use super::flags::stats::{ENFORCE_STATS, STATE};
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::state::StateReason;
use crate::types::{TypedParam, TypedValue};
use crate::VirtError;

pub use super::flags::stats::{ALL_DOMAINS, FILTERS, LISTED};

/// The groups a request asks for, given the groups a driver `supported`: 0 means all it has;
/// a bit it lacks is skipped, or with ENFORCE_STATS refused (ARGUMENT_UNSUPPORTED), as libvirt.
pub fn groups(stats: u32, flags: u32, supported: u32, domain: ErrorDomain) -> DriverResult<u32> {
    if flags & ENFORCE_STATS != 0 && stats & !supported != 0 {
        return Err(VirtError::new(
            ErrorCode::ArgumentUnsupported,
            domain,
            format!(
                "Stats types bits 0x{:x} are not supported by this daemon",
                stats & !supported
            ),
        ));
    }
    Ok(if stats == 0 {
        supported
    } else {
        stats & supported
    })
}

/// The `state` group's parameters (`state.state`, `state.reason`) when `groups` has it.
pub fn state_params(groups: u32, state: StateReason) -> Vec<TypedParam> {
    if groups & STATE == 0 {
        return Vec::new();
    }
    vec![
        TypedParam::new("state.state", TypedValue::Int(state.state as i32)),
        TypedParam::new("state.reason", TypedValue::Int(state.reason)),
    ]
}

/// The API layer's check of virDomainSetMemoryStatsPeriod: the period is not negative.
pub fn check_stats_period(period: i32) -> DriverResult<()> {
    if period < 0 {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "period in virDomainSetMemoryStatsPeriod must be greater than or equal to zero",
        ));
    }
    Ok(())
}

/// The `<stats period>` a period sets: none for 0, which libvirt does not format.
pub fn stats_period_of(period: i32) -> Option<u32> {
    u32::try_from(period).ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::flags::stats::{BALLOON, CPU_TOTAL};
    use crate::state::DomainState;

    #[test]
    fn zero_means_everything_supported_and_enforce_refuses_the_rest() {
        let sup = STATE | CPU_TOTAL;
        assert_eq!(groups(0, 0, sup, ErrorDomain::Test).expect("accepted"), sup);
        assert_eq!(
            groups(STATE | BALLOON, 0, sup, ErrorDomain::Test).expect("accepted"),
            STATE
        );
        let e = groups(BALLOON, ENFORCE_STATS, sup, ErrorDomain::Test).expect_err("refused");
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert!(e.message().contains("0x4"));
    }

    #[test]
    fn the_state_group_carries_state_and_reason() {
        let p = state_params(STATE, StateReason::new(DomainState::Paused, 1));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].field, "state.state");
        assert_eq!(p[1].value, TypedValue::Int(1));
        assert!(state_params(CPU_TOTAL, StateReason::new(DomainState::Paused, 1)).is_empty());
    }
}
