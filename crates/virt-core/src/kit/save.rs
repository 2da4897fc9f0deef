//! The state a save image restores to: libvirt's SAVE_RUNNING / SAVE_PAUSED override, the
//! same for virDomainSave(Flags), virDomainManagedSave, virDomainRestore(Flags) and a start
//! from a managed-save image.

use super::flags::save::{PAUSED, RUNNING};
use super::modify::exclusive;
use crate::driver::DriverResult;

/// Whether the domain ends paused: PAUSED says yes, RUNNING says no, neither keeps the state
/// the image recorded. Both together are INVALID_ARG, as libvirt's API layer refuses them.
pub fn ends_paused(flags: u32, was_paused: bool) -> DriverResult<bool> {
    exclusive(
        flags,
        RUNNING,
        "VIR_DOMAIN_SAVE_RUNNING",
        PAUSED,
        "VIR_DOMAIN_SAVE_PAUSED",
    )?;
    Ok(match flags & (RUNNING | PAUSED) {
        RUNNING => false,
        PAUSED => true,
        _ => was_paused,
    })
}

/// libvirt's API-layer rule of virDomainCoreDump(WithFormat): VIR_DUMP_CRASH, VIR_DUMP_LIVE
/// and VIR_DUMP_RESET exclude one another (INVALID_ARG).
pub fn dump_flags(flags: u32) -> DriverResult<()> {
    const CRASH: u32 = 1;
    const LIVE: u32 = 2;
    const RESET: u32 = 8;
    exclusive(flags, CRASH, "VIR_DUMP_CRASH", LIVE, "VIR_DUMP_LIVE")?;
    exclusive(flags, CRASH, "VIR_DUMP_CRASH", RESET, "VIR_DUMP_RESET")?;
    exclusive(flags, LIVE, "VIR_DUMP_LIVE", RESET, "VIR_DUMP_RESET")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_recorded_state_and_exclude_each_other() {
        assert!(ends_paused(0, true).expect("ok"));
        assert!(!ends_paused(0, false).expect("ok"));
        assert!(!ends_paused(RUNNING, true).expect("ok"));
        assert!(ends_paused(PAUSED, false).expect("ok"));
        let e = ends_paused(RUNNING | PAUSED, false).expect_err("both");
        assert_eq!(e.code, crate::error::ErrorCode::InvalidArg);
    }
}
