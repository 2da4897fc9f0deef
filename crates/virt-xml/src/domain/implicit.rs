//! The devices libvirt's generic layer adds or completes on every definition
//! (`virDomainDefAddImplicitDevices` and the per-device post-parse): drive addresses for
//! controller-based disks, the disk and virtio-serial controllers those need, a video device
//! for graphics, and video defaults.

use virt_core::model::devices::{Address, Controller};
use virt_core::model::display::Video;
use virt_core::model::enums::{ControllerType, DiskBus, VideoModel};
use virt_core::model::DomainDef;

use crate::devices::{disk_name_to_index, insert_controller, MAX_DRIVE_CONTROLLER};
use crate::XmlError;

/// Adds and completes implicit devices; `path` is the domain's XPath.
pub(super) fn apply(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    drive_addresses(def, path)?;
    for (ty, bus) in [
        (ControllerType::Scsi, DiskBus::Scsi),
        (ControllerType::Fdc, DiskBus::Fdc),
        (ControllerType::Ide, DiskBus::Ide),
        (ControllerType::Sata, DiskBus::Sata),
    ] {
        let max = def
            .devices
            .disks
            .iter()
            .filter(|d| d.target_bus == Some(bus))
            .filter_map(|d| match d.address {
                Some(Address::Drive { controller, .. }) => Some((controller, &d.target_dev)),
                _ => None,
            })
            .max();
        if let Some((max, dev)) = max {
            if max > MAX_DRIVE_CONTROLLER {
                return Err(XmlError::Unsupported {
                    path: format!("{path}/devices/disk/target/@dev"),
                    message: format!(
                        "disk '{dev}' needs {ty} controller {max}; at most \
                         {MAX_DRIVE_CONTROLLER} is supported"
                    ),
                });
            }
            for i in 0..=max {
                maybe_add_controller(def, ty, i);
            }
        }
    }
    let virtio_serial = |t: &Option<String>, a: &Option<Address>| {
        let controller = match a {
            Some(Address::VirtioSerial { controller, .. }) => *controller,
            _ => 0,
        };
        (t.as_deref() == Some("virtio")).then_some(controller)
    };
    let wanted: Vec<u32> = def
        .devices
        .channels
        .iter()
        .chain(def.devices.consoles.iter())
        .filter_map(|c| virtio_serial(&c.target.target_type, &c.address))
        .collect();
    for idx in wanted {
        maybe_add_controller(def, ControllerType::VirtioSerial, idx);
    }
    smartcards(def);
    video(def);
    Ok(())
}

/// libvirt's `virDomainDiskDefAssignAddress` with the narrow SCSI mapping (7 units per bus).
fn drive_addresses(def: &mut DomainDef, path: &str) -> Result<(), XmlError> {
    for d in &mut def.devices.disks {
        let bus = d.target_bus.unwrap_or(DiskBus::Virtio);
        if d.address.is_some()
            || !matches!(
                bus,
                DiskBus::Scsi | DiskBus::Fdc | DiskBus::Ide | DiskBus::Sata
            )
        {
            continue;
        }
        let idx = disk_name_to_index(&d.target_dev).ok_or_else(|| XmlError::Invalid {
            path: format!("{path}/devices/disk/target/@dev"),
            message: format!(
                "unknown disk name '{}' and no address specified",
                d.target_dev
            ),
        })?;
        let (controller, bus_no, unit) = match bus {
            DiskBus::Scsi => (idx / 7, 0, idx % 7),
            DiskBus::Fdc => (idx / 2, 0, idx % 2),
            DiskBus::Ide => (idx / 4, (idx % 4) / 2, idx % 2),
            _ => (idx / 6, 0, idx % 6),
        };
        d.address = Some(Address::Drive {
            controller,
            bus: bus_no,
            target: 0,
            unit,
        });
    }
    Ok(())
}

fn maybe_add_controller(def: &mut DomainDef, ty: ControllerType, index: u32) {
    let ctls = &mut def.devices.controllers;
    if ctls
        .iter()
        .any(|c| c.controller_type == ty && c.index == index)
    {
        return;
    }
    let mut list: Vec<(Controller, bool)> = ctls.drain(..).map(|c| (c, true)).collect();
    insert_controller(
        &mut list,
        Controller {
            controller_type: ty,
            index,
            implicit: true,
            ..Controller::default()
        },
        true,
    );
    *ctls = list.into_iter().map(|(c, _)| c).collect();
}

/// libvirt's `virDomainDefMaybeAddSmartcardController`: a smartcard without an address takes
/// the next slot of CCID controller 0, and each card's controller is added when missing.
fn smartcards(def: &mut DomainDef) {
    let ccid = |a: &Option<Address>| match a {
        Some(Address::Other {
            address_type,
            attributes,
        }) if address_type == "ccid" => {
            let get = |k: &str| {
                attributes
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| crate::strict::parse_u32_c(v))
                    .unwrap_or(0)
            };
            Some((get("controller"), get("slot")))
        }
        _ => None,
    };
    for i in 0..def.devices.smartcards.len() {
        let controller = match ccid(&def.devices.smartcards[i].address) {
            Some((c, _)) => c,
            None => {
                let next = def
                    .devices
                    .smartcards
                    .iter()
                    .filter_map(|s| ccid(&s.address))
                    .filter(|(c, _)| *c == 0)
                    .map(|(_, slot)| slot + 1)
                    .max()
                    .unwrap_or(0);
                def.devices.smartcards[i].address = Some(Address::Other {
                    address_type: "ccid".into(),
                    attributes: vec![
                        ("controller".into(), "0".into()),
                        ("slot".into(), next.to_string()),
                    ],
                });
                0
            }
        };
        maybe_add_controller(def, ControllerType::Ccid, controller);
    }
}

/// libvirt's `virDomainVideoDefaultRAM`.
fn default_vram(def: &DomainDef, model: VideoModel) -> Option<u32> {
    if def.virt_type == "xen" {
        return None;
    }
    match model {
        VideoModel::Vga | VideoModel::Cirrus | VideoModel::Vmvga => {
            Some(match def.virt_type.as_str() {
                "vbox" => 8 * 1024,
                "vmware" => 4 * 1024,
                _ => 16 * 1024,
            })
        }
        VideoModel::Bochs => Some(16 * 1024),
        VideoModel::Xen => Some(4 * 1024),
        VideoModel::Qxl => Some(64 * 1024),
        _ => None,
    }
}

fn video(def: &mut DomainDef) {
    if !def.devices.graphics.is_empty() && def.devices.videos.is_empty() {
        let model = if matches!(def.os.os_type.as_str(), "xen" | "linux") {
            VideoModel::Xen
        } else if def
            .os
            .arch
            .as_deref()
            .is_some_and(|a| a.starts_with("ppc64"))
        {
            VideoModel::Vga
        } else {
            VideoModel::Cirrus
        };
        def.devices.videos.push(Video {
            model,
            ..Video::default()
        });
    }
    let defaults: Vec<Option<u32>> = def
        .devices
        .videos
        .iter()
        .map(|v| default_vram(def, v.model))
        .collect();
    for (v, vram) in def.devices.videos.iter_mut().zip(defaults) {
        if v.model == VideoModel::None {
            continue;
        }
        v.vram = v.vram.or(vram);
        if v.model == VideoModel::Qxl {
            v.ram.get_or_insert(64 * 1024);
        }
        v.heads.get_or_insert(1);
    }
    if let Some(first) = def.devices.videos.first_mut() {
        if first.model == VideoModel::None {
            *first = Video {
                model: VideoModel::None,
                address: first.address.clone(),
                ..Video::default()
            };
        } else {
            first.primary = true;
        }
    }
}
