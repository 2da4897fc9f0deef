//! Domain states and reasons (`virDomainState` and the per-state reason enums), with the words
//! virsh prints for them.

/// libvirt's `virDomainState`, with libvirt's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DomainState {
    /// VIR_DOMAIN_NOSTATE.
    NoState = 0,
    /// Running.
    Running = 1,
    /// Blocked on a resource.
    Blocked = 2,
    /// Paused.
    Paused = 3,
    /// Being shut down.
    Shutdown = 4,
    /// Shut off.
    Shutoff = 5,
    /// Crashed.
    Crashed = 6,
    /// Suspended by guest power management.
    PmSuspended = 7,
}

impl DomainState {
    /// The state with libvirt's number `n`; unknown numbers are NOSTATE.
    pub fn from_number(n: i32) -> DomainState {
        match n {
            1 => DomainState::Running,
            2 => DomainState::Blocked,
            3 => DomainState::Paused,
            4 => DomainState::Shutdown,
            5 => DomainState::Shutoff,
            6 => DomainState::Crashed,
            7 => DomainState::PmSuspended,
            _ => DomainState::NoState,
        }
    }

    /// Whether the domain counts as active (has an ID): every state but SHUTOFF and NOSTATE.
    pub fn is_active(self) -> bool {
        !matches!(self, DomainState::Shutoff | DomainState::NoState)
    }

    /// virsh's word: "running", "shut off", ...
    pub fn virsh_name(self) -> &'static str {
        match self {
            DomainState::NoState => "no state",
            DomainState::Running => "running",
            DomainState::Blocked => "idle",
            DomainState::Paused => "paused",
            DomainState::Shutdown => "in shutdown",
            DomainState::Shutoff => "shut off",
            DomainState::Crashed => "crashed",
            DomainState::PmSuspended => "pmsuspended",
        }
    }
}

/// virsh's word for `reason` of `state`, "unknown" for numbers it does not know.
pub fn reason_virsh_name(state: DomainState, reason: i32) -> &'static str {
    const RUNNING: &[&str] = &[
        "unknown",
        "booted",
        "migrated",
        "restored",
        "from snapshot",
        "unpaused",
        "migration canceled",
        "save canceled",
        "event wakeup",
        "crashed",
        "post-copy",
        "post-copy failed",
    ];
    const PAUSED: &[&str] = &[
        "unknown",
        "user",
        "migrating",
        "saving",
        "dumping",
        "I/O error",
        "watchdog",
        "from snapshot",
        "shutting down",
        "creating snapshot",
        "crashed",
        "starting up",
        "post-copy",
        "post-copy failed",
        "api error",
    ];
    const SHUTDOWN: &[&str] = &["unknown", "user"];
    const SHUTOFF: &[&str] = &[
        "unknown",
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from snapshot",
        "daemon",
    ];
    const CRASHED: &[&str] = &["unknown", "panicked"];
    const ONLY_UNKNOWN: &[&str] = &["unknown"];
    let table = match state {
        DomainState::Running => RUNNING,
        DomainState::Paused => PAUSED,
        DomainState::Shutdown => SHUTDOWN,
        DomainState::Shutoff => SHUTOFF,
        DomainState::Crashed => CRASHED,
        _ => ONLY_UNKNOWN,
    };
    usize::try_from(reason)
        .ok()
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or("unknown")
}

/// Reason numbers used by the drivers, by state (libvirt's values).
pub mod reason {
    /// RUNNING reasons.
    pub mod running {
        /// UNKNOWN.
        pub const UNKNOWN: i32 = 0;
        /// BOOTED.
        pub const BOOTED: i32 = 1;
        /// MIGRATED.
        pub const MIGRATED: i32 = 2;
        /// RESTORED.
        pub const RESTORED: i32 = 3;
        /// FROM_SNAPSHOT.
        pub const FROM_SNAPSHOT: i32 = 4;
        /// UNPAUSED.
        pub const UNPAUSED: i32 = 5;
        /// MIGRATION_CANCELED.
        pub const MIGRATION_CANCELED: i32 = 6;
        /// SAVE_CANCELED.
        pub const SAVE_CANCELED: i32 = 7;
        /// WAKEUP.
        pub const WAKEUP: i32 = 8;
        /// CRASHED.
        pub const CRASHED: i32 = 9;
    }
    /// PAUSED reasons.
    pub mod paused {
        /// UNKNOWN.
        pub const UNKNOWN: i32 = 0;
        /// USER.
        pub const USER: i32 = 1;
        /// SAVE.
        pub const SAVE: i32 = 3;
        /// DUMP.
        pub const DUMP: i32 = 4;
        /// IOERROR.
        pub const IOERROR: i32 = 5;
        /// WATCHDOG.
        pub const WATCHDOG: i32 = 6;
        /// FROM_SNAPSHOT.
        pub const FROM_SNAPSHOT: i32 = 7;
        /// SHUTTING_DOWN.
        pub const SHUTTING_DOWN: i32 = 8;
        /// CRASHED.
        pub const CRASHED: i32 = 10;
        /// STARTING_UP.
        pub const STARTING_UP: i32 = 11;
    }
    /// SHUTOFF reasons.
    pub mod shutoff {
        /// UNKNOWN.
        pub const UNKNOWN: i32 = 0;
        /// SHUTDOWN.
        pub const SHUTDOWN: i32 = 1;
        /// DESTROYED.
        pub const DESTROYED: i32 = 2;
        /// CRASHED.
        pub const CRASHED: i32 = 3;
        /// MIGRATED.
        pub const MIGRATED: i32 = 4;
        /// SAVED.
        pub const SAVED: i32 = 5;
        /// FAILED.
        pub const FAILED: i32 = 6;
        /// FROM_SNAPSHOT.
        pub const FROM_SNAPSHOT: i32 = 7;
        /// DAEMON.
        pub const DAEMON: i32 = 8;
    }
}

/// A state with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateReason {
    /// The state.
    pub state: DomainState,
    /// libvirt's reason number for `state`.
    pub reason: i32,
}

impl StateReason {
    /// `state` with `reason`.
    pub fn new(state: DomainState, reason: i32) -> StateReason {
        StateReason { state, reason }
    }

    /// virsh's `domstate --reason` text: "running (booted)".
    pub fn virsh_text(&self) -> String {
        format!(
            "{} ({})",
            self.state.virsh_name(),
            reason_virsh_name(self.state, self.reason)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_words_follow_libvirt_tables() {
        assert_eq!(
            StateReason::new(DomainState::Shutoff, reason::shutoff::DESTROYED).virsh_text(),
            "shut off (destroyed)"
        );
        assert_eq!(
            StateReason::new(DomainState::Running, 0).virsh_text(),
            "running (unknown)"
        );
        assert_eq!(reason_virsh_name(DomainState::Paused, 99), "unknown");
        assert_eq!(reason_virsh_name(DomainState::Paused, -1), "unknown");
        assert!(!DomainState::Shutoff.is_active());
        assert!(DomainState::Paused.is_active());
    }
}
