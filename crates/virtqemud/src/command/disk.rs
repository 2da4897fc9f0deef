//! Disks on the command line: two `-blockdev` nodes per image (storage, then format; a
//! `copy-on-read` node on top with `copy_on_read='on'`) and a frontend `-device` on the disk's
//! bus, under libvirt's node names and aliases, with libvirt's property order. `<driver>`
//! options: `cache` (both nodes' cache flags and the frontend's write-cache), `io` (`aio` on
//! the storage node), `discard` and `detect_zeroes` (the format node), `error_policy` and
//! `rerror_policy` (the frontend's `werror`/`rerror`), `ioeventfd`, `event_idx` and `queues`
//! (virtio-blk); `<shareable/>` is `share-rw`. Floppies are in `floppy.rs`.

use virt_core::model::devices::{Address, Disk, DiskDriver};
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
    super::floppy::controller(b, boot)?;
    // libvirt numbers nodes from the last disk to the first, empty drives included (they
    // use their number up without nodes).
    let def = b.def;
    let total = def.devices.disks.len();
    for (i, disk) in def.devices.disks.iter().enumerate() {
        let n = total - i;
        let what = format!("disk '{}'", disk.target_dev);
        let driver = disk.driver.as_ref();
        let cache = match driver.and_then(|d| d.cache.as_deref()) {
            None | Some("default") => None,
            Some(m) => Some(cache_mode(m).ok_or_else(|| {
                unsupported(format!("{what}: cache mode '{m}' is not supported"))
            })?),
        };
        let drive = match disk.source.as_ref().and_then(|s| s.path.as_deref()) {
            Some(path) => Some(blockdev(b, disk, path, n, cache, &what)?),
            None if matches!(disk.device, DiskDevice::Cdrom | DiskDevice::Floppy) => None,
            None => return Err(unsupported(format!("{what}: a disk needs a source"))),
        };
        let mut dev = frontend(b, disk, &what)?;
        if disk.shareable {
            dev.set("share-rw", Json::Bool(true));
        }
        if let Some(drive) = drive {
            dev.set("drive", Json::str(drive));
        }
        dev.set("id", Json::str(alias(b, disk)?));
        let floppy = disk.device == DiskDevice::Floppy;
        if let Some(idx) = boot.get(i).copied().flatten().filter(|_| !floppy) {
            dev.set("bootindex", Json::Num(idx.into()));
        }
        if let Some((_, _, wc)) = cache {
            dev.set("write-cache", Json::str(if wc { "on" } else { "off" }));
        }
        if let Some(serial) = &disk.serial {
            dev.set("serial", Json::str(serial.clone()));
        }
        let (werror, rerror) = error_policies(driver);
        if let Some(w) = werror {
            dev.set("werror", Json::str(w));
        }
        if let Some(r) = rerror {
            dev.set("rerror", Json::str(r));
        }
        b.json("-device", dev);
    }
    Ok(())
}

/// `werror` and `rerror` of the frontend: `enospace` is QEMU's `enospc` and applies to
/// writes only; otherwise reads follow `rerror_policy`, else `error_policy`.
fn error_policies(driver: Option<&DiskDriver>) -> (Option<String>, Option<String>) {
    let Some(d) = driver else {
        return (None, None);
    };
    let werror = d.error_policy.as_deref().map(|p| match p {
        "enospace" => "enospc".to_string(),
        p => p.to_string(),
    });
    let rerror = match (&d.rerror_policy, d.error_policy.as_deref()) {
        (Some(r), _) => Some(r.clone()),
        (None, Some("enospace")) => None,
        (None, e) => e.map(String::from),
    };
    (werror, rerror)
}

/// The storage and format nodes of an image (and a copy-on-read node on top when asked);
/// answers the node the frontend attaches to.
fn blockdev(
    b: &mut Builder<'_>,
    disk: &Disk,
    path: &str,
    n: usize,
    cache: Option<(bool, bool, bool)>,
    what: &str,
) -> Result<String, VirtError> {
    let driver = match (disk.effective_type(), disk.device) {
        (DiskType::File, _) => "file",
        (DiskType::Block, DiskDevice::Cdrom) => "host_cdrom",
        (DiskType::Block, _) => "host_device",
        (t, _) => {
            return Err(unsupported(format!(
                "{what}: disk type '{t}' is not supported"
            )))
        }
    };
    let opts = disk.driver.clone().unwrap_or_default();
    let format = opts.format.as_deref().unwrap_or("raw");
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
    let mut storage = Json::obj([("driver", Json::str(driver)), ("filename", Json::str(path))]);
    match opts.io.as_deref() {
        None | Some("default") => {}
        Some(io @ ("native" | "threads" | "io_uring")) => storage.set("aio", Json::str(io)),
        Some(io) => {
            return Err(unsupported(format!(
                "{what}: io mode '{io}' is not supported (native, threads, io_uring)"
            )))
        }
    }
    storage.set("node-name", Json::str(storage_name.clone()));
    if let Some(c) = &cache_json {
        storage.set("cache", c.clone());
    }
    storage.set("auto-read-only", Json::Bool(true));
    storage.set("discard", Json::str("unmap"));
    let format_name = format!("libvirt-{n}-format");
    let mut fmt = Json::obj([
        ("node-name", Json::str(format_name.clone())),
        ("read-only", Json::Bool(disk.readonly)),
    ]);
    let discard = opts.discard.as_deref().filter(|d| *d != "default");
    if let Some(d) = discard {
        fmt.set("discard", Json::str(d));
    }
    // `unmap` needs discarding to be on; QEMU's zero detection is plain `on` otherwise.
    match opts.detect_zeroes.as_deref() {
        None | Some("off") => {}
        Some("unmap") if discard != Some("unmap") => fmt.set("detect-zeroes", Json::str("on")),
        Some(z) => fmt.set("detect-zeroes", Json::str(z)),
    }
    if let Some(c) = cache_json {
        fmt.set("cache", c);
    }
    fmt.set("driver", Json::str(format));
    fmt.set("file", Json::str(storage_name));
    b.json("-blockdev", storage);
    b.json("-blockdev", fmt);
    if opts.copy_on_read != Some(true) {
        return Ok(format_name);
    }
    let cor = format!("libvirt-CoR-{}", disk.target_dev);
    b.json(
        "-blockdev",
        Json::obj([
            ("driver", Json::str("copy-on-read")),
            ("node-name", Json::str(cor.clone())),
            ("file", Json::str(format_name)),
            ("discard", Json::str("unmap")),
        ]),
    );
    Ok(cor)
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
    if disk.device == DiskDevice::Floppy {
        return super::floppy::frontend(disk, what);
    }
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
            let d = disk.driver.clone().unwrap_or_default();
            if let Some(t) = d.iothread {
                j.set("iothread", Json::str(format!("iothread{t}")));
            }
            if let Some(on) = d.ioeventfd {
                j.set("ioeventfd", Json::Bool(on));
            }
            if let Some(on) = d.event_idx {
                j.set("event_idx", Json::Bool(on));
            }
            if let Some(q) = d.queues {
                j.set("num-queues", Json::Num(q.into()));
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
            let driver = Json::str(if cd { "scsi-cd" } else { "scsi-hd" });
            let device_id = Json::str(format!("drive-{}", alias(b, disk)?));
            // An LSI controller has buses of targets without LUNs: the unit is the target.
            if lsilogic(b, c) {
                Json::obj([
                    ("driver", driver),
                    ("bus", Json::str(format!("scsi{c}.{bus}"))),
                    ("scsi-id", Json::Num(unit.into())),
                    ("device_id", device_id),
                ])
            } else {
                Json::obj([
                    ("driver", driver),
                    ("bus", Json::str(format!("scsi{c}.0"))),
                    ("channel", Json::Num(bus.into())),
                    ("scsi-id", Json::Num(target.into())),
                    ("lun", Json::Num(unit.into())),
                    ("device_id", device_id),
                ])
            }
        }
        other => {
            return Err(unsupported(format!(
                "{what}: disk bus '{other}' is not supported on machine type '{}'",
                super::machine_type(b.def, b.ctx.qemu_version)
            )))
        }
    })
}

/// Whether SCSI controller `index` is an LSI Logic one.
fn lsilogic(b: &Builder<'_>, index: u32) -> bool {
    b.def.devices.controllers.iter().any(|c| {
        c.controller_type == virt_core::model::enums::ControllerType::Scsi
            && c.index == index
            && c.model.as_deref() == Some("lsilogic")
    })
}

/// The disk's alias: the one it was given for this run, else libvirt's name for it.
fn alias(b: &Builder<'_>, disk: &Disk) -> Result<String, VirtError> {
    if let Some(a) = &disk.alias {
        return Ok(a.clone());
    }
    crate::aliases::disk_alias(b.def, disk)
        .ok_or_else(|| unsupported(format!("disk '{}': unknown disk name", disk.target_dev)))
}

#[cfg(test)]
mod tests {
    use crate::command::build;
    use crate::command::tests::ctx;

    fn disk_args(disks: &str) -> Vec<String> {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>dk</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>\
             <devices>{disks}</devices></domain>"
        ))
        .expect("test XML parses");
        let args = build(&def, &ctx()).expect("builds").args;
        args.windows(2)
            .filter(|w| {
                w[0] == "-blockdev"
                    || ["virtio-blk", "ide-", "scsi-hd"]
                        .iter()
                        .any(|d| w[0] == "-device" && w[1].contains(d))
            })
            .map(|w| w[1].clone())
            .collect()
    }

    fn pci(bus: u32) -> String {
        format!("<address type='pci' domain='0' bus='{bus}' slot='0' function='0'/>")
    }

    /// libvirt 9.0's `domxml-to-native` for the same disks (the shared disk's `cache='none'`
    /// is what libvirt's start makes of a shared writable disk: see `live/prepare.rs`).
    #[test]
    fn driver_options_match_libvirts_arguments() {
        let got = disk_args(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none' \
               io='native' discard='unmap' detect_zeroes='unmap' error_policy='stop' \
               rerror_policy='report' copy_on_read='on'/>\
               <source file='/tmp/dev2c/cache.qcow2'/><target dev='vda' bus='virtio'/>{}\
               <boot order='1'/></disk>\
             <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' \
               io='threads' detect_zeroes='on' error_policy='enospace'/>\
               <source file='/tmp/dev2c/sh.img'/><target dev='vdb' bus='virtio'/>{}\
               <shareable/></disk>\
             <disk type='file' device='disk'><driver name='qemu' type='raw' io='io_uring' \
               error_policy='ignore'/><source file='/tmp/dev2c/ro2.img'/>\
               <target dev='vdc' bus='virtio'/>{}<readonly/></disk>\
             <disk type='file' device='disk'><driver name='qemu' type='raw' ioeventfd='on' \
               event_idx='off' queues='2' detect_zeroes='unmap' discard='ignore' \
               error_policy='report'/><source file='/tmp/dev2c/sh.img'/>\
               <target dev='vdd' bus='virtio'/>{}</disk>",
            pci(2),
            pci(3),
            pci(4),
            pci(5)
        ));
        let want = [
            r#"{"driver":"file","filename":"/tmp/dev2c/cache.qcow2","aio":"native","node-name":"libvirt-4-storage","cache":{"direct":true,"no-flush":false},"auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-4-format","read-only":false,"discard":"unmap","detect-zeroes":"unmap","cache":{"direct":true,"no-flush":false},"driver":"qcow2","file":"libvirt-4-storage"}"#,
            r#"{"driver":"copy-on-read","node-name":"libvirt-CoR-vda","file":"libvirt-4-format","discard":"unmap"}"#,
            r#"{"driver":"virtio-blk-pci","bus":"pci.2","addr":"0x0","drive":"libvirt-CoR-vda","id":"virtio-disk0","bootindex":1,"write-cache":"on","werror":"stop","rerror":"report"}"#,
            r#"{"driver":"file","filename":"/tmp/dev2c/sh.img","aio":"threads","node-name":"libvirt-3-storage","cache":{"direct":true,"no-flush":false},"auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-3-format","read-only":false,"detect-zeroes":"on","cache":{"direct":true,"no-flush":false},"driver":"raw","file":"libvirt-3-storage"}"#,
            r#"{"driver":"virtio-blk-pci","bus":"pci.3","addr":"0x0","share-rw":true,"drive":"libvirt-3-format","id":"virtio-disk1","write-cache":"on","werror":"enospc"}"#,
            r#"{"driver":"file","filename":"/tmp/dev2c/ro2.img","aio":"io_uring","node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-2-format","read-only":true,"driver":"raw","file":"libvirt-2-storage"}"#,
            r#"{"driver":"virtio-blk-pci","bus":"pci.4","addr":"0x0","drive":"libvirt-2-format","id":"virtio-disk2","werror":"ignore","rerror":"ignore"}"#,
            r#"{"driver":"file","filename":"/tmp/dev2c/sh.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-1-format","read-only":false,"discard":"ignore","detect-zeroes":"on","driver":"raw","file":"libvirt-1-storage"}"#,
            r#"{"driver":"virtio-blk-pci","ioeventfd":true,"event_idx":false,"num-queues":2,"bus":"pci.5","addr":"0x0","drive":"libvirt-1-format","id":"virtio-disk3","werror":"report","rerror":"report"}"#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn sata_scsi_and_cdrom_frontends_take_policies_and_share_rw_after_their_address() {
        let got = disk_args(
            "<controller type='scsi' index='0' model='lsilogic'/>\
             <disk type='file' device='disk'><driver name='qemu' type='raw' \
               error_policy='stop' rerror_policy='ignore' copy_on_read='on'/>\
               <source file='/tmp/dev2c/ro2.img'/><target dev='sda' bus='sata'/>\
               <address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>\
             <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' \
               error_policy='enospace' io='threads'/><source file='/tmp/dev2c/ro2.img'/>\
               <target dev='sdb' bus='scsi'/>\
               <address type='drive' controller='0' bus='0' target='0' unit='1'/><shareable/>\
             </disk>\
             <disk type='file' device='cdrom'><driver name='qemu' type='raw' io='native' \
               cache='none' error_policy='report'/><source file='/tmp/dev2c/ro2.img'/>\
               <target dev='sdc' bus='sata'/>\
               <address type='drive' controller='0' bus='0' target='0' unit='2'/><readonly/>\
             </disk>",
        );
        assert_eq!(
            got[3],
            r#"{"driver":"ide-hd","bus":"ide.0","drive":"libvirt-CoR-sda","id":"sata0-0-0","bootindex":1,"werror":"stop","rerror":"ignore"}"#
        );
        // libvirt orders disks by bus, then name: the cdrom (sata) comes before the SCSI disk.
        assert_eq!(
            got[6],
            r#"{"driver":"ide-cd","bus":"ide.2","drive":"libvirt-2-format","id":"sata0-0-2","write-cache":"on","werror":"report","rerror":"report"}"#
        );
        assert_eq!(
            got[9],
            r#"{"driver":"scsi-hd","bus":"scsi0.0","scsi-id":1,"device_id":"drive-scsi0-0-1","share-rw":true,"drive":"libvirt-1-format","id":"scsi0-0-1","write-cache":"on","werror":"enospc"}"#
        );
    }
}
