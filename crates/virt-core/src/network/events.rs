//! Network lifecycle events and a small bus numbering them: every event gets the next
//! sequence number (from 1), is kept in a bounded ring for replay and sent to live
//! subscribers. Replay and the live receiver are taken under the lock that numbering takes,
//! so a subscriber starting "from N" misses nothing and sees nothing twice.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

use super::NetworkHandle;

/// virNetworkEventLifecycleType, numbered as NetworkEventType of network.proto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEventKind {
    /// Defined.
    Defined = 1,
    /// Undefined.
    Undefined = 2,
    /// Started.
    Started = 3,
    /// Stopped.
    Stopped = 4,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEvent {
    /// Sequence number.
    pub sequence: u64,
    /// The network.
    pub network: NetworkHandle,
    /// What happened.
    pub kind: NetworkEventKind,
}

struct Inner {
    next: u64,
    ring: VecDeque<NetworkEvent>,
}

/// The bus a network driver owns.
pub struct NetworkEventBus {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<NetworkEvent>,
    capacity: usize,
}

impl Default for NetworkEventBus {
    fn default() -> Self {
        NetworkEventBus::new(1024)
    }
}

/// A subscription: retained events first, then live ones.
pub struct NetworkSubscription {
    replay: VecDeque<NetworkEvent>,
    rx: broadcast::Receiver<NetworkEvent>,
    last: u64,
}

impl NetworkSubscription {
    /// The next event; `None` when the bus is gone. A subscriber that fell behind skips to
    /// what is still there.
    pub async fn next(&mut self) -> Option<NetworkEvent> {
        if let Some(e) = self.replay.pop_front() {
            self.last = e.sequence;
            return Some(e);
        }
        loop {
            match self.rx.recv().await {
                Ok(e) if e.sequence <= self.last => continue,
                Ok(e) => {
                    self.last = e.sequence;
                    return Some(e);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl NetworkEventBus {
    /// A bus retaining `capacity` events.
    pub fn new(capacity: usize) -> NetworkEventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        NetworkEventBus {
            inner: Mutex::new(Inner {
                next: 1,
                ring: VecDeque::new(),
            }),
            tx,
            capacity: capacity.max(1),
        }
    }

    /// Numbers and publishes an event; returns its sequence number.
    pub fn emit(&self, network: NetworkHandle, kind: NetworkEventKind) -> u64 {
        let mut inner = self.inner.lock().expect("network event bus lock poisoned");
        let ev = NetworkEvent {
            sequence: inner.next,
            network,
            kind,
        };
        inner.next += 1;
        if inner.ring.len() == self.capacity {
            inner.ring.pop_front();
        }
        inner.ring.push_back(ev.clone());
        let _ = self.tx.send(ev);
        inner.next - 1
    }

    /// The number the next event gets.
    pub fn next_sequence(&self) -> u64 {
        self.inner
            .lock()
            .expect("network event bus lock poisoned")
            .next
    }

    /// Subscribes; with `from`, retained events numbered `from` and above come first.
    pub fn subscribe(&self, from: Option<u64>) -> NetworkSubscription {
        let inner = self.inner.lock().expect("network event bus lock poisoned");
        let rx = self.tx.subscribe();
        let replay: VecDeque<NetworkEvent> = match from {
            Some(n) => inner
                .ring
                .iter()
                .filter(|e| e.sequence >= n)
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
        NetworkSubscription {
            replay,
            rx,
            last: inner.next - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uuid::Uuid;

    fn h(n: &str) -> NetworkHandle {
        NetworkHandle {
            name: n.into(),
            uuid: Uuid::default(),
        }
    }

    #[tokio::test]
    async fn replay_then_live_without_gaps_or_repeats() {
        let bus = NetworkEventBus::new(8);
        assert_eq!(bus.emit(h("a"), NetworkEventKind::Defined), 1);
        assert_eq!(bus.emit(h("a"), NetworkEventKind::Started), 2);
        let mut sub = bus.subscribe(Some(2));
        bus.emit(h("a"), NetworkEventKind::Stopped);
        let a = sub.next().await.expect("replayed");
        assert_eq!((a.sequence, a.kind), (2, NetworkEventKind::Started));
        let b = sub.next().await.expect("live");
        assert_eq!((b.sequence, b.kind), (3, NetworkEventKind::Stopped));
        assert_eq!(bus.next_sequence(), 4);
    }
}
