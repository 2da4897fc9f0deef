//! Network lifecycle events, on a [`crate::numbered`] bus: each gets the next sequence number
//! of the daemon, is kept for replay and sent to live subscribers.

use super::NetworkHandle;
use crate::numbered::{Numbered, NumberedBus, NumberedSubscription};

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

/// One emitted network event: `subject` is the network.
pub type NetworkEvent = Numbered<NetworkHandle, NetworkEventKind>;

/// The daemon's network event bus.
pub type NetworkEventBus = NumberedBus<NetworkHandle, NetworkEventKind>;

/// A subscription to it.
pub type NetworkSubscription = NumberedSubscription<NetworkHandle, NetworkEventKind>;
