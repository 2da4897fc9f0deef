//! Device aliases, as libvirt's QEMU driver names devices when a domain starts
//! (`qemuAssignDeviceAliases`). The alias is the device's QOM id on the command line, the
//! name QMP calls use (`device_del`, block stats, the balloon), and `<alias name=...>` in the
//! live XML. User aliases (`ua-...`) are kept as they are.
//!
//! Names: disks `virtio-disk<N>` (N from the target name: `vdb` is 1), or from their drive
//! address `<bus><controller>-<bus>-<unit>` (`sata0-0-0`, `ide0-1-0`), SCSI
//! `scsi<c>-<b>-<t>-<u>` (three parts for lsilogic); `net<N>`; controllers `pci.<N>` (the q35
//! root `pcie.0`), the first USB controller `usb`, then `usb<N>`, the i440fx IDE and the q35
//! SATA built into the machine `ide`, others `<type><index>`; `sound<N>`, `video<N>`,
//! `input<N>`, `hostdev<N>`, `redir<N>`, `serial<N>`, `parallel<N>`, `channel<N>`,
//! `console<N>` (a serial console is `serial0`), `rng<N>`, `tpm<N>`, `fs<N>`, `watchdog0`,
//! `balloon0`.

use virt_core::model::devices::{Address, Controller, Disk};
use virt_core::model::enums::{ControllerType, DiskBus};
use virt_core::model::DomainDef;

use crate::address::Chipset;

/// Names a device that has no name yet; a device keeps the name it has (its user alias,
/// or the name it was given when it started or was hot-plugged).
fn set(slot: &mut Option<String>, name: String) {
    if slot.is_none() {
        *slot = Some(name);
    }
}

/// Names the unnamed devices of one kind `<prefix><N>`, N counting on from the highest
/// number the kind already uses (libvirt's rule for hot-plugged devices; at start nothing
/// is named yet, so the devices are numbered in order).
fn numbered(prefix: &str, slots: Vec<&mut Option<String>>) {
    let mut next = slots
        .iter()
        .filter_map(|a| a.as_deref()?.strip_prefix(prefix)?.parse::<u32>().ok())
        .map(|n| n + 1)
        .max()
        .unwrap_or(0);
    for a in slots {
        if a.is_none() {
            *a = Some(format!("{prefix}{next}"));
            next += 1;
        }
    }
}

/// The alias of a disk; `None` when its target name says nothing libvirt can number.
pub(crate) fn disk_alias(def: &DomainDef, d: &Disk) -> Option<String> {
    let bus = d.target_bus.unwrap_or(DiskBus::Virtio);
    match (&d.address, bus) {
        (
            Some(Address::Drive {
                controller,
                bus: b,
                target,
                unit,
            }),
            DiskBus::Scsi,
        ) => {
            let lsi = def.devices.controllers.iter().any(|c| {
                c.controller_type == ControllerType::Scsi
                    && c.index == *controller
                    && c.model.as_deref() == Some("lsilogic")
            });
            Some(if lsi {
                format!("scsi{controller}-{b}-{unit}")
            } else {
                format!("scsi{controller}-{b}-{target}-{unit}")
            })
        }
        (
            Some(Address::Drive {
                controller,
                bus: b,
                unit,
                ..
            }),
            _,
        ) => Some(format!("{bus}{controller}-{b}-{unit}")),
        _ => Some(format!(
            "{bus}-disk{}",
            crate::command::disk_index(&d.target_dev)?
        )),
    }
}

/// The alias of a controller.
pub(crate) fn controller_alias(chipset: Chipset, c: &Controller) -> String {
    match c.controller_type {
        ControllerType::Pci if c.index == 0 && chipset == Chipset::Q35 => "pcie.0".into(),
        ControllerType::Pci => format!("pci.{}", c.index),
        ControllerType::Usb if c.index == 0 => "usb".into(),
        ControllerType::Ide if c.index == 0 && chipset == Chipset::I440fx => "ide".into(),
        ControllerType::Sata if c.index == 0 && chipset == Chipset::Q35 => "ide".into(),
        t => format!("{t}{}", c.index),
    }
}

/// Names every device of `def` that has no name yet (see the module docs).
pub(crate) fn assign(def: &mut DomainDef) {
    let chipset = Chipset::of(def.os.machine.as_deref().unwrap_or(""));
    let disk_names: Vec<Option<String>> = def
        .devices
        .disks
        .iter()
        .map(|d| disk_alias(def, d))
        .collect();
    let d = &mut def.devices;
    for (x, name) in d.disks.iter_mut().zip(disk_names) {
        if let Some(name) = name {
            set(&mut x.alias, name);
        }
    }
    for x in &mut d.controllers {
        let name = controller_alias(chipset, x);
        set(&mut x.alias, name);
    }
    numbered(
        "fs",
        d.filesystems.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "net",
        d.interfaces.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "smartcard",
        d.smartcards.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered("sound", d.sounds.iter_mut().map(|x| &mut x.alias).collect());
    numbered("video", d.videos.iter_mut().map(|x| &mut x.alias).collect());
    numbered("input", d.inputs.iter_mut().map(|x| &mut x.alias).collect());
    numbered(
        "hostdev",
        d.hostdevs.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "redir",
        d.redirdevs.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "serial",
        d.serials.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "parallel",
        d.parallels.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered(
        "channel",
        d.channels.iter_mut().map(|x| &mut x.alias).collect(),
    );
    numbered("rng", d.rngs.iter_mut().map(|x| &mut x.alias).collect());
    numbered("tpm", d.tpms.iter_mut().map(|x| &mut x.alias).collect());
    numbered("hub", d.hubs.iter_mut().map(|x| &mut x.alias).collect());
    let serial0 = d.serials.first().and_then(|s| s.alias.clone());
    for (i, c) in d.consoles.iter_mut().enumerate() {
        let name = match (i, c.target.target_type.as_deref(), &serial0) {
            (0, Some("serial") | None, Some(s)) => s.clone(),
            _ => format!("console{i}"),
        };
        set(&mut c.alias, name);
    }
    if let Some(w) = d.watchdog.as_mut() {
        set(&mut w.alias, "watchdog0".into());
    }
    if let Some(b) = d.memballoon.as_mut() {
        set(&mut b.alias, "balloon0".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::model::devices::Interface;

    #[test]
    fn devices_get_libvirts_names_and_user_aliases_stay() {
        let mut def = DomainDef::default();
        def.os.machine = Some("pc-q35-7.2".into());
        def.devices.disks.push(Disk {
            target_dev: "vdb".into(),
            target_bus: Some(DiskBus::Virtio),
            ..Disk::default()
        });
        def.devices.disks.push(Disk {
            target_dev: "sda".into(),
            target_bus: Some(DiskBus::Sata),
            address: Some(Address::Drive {
                controller: 0,
                bus: 0,
                target: 0,
                unit: 0,
            }),
            ..Disk::default()
        });
        for (t, i) in [
            (ControllerType::Pci, 0),
            (ControllerType::Pci, 3),
            (ControllerType::Sata, 0),
            (ControllerType::Usb, 0),
            (ControllerType::VirtioSerial, 0),
        ] {
            def.devices.controllers.push(Controller {
                controller_type: t,
                index: i,
                ..Controller::default()
            });
        }
        def.devices.interfaces.push(Interface::default());
        def.devices.interfaces.push(Interface {
            alias: Some("ua-uplink".into()),
            ..Interface::default()
        });
        assign(&mut def);
        let d = &def.devices;
        assert_eq!(d.disks[0].alias.as_deref(), Some("virtio-disk1"));
        assert_eq!(d.disks[1].alias.as_deref(), Some("sata0-0-0"));
        let ctl: Vec<&str> = d
            .controllers
            .iter()
            .filter_map(|c| c.alias.as_deref())
            .collect();
        assert_eq!(ctl, ["pcie.0", "pci.3", "ide", "usb", "virtio-serial0"]);
        assert_eq!(d.interfaces[0].alias.as_deref(), Some("net0"));
        assert_eq!(d.interfaces[1].alias.as_deref(), Some("ua-uplink"));
    }
}
