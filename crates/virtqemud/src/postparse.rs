//! What the QEMU driver fills into a definition when it is defined (libvirt's
//! `qemuDomainDefPostParse` and the per-device post-parse, then `qemuDomainAssignAddresses`),
//! so `dumpxml` after a define shows what libvirt's would: the emulator, the host arch, the
//! canonical machine type (`q35` becomes `pc-q35-7.2`), the default CPU, the machine's own
//! controllers (USB, the q35 SATA, the PCI root), PS/2 mouse and keyboard, the balloon, an
//! audio backend, device models left to the driver (NIC `rtl8139`, SCSI `lsilogic`, USB by
//! machine, serial models from their target types), and every device address (TPM defaults: [`crate::tpm`])
//! ([`crate::address`]).
//!
//! Defaults are inserted where libvirt puts them: the machine's controllers before the
//! controllers the generic step added for devices that need them, other devices after those
//! of the definition. Everything here is idempotent: a definition that already has it all
//! (a stored one, or the live XML of a running guest) passes through unchanged.

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::chardev::CharTarget;
use virt_core::model::devices::{Controller, Memballoon};
use virt_core::model::display::{Audio, Input};
use virt_core::model::domain::CpuDef;
use virt_core::model::enums::{
    ControllerType, CpuCheck, CpuFallback, CpuMatch, CpuMode, GraphicsType, InputBus, InputType,
    MemballoonModel,
};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::address::{self, Chipset};

/// What the post-parse step needs to know about the emulator that will run the domain.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The emulator (`<emulator>`, or the installed one for the arch).
    pub emulator: Option<String>,
    /// The host's architecture (the default arch).
    pub host_arch: String,
    /// The emulator's version, libvirt-encoded (7002022 for 7.2.22): names versioned
    /// machine types.
    pub qemu_version: u64,
}

fn unsupported(detail: String) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail)
}

/// Fills `def` in as the QEMU driver does at define time (see the module docs).
pub(crate) fn apply(def: &mut DomainDef, t: &Target) -> Result<(), VirtError> {
    crate::seclabel::postparse(def)?;
    if def.devices.emulator.is_none() {
        def.devices.emulator = t.emulator.clone();
    }
    if def.os.arch.is_none() && def.os.os_type == "hvm" {
        def.os.arch = Some(t.host_arch.clone());
    }
    let machine = crate::command::machine_type(def, t.qemu_version);
    def.os.machine = Some(machine.clone());
    let chipset = Chipset::of(&machine);
    let x86 = matches!(def.os.arch.as_deref(), Some("x86_64" | "i686"));
    if x86 && chipset != Chipset::Other {
        default_controllers(def, chipset)?;
        default_inputs(def);
    }
    if def.devices.memballoon.is_none() {
        def.devices.memballoon = Some(Memballoon {
            model: MemballoonModel::Virtio,
            ..Memballoon::default()
        });
    }
    default_audio(def);
    device_defaults(def, chipset, x86)?;
    if x86 {
        default_cpu(def);
    }
    address::assign(def, chipset)
}

/// The default USB controller model of a machine.
fn usb_model(chipset: Chipset) -> &'static str {
    match chipset {
        Chipset::Q35 => "qemu-xhci",
        _ => "piix3-uhci",
    }
}

/// Makes a controller the generic step added for a device (a disk's SATA controller) the
/// machine's default one instead: libvirt adds its defaults before that step, so the
/// controller sits where the default goes. `false` when there is no such controller.
fn adopt_implicit(def: &mut DomainDef, ty: ControllerType, index: u32) -> bool {
    let ctls = &mut def.devices.controllers;
    let Some(at) = ctls
        .iter()
        .position(|c| c.controller_type == ty && c.index == index && c.implicit)
    else {
        return false;
    };
    let mut c = ctls.remove(at);
    c.implicit = false;
    insert_default(def, c);
    true
}

/// Inserts `c` before the first controller the generic step added implicitly.
fn insert_default(def: &mut DomainDef, c: Controller) {
    let ctls = &mut def.devices.controllers;
    let at = ctls.iter().position(|c| c.implicit).unwrap_or(ctls.len());
    ctls.insert(at, c);
}

fn find(def: &DomainDef, ty: ControllerType, index: u32) -> Option<&Controller> {
    def.devices
        .controllers
        .iter()
        .find(|c| c.controller_type == ty && c.index == index)
}

/// The machine's own controllers: USB 0, the q35 SATA 0, the PCI root.
fn default_controllers(def: &mut DomainDef, chipset: Chipset) -> Result<(), VirtError> {
    // libvirt adds the machine's controllers after the definition's own and appends the
    // generic step's ones after those: keep the implicit ones last.
    let (mut own, implicit): (Vec<Controller>, Vec<Controller>) =
        def.devices.controllers.drain(..).partition(|c| !c.implicit);
    own.extend(implicit);
    def.devices.controllers = own;
    if !def
        .devices
        .controllers
        .iter()
        .any(|c| c.controller_type == ControllerType::Usb)
    {
        insert_default(
            def,
            Controller {
                controller_type: ControllerType::Usb,
                index: 0,
                model: Some(usb_model(chipset).into()),
                ..Controller::default()
            },
        );
    }
    if chipset == Chipset::Q35
        && !adopt_implicit(def, ControllerType::Sata, 0)
        && find(def, ControllerType::Sata, 0).is_none()
    {
        insert_default(
            def,
            Controller {
                controller_type: ControllerType::Sata,
                index: 0,
                ..Controller::default()
            },
        );
    }
    let root = if chipset == Chipset::Q35 {
        "pcie-root"
    } else {
        "pci-root"
    };
    match find(def, ControllerType::Pci, 0).map(|c| c.model.clone()) {
        None => insert_default(
            def,
            Controller {
                controller_type: ControllerType::Pci,
                index: 0,
                model: Some(root.into()),
                ..Controller::default()
            },
        ),
        Some(None) => {
            if let Some(c) = def
                .devices
                .controllers
                .iter_mut()
                .find(|c| c.controller_type == ControllerType::Pci && c.index == 0)
            {
                c.model = Some(root.into());
            }
        }
        Some(Some(m)) if m != root => {
            return Err(unsupported(format!(
                "The PCI controller with index='0' must be model='{root}' for this machine \
                 type, but model='{m}' was found instead"
            ))
            .at("/domain/devices/controller/@model"))
        }
        Some(Some(_)) => {}
    }
    Ok(())
}

/// PS/2 mouse and keyboard, which every x86 PC machine has.
fn default_inputs(def: &mut DomainDef) {
    for ty in [InputType::Mouse, InputType::Keyboard] {
        let has = def
            .devices
            .inputs
            .iter()
            .any(|i| i.input_type == ty && i.bus == Some(InputBus::Ps2));
        if !has {
            def.devices.inputs.push(Input {
                input_type: ty,
                bus: Some(InputBus::Ps2),
                ..Input::default()
            });
        }
    }
}

/// libvirt 9.0 gives every QEMU domain an audio backend: SPICE's when the first display is
/// SPICE, else `none`.
fn default_audio(def: &mut DomainDef) {
    if !def.devices.audios.is_empty() {
        return;
    }
    let spice = def
        .devices
        .graphics
        .first()
        .is_some_and(|g| g.graphics_type == GraphicsType::Spice);
    def.devices.audios.push(Audio {
        id: 1,
        audio_type: if spice { "spice" } else { "none" }.into(),
    });
}

fn device_defaults(def: &mut DomainDef, chipset: Chipset, x86: bool) -> Result<(), VirtError> {
    let d = &mut def.devices;
    for n in &mut d.interfaces {
        if n.model.is_none() && x86 {
            n.model = Some("rtl8139".into());
        }
    }
    for (i, c) in d.controllers.iter_mut().enumerate() {
        match c.controller_type {
            ControllerType::Usb if c.model.is_none() && chipset != Chipset::Other => {
                c.model = Some(usb_model(chipset).into());
            }
            ControllerType::Scsi if c.model.is_none() => c.model = Some("lsilogic".into()),
            ControllerType::Pci if c.model.is_none() && c.index > 0 => {
                return Err(VirtError::new(
                    ErrorCode::InternalError,
                    ErrorDomain::Qemu,
                    "PCI controller model was not set correctly",
                )
                .at(format!("/domain/devices/controller[{}]/@model", i + 1)))
            }
            _ => {}
        }
    }
    if x86 {
        for s in &mut d.serials {
            let t: &mut CharTarget = &mut s.target;
            if t.target_type.is_none() {
                t.target_type = Some("isa-serial".into());
            }
            // Each x86 target type has the model of the same name.
            let model = t
                .target_type
                .as_deref()
                .filter(|ty| matches!(*ty, "isa-serial" | "usb-serial" | "pci-serial"));
            if t.model.is_none() {
                t.model = model.map(String::from);
            }
        }
    }
    for v in &mut d.videos {
        if v.model == virt_core::model::enums::VideoModel::Qxl && v.vgamem.is_none() {
            // QEMU's QXL VGA memory default, which libvirt writes down.
            v.vgamem = Some(16 * 1024);
        }
    }
    for disk in &mut d.disks {
        let drv = disk.driver.get_or_insert_with(Default::default);
        if drv.name.is_none() {
            drv.name = Some("qemu".into());
        }
        if drv.format.is_none() {
            drv.format = Some("raw".into());
        }
    }
    Ok(())
}

/// The CPU QEMU gives an x86 guest that names none (`qemu64`), and libvirt's defaults for
/// `check`, `match`, `fallback` and `migratable` by mode.
fn default_cpu(def: &mut DomainDef) {
    let cpu = def.cpu.get_or_insert_with(CpuDef::default);
    let mode = cpu.mode.unwrap_or(CpuMode::Custom);
    match mode {
        CpuMode::Custom => {
            if cpu.model.is_none() {
                cpu.model = Some("qemu64".into());
                cpu.fallback.get_or_insert(CpuFallback::Forbid);
            }
            cpu.mode = Some(CpuMode::Custom);
            cpu.match_.get_or_insert(CpuMatch::Exact);
            cpu.check.get_or_insert(CpuCheck::None);
            cpu.fallback.get_or_insert(CpuFallback::Allow);
        }
        CpuMode::HostPassthrough => {
            cpu.check.get_or_insert(CpuCheck::None);
            cpu.migratable.get_or_insert(true);
        }
        CpuMode::HostModel => {
            cpu.check.get_or_insert(CpuCheck::Partial);
        }
        CpuMode::Maximum => {
            cpu.check.get_or_insert(CpuCheck::None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::model::devices::{Address, Disk};
    use virt_core::model::enums::DiskBus;

    fn target() -> Target {
        Target {
            emulator: Some("/usr/bin/qemu-system-x86_64".into()),
            host_arch: "x86_64".into(),
            qemu_version: 7_002_022,
        }
    }

    fn parsed(xml: &str) -> DomainDef {
        virt_xml::parse_domain(xml).expect("test XML parses")
    }

    const Q35: &str = "<domain type='qemu'><name>a</name><memory>131072</memory>\
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>\
        <disk type='file' device='disk'><source file='/x'/><target dev='vda' bus='virtio'/></disk>\
        <interface type='user'><model type='rtl8139'/></interface></devices></domain>";

    #[test]
    fn a_filled_definition_passes_through_unchanged() {
        let mut def = parsed(Q35);
        apply(&mut def, &target()).expect("first");
        let once = def.clone();
        apply(&mut def, &target()).expect("second");
        assert_eq!(def, once);
        assert_eq!(def.os.machine.as_deref(), Some("pc-q35-7.2"));
        // The legacy NIC sits behind a pcie-to-pci-bridge on a root port of its own.
        let bridge = def
            .devices
            .controllers
            .iter()
            .find(|c| c.model.as_deref() == Some("pcie-to-pci-bridge"))
            .expect("bridge");
        match &def.devices.interfaces[0].address {
            Some(Address::Pci(p)) => assert_eq!((p.bus, p.slot), (bridge.index, 1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pci_address_in_slot_0_of_the_root_bus_is_an_xml_error_naming_the_device() {
        let xml = Q35.replace(
            "<target dev='vda' bus='virtio'/>",
            "<target dev='vda' bus='virtio'/><address type='pci' domain='0' bus='0' slot='0' \
             function='1'/>",
        );
        let e = apply(&mut parsed(&xml), &target()).expect_err("slot 0");
        assert_eq!(e.code, ErrorCode::XmlError);
        assert!(
            e.detail.contains("0000:00:00.1. slot must be >= 1"),
            "{}",
            e.detail
        );
        assert_eq!(e.violations[0].path, "/domain/devices/disk[1]/address");
        let xml = Q35.replace(
            "<target dev='vda' bus='virtio'/>",
            "<target dev='vda' bus='virtio'/><address type='pci' bus='9' slot='1'/>",
        );
        // Bus 9 becomes a root port (as in libvirt), whose only slot is 0.
        let e = apply(&mut parsed(&xml), &target()).expect_err("slot 1 of a port");
        assert!(
            e.detail
                .contains("Invalid PCI address 0000:09:01.0. slot must be <= 0"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn a_hot_plugged_disk_takes_the_spare_root_port() {
        let mut def = parsed(Q35);
        apply(&mut def, &target()).expect("define");
        let used: Vec<u32> = def
            .devices
            .addresses_mut()
            .into_iter()
            .filter_map(|a| match a {
                Some(Address::Pci(p)) => Some(p.bus),
                _ => None,
            })
            .collect();
        let spare = def
            .devices
            .controllers
            .iter()
            .filter(|c| c.model.as_deref() == Some("pcie-root-port"))
            .map(|c| c.index)
            .find(|i| !used.contains(i))
            .expect("a spare root port");
        def.devices.disks.push(Disk {
            target_dev: "vdb".into(),
            target_bus: Some(DiskBus::Virtio),
            ..Disk::default()
        });
        crate::address::assign_hotplug(&mut def).expect("placed");
        match &def.devices.disks[1].address {
            Some(Address::Pci(p)) => assert_eq!((p.bus, p.slot), (spare, 0)),
            other => panic!("{other:?}"),
        }
        // No slot is left for a second one: a clear error, not a guess.
        def.devices.disks.push(Disk {
            target_dev: "vdc".into(),
            target_bus: Some(DiskBus::Virtio),
            ..Disk::default()
        });
        let e = crate::address::assign_hotplug(&mut def).expect_err("full");
        assert!(
            e.detail.contains("no free hot-pluggable PCI slot"),
            "{}",
            e.detail
        );
    }
}
