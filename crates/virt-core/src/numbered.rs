//! A small bus of numbered events, for the lifecycle events of networks and storage pools
//! (domain events have their own, persistent one in [`crate::events`]): every event gets the
//! next sequence number (from 1), is kept in a bounded ring for replay and sent to live
//! subscribers. Replay and the live receiver are taken under the lock that numbering takes,
//! so a subscriber starting "from N" misses nothing and sees nothing twice.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// One emitted event: its number, what it is about, what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered<S, K> {
    /// Sequence number, from 1.
    pub sequence: u64,
    /// The object (a network, a pool).
    pub subject: S,
    /// What happened.
    pub kind: K,
}

struct Inner<S, K> {
    next: u64,
    ring: VecDeque<Numbered<S, K>>,
}

/// The bus.
pub struct NumberedBus<S, K> {
    inner: Mutex<Inner<S, K>>,
    tx: broadcast::Sender<Numbered<S, K>>,
    capacity: usize,
}

impl<S: Clone, K: Clone> Default for NumberedBus<S, K> {
    fn default() -> Self {
        NumberedBus::new(1024)
    }
}

/// A subscription: the retained events asked for, then live ones.
pub struct NumberedSubscription<S, K> {
    replay: VecDeque<Numbered<S, K>>,
    rx: broadcast::Receiver<Numbered<S, K>>,
    last: u64,
}

impl<S: Clone, K: Clone> NumberedSubscription<S, K> {
    /// The next event; `None` when the bus is gone. A subscriber that fell behind the live
    /// buffer skips to what is still buffered.
    pub async fn next(&mut self) -> Option<Numbered<S, K>> {
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

impl<S: Clone, K: Clone> NumberedBus<S, K> {
    /// A bus retaining the last `capacity` events for replay.
    pub fn new(capacity: usize) -> NumberedBus<S, K> {
        let (tx, _) = broadcast::channel(capacity.max(16));
        NumberedBus {
            inner: Mutex::new(Inner {
                next: 1,
                ring: VecDeque::new(),
            }),
            tx,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S, K>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Emits one event; its sequence number.
    pub fn emit(&self, subject: S, kind: K) -> u64 {
        let mut inner = self.lock();
        let ev = Numbered {
            sequence: inner.next,
            subject,
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
        self.lock().next
    }

    /// A subscription replaying the retained events numbered `from` and above first.
    pub fn subscribe(&self, from: Option<u64>) -> NumberedSubscription<S, K> {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let replay = match from {
            Some(n) => inner
                .ring
                .iter()
                .filter(|e| e.sequence >= n)
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
        NumberedSubscription {
            replay,
            rx,
            last: inner.next - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replay_then_live_without_gaps_or_repeats() {
        let bus: NumberedBus<&str, u8> = NumberedBus::new(8);
        assert_eq!(bus.emit("a", 1), 1);
        assert_eq!(bus.emit("a", 3), 2);
        let mut sub = bus.subscribe(Some(2));
        bus.emit("a", 4);
        let a = sub.next().await.expect("replayed");
        assert_eq!((a.sequence, a.kind), (2, 3));
        let b = sub.next().await.expect("live");
        assert_eq!((b.sequence, b.kind), (3, 4));
        assert_eq!(bus.next_sequence(), 4);
    }

    #[tokio::test]
    async fn the_ring_keeps_only_the_newest() {
        let bus: NumberedBus<&str, u8> = NumberedBus::new(2);
        for k in 0..4 {
            bus.emit("p", k);
        }
        let mut sub = bus.subscribe(Some(1));
        assert_eq!(sub.next().await.map(|e| e.sequence), Some(3));
        assert_eq!(sub.next().await.map(|e| e.sequence), Some(4));
    }
}
