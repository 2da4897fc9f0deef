//! libvirt-qemu's shared rules: the flags of virDomainQemuMonitorCommand and the event-name
//! filter of virConnectDomainQemuMonitorEventRegister (exact, case-insensitive, or an
//! extended regular expression searched anywhere in the name, as libvirt's regexec does).

use crate::error::{ErrorCode, ErrorDomain};
use crate::{DriverResult, VirtError};

/// VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP: the command is HMP text.
pub const COMMAND_HMP: u32 = 1;
/// VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_REGEX.
pub const EVENT_REGEX: u32 = 1;
/// VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_NOCASE.
pub const EVENT_NOCASE: u32 = 2;

/// Which event names a registration wants.
#[derive(Debug, Clone)]
pub enum EventFilter {
    /// Every event.
    All,
    /// This name exactly (`true`: ignoring ASCII case).
    Name(String, bool),
    /// Names this expression matches somewhere.
    Regex(regex::Regex),
}

impl EventFilter {
    /// The filter for `event` (empty: every event) and libvirt's register `flags`; unknown
    /// flags are refused in `function`'s name, a bad expression is INVALID_ARG as libvirt's
    /// "failed to compile regex".
    pub fn new(event: &str, flags: u32, domain: ErrorDomain, function: &str) -> DriverResult<Self> {
        VirtError::check_flags(flags, EVENT_REGEX | EVENT_NOCASE, domain, function)?;
        let nocase = flags & EVENT_NOCASE != 0;
        if event.is_empty() {
            return Ok(EventFilter::All);
        }
        if flags & EVENT_REGEX == 0 {
            return Ok(EventFilter::Name(event.to_string(), nocase));
        }
        regex::RegexBuilder::new(event)
            .case_insensitive(nocase)
            .build()
            .map(EventFilter::Regex)
            .map_err(|e| {
                VirtError::new(
                    ErrorCode::InvalidArg,
                    domain,
                    format!("failed to compile regex '{event}': {e}"),
                )
            })
    }

    /// Whether an event called `name` passes.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Name(n, false) => n == name,
            EventFilter::Name(n, true) => n.eq_ignore_ascii_case(name),
            EventFilter::Regex(r) => r.is_match(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(event: &str, flags: u32) -> EventFilter {
        EventFilter::new(event, flags, ErrorDomain::Qemu, "t").expect("valid filter")
    }

    #[test]
    fn names_match_exactly_without_case_or_by_expression() {
        assert!(f("", 0).matches("STOP"));
        assert!(f("STOP", 0).matches("STOP"));
        assert!(!f("stop", 0).matches("STOP"));
        assert!(f("stop", EVENT_NOCASE).matches("STOP"));
        assert!(!f("STO", 0).matches("STOP"));
        assert!(f("^RES", EVENT_REGEX).matches("RESUME"));
        assert!(f("SUM", EVENT_REGEX).matches("RESUME"));
        assert!(!f("^res", EVENT_REGEX).matches("RESET"));
        assert!(f("^res", EVENT_REGEX | EVENT_NOCASE).matches("RESET"));
    }

    #[test]
    fn bad_expressions_and_flags_are_refused() {
        let e = EventFilter::new("(", EVENT_REGEX, ErrorDomain::Qemu, "t").expect_err("an error");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message().contains("failed to compile regex '('"));
        let e = EventFilter::new("X", 4, ErrorDomain::Qemu, "qemuF").expect_err("an error");
        assert_eq!(e.message(), "unsupported flags (0x4) in function qemuF");
    }
}
