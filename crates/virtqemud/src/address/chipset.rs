//! Reserving what the definition names, and the chipset's fixed places: the PIIX3 functions
//! of i440fx's slot 1 and the ICH9 ones of q35's slot 0x1f, the primary video, the ICH9 sound
//! card, USB2 companions and the DMI bridge where real hardware has them.

use virt_core::model::devices::{Address, Controller, PciAddress};
use virt_core::model::enums::{ControllerType, SoundModel, VideoModel};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::devices::{pci_devices, present, wanted, Flags};
use super::pci::{connect, AddrSet, BusModel};
use super::{addr_error, located, Chipset};

/// The PIIX3's IDE (1.1) and first USB controller (1.2) are reserved by the chipset step,
/// not collected.
fn is_piix3_builtin(c: &Controller, a: &PciAddress) -> bool {
    if a.domain != 0 || a.bus != 0 || a.slot != 1 || c.index != 0 {
        return false;
    }
    match c.controller_type {
        ControllerType::Ide => a.function == 1,
        ControllerType::Usb => {
            matches!(c.model.as_deref(), None | Some("piix3-uhci")) && a.function == 2
        }
        _ => false,
    }
}

/// A set of `nbuses` buses with every address the definition has reserved.
pub(super) fn collect(def: &mut DomainDef, nbuses: usize, dry: bool) -> Result<AddrSet, VirtError> {
    let mut set = AddrSet::new(def, nbuses, dry)?;
    let f = Flags::of(def);
    let builtin: Vec<String> = def
        .devices
        .controllers
        .iter()
        .enumerate()
        .filter(|(_, c)| present(&c.address).is_some_and(|a| is_piix3_builtin(c, &a)))
        .map(|(i, _)| format!("/domain/devices/controller[{}]", i + 1))
        .collect();
    for d in pci_devices(&mut def.devices, &f) {
        let Some(mut a) = present(d.addr) else {
            continue;
        };
        if builtin.contains(&d.path) {
            continue;
        }
        // A device that should not have a PCI address but has one is taken as a plain PCI
        // device (libvirt keeps such definitions loadable the same way).
        let flags = if d.flags == 0 {
            connect::PCI_DEVICE
        } else {
            d.flags
        };
        set.reserve(&mut a, flags, true)
            .map_err(|e| located(e, &format!("{}/address", d.path)))?;
        *d.addr = Some(Address::Pci(a));
    }
    Ok(set)
}

pub(super) fn at(bus: u32, slot: u32, function: u32) -> PciAddress {
    PciAddress {
        domain: 0,
        bus,
        slot,
        function,
        multifunction: None,
    }
}

/// The chipset's fixed places (step 2 of the module docs).
pub(super) fn chipset_slots(
    def: &mut DomainDef,
    set: &mut AddrSet,
    chipset: Chipset,
) -> Result<(), VirtError> {
    match chipset {
        Chipset::I440fx => piix3(def, set),
        Chipset::Q35 => ich9(def, set),
        Chipset::Other => Ok(()),
    }
}

fn fixed(
    c: &mut Controller,
    want: PciAddress,
    what: &str,
    path: String,
) -> Result<Option<PciAddress>, VirtError> {
    match present(&c.address) {
        Some(a) if a.bus == want.bus && a.slot == want.slot && a.function == want.function => {
            Ok(Some(a))
        }
        Some(_) => Err(located(
            format!(
                "{what} must have PCI address {}:{}:{:x}.{:x}",
                want.domain, want.bus, want.slot, want.function
            ),
            &path,
        )),
        None => {
            c.address = Some(Address::Pci(want));
            Ok(Some(want))
        }
    }
}

fn piix3(def: &mut DomainDef, set: &mut AddrSet) -> Result<(), VirtError> {
    let flags = connect::PCI;
    for (i, c) in def.devices.controllers.iter_mut().enumerate() {
        let path = format!("/domain/devices/controller[{}]/address", i + 1);
        let got = match (c.controller_type, c.index, c.model.as_deref()) {
            (ControllerType::Ide, 0, _) => fixed(c, at(0, 1, 1), "Primary IDE controller", path)?,
            (ControllerType::Usb, 0, None | Some("piix3-uhci")) => {
                fixed(c, at(0, 1, 2), "PIIX3 USB controller at index 0", path)?
            }
            _ => None,
        };
        if let Some(mut a) = got {
            if set.nbuses() > 0 {
                set.reserve(&mut a, flags, true)
                    .map_err(|e| located(e, "/domain/devices/controller"))?;
            }
        }
    }
    if set.nbuses() > 0 {
        for f in [0, 3] {
            set.reserve(&mut at(0, 1, f), flags, true)
                .map_err(addr_error)?;
        }
    }
    primary_video(def, set, 2, flags)
}

fn primary_video(
    def: &mut DomainDef,
    set: &mut AddrSet,
    slot: u32,
    flags: u32,
) -> Result<(), VirtError> {
    let Some(v) = def.devices.videos.first_mut() else {
        return Ok(());
    };
    if matches!(v.model, VideoModel::None | VideoModel::Ramfb) || !wanted(&v.address) {
        return Ok(());
    }
    let mut a = at(0, slot, 0);
    set.validate(&a, flags, true).map_err(addr_error)?;
    if set.slot_in_use(&a) {
        let vf = Flags::of_video(v.model, def_pcie(set));
        a = set.reserve_next(vf, None).map_err(addr_error)?;
    } else {
        set.reserve(&mut a, flags, true).map_err(addr_error)?;
    }
    def.devices.videos[0].address = Some(Address::Pci(a));
    Ok(())
}

fn def_pcie(set: &AddrSet) -> bool {
    set.buses
        .first()
        .is_some_and(|b| b.model == Some(BusModel::PcieRoot))
}

impl Flags {
    fn of_video(model: VideoModel, pcie_root: bool) -> u32 {
        let pcie = if pcie_root {
            connect::PCIE
        } else {
            connect::PCI
        };
        match model {
            VideoModel::Virtio | VideoModel::Bochs => pcie,
            _ => connect::PCI,
        }
    }
}

fn ich9(def: &mut DomainDef, set: &mut AddrSet) -> Result<(), VirtError> {
    let flags = connect::PCIE_DEVICE;
    for (i, c) in def.devices.controllers.iter_mut().enumerate() {
        let path = format!("/domain/devices/controller[{}]/address", i + 1);
        match (c.controller_type, c.model.as_deref()) {
            (ControllerType::Sata, _) if c.index == 0 => {
                fixed(c, at(0, 0x1f, 2), "Primary SATA controller", path)?;
            }
            (ControllerType::Usb, Some("ich9-uhci1")) if c.address.is_none() => {
                let slot = [0x1d, 0x1a]
                    .into_iter()
                    .find(|s| !set.slot_in_use(&at(0, *s, 0)));
                if let Some(slot) = slot {
                    let mut a = at(0, slot, 0);
                    set.reserve(&mut a, flags, true).map_err(addr_error)?;
                    a.multifunction = Some(true);
                    c.address = Some(Address::Pci(a));
                }
            }
            (ControllerType::Pci, Some("dmi-to-pci-bridge")) if c.address.is_none() => {
                let mut a = at(0, 0x1e, 0);
                if !set.slot_in_use(&a) {
                    set.reserve(&mut a, flags, true).map_err(addr_error)?;
                    c.address = Some(Address::Pci(a));
                }
            }
            _ => {}
        }
    }
    if set.nbuses() > 0 {
        let mut lpc = at(0, 0x1f, 0);
        lpc.multifunction = Some(true);
        set.reserve(&mut lpc, flags, true).map_err(addr_error)?;
        set.reserve(&mut at(0, 0x1f, 3), flags, true)
            .map_err(addr_error)?;
    }
    primary_video(def, set, 1, flags)?;
    let hda = at(0, 0x1b, 0);
    if !set.slot_in_use(&hda) {
        if let Some(s) = def
            .devices
            .sounds
            .iter_mut()
            .find(|s| s.model == SoundModel::Ich9 && wanted(&s.address))
        {
            set.reserve(&mut hda.clone(), flags, true)
                .map_err(addr_error)?;
            s.address = Some(Address::Pci(hda));
        }
    }
    Ok(())
}
