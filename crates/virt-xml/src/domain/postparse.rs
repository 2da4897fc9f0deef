//! The normalisations libvirt's generic post-parse step applies to every definition, so that a
//! parsed domain says what `virsh dumpxml` prints: disk buses from target names, cdroms
//! read-only, input buses, character device ports, the serial/console pairing of HVM guests,
//! and the legacy boot order, with the consistency checks that come with them.

use virt_core::model::chardev::{CharDev, CharSource, CharTarget};
use virt_core::model::enums::{BootDev, DiskBus, DiskDevice, InputBus, InputType};
use virt_core::model::DomainDef;

use crate::devices::default_console_target;
use crate::XmlError;

/// Applies the post-parse rules to `def`, whose XPath is `path`.
pub fn apply(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    // A container runs an init, not a kernel.
    if def.os.os_type == "exe" && def.os.init.is_none() {
        return Err(XmlError::Invalid {
            path: format!("{path}/os/init"),
            message: "init binary must be specified".into(),
        });
    }
    let dev_path = format!("{path}/devices");
    disks(def, &dev_path)?;
    inputs(def);
    macs(def);
    chardevs(def, &dev_path)?;
    super::implicit::apply(def, path)?;
    boot(def, path)
}

fn disks(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    for d in &mut def.devices.disks {
        if d.target_bus.is_none() {
            let dev = d.target_dev.as_str();
            d.target_bus = Some(if d.device == DiskDevice::Floppy {
                DiskBus::Fdc
            } else if dev.starts_with("hd") {
                DiskBus::Ide
            } else if dev.starts_with("sd") {
                DiskBus::Scsi
            } else if dev.starts_with("vd") {
                DiskBus::Virtio
            } else if dev.starts_with("xvd") {
                DiskBus::Xen
            } else if dev.starts_with("ubd") {
                DiskBus::Uml
            } else if dev.starts_with("fd") {
                DiskBus::Fdc
            } else {
                return Err(XmlError::Invalid {
                    path: format!("{path}/disk/target/@dev"),
                    message: format!("unknown disk name '{dev}' and no bus specified"),
                });
            });
        }
        if d.device == DiskDevice::Cdrom {
            d.readonly = true;
        }
    }
    let disks = &def.devices.disks;
    for (i, a) in disks.iter().enumerate() {
        if let Some(b) = disks[..i].iter().find(|b| b.target_dev == a.target_dev) {
            let src = |d: &virt_core::model::devices::Disk| {
                d.source
                    .as_ref()
                    .and_then(|s| s.path.clone().or(s.name.clone()))
                    .unwrap_or_default()
            };
            return Err(XmlError::Invalid {
                path: format!("{path}/disk/target/@dev"),
                message: format!(
                    "target '{}' duplicated for disk sources '{}' and '{}'",
                    a.target_dev,
                    src(b),
                    src(a)
                ),
            });
        }
    }
    Ok(())
}

/// Gives interfaces without `<mac>` one: the driver prefix (`00:16:3e` for Xen, `52:54:00`
/// otherwise, as libvirt's drivers use) and three random bytes.
fn macs(def: &mut DomainDef) {
    let prefix = if def.virt_type == "xen" {
        "00:16:3e"
    } else {
        "52:54:00"
    };
    for n in &mut def.devices.interfaces {
        if n.mac.is_none() {
            let r = virt_core::uuid::Uuid::random().0;
            n.mac = Some(format!("{prefix}:{:02x}:{:02x}:{:02x}", r[0], r[1], r[2]));
        }
    }
}

fn inputs(def: &mut DomainDef) {
    let x86 = def
        .os
        .arch
        .as_deref()
        .is_none_or(|a| matches!(a, "i686" | "x86_64"));
    let hvm = def.os.os_type == "hvm";
    let xen_pv = matches!(def.os.os_type.as_str(), "xen" | "linux" | "xenpvh");
    for i in &mut def.devices.inputs {
        if i.bus.is_some() {
            continue;
        }
        i.bus = if hvm {
            let ps2 = matches!(i.input_type, InputType::Mouse | InputType::Keyboard) && x86;
            Some(if ps2 { InputBus::Ps2 } else { InputBus::Usb })
        } else if xen_pv {
            Some(InputBus::Xen)
        } else {
            None
        };
    }
}

fn assign_ports(devs: &mut [CharDev]) {
    for i in 0..devs.len() {
        if devs[i].target.port.is_none() {
            let max = devs.iter().filter_map(|d| d.target.port).max();
            devs[i].target.port = Some(max.map_or(0, |m| m + 1));
        }
    }
}

fn stub_console(port: Option<u32>) -> CharDev {
    CharDev {
        source: CharSource::default(),
        target: CharTarget {
            target_type: Some("serial".into()),
            port,
            ..CharTarget::default()
        },
        alias: None,
        address: None,
    }
}

fn chardevs(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    let default_target = default_console_target(def);
    for c in &mut def.devices.consoles {
        c.target
            .target_type
            .get_or_insert_with(|| default_target.to_string());
    }
    assign_ports(&mut def.devices.serials);
    assign_ports(&mut def.devices.parallels);
    assign_ports(&mut def.devices.consoles);
    let d = &mut def.devices;
    if let Some(i) = d
        .consoles
        .iter()
        .skip(1)
        .position(|c| c.target.target_type.as_deref() == Some("serial"))
    {
        return Err(XmlError::Unsupported {
            path: format!("{path}/console[{}]", i + 2),
            message: "only the first console can be a serial port".into(),
        });
    }
    if def.os.os_type != "hvm" {
        return Ok(());
    }
    // An HVM guest's first console is an alias of its first serial port (libvirt's
    // virDomainDefAddConsoleCompat).
    let first_is_serial = d
        .consoles
        .first()
        .is_some_and(|c| c.target.target_type.as_deref() == Some("serial"));
    if first_is_serial {
        if d.serials.is_empty() {
            let mut serial = d.consoles.remove(0);
            serial.target = CharTarget {
                port: Some(0),
                ..CharTarget::default()
            };
            let stub = CharDev {
                source: serial.source.clone(),
                ..stub_console(Some(0))
            };
            d.serials.push(serial);
            d.consoles.insert(0, stub);
        } else if d.serials[0].source != d.consoles[0].source {
            d.consoles[0] = CharDev {
                source: d.serials[0].source.clone(),
                ..stub_console(d.serials[0].target.port)
            };
        }
    } else if let Some(s) = d
        .serials
        .first()
        .filter(|s| matches!(s.target.target_type.as_deref(), None | Some("isa-serial")))
    {
        // Only an ISA port is a console of its own accord (a USB or PCI one is not).
        let stub = CharDev {
            source: s.source.clone(),
            ..stub_console(s.target.port)
        };
        d.consoles.insert(0, stub);
    }
    Ok(())
}

fn boot(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    let d = &def.devices;
    let orders: Vec<u32> = d
        .disks
        .iter()
        .filter_map(|x| x.boot_order)
        .chain(d.interfaces.iter().filter_map(|x| x.boot_order))
        .chain(d.hostdevs.iter().filter_map(|x| x.boot_order))
        .chain(d.redirdevs.iter().filter_map(|x| x.boot_order))
        .collect();
    for (i, o) in orders.iter().enumerate() {
        if orders[..i].contains(o) {
            return Err(XmlError::Invalid {
                path: format!("{path}/devices"),
                message: format!("boot order '{o}' used for more than one device"),
            });
        }
    }
    if !orders.is_empty() && !def.os.boot_devs.is_empty() {
        return Err(XmlError::Unsupported {
            path: format!("{path}/os/boot"),
            message: "per-device boot elements cannot be used together with os/boot elements"
                .into(),
        });
    }
    if def.os.os_type == "hvm"
        && orders.is_empty()
        && def.os.boot_devs.is_empty()
        && def.bootloader.is_none()
    {
        def.os.boot_devs.push(BootDev::Hd);
    }
    Ok(())
}
