//! Lifecycle event types and details with libvirt's numbers (virDomainEventType and the
//! per-type detail enums). The proto's LifecycleEventType is libvirt's number plus one; this
//! module converts, in this one place.

use crate::proto::domain_event::Payload;
use crate::proto::LifecycleEvent;

/// DEFINED.
pub const DEFINED: i32 = 0;
/// UNDEFINED.
pub const UNDEFINED: i32 = 1;
/// STARTED.
pub const STARTED: i32 = 2;
/// SUSPENDED.
pub const SUSPENDED: i32 = 3;
/// RESUMED.
pub const RESUMED: i32 = 4;
/// STOPPED.
pub const STOPPED: i32 = 5;
/// SHUTDOWN.
pub const SHUTDOWN: i32 = 6;
/// PMSUSPENDED.
pub const PMSUSPENDED: i32 = 7;
/// CRASHED.
pub const CRASHED: i32 = 8;

/// Details of DEFINED.
pub mod defined {
    /// ADDED.
    pub const ADDED: i32 = 0;
    /// UPDATED.
    pub const UPDATED: i32 = 1;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = 3;
}
/// Details of UNDEFINED.
pub mod undefined {
    /// REMOVED.
    pub const REMOVED: i32 = 0;
}
/// Details of STARTED.
pub mod started {
    /// BOOTED.
    pub const BOOTED: i32 = 0;
    /// RESTORED.
    pub const RESTORED: i32 = 2;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = 3;
}
/// Details of SUSPENDED.
pub mod suspended {
    /// PAUSED.
    pub const PAUSED: i32 = 0;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = 5;
}
/// Details of RESUMED.
pub mod resumed {
    /// UNPAUSED.
    pub const UNPAUSED: i32 = 0;
}
/// Details of STOPPED.
pub mod stopped {
    /// SHUTDOWN.
    pub const SHUTDOWN: i32 = 0;
    /// DESTROYED.
    pub const DESTROYED: i32 = 1;
    /// CRASHED.
    pub const CRASHED: i32 = 2;
    /// SAVED.
    pub const SAVED: i32 = 4;
    /// FAILED.
    pub const FAILED: i32 = 5;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = 6;
}
/// Details of SHUTDOWN.
pub mod shutdown {
    /// FINISHED.
    pub const FINISHED: i32 = 0;
}

/// A lifecycle payload from libvirt's type and detail numbers.
pub fn payload(libvirt_type: i32, detail: i32) -> Payload {
    Payload::Lifecycle(LifecycleEvent {
        r#type: libvirt_type + 1,
        detail,
    })
}

/// libvirt's type number of a proto LifecycleEvent.
pub fn libvirt_type(ev: &LifecycleEvent) -> i32 {
    ev.r#type - 1
}

/// virsh's words for a lifecycle type and detail (libvirt numbers), e.g. ("Stopped",
/// "Destroyed").
pub fn virsh_words(libvirt_type: i32, detail: i32) -> (&'static str, &'static str) {
    const TYPES: &[&str] = &[
        "Defined",
        "Undefined",
        "Started",
        "Suspended",
        "Resumed",
        "Stopped",
        "Shutdown",
        "PMSuspended",
        "Crashed",
    ];
    let details: &[&str] = match libvirt_type {
        0 => &["Added", "Updated", "Renamed", "Snapshot"],
        1 => &["Removed", "Renamed"],
        2 => &[
            "Booted",
            "Migrated",
            "Restored",
            "Snapshot",
            "Event wakeup",
            "Recreation",
        ],
        3 => &[
            "Paused",
            "Migrated",
            "I/O Error",
            "Watchdog",
            "Restored",
            "Snapshot",
            "API error",
            "Post-copy",
            "Post-copy Error",
        ],
        4 => &[
            "Unpaused",
            "Migrated",
            "Snapshot",
            "Post-copy",
            "Post-copy Error",
        ],
        5 => &[
            "Shutdown",
            "Destroyed",
            "Crashed",
            "Migrated",
            "Saved",
            "Failed",
            "Snapshot",
            "Recreation",
        ],
        6 => &[
            "Finished",
            "Finished after guest request",
            "Finished after host request",
        ],
        7 => &["Memory", "Disk"],
        8 => &["Panicked", "Crashloaded"],
        _ => &[],
    };
    let pick = |t: &[&'static str], i: i32| -> &'static str {
        usize::try_from(i)
            .ok()
            .and_then(|i| t.get(i))
            .copied()
            .unwrap_or("unknown")
    };
    (pick(TYPES, libvirt_type), pick(details, detail))
}
