//! Pool lifecycle events, on a [`crate::numbered`] bus: each gets the next sequence number of
//! the daemon, is kept for replay and sent to live subscribers.

use super::PoolHandle;
use crate::numbered::{Numbered, NumberedBus, NumberedSubscription};

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

/// One emitted pool event: `subject` is the pool.
pub type PoolEvent = Numbered<PoolHandle, PoolEventType>;

/// The daemon's pool event bus.
pub type PoolEventBus = NumberedBus<PoolHandle, PoolEventType>;

/// A subscription to it.
pub type PoolSubscription = NumberedSubscription<PoolHandle, PoolEventType>;
