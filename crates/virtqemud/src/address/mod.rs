//! Device addresses as libvirt's QEMU driver assigns them when a domain is defined
//! (`qemuDomainAssignAddresses`): PCI slots, the PCI controllers those need, virtio-serial
//! ports and USB ports. The addresses are written into the definition, so a device keeps its
//! slot across restarts and a hot-plugged device finds the slots that are left.
//!
//! # PCI, in libvirt's order
//!
//! 1. Every address the definition already has is checked and reserved (an address of all
//!    zeros means "assign one", as in libvirt).
//! 2. The chipset's own devices get their fixed places: on i440fx the PIIX3 functions of slot
//!    1 (ISA bridge, IDE at 1.1, the first USB controller at 1.2), the primary video at slot
//!    2; on q35 the ICH9 functions of slot 0x1f (the first SATA controller at 1f.2), USB2
//!    companions at 1d (or 1a), a dmi-to-pci-bridge at 1e, the primary video at slot 1, an
//!    ICH9 sound card at 1b.
//! 3. The other devices take the next free slot that suits them, kind by kind: PCI
//!    controllers, filesystems, interfaces, sound cards, other controllers (USB2 companions
//!    share a slot as functions), virtio disks, host devices, the balloon, RNGs, a watchdog,
//!    secondary videos, virtio inputs, PCI serial ports, a pvpanic.
//!
//! This runs twice: dry, adding buses where nothing fits (plus, on i440fx, one spare slot;
//! on a new q35 definition, one spare pcie-root-port for hot-plug), then the controllers for
//! those buses are added and it runs for real. Finally a slot with several functions gets
//! `multifunction='on'` at function 0, and PCI controllers get their model name, chassis
//! and port.

mod pci;
mod ports;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::{Address, Controller, Devices, PciAddress};
use virt_core::model::enums::{
    ControllerType, DiskBus, InputBus, InterfaceType, MemballoonModel, PanicModel, RngModel,
    SoundModel, VideoModel, WatchdogModel,
};
use virt_core::model::DomainDef;
use virt_core::VirtError;

pub(crate) use pci::BusModel;
use pci::{connect, AddrSet};

/// An addressing error: XML_ERROR, as libvirt reports a bad address in a definition.
pub(crate) fn addr_error(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail)
}

fn located(detail: String, path: &str) -> VirtError {
    addr_error(detail).at(path)
}

/// The machine family addresses depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chipset {
    /// `pc-i440fx-*`: pci-root, PIIX3.
    I440fx,
    /// `pc-q35-*`: pcie-root, ICH9.
    Q35,
    /// Anything else: no PCI assignment.
    Other,
}

impl Chipset {
    /// The chipset of a (canonical) machine type.
    pub(crate) fn of(machine: &str) -> Chipset {
        if machine.starts_with("pc-q35") || machine == "q35" {
            Chipset::Q35
        } else if machine.starts_with("pc-i440fx") || machine == "pc" {
            Chipset::I440fx
        } else {
            Chipset::Other
        }
    }
}

/// Assigns every address `def` needs (see the module docs).
pub(crate) fn assign(def: &mut DomainDef, chipset: Chipset) -> Result<(), VirtError> {
    if chipset != Chipset::Other {
        assign_pci(def, chipset)?;
    }
    ports::assign_virtio_serial(def)?;
    ports::assign_usb(def)
}

/// Places the one device of a running guest's definition that has no address yet (just
/// added to it for hot-plug): on a slot that takes hot-plug (a free pcie-root-port on q35,
/// a free slot of pci.0 on i440fx), without adding buses; virtio-serial and USB ports too.
pub(crate) fn assign_hotplug(def: &mut DomainDef) -> Result<(), VirtError> {
    let chipset = Chipset::of(def.os.machine.as_deref().unwrap_or(""));
    if chipset != Chipset::Other {
        let nbuses = def
            .devices
            .controllers
            .iter()
            .filter(|c| c.controller_type == ControllerType::Pci)
            .map(|c| c.index as usize + 1)
            .max()
            .unwrap_or(0);
        let mut set = collect(def, nbuses, false)?;
        chipset_slots(def, &mut set, chipset)?;
        set.required = connect::HOTPLUGGABLE;
        assign_slots(def, &mut set, false).map_err(|mut e| {
            if e.detail.contains("No more available PCI slots") {
                e.detail = "no free hot-pluggable PCI slot is left (on q35 each device needs an \
                            empty pcie-root-port; add one to the definition)"
                    .into();
            }
            e
        })?;
    }
    ports::assign_virtio_serial(def)?;
    ports::assign_usb(def)
}

/// The QOM name of PCI bus `n` of a machine (`pcie.0` / `pci.0` for the root).
pub(crate) fn pci_bus_name(chipset: Chipset, n: u32) -> String {
    match (n, chipset) {
        (0, Chipset::Q35) => "pcie.0".into(),
        (n, _) => format!("pci.{n}"),
    }
}

/// One device that may sit on PCI: where it is in the document, its connect flags and its
/// address slot.
struct PciDev<'a> {
    path: String,
    flags: u32,
    addr: &'a mut Option<Address>,
}

/// An address that is present: a PCI address that is not all zeros.
fn present(a: &Option<Address>) -> Option<PciAddress> {
    match a {
        Some(Address::Pci(p)) if *p != PciAddress::default() || p.multifunction.is_some() => {
            Some(*p)
        }
        _ => None,
    }
}

/// Whether a device wants a PCI address assigned: none yet, or one of all zeros.
fn wanted(a: &Option<Address>) -> bool {
    match a {
        None => true,
        Some(Address::Pci(p)) => *p == PciAddress::default(),
        Some(_) => false,
    }
}

/// The flags of each kind of device (libvirt's `qemuDomainDeviceCalculatePCIConnectFlags`).
struct Flags {
    pcie: u32,
    virtio: u32,
}

impl Flags {
    fn of(def: &DomainDef) -> Flags {
        let pcie = if has_pcie_root(def) {
            connect::PCIE
        } else {
            connect::PCI
        };
        // QEMU 7.2 has the transitional virtio devices, so virtio goes where PCIe does.
        Flags { pcie, virtio: pcie }
    }

    fn controller(&self, c: &Controller) -> u32 {
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

fn has_pcie_root(def: &DomainDef) -> bool {
    def.devices.controllers.iter().any(|c| {
        c.controller_type == ControllerType::Pci && c.model.as_deref() == Some("pcie-root")
    })
}

fn has_pci_root(def: &DomainDef) -> bool {
    def.devices
        .controllers
        .iter()
        .any(|c| c.controller_type == ControllerType::Pci && c.model.as_deref() == Some("pci-root"))
}

/// Every device that may sit on PCI, with its flags (0 = not a PCI device).
fn pci_devices<'a>(d: &'a mut Devices, f: &Flags) -> Vec<PciDev<'a>> {
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
fn collect(def: &mut DomainDef, nbuses: usize, dry: bool) -> Result<AddrSet, VirtError> {
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

fn at(bus: u32, slot: u32, function: u32) -> PciAddress {
    PciAddress {
        domain: 0,
        bus,
        slot,
        function,
        multifunction: None,
    }
}

/// The chipset's fixed places (step 2 of the module docs).
fn chipset_slots(
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
fn assign_slots(def: &mut DomainDef, set: &mut AddrSet, dry: bool) -> Result<(), VirtError> {
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

fn assign_pci(def: &mut DomainDef, chipset: Chipset) -> Result<(), VirtError> {
    let max_idx = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.controller_type == ControllerType::Pci)
        .map(|c| i64::from(c.index))
        .max()
        .unwrap_or(-1);
    let mut nbuses = usize::try_from(max_idx + 1).unwrap_or(0);
    if nbuses > 0 {
        // First pass: how many buses are needed.
        let mut dry = def.clone();
        let mut set = collect(&mut dry, nbuses, true)?;
        chipset_slots(&mut dry, &mut set, chipset)?;
        if has_pci_root(&dry) && !set.all_full() {
            // One slot kept free on i440fx for a future bridge.
            set.reserve_next(connect::PCI, None).map_err(addr_error)?;
        }
        assign_slots(&mut dry, &mut set, true)?;
        if max_idx <= 0 && set.nbuses() > 1 && has_pcie_root(&dry) {
            // A new q35 definition gets one empty pcie-root-port for hot-plug.
            set.reserve_next(connect::PCIE, None).map_err(addr_error)?;
        }
        for i in 1..set.nbuses() {
            let exists = def
                .devices
                .controllers
                .iter()
                .any(|c| c.controller_type == ControllerType::Pci && c.index == i as u32);
            if exists {
                continue;
            }
            let model = set.buses[i].model.unwrap_or(BusModel::PciBridge);
            def.devices.controllers.push(Controller {
                controller_type: ControllerType::Pci,
                index: i as u32,
                model: Some(model.name().to_string()),
                ..Controller::default()
            });
            if !matches!(model, BusModel::PciRoot | BusModel::PcieRoot) {
                set.reserve_next(model.connect_type(), None)
                    .map_err(addr_error)?;
            }
        }
        nbuses = set.nbuses();
    }
    let mut set = collect(def, nbuses, false)?;
    chipset_slots(def, &mut set, chipset)?;
    assign_slots(def, &mut set, false)?;
    set_all_multi(&mut def.devices);
    pci_controller_defaults(def)
}

/// `multifunction='on'` at function 0 of every slot where another function is used, unless
/// the definition says `off`.
fn set_all_multi(d: &mut Devices) {
    let mut slots: Vec<(u32, u32, u32)> = Vec::new();
    for a in d.addresses_mut() {
        if let Some(Address::Pci(p)) = a {
            if p.function != 0 {
                slots.push((p.domain, p.bus, p.slot));
            }
        }
    }
    for a in d.addresses_mut() {
        if let Some(Address::Pci(p)) = a {
            if p.function == 0
                && p.multifunction.is_none()
                && slots.contains(&(p.domain, p.bus, p.slot))
            {
                p.multifunction = Some(true);
            }
        }
    }
}

fn target_set(c: &mut Controller, key: &str, value: String) {
    if !c.target.iter().any(|(k, _)| k == key) {
        c.target.push((key.to_string(), value));
    }
}

/// libvirt's print order of `<controller><target>` attributes.
const TARGET_ORDER: &[&str] = &[
    "chassisNr",
    "chassis",
    "port",
    "busNr",
    "index",
    "hotplug",
    "memReserve",
];

/// Model names, chassis and port numbers of PCI controllers, and the bridge-index rule.
fn pci_controller_defaults(def: &mut DomainDef) -> Result<(), VirtError> {
    for (i, c) in def.devices.controllers.iter_mut().enumerate() {
        if c.controller_type != ControllerType::Pci {
            continue;
        }
        let Some(model) = c.model.as_deref().and_then(BusModel::from_name) else {
            continue;
        };
        let addr = present(&c.address).unwrap_or_default();
        if c.model_name.is_none() {
            c.model_name = match model {
                BusModel::PciBridge => Some("pci-bridge"),
                BusModel::DmiToPciBridge => Some("i82801b11-bridge"),
                BusModel::PcieToPciBridge => Some("pcie-pci-bridge"),
                BusModel::PcieRootPort => Some("pcie-root-port"),
                BusModel::SwitchUpstreamPort => Some("x3130-upstream"),
                BusModel::SwitchDownstreamPort => Some("xio3130-downstream"),
                BusModel::PciExpanderBus => Some("pxb"),
                BusModel::PcieExpanderBus => Some("pxb-pcie"),
                BusModel::PciRoot | BusModel::PcieRoot => None,
            }
            .map(str::to_string);
        }
        match model {
            BusModel::PciBridge => target_set(c, "chassisNr", c.index.to_string()),
            BusModel::PcieRootPort => {
                target_set(c, "chassis", c.index.to_string());
                target_set(
                    c,
                    "port",
                    format!("{:#x}", (addr.slot << 3) + addr.function),
                );
            }
            BusModel::SwitchDownstreamPort => {
                target_set(c, "chassis", c.index.to_string());
                target_set(c, "port", format!("{:#x}", addr.slot));
            }
            _ => {}
        }
        c.target.sort_by_key(|(k, _)| {
            TARGET_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(TARGET_ORDER.len())
        });
        if model == BusModel::PciBridge && c.index <= addr.bus {
            return Err(located(
                format!(
                    "PCI controller at index {idx} ({idx:#04x}) has bus='{:#04x}', but index must be larger than bus",
                    addr.bus,
                    idx = c.index
                ),
                &format!("/domain/devices/controller[{}]", i + 1),
            ));
        }
    }
    Ok(())
}
