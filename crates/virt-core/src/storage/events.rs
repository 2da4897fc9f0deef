//! Pool lifecycle events and their small per-daemon bus: each event gets the next sequence
//! number (from 1), goes into a bounded ring for replay and to every live subscriber. The
//! replay and the live receiver are taken under the lock that numbers and publishes, so a
//! subscriber starting "from N" misses nothing and sees nothing twice.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

use super::PoolHandle;

/// How many recent events are retained for replay.
const RING: usize = 1024;

/// libvirt's virStoragePoolEventLifecycleType (0-based, as libvirt numbers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolEventType {
    /// Defined.
    Defined = 0,
    /// Undefined.
    Undefined = 1,
    /// Started.
    Started = 2,
    /// Stopped.
    Stopped = 3,
    /// Built.
    Created = 4,
    /// Its storage deleted.
    Deleted = 5,
}

/// One emitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    /// Sequence number.
    pub sequence: u64,
    /// The pool.
    pub pool: PoolHandle,
    /// What happened.
    pub event: PoolEventType,
}

struct Inner {
    next: u64,
    ring: VecDeque<PoolEvent>,
}

/// The bus.
pub struct PoolEventBus {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<PoolEvent>,
}

impl Default for PoolEventBus {
    fn default() -> Self {
        PoolEventBus {
            inner: Mutex::new(Inner {
                next: 1,
                ring: VecDeque::new(),
            }),
            tx: broadcast::channel(1024).0,
        }
    }
}

/// A subscription: retained events first, then live ones.
pub struct PoolSubscription {
    replay: VecDeque<PoolEvent>,
    rx: broadcast::Receiver<PoolEvent>,
}

impl PoolSubscription {
    /// The next event; `None` when the bus is gone. A subscriber that fell behind skips to
    /// what is still buffered.
    pub async fn next(&mut self) -> Option<PoolEvent> {
        if let Some(e) = self.replay.pop_front() {
            return Some(e);
        }
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl PoolEventBus {
    /// Emits one event.
    pub fn emit(&self, pool: PoolHandle, event: PoolEventType) {
        let mut g = self.inner.lock().expect("pool event lock poisoned");
        let e = PoolEvent {
            sequence: g.next,
            pool,
            event,
        };
        g.next += 1;
        if g.ring.len() == RING {
            g.ring.pop_front();
        }
        g.ring.push_back(e.clone());
        let _ = self.tx.send(e);
    }

    /// A subscription replaying retained events numbered `from` and above.
    pub fn subscribe(&self, from: Option<u64>) -> PoolSubscription {
        let g = self.inner.lock().expect("pool event lock poisoned");
        let replay = match from {
            Some(n) => g.ring.iter().filter(|e| e.sequence >= n).cloned().collect(),
            None => VecDeque::new(),
        };
        PoolSubscription {
            replay,
            rx: self.tx.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uuid::Uuid;

    fn h(n: &str) -> PoolHandle {
        PoolHandle {
            name: n.into(),
            uuid: Uuid::default(),
        }
    }

    #[tokio::test]
    async fn subscriber_from_sequence_gets_replay_then_live_events_in_order() {
        let bus = PoolEventBus::default();
        bus.emit(h("a"), PoolEventType::Defined);
        bus.emit(h("a"), PoolEventType::Started);
        let mut sub = bus.subscribe(Some(2));
        bus.emit(h("a"), PoolEventType::Stopped);
        let a = sub.next().await.expect("replayed event");
        let b = sub.next().await.expect("live event");
        assert_eq!((a.sequence, a.event), (2, PoolEventType::Started));
        assert_eq!((b.sequence, b.event), (3, PoolEventType::Stopped));
    }
}
