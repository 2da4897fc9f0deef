//! Host devices given to a guest: `<hostdev>` (PCI and USB passthrough) and `<redirdev>` (USB
//! redirection over a character device).

use super::chardev::CharSource;
use super::devices::{Address, PciAddress};

/// `<hostdev>`: `mode='subsystem'` (PCI/USB passthrough, `caps` is `None`) or
/// `mode='capabilities'` (LXC: a host block/char device node or a host NIC, `caps` is set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hostdev {
    /// `type=...`: `usb` or `pci` (subsystem); `storage`, `misc` or `net` (capabilities,
    /// matching `caps`).
    pub hostdev_type: String,
    /// `managed='yes|no'` (subsystem only).
    pub managed: bool,
    /// `<driver name=...>` (pci): the backend, `xen`, `vfio` or `kvm`.
    pub driver_name: Option<String>,
    /// The host device (subsystem mode).
    pub source: HostdevSource,
    /// The host device (capabilities mode); `Some` means `mode='capabilities'`.
    pub caps: Option<HostdevCaps>,
    /// `<boot order=...>`.
    pub boot_order: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// Guest-side `<address>`.
    pub address: Option<Address>,
}

impl Hostdev {
    /// `mode=...` as libvirt prints it.
    pub fn mode(&self) -> &'static str {
        if self.caps.is_some() {
            "capabilities"
        } else {
            "subsystem"
        }
    }
}

/// `<hostdev mode='capabilities'>`: what the container gets from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostdevCaps {
    /// `type='storage'`: `<source><block>PATH</block></source>`, a block device node.
    Storage {
        /// `<block>`: the host block device path (`/dev/sdf1`).
        block: String,
    },
    /// `type='misc'`: `<source><char>PATH</char></source>`, a character device node.
    Misc {
        /// `<char>`: the host character device path (`/dev/input/event3`).
        char_dev: String,
    },
    /// `type='net'`: `<source><interface>NAME</interface></source>`, a host NIC moved into
    /// the container, with `<ip>`/`<route>` children of `<hostdev>` applied inside.
    Net {
        /// `<interface>`: the host interface name (`eth9`).
        interface: String,
        /// `<ip>` and `<route>` (children of `<hostdev>`).
        ip: super::netip::NetIpInfo,
    },
}

impl HostdevCaps {
    /// `type=...`: `storage`, `misc` or `net`.
    pub fn type_name(&self) -> &'static str {
        match self {
            HostdevCaps::Storage { .. } => "storage",
            HostdevCaps::Misc { .. } => "misc",
            HostdevCaps::Net { .. } => "net",
        }
    }
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
    /// `writeFiltering='yes|no'` (pci, Xen): whether writes to the configuration space are
    /// filtered (xl's `permissive=0|1`, reversed).
    pub write_filtering: Option<bool>,
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
