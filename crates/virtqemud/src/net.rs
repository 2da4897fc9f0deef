//! Tap devices for `bridge` and `ethernet` interfaces.

use std::os::fd::OwnedFd;

/// An open tap device: its name and the queue descriptor QEMU inherits.
#[derive(Debug)]
pub struct TapDevice {
    /// The interface name (`vnet0`).
    pub name: String,
    /// The tap queue, opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR.
    pub fd: OwnedFd,
}
