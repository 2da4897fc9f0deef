//! Domain events and the per-daemon event bus.
//!
//! Every event a driver emits gets the next sequence number (starting at 1) and goes into a
//! bounded ring of recent events and to every live subscriber. A subscriber that asks to start
//! "from sequence N" first gets the retained events numbered N and above, then live ones, with
//! nothing lost or repeated in between: the replay is taken and the live receiver is created
//! under one lock, the same lock that numbering and publishing take. When events at or after N
//! have already left the ring, the subscription starts with an explicit [`EventItem::Gap`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::proto::domain_event::Payload;
use crate::types::DomainHandle;

/// How many recent events the bus retains for replay.
pub const DEFAULT_RING: usize = 4096;

/// An emitted event.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// Sequence number.
    pub sequence: u64,
    /// When it was emitted.
    pub time: SystemTime,
    /// The domain.
    pub domain: DomainHandle,
    /// What happened; the payload messages of proto/virt/v1/event.proto.
    pub payload: Payload,
}

/// One item of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem {
    /// An event.
    Event(Arc<DomainEvent>),
    /// Events `first..=last` were lost (left the ring, or the subscriber fell behind).
    Gap {
        /// First missing sequence number.
        first: u64,
        /// Last missing sequence number.
        last: u64,
    },
}

struct Inner {
    next: u64,
    ring: VecDeque<Arc<DomainEvent>>,
    capacity: usize,
}

/// The event bus a driver owns.
pub struct EventBus {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<DomainEvent>>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus::new(DEFAULT_RING)
    }
}

impl EventBus {
    /// A bus retaining `capacity` events.
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus {
            inner: Mutex::new(Inner {
                next: 1,
                ring: VecDeque::with_capacity(capacity),
                capacity: capacity.max(1),
            }),
            tx,
        }
    }

    /// Numbers, retains and publishes an event; returns its sequence number.
    pub fn emit(&self, domain: DomainHandle, payload: Payload) -> u64 {
        let mut inner = self.inner.lock().expect("event bus lock poisoned");
        let sequence = inner.next;
        inner.next += 1;
        let ev = Arc::new(DomainEvent {
            sequence,
            time: SystemTime::now(),
            domain,
            payload,
        });
        if inner.ring.len() == inner.capacity {
            inner.ring.pop_front();
        }
        inner.ring.push_back(ev.clone());
        // No receivers is fine: nobody is listening.
        let _ = self.tx.send(ev);
        sequence
    }

    /// The sequence number the next event will get.
    pub fn next_sequence(&self) -> u64 {
        self.inner.lock().expect("event bus lock poisoned").next
    }

    /// Subscribes; with `from_sequence`, retained events numbered at or above it come first.
    pub fn subscribe(&self, from_sequence: Option<u64>) -> EventSubscription {
        let inner = self.inner.lock().expect("event bus lock poisoned");
        let rx = self.tx.subscribe();
        let mut backlog = VecDeque::new();
        if let Some(from) = from_sequence {
            let from = from.max(1);
            let oldest = inner.ring.front().map(|e| e.sequence).unwrap_or(inner.next);
            if from < oldest {
                backlog.push_back(EventItem::Gap {
                    first: from,
                    last: oldest - 1,
                });
            }
            backlog.extend(
                inner
                    .ring
                    .iter()
                    .filter(|e| e.sequence >= from)
                    .cloned()
                    .map(EventItem::Event),
            );
        }
        EventSubscription {
            backlog,
            rx,
            next_expected: inner.next,
        }
    }
}

/// A live subscription: replayed events first, then live ones.
pub struct EventSubscription {
    backlog: VecDeque<EventItem>,
    rx: broadcast::Receiver<Arc<DomainEvent>>,
    next_expected: u64,
}

impl EventSubscription {
    /// The next item; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<EventItem> {
        if let Some(item) = self.backlog.pop_front() {
            return Some(item);
        }
        loop {
            match self.rx.recv().await {
                Ok(ev) if ev.sequence < self.next_expected => continue,
                Ok(ev) => {
                    self.next_expected = ev.sequence + 1;
                    return Some(EventItem::Event(ev));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let first = self.next_expected;
                    self.next_expected += n;
                    return Some(EventItem::Gap {
                        first,
                        last: first + n - 1,
                    });
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{LifecycleEvent, RebootEvent};
    use crate::uuid::Uuid;

    fn dom() -> DomainHandle {
        DomainHandle {
            name: "d".into(),
            uuid: Uuid::default(),
            id: None,
        }
    }

    fn seq(item: Option<EventItem>) -> u64 {
        match item {
            Some(EventItem::Event(e)) => e.sequence,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn replay_from_n_then_live_without_gaps_or_duplicates() {
        let bus = EventBus::new(8);
        for _ in 0..5 {
            bus.emit(dom(), Payload::Reboot(RebootEvent {}));
        }
        let mut sub = bus.subscribe(Some(3));
        bus.emit(
            dom(),
            Payload::Lifecycle(LifecycleEvent {
                r#type: 1,
                detail: 0,
            }),
        );
        for want in 3..=6 {
            assert_eq!(seq(sub.next().await), want);
        }
    }

    #[tokio::test]
    async fn replay_older_than_ring_reports_gap_first() {
        let bus = EventBus::new(4);
        for _ in 0..10 {
            bus.emit(dom(), Payload::Reboot(RebootEvent {}));
        }
        let mut sub = bus.subscribe(Some(2));
        assert_eq!(sub.next().await, Some(EventItem::Gap { first: 2, last: 6 }));
        assert_eq!(seq(sub.next().await), 7);
    }

    #[tokio::test]
    async fn live_only_subscription_skips_history() {
        let bus = EventBus::new(4);
        bus.emit(dom(), Payload::Reboot(RebootEvent {}));
        let mut sub = bus.subscribe(None);
        bus.emit(dom(), Payload::Reboot(RebootEvent {}));
        assert_eq!(seq(sub.next().await), 2);
    }
}

/// Lifecycle event types and details with libvirt's numbers (virDomainEventType and the
/// per-type detail enums). The proto's LifecycleEventType is libvirt's number plus one;
/// [`lifecycle`] converts, in this one place.
pub mod lifecycle {
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
}
