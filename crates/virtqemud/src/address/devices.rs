//! Which devices sit on PCI and what slot each needs (libvirt's
//! `qemuDomainDeviceCalculatePCIConnectFlags`), and whether an address is present or wanted.

use virt_core::model::devices::{Address, Controller, Devices, PciAddress};
use virt_core::model::enums::{
    ControllerType, DiskBus, InputBus, InterfaceType, MemballoonModel, PanicModel, RngModel,
    SoundModel, VideoModel, WatchdogModel,
};
use virt_core::model::DomainDef;

use super::pci::{connect, BusModel};

/// One device that may sit on PCI: where it is in the document, its connect flags and its
/// address slot.
pub(super) struct PciDev<'a> {
    pub path: String,
    pub flags: u32,
    pub addr: &'a mut Option<Address>,
}

/// An address that is present: a PCI address that is not all zeros.
pub(super) fn present(a: &Option<Address>) -> Option<PciAddress> {
    match a {
        Some(Address::Pci(p)) if *p != PciAddress::default() || p.multifunction.is_some() => {
            Some(*p)
        }
        _ => None,
    }
}

/// Whether a device wants a PCI address assigned: none yet, or one of all zeros.
pub(super) fn wanted(a: &Option<Address>) -> bool {
    match a {
        None => true,
        Some(Address::Pci(p)) => *p == PciAddress::default(),
        Some(_) => false,
    }
}

/// The flags of each kind of device (libvirt's `qemuDomainDeviceCalculatePCIConnectFlags`).
pub(super) struct Flags {
    pub pcie: u32,
    pub virtio: u32,
}

impl Flags {
    pub(super) fn of(def: &DomainDef) -> Flags {
        let pcie = if has_pcie_root(def) {
            connect::PCIE
        } else {
            connect::PCI
        };
        // QEMU 7.2 has the transitional virtio devices, so virtio goes where PCIe does.
        Flags { pcie, virtio: pcie }
    }

    pub(super) fn controller(&self, c: &Controller) -> u32 {
        let m = c.model.as_deref();
        match c.controller_type {
            ControllerType::Pci => m
                .and_then(BusModel::from_name)
                .map_or(0, BusModel::connect_type),
            ControllerType::Sata | ControllerType::Ide => connect::PCI,
            ControllerType::Usb => match m {
                Some("none") | Some("qusb1") | Some("qusb2") => 0,
                Some("qemu-xhci") | Some("nec-xhci") => self.pcie,
                _ => connect::PCI,
            },
            ControllerType::Scsi => match m {
                None | Some("ncr53c90") => 0,
                Some("virtio-scsi") | Some("virtio-non-transitional") => self.virtio,
                _ => connect::PCI,
            },
            ControllerType::VirtioSerial => match m {
                Some("virtio-transitional") => connect::PCI,
                _ => self.virtio,
            },
            _ => 0,
        }
    }
}

pub(super) fn has_pcie_root(def: &DomainDef) -> bool {
    def.devices.controllers.iter().any(|c| {
        c.controller_type == ControllerType::Pci && c.model.as_deref() == Some("pcie-root")
    })
}

pub(super) fn has_pci_root(def: &DomainDef) -> bool {
    def.devices
        .controllers
        .iter()
        .any(|c| c.controller_type == ControllerType::Pci && c.model.as_deref() == Some("pci-root"))
}

/// Every device that may sit on PCI, with its flags (0 = not a PCI device).
pub(super) fn pci_devices<'a>(d: &'a mut Devices, f: &Flags) -> Vec<PciDev<'a>> {
    let dev = "/domain/devices";
    let mut out = Vec::new();
    let Devices {
        disks,
        controllers,
        filesystems,
        interfaces,
        sounds,
        videos,
        hostdevs,
        watchdog,
        memballoon,
        rngs,
        inputs,
        serials,
        panics,
        ..
    } = d;
    for (i, x) in disks.iter_mut().enumerate() {
        let flags = if x.target_bus == Some(DiskBus::Virtio) {
            f.virtio
        } else {
            0
        };
        out.push(PciDev {
            path: format!("{dev}/disk[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in controllers.iter_mut().enumerate() {
        let flags = f.controller(x);
        out.push(PciDev {
            path: format!("{dev}/controller[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in filesystems.iter_mut().enumerate() {
        let flags = match x.driver_type.as_deref() {
            None | Some("path") | Some("handle") | Some("virtiofs") => f.virtio,
            _ => 0,
        };
        out.push(PciDev {
            path: format!("{dev}/filesystem[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in interfaces.iter_mut().enumerate() {
        let flags = match (x.interface_type, x.model.as_deref()) {
            (InterfaceType::Hostdev, _) | (_, Some("usb-net")) => 0,
            (_, Some("virtio") | Some("virtio-non-transitional")) => f.virtio,
            (_, Some("virtio-transitional")) => connect::PCI,
            (_, Some("e1000e") | Some("igb") | None) => f.pcie,
            _ => connect::PCI,
        };
        out.push(PciDev {
            path: format!("{dev}/interface[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in sounds.iter_mut().enumerate() {
        let flags = match x.model {
            SoundModel::Es1370 | SoundModel::Ac97 | SoundModel::Ich6 | SoundModel::Ich9 => {
                connect::PCI
            }
            _ => 0,
        };
        out.push(PciDev {
            path: format!("{dev}/sound[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in videos.iter_mut().enumerate() {
        let flags = match x.model {
            VideoModel::Virtio => f.virtio,
            VideoModel::Bochs => f.pcie,
            VideoModel::None | VideoModel::Ramfb | VideoModel::Gop => 0,
            _ => connect::PCI,
        };
        out.push(PciDev {
            path: format!("{dev}/video[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in hostdevs.iter_mut().enumerate() {
        let flags = if x.hostdev_type == "pci" { f.pcie } else { 0 };
        out.push(PciDev {
            path: format!("{dev}/hostdev[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    if let Some(x) = watchdog {
        let flags = if x.model == WatchdogModel::I6300esb {
            connect::PCI
        } else {
            0
        };
        out.push(PciDev {
            path: format!("{dev}/watchdog"),
            flags,
            addr: &mut x.address,
        });
    }
    if let Some(x) = memballoon {
        let flags = match x.model {
            MemballoonModel::VirtioTransitional => connect::PCI,
            MemballoonModel::Virtio | MemballoonModel::VirtioNonTransitional => f.virtio,
            _ => 0,
        };
        out.push(PciDev {
            path: format!("{dev}/memballoon"),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in rngs.iter_mut().enumerate() {
        let flags = match x.model {
            RngModel::VirtioTransitional => connect::PCI,
            _ => f.virtio,
        };
        out.push(PciDev {
            path: format!("{dev}/rng[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in inputs.iter_mut().enumerate() {
        let flags = if x.bus == Some(InputBus::Virtio) {
            f.virtio
        } else {
            0
        };
        out.push(PciDev {
            path: format!("{dev}/input[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in serials.iter_mut().enumerate() {
        let flags = if x.target.target_type.as_deref() == Some("pci-serial") {
            connect::PCI
        } else {
            0
        };
        out.push(PciDev {
            path: format!("{dev}/serial[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    for (i, x) in panics.iter_mut().enumerate() {
        let flags = if x.model == Some(PanicModel::Pvpanic) {
            connect::PCI | connect::INTEGRATED
        } else {
            0
        };
        out.push(PciDev {
            path: format!("{dev}/panic[{}]", i + 1),
            flags,
            addr: &mut x.address,
        });
    }
    out
}
