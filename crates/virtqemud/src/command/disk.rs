//! Disks on the command line: two `-blockdev` nodes per image (storage, then format) and a
//! frontend `-device` on the disk's bus, under libvirt's node names and aliases.

use virt_core::model::devices::{Address, Disk};
use virt_core::model::enums::{DiskBus, DiskDevice, DiskType};
use virt_core::VirtError;

use super::devices::pci_addr;
use super::json::Json;
use super::{unsupported, Builder, Family};

/// libvirt's disk index of a target name: `vda` 0, `sdb` 1, `hdaa` 26.
pub(crate) fn disk_index(dev: &str) -> Option<u32> {
    let rest = ["xvd", "vd", "sd", "hd", "fd"]
        .iter()
        .find_map(|p| dev.strip_prefix(p))?;
    if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let mut n: u32 = 0;
    for c in rest.bytes() {
        n = n.checked_mul(26)?.checked_add(u32::from(c - b'a') + 1)?;
    }
    Some(n - 1)
}

/// `cache=...` as blockdev cache flags and the frontend's write-cache.
fn cache_mode(mode: &str) -> Option<(bool, bool, bool)> {
    // (direct, no-flush, write-cache)
    Some(match mode {
        "none" => (true, false, true),
        "writethrough" => (false, false, false),
        "writeback" => (false, false, true),
        "directsync" => (true, false, false),
        "unsafe" => (false, true, true),
        _ => return None,
    })
}

pub(super) fn disks(b: &mut Builder<'_>, boot: &[Option<u32>]) -> Result<(), VirtError> {
    let mut node = b
        .def
        .devices
        .disks
        .iter()
        .filter(|d| d.source.is_some())
        .count();
    let def = b.def;
    for (i, disk) in def.devices.disks.iter().enumerate() {
        let what = format!("disk '{}'", disk.target_dev);
        let cache = match disk.driver.as_ref().and_then(|d| d.cache.as_deref()) {
            None | Some("default") => None,
            Some(m) => Some(cache_mode(m).ok_or_else(|| {
                unsupported(format!("{what}: cache mode '{m}' is not supported"))
            })?),
        };
        let drive = match disk.source.as_ref().and_then(|s| s.path.as_deref()) {
            Some(path) => {
                let n = node;
                node -= 1;
                blockdev(b, disk, path, n, cache, &what)?;
                Some(format!("libvirt-{n}-format"))
            }
            None if disk.device == DiskDevice::Cdrom => None,
            None => return Err(unsupported(format!("{what}: a disk needs a source"))),
        };
        let mut dev = frontend(b, disk, &what)?;
        if let Some(drive) = drive {
            dev.set("drive", Json::str(drive));
        }
        dev.set("id", Json::str(alias(b, disk)?));
        if let Some(serial) = &disk.serial {
            dev.set("serial", Json::str(serial.clone()));
        }
        if let Some(idx) = boot.get(i).copied().flatten() {
            dev.set("bootindex", Json::Num(idx.into()));
        }
        if let Some((_, _, wc)) = cache {
            dev.set("write-cache", Json::str(if wc { "on" } else { "off" }));
        }
        b.json("-device", dev);
    }
    Ok(())
}

fn blockdev(
    b: &mut Builder<'_>,
    disk: &Disk,
    path: &str,
    n: usize,
    cache: Option<(bool, bool, bool)>,
    what: &str,
) -> Result<(), VirtError> {
    let driver = match (disk.disk_type, disk.device) {
        (DiskType::File, _) => "file",
        (DiskType::Block, DiskDevice::Cdrom) => "host_cdrom",
        (DiskType::Block, _) => "host_device",
        (t, _) => {
            return Err(unsupported(format!(
                "{what}: disk type '{t}' is not supported"
            )))
        }
    };
    let format = disk
        .driver
        .as_ref()
        .and_then(|d| d.format.as_deref())
        .unwrap_or("raw");
    if !matches!(format, "raw" | "qcow2") {
        return Err(unsupported(format!(
            "{what}: image format '{format}' is not supported (raw, qcow2)"
        )));
    }
    let cache_json = cache.map(|(direct, no_flush, _)| {
        Json::obj([
            ("direct", Json::Bool(direct)),
            ("no-flush", Json::Bool(no_flush)),
        ])
    });
    let storage_name = format!("libvirt-{n}-storage");
    let mut storage = Json::obj([
        ("driver", Json::str(driver)),
        ("filename", Json::str(path)),
        ("node-name", Json::str(storage_name.clone())),
    ]);
    if let Some(c) = &cache_json {
        storage.set("cache", c.clone());
    }
    storage.set("auto-read-only", Json::Bool(true));
    storage.set("discard", Json::str("unmap"));
    let mut fmt = Json::obj([
        ("node-name", Json::str(format!("libvirt-{n}-format"))),
        ("read-only", Json::Bool(disk.readonly)),
    ]);
    if let Some(c) = cache_json {
        fmt.set("cache", c);
    }
    if let Some(d) = disk.driver.as_ref().and_then(|d| d.discard.as_deref()) {
        fmt.set("discard", Json::str(d));
    }
    fmt.set("driver", Json::str(format));
    fmt.set("file", Json::str(storage_name));
    b.json("-blockdev", storage);
    b.json("-blockdev", fmt);
    Ok(())
}

fn drive_address(disk: &Disk, what: &str) -> Result<(u32, u32, u32, u32), VirtError> {
    match disk.address {
        Some(Address::Drive {
            controller,
            bus,
            target,
            unit,
        }) => Ok((controller, bus, target, unit)),
        _ => Err(unsupported(format!("{what}: needs a drive address"))),
    }
}

fn frontend(b: &mut Builder<'_>, disk: &Disk, what: &str) -> Result<Json, VirtError> {
    let cd = disk.device == DiskDevice::Cdrom;
    if !matches!(disk.device, DiskDevice::Disk | DiskDevice::Cdrom) {
        return Err(unsupported(format!(
            "{what}: disk device '{}' is not supported",
            disk.device
        )));
    }
    let bus = disk.target_bus.unwrap_or(DiskBus::Virtio);
    let ide_like = matches!(bus, DiskBus::Ide | DiskBus::Sata);
    if ide_like && disk.readonly && !cd {
        return Err(unsupported(format!(
            "{what}: readonly {bus} disks are not supported (QEMU's ide-hd cannot be read-only)"
        )));
    }
    let ide_driver = if cd { "ide-cd" } else { "ide-hd" };
    Ok(match bus {
        DiskBus::Virtio if cd => {
            return Err(unsupported(format!(
                "{what}: a cdrom cannot be on the virtio bus"
            )))
        }
        DiskBus::Virtio => {
            let mut j = Json::obj([("driver", Json::str("virtio-blk-pci"))]);
            if let Some(t) = disk.driver.as_ref().and_then(|d| d.iothread) {
                j.set("iothread", Json::str(format!("iothread{t}")));
            }
            pci_addr(b, &mut j, &disk.address, what)?;
            j
        }
        DiskBus::Sata => {
            let (c, _, _, unit) = drive_address(disk, what)?;
            let bus = if b.family == Family::Q35 && c == 0 {
                format!("ide.{unit}")
            } else {
                format!("sata{c}.{unit}")
            };
            Json::obj([("driver", Json::str(ide_driver)), ("bus", Json::str(bus))])
        }
        DiskBus::Ide if b.family == Family::I440fx => {
            let (c, bus, _, unit) = drive_address(disk, what)?;
            if c != 0 {
                return Err(unsupported(format!("{what}: only IDE controller 0 exists")));
            }
            Json::obj([
                ("driver", Json::str(ide_driver)),
                ("bus", Json::str(format!("ide.{bus}"))),
                ("unit", Json::Num(unit.into())),
            ])
        }
        DiskBus::Scsi => {
            let (c, bus, target, unit) = drive_address(disk, what)?;
            Json::obj([
                ("driver", Json::str(if cd { "scsi-cd" } else { "scsi-hd" })),
                ("bus", Json::str(format!("scsi{c}.0"))),
                ("channel", Json::Num(bus.into())),
                ("scsi-id", Json::Num(target.into())),
                ("lun", Json::Num(unit.into())),
                (
                    "device_id",
                    Json::str(format!("drive-scsi{c}-{bus}-{target}-{unit}")),
                ),
            ])
        }
        other => {
            return Err(unsupported(format!(
                "{what}: disk bus '{other}' is not supported on machine type '{}'",
                super::machine_type(b.def, b.ctx.qemu_version)
            )))
        }
    })
}

/// libvirt's disk alias.
fn alias(b: &Builder<'_>, disk: &Disk) -> Result<String, VirtError> {
    let what = format!("disk '{}'", disk.target_dev);
    Ok(match disk.target_bus.unwrap_or(DiskBus::Virtio) {
        DiskBus::Virtio => {
            let idx = disk_index(&disk.target_dev)
                .ok_or_else(|| unsupported(format!("{what}: unknown disk name")))?;
            format!("virtio-disk{idx}")
        }
        DiskBus::Scsi => {
            let (c, bus, t, u) = drive_address(disk, &what)?;
            format!("scsi{c}-{bus}-{t}-{u}")
        }
        bus => {
            let (c, n, _, u) = drive_address(disk, &what)?;
            let _ = b;
            format!("{bus}{c}-{n}-{u}")
        }
    })
}
