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

mod chipset;
mod devices;
mod pci;
mod ports;
mod slots;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::{Address, Controller, Devices};
use virt_core::model::enums::ControllerType;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use chipset::{chipset_slots, collect};
use devices::{has_pci_root, has_pcie_root, present};
use pci::connect;
pub(crate) use pci::BusModel;
use slots::assign_slots;

/// An addressing error: XML_ERROR, as libvirt reports a bad address in a definition.
pub(crate) fn addr_error(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail)
}

pub(super) fn located(detail: String, path: &str) -> VirtError {
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
