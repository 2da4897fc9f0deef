//! Domain events and the per-daemon event bus.
//!
//! Every event a driver emits gets the next sequence number (starting at 1) and goes into a
//! bounded ring of recent events and to every live subscriber. A subscriber that asks to start
//! "from sequence N" first gets the retained events numbered N and above, then live ones, with
//! nothing lost or repeated in between: the replay is taken and the live receiver is created
//! under one lock, the same lock that numbering and publishing take. When events at or after N
//! have already left the ring, the subscription starts with an explicit [`EventItem::Gap`].
//!
//! A daemon's bus is [`EventBus::persistent`]: the ring and the next sequence number are
//! written atomically to a file in the daemon's run dir before each event is published, and
//! read back at start ([`persist`]), so numbering survives a crash or restart with no number
//! used twice, and a client resuming with `from_sequence = last_seen + 1` gets exactly what it
//! missed (or an explicit gap when that is older than the ring).

pub mod lifecycle;
pub mod persist;
pub mod wire;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
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
    /// Where the ring is persisted, for a persistent bus.
    store: Option<PathBuf>,
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
                store: None,
            }),
            tx,
        }
    }

    /// A bus retaining `capacity` events whose ring and next sequence number live in the file
    /// `store` (created with its directory if missing). What the file holds is loaded first:
    /// numbering continues after the highest number it records. A file that cannot be read or
    /// decoded is logged; when its header still gives the next number, numbering continues
    /// from there with an empty ring (a resuming client is told of the gap), otherwise it
    /// starts again at 1.
    pub fn persistent(capacity: usize, store: &Path) -> EventBus {
        let bus = EventBus::new(capacity);
        let loaded = match persist::load(store) {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::warn!(error = %err, "event store unusable; salvaging what it can");
                persist::salvage(store)
            }
        };
        {
            let mut inner = bus.inner.lock().expect("event bus lock poisoned");
            let cap = inner.capacity;
            let skip = loaded.events.len().saturating_sub(cap);
            inner
                .ring
                .extend(loaded.events.into_iter().skip(skip).map(Arc::new));
            let after_ring = inner.ring.back().map_or(1, |e| e.sequence + 1);
            inner.next = loaded.next.max(after_ring).max(1);
            inner.store = Some(store.to_path_buf());
        }
        bus
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
        if let Some(store) = &inner.store {
            // Before publishing: no client sees a number the store does not know yet.
            if let Err(err) = persist::save(store, inner.next, &inner.ring) {
                tracing::error!(error = %err, sequence, "cannot persist the event ring");
            }
        }
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
        self.subscribe_locked(&inner, from_sequence)
    }

    /// As [`EventBus::subscribe`], but a `from_sequence` beyond the next number is refused
    /// with INVALID_ARG from `domain`: the client saw numbers this bus never issued, so its
    /// numbering restarted (its store was lost, e.g. the run dir at a host reboot) and
    /// resuming would silently skip or repeat events. The client re-reads state and
    /// subscribes afresh.
    pub fn subscribe_checked(
        &self,
        from_sequence: Option<u64>,
        domain: crate::error::ErrorDomain,
    ) -> Result<EventSubscription, crate::error::VirtError> {
        let inner = self.inner.lock().expect("event bus lock poisoned");
        if let Some(from) = from_sequence.filter(|f| *f > inner.next) {
            return Err(crate::error::VirtError::new(
                crate::error::ErrorCode::InvalidArg,
                domain,
                format!(
                    "event {from} was never issued: the next event is {} (event numbering \
                     restarted, e.g. after a host reboot); subscribe without from_sequence \
                     and read the current state",
                    inner.next
                ),
            ));
        }
        Ok(self.subscribe_locked(&inner, from_sequence))
    }

    fn subscribe_locked(&self, inner: &Inner, from_sequence: Option<u64>) -> EventSubscription {
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
    /// The sequence number of the next live event this subscription will deliver (after any
    /// replayed ones); before anything is received, the bus's next number when it subscribed.
    pub fn next_sequence(&self) -> u64 {
        self.next_expected
    }

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
                typed_detail: None,
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
