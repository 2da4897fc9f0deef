//! Step 3 of the assignment: every device that still wants a PCI address takes the next free
//! slot that suits it, kind by kind in libvirt's order (`qemuDomainAssignDevicePCISlots`).

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::{Address, Controller, PciAddress};
use virt_core::model::enums::{
    ControllerType, DiskBus, InputBus, InterfaceType, MemballoonModel, PanicModel, RngModel,
    WatchdogModel,
};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::chipset::at;
use super::devices::{pci_devices, present, wanted, Flags};
use super::located;
use super::pci::{connect, AddrSet};

/// Whether a controller is one of the USB2 set (EHCI1 and its UHCI companions).
fn usb2_function(c: &Controller) -> Option<(u32, Option<bool>)> {
    if c.controller_type != ControllerType::Usb {
        return None;
    }
    match c.model.as_deref() {
        Some("ich9-ehci1") => Some((7, None)),
        Some("ich9-uhci1") => Some((0, Some(true))),
        Some("ich9-uhci2") => Some((1, None)),
        Some("ich9-uhci3") => Some((2, None)),
        _ => None,
    }
}

/// Step 3 of the module docs. In a dry run nothing is written to `def`.
pub(super) fn assign_slots(
    def: &mut DomainDef,
    set: &mut AddrSet,
    dry: bool,
) -> Result<(), VirtError> {
    let f = Flags::of(def);
    let next = |set: &mut AddrSet,
                addr: &mut Option<Address>,
                flags: u32,
                function: Option<u32>,
                path: &str|
     -> Result<Option<PciAddress>, VirtError> {
        let a = set
            .reserve_next(flags, function)
            .map_err(|e| located(e, path))?;
        if !dry {
            *addr = Some(Address::Pci(a));
        }
        Ok(Some(a))
    };
    let d = &mut def.devices;
    // PCI controllers.
    for (i, c) in d.controllers.iter_mut().enumerate() {
        if c.controller_type != ControllerType::Pci
            || matches!(c.model.as_deref(), Some("pci-root") | Some("pcie-root"))
            || !wanted(&c.address)
        {
            continue;
        }
        let flags = f.controller(c);
        next(
            set,
            &mut c.address,
            flags,
            None,
            &format!("/domain/devices/controller[{}]", i + 1),
        )?;
    }
    for (i, x) in d.filesystems.iter_mut().enumerate() {
        if wanted(&x.address)
            && matches!(
                x.driver_type.as_deref(),
                None | Some("path") | Some("handle") | Some("virtiofs")
            )
        {
            next(
                set,
                &mut x.address,
                f.virtio,
                None,
                &format!("/domain/devices/filesystem[{}]", i + 1),
            )?;
        }
    }
    let flags_of: Vec<(String, u32)> = pci_devices(d, &f)
        .iter()
        .map(|p| (p.path.clone(), p.flags))
        .collect();
    let flag_at = |path: &str| {
        flags_of
            .iter()
            .find(|(p, _)| p == path)
            .map_or(0, |(_, fl)| *fl)
    };
    for (i, x) in d.interfaces.iter_mut().enumerate() {
        let path = format!("/domain/devices/interface[{}]", i + 1);
        let fl = flag_at(&path);
        if x.interface_type != InterfaceType::Hostdev && wanted(&x.address) && fl != 0 {
            next(set, &mut x.address, fl, None, &path)?;
        }
    }
    for (i, x) in d.sounds.iter_mut().enumerate() {
        let path = format!("/domain/devices/sound[{}]", i + 1);
        let fl = flag_at(&path);
        if wanted(&x.address) && fl != 0 {
            next(set, &mut x.address, fl, None, &path)?;
        }
    }
    // Other controllers: SCSI, USB, SATA, virtio-serial...
    let usb2_seen: Vec<(u32, PciAddress)> = d
        .controllers
        .iter()
        .filter(|c| usb2_function(c).is_some())
        .filter_map(|c| present(&c.address).map(|a| (c.index, a)))
        .collect();
    let mut usb2_seen = usb2_seen;
    for i in 0..d.controllers.len() {
        let path = format!("/domain/devices/controller[{}]", i + 1);
        let c = &d.controllers[i];
        let skip = match c.controller_type {
            ControllerType::Pci | ControllerType::Fdc | ControllerType::Ccid => true,
            ControllerType::Usb => c.model.as_deref() == Some("none"),
            ControllerType::Ide => c.index == 0,
            ControllerType::Scsi => c.model.as_deref() == Some("ncr53c90"),
            _ => false,
        };
        let fl = f.controller(c);
        if skip || !wanted(&c.address) || fl == 0 {
            continue;
        }
        if let Some((function, multi)) = usb2_function(c) {
            let index = c.index;
            let found = usb2_seen
                .iter()
                .find(|(idx, _)| *idx == index)
                .map(|(_, a)| *a);
            let a = match found {
                Some(base) => {
                    let mut a = at(base.bus, base.slot, function);
                    a.domain = base.domain;
                    set.reserve(&mut a, fl, true)
                        .map_err(|e| located(e, &path))?;
                    a
                }
                None => set
                    .reserve_next(fl, Some(function))
                    .map_err(|e| located(e, &path))?,
            };
            let mut a = a;
            a.multifunction = multi;
            if !dry {
                d.controllers[i].address = Some(Address::Pci(a));
            }
            usb2_seen.push((index, a));
        } else {
            let c = &mut d.controllers[i];
            next(set, &mut c.address, fl, None, &path)?;
        }
    }
    for (i, x) in d.disks.iter_mut().enumerate() {
        if x.target_bus != Some(DiskBus::Virtio) || present(&x.address).is_some() {
            continue;
        }
        let path = format!("/domain/devices/disk[{}]", i + 1);
        if !wanted(&x.address) {
            let ty = match &x.address {
                Some(Address::Drive { .. }) => "drive",
                Some(Address::Usb { .. }) => "usb",
                Some(Address::VirtioSerial { .. }) => "virtio-serial",
                Some(Address::Other { address_type, .. }) => address_type.as_str(),
                _ => "pci",
            };
            if matches!(ty, "ccw" | "virtio-mmio") {
                continue;
            }
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!("virtio disk cannot have an address of type '{ty}'"),
            )
            .at(format!("{path}/address")));
        }
        next(set, &mut x.address, f.virtio, None, &path)?;
    }
    for (i, x) in d.hostdevs.iter_mut().enumerate() {
        if x.hostdev_type == "pci" && wanted(&x.address) {
            next(
                set,
                &mut x.address,
                f.pcie,
                None,
                &format!("/domain/devices/hostdev[{}]", i + 1),
            )?;
        }
    }
    if let Some(b) = d.memballoon.as_mut() {
        let fl = match b.model {
            MemballoonModel::VirtioTransitional => connect::PCI,
            MemballoonModel::Virtio | MemballoonModel::VirtioNonTransitional => f.virtio,
            _ => 0,
        };
        if fl != 0 && wanted(&b.address) {
            next(set, &mut b.address, fl, None, "/domain/devices/memballoon")?;
        }
    }
    for (i, x) in d.rngs.iter_mut().enumerate() {
        let fl = match x.model {
            RngModel::VirtioTransitional => connect::PCI,
            _ => f.virtio,
        };
        if wanted(&x.address) {
            next(
                set,
                &mut x.address,
                fl,
                None,
                &format!("/domain/devices/rng[{}]", i + 1),
            )?;
        }
    }
    if let Some(w) = d.watchdog.as_mut() {
        if w.model == WatchdogModel::I6300esb && wanted(&w.address) {
            next(
                set,
                &mut w.address,
                connect::PCI,
                None,
                "/domain/devices/watchdog",
            )?;
        }
    }
    for (i, x) in d.videos.iter_mut().enumerate() {
        let path = format!("/domain/devices/video[{}]", i + 1);
        let fl = flag_at(&path);
        if fl != 0 && wanted(&x.address) {
            next(set, &mut x.address, fl, None, &path)?;
        }
    }
    for (i, x) in d.inputs.iter_mut().enumerate() {
        if x.bus == Some(InputBus::Virtio) && wanted(&x.address) {
            next(
                set,
                &mut x.address,
                f.virtio,
                None,
                &format!("/domain/devices/input[{}]", i + 1),
            )?;
        }
    }
    for (i, x) in d.serials.iter_mut().enumerate() {
        if x.target.target_type.as_deref() == Some("pci-serial") && wanted(&x.address) {
            next(
                set,
                &mut x.address,
                connect::PCI,
                None,
                &format!("/domain/devices/serial[{}]", i + 1),
            )?;
        }
    }
    for (i, x) in d.panics.iter_mut().enumerate() {
        if x.model == Some(PanicModel::Pvpanic) && wanted(&x.address) {
            next(
                set,
                &mut x.address,
                connect::PCI | connect::INTEGRATED,
                None,
                &format!("/domain/devices/panic[{}]", i + 1),
            )?;
        }
    }
    Ok(())
}
