//! virConnectListAllDomains' filter, which virConnectGetAllDomainStats shares for its first
//! eight bits: the bits form groups (active / inactive, persistent / transient, the states,
//! managed save, autostart, snapshots, checkpoints); groups are AND-ed, bits within a group
//! OR-ed, and a group with no bit (or both of a pair) lets every domain through.

use super::flags::list::*;
use super::DomainFacts;
use crate::state::DomainState;

/// Whether `dom` passes the filter `flags`.
pub fn matches(dom: &DomainFacts<'_>, flags: u32) -> bool {
    let pair = |a: u32, b: u32, is_a: bool| {
        let sel = flags & (a | b);
        sel == 0 || sel == (a | b) || (sel == a && is_a) || (sel == b && !is_a)
    };
    let state_sel = flags & (RUNNING | PAUSED | SHUTOFF | OTHER);
    let state_bit = match dom.state.state {
        DomainState::Running => RUNNING,
        DomainState::Paused => PAUSED,
        DomainState::Shutoff => SHUTOFF,
        _ => OTHER,
    };
    pair(ACTIVE, INACTIVE, dom.is_active())
        && pair(PERSISTENT, TRANSIENT, dom.persistent)
        && (state_sel == 0 || state_sel & state_bit != 0)
        && pair(MANAGEDSAVE, NO_MANAGEDSAVE, dom.managed_save)
        && pair(AUTOSTART, NO_AUTOSTART, dom.autostart)
        && pair(HAS_SNAPSHOT, NO_SNAPSHOT, dom.has_snapshot)
        && pair(HAS_CHECKPOINT, NO_CHECKPOINT, dom.has_checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateReason;
    use crate::uuid::Uuid;

    fn dom(state: DomainState, persistent: bool, autostart: bool) -> DomainFacts<'static> {
        DomainFacts {
            name: "d",
            uuid: Uuid([1; 16]),
            state: StateReason::new(state, 0),
            active: state.is_active(),
            persistent,
            autostart,
            managed_save: false,
            has_snapshot: false,
            has_checkpoint: false,
        }
    }

    #[test]
    fn groups_are_anded_and_bits_within_a_group_ored() {
        let running = dom(DomainState::Running, true, false);
        let paused_transient = dom(DomainState::Paused, false, false);
        let off_auto = dom(DomainState::Shutoff, true, true);
        let crashed = dom(DomainState::Crashed, true, false);
        for d in [&running, &paused_transient, &off_auto, &crashed] {
            assert!(matches(d, 0));
            assert!(matches(d, ACTIVE | INACTIVE));
        }
        assert!(matches(&running, ACTIVE | PERSISTENT));
        assert!(!matches(&paused_transient, ACTIVE | PERSISTENT));
        assert!(matches(&paused_transient, RUNNING | PAUSED));
        assert!(!matches(&off_auto, RUNNING | PAUSED));
        assert!(matches(&off_auto, INACTIVE | AUTOSTART));
        assert!(!matches(&running, AUTOSTART));
        assert!(matches(
            &running,
            NO_AUTOSTART | NO_SNAPSHOT | NO_CHECKPOINT
        ));
        assert!(matches(&crashed, OTHER));
        assert!(!matches(&crashed, SHUTOFF));
        assert!(!matches(&running, MANAGEDSAVE));
    }
}
