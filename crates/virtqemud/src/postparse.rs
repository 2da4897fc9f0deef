//! What the QEMU driver fills into a definition when it is defined (libvirt's
//! `qemuDomainDefPostParse` and the per-device post-parse, then `qemuDomainAssignAddresses`),
//! so `dumpxml` after a define shows what libvirt's would: the emulator, the host arch, the
//! canonical machine type (`q35` becomes `pc-q35-7.2`), the default CPU, the machine's own
//! controllers (USB, the q35 SATA, the PCI root), PS/2 mouse and keyboard, the balloon, an
//! audio backend, device models left to the driver (NIC `rtl8139`, SCSI `lsilogic`, USB by
//! machine, serial `isa-serial`, TPM version), and every device address
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
use virt_core::model::tpm::TpmBackend;
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
    if chipset == Chipset::Q35 && find(def, ControllerType::Sata, 0).is_none() {
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
            if t.model.is_none() && t.target_type.as_deref() == Some("isa-serial") {
                t.model = Some("isa-serial".into());
            }
        }
    }
    for v in &mut d.videos {
        if v.model == virt_core::model::enums::VideoModel::Qxl && v.vgamem.is_none() {
            // QEMU's QXL VGA memory default, which libvirt writes down.
            v.vgamem = Some(16 * 1024);
        }
    }
    for t in &mut d.tpms {
        if let TpmBackend::Emulator { version, .. } = &mut t.backend {
            if version.is_none() {
                *version = Some("2.0".into());
            }
        }
    }
    for disk in &mut d.disks {
        let drv = disk.driver.get_or_insert_with(Default::default);
        if drv.name.is_none() {
            drv.name = Some("qemu".into());
        }
        if drv.format.is_none() && disk.source.as_ref().is_some_and(|s| s.path.is_some()) {
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
