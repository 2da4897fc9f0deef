//! Lifecycle event types and details with libvirt's numbers (virDomainEventType and the
//! per-type detail enums). The proto's LifecycleEventType and the Lifecycle*Detail enums are
//! libvirt's number plus one (libvirt's 0 is a real value; proto keeps 0 for _UNSPECIFIED); this
//! module converts, in this one place, and derives its libvirt-numbered constants from the
//! generated enums so no number is written twice. [`payload`] fills both the libvirt number
//! (`detail`) and the typed detail (`typed_detail`) of every lifecycle event a driver emits.

use crate::proto::domain_event::Payload;
use crate::proto::lifecycle_event::TypedDetail;
use crate::proto::{
    LifecycleDefinedDetail as Defined, LifecycleEvent, LifecycleEventType as Type,
    LifecycleResumedDetail as Resumed, LifecycleShutdownDetail as Shutdown,
    LifecycleStartedDetail as Started, LifecycleStoppedDetail as Stopped,
    LifecycleSuspendedDetail as Suspended, LifecycleUndefinedDetail as Undefined,
};

/// DEFINED.
pub const DEFINED: i32 = Type::Defined as i32 - 1;
/// UNDEFINED.
pub const UNDEFINED: i32 = Type::Undefined as i32 - 1;
/// STARTED.
pub const STARTED: i32 = Type::Started as i32 - 1;
/// SUSPENDED.
pub const SUSPENDED: i32 = Type::Suspended as i32 - 1;
/// RESUMED.
pub const RESUMED: i32 = Type::Resumed as i32 - 1;
/// STOPPED.
pub const STOPPED: i32 = Type::Stopped as i32 - 1;
/// SHUTDOWN.
pub const SHUTDOWN: i32 = Type::Shutdown as i32 - 1;
/// PMSUSPENDED.
pub const PMSUSPENDED: i32 = Type::Pmsuspended as i32 - 1;
/// CRASHED.
pub const CRASHED: i32 = Type::Crashed as i32 - 1;

/// Details of DEFINED.
pub mod defined {
    use super::Defined as D;
    /// ADDED.
    pub const ADDED: i32 = D::Added as i32 - 1;
    /// UPDATED.
    pub const UPDATED: i32 = D::Updated as i32 - 1;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = D::FromSnapshot as i32 - 1;
    /// RENAMED.
    pub const RENAMED: i32 = D::Renamed as i32 - 1;
}
/// Details of UNDEFINED.
pub mod undefined {
    use super::Undefined as D;
    /// REMOVED.
    pub const REMOVED: i32 = D::Removed as i32 - 1;
    /// RENAMED.
    pub const RENAMED: i32 = D::Renamed as i32 - 1;
}
/// Details of STARTED.
pub mod started {
    use super::Started as D;
    /// BOOTED.
    pub const BOOTED: i32 = D::Booted as i32 - 1;
    /// RESTORED.
    pub const RESTORED: i32 = D::Restored as i32 - 1;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = D::FromSnapshot as i32 - 1;
}
/// Details of SUSPENDED.
pub mod suspended {
    use super::Suspended as D;
    /// PAUSED.
    pub const PAUSED: i32 = D::Paused as i32 - 1;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = D::FromSnapshot as i32 - 1;
}
/// Details of RESUMED.
pub mod resumed {
    use super::Resumed as D;
    /// UNPAUSED.
    pub const UNPAUSED: i32 = D::Unpaused as i32 - 1;
}
/// Details of STOPPED.
pub mod stopped {
    use super::Stopped as D;
    /// SHUTDOWN.
    pub const SHUTDOWN: i32 = D::Shutdown as i32 - 1;
    /// DESTROYED.
    pub const DESTROYED: i32 = D::Destroyed as i32 - 1;
    /// CRASHED.
    pub const CRASHED: i32 = D::Crashed as i32 - 1;
    /// SAVED.
    pub const SAVED: i32 = D::Saved as i32 - 1;
    /// FAILED.
    pub const FAILED: i32 = D::Failed as i32 - 1;
    /// FROM_SNAPSHOT.
    pub const FROM_SNAPSHOT: i32 = D::FromSnapshot as i32 - 1;
}
/// Details of SHUTDOWN.
pub mod shutdown {
    use super::Shutdown as D;
    /// FINISHED.
    pub const FINISHED: i32 = D::Finished as i32 - 1;
}

/// A lifecycle payload from libvirt's type and detail numbers, with the typed detail set.
pub fn payload(libvirt_type: i32, detail: i32) -> Payload {
    Payload::Lifecycle(LifecycleEvent {
        r#type: libvirt_type + 1,
        detail,
        typed_detail: typed_detail(libvirt_type, detail),
    })
}

/// The typed detail for libvirt's type and detail numbers: the oneof case of the type, its
/// value libvirt's detail plus one. `None` for a type the schema does not know or a negative
/// detail. A detail number newer than the schema still travels (proto enums are open).
pub fn typed_detail(libvirt_type: i32, detail: i32) -> Option<TypedDetail> {
    let v = detail.checked_add(1).filter(|v| *v > 0)?;
    let t = Type::try_from(libvirt_type.checked_add(1)?).ok()?;
    Some(match t {
        Type::Unspecified => return None,
        Type::Defined => TypedDetail::Defined(v),
        Type::Undefined => TypedDetail::Undefined(v),
        Type::Started => TypedDetail::Started(v),
        Type::Suspended => TypedDetail::Suspended(v),
        Type::Resumed => TypedDetail::Resumed(v),
        Type::Stopped => TypedDetail::Stopped(v),
        Type::Shutdown => TypedDetail::Shutdown(v),
        Type::Pmsuspended => TypedDetail::Pmsuspended(v),
        Type::Crashed => TypedDetail::Crashed(v),
    })
}

/// `payload` with a lifecycle event's typed detail filled in when it lacks one (an event
/// recorded before the typed details existed, read back from the event store).
pub fn with_typed_detail(payload: Payload) -> Payload {
    match payload {
        Payload::Lifecycle(mut l) if l.typed_detail.is_none() => {
            l.typed_detail = typed_detail(l.r#type - 1, l.detail);
            Payload::Lifecycle(l)
        }
        other => other,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{
        LifecycleCrashedDetail as Crashed, LifecyclePmsuspendedDetail as PmSuspended,
    };

    #[test]
    fn typed_detail_is_libvirts_detail_plus_one_in_the_case_of_its_type() {
        // STOPPED/DESTROYED is libvirt (5, 1): the typed detail names it, so it cannot be
        // mistaken for the shut-off state reason DESTROYED (libvirt 2).
        let Payload::Lifecycle(l) = payload(STOPPED, stopped::DESTROYED) else {
            panic!("not a lifecycle payload");
        };
        assert_eq!((l.r#type, l.detail), (Type::Stopped as i32, 1));
        assert_eq!(
            l.typed_detail,
            Some(TypedDetail::Stopped(Stopped::Destroyed as i32))
        );
        assert_eq!(stopped::DESTROYED, 1);
        assert_eq!(started::BOOTED, 0);
        assert_eq!(suspended::FROM_SNAPSHOT, 5);
        assert_eq!(STOPPED, 5);
        assert_eq!(
            typed_detail(DEFINED, defined::ADDED),
            Some(TypedDetail::Defined(Defined::Added as i32))
        );
        assert_eq!(
            typed_detail(CRASHED, 1),
            Some(TypedDetail::Crashed(Crashed::Crashloaded as i32))
        );
        assert_eq!(
            typed_detail(PMSUSPENDED, 1),
            Some(TypedDetail::Pmsuspended(PmSuspended::Disk as i32))
        );
    }

    #[test]
    fn unknown_types_and_bad_details_have_no_typed_detail_and_do_not_panic() {
        assert_eq!(typed_detail(9, 0), None);
        assert_eq!(typed_detail(-1, 0), None);
        assert_eq!(typed_detail(i32::MAX, 0), None);
        assert_eq!(typed_detail(STOPPED, -1), None);
        assert_eq!(typed_detail(STOPPED, i32::MAX), None);
    }

    #[test]
    fn events_stored_without_a_typed_detail_get_one_on_reading() {
        let old = Payload::Lifecycle(LifecycleEvent {
            r#type: Type::Resumed as i32,
            detail: resumed::UNPAUSED,
            typed_detail: None,
        });
        let Payload::Lifecycle(l) = with_typed_detail(old) else {
            panic!("not a lifecycle payload");
        };
        assert_eq!(
            l.typed_detail,
            Some(TypedDetail::Resumed(Resumed::Unpaused as i32))
        );
    }
}
