//! Host devices given to a guest: `<hostdev>` (PCI and USB passthrough) and `<redirdev>` (USB
//! redirection over a character device).

use super::chardev::CharSource;
use super::devices::{Address, PciAddress};

/// `<hostdev mode='subsystem'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hostdev {
    /// `type=...`: `usb` or `pci`.
    pub hostdev_type: String,
    /// `managed='yes|no'`.
    pub managed: bool,
    /// The host device.
    pub source: HostdevSource,
    /// `<boot order=...>`.
    pub boot_order: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// Guest-side `<address>`.
    pub address: Option<Address>,
}

/// `<hostdev><source>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostdevSource {
    /// `startupPolicy=...` (usb).
    pub startup_policy: Option<String>,
    /// `<vendor id=...>` (usb).
    pub usb_vendor: Option<u32>,
    /// `<product id=...>` (usb).
    pub usb_product: Option<u32>,
    /// `<address bus device>` (usb), `(bus, device)`.
    pub usb_address: Option<(u32, u32)>,
    /// `<address domain bus slot function>` (pci).
    pub pci_address: Option<PciAddress>,
}

/// `<redirdev>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redirdev {
    /// `bus=...` (`usb`).
    pub bus: String,
    /// The character device carrying the traffic (`spicevmc` or `tcp`).
    pub source: CharSource,
    /// `<boot order=...>`.
    pub boot_order: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}
