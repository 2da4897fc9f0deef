//! Floppy disks (`device='floppy'`, bus `fdc`), as libvirt 9.0 writes them in blockdev mode:
//! a `floppy` frontend per drive on the machine's floppy controller, unit 0 (A:) or 1 (B:):
//!
//! ```text
//! -device {"driver":"isa-fdc","bootindexA":1}              (q35, which has no controller)
//! -global isa-fdc.bootindexB=2                              (i440fx, whose PIIX3 has one)
//! -device {"driver":"floppy","unit":0,"drive":"libvirt-1-format","id":"fdc0-0-0"}
//! ```
//!
//! The boot index of a floppy belongs to the controller (`bootindexA`/`bootindexB`), not to
//! the drive. The controller's options come first, before any disk.

use virt_core::model::devices::{Address, Disk};
use virt_core::model::enums::{DiskBus, DiskDevice};
use virt_core::VirtError;

use super::json::Json;
use super::{unsupported, Builder, Family};

/// A floppy's unit on the controller (its drive address's `unit`).
fn unit(disk: &Disk, what: &str) -> Result<u32, VirtError> {
    match disk.address {
        Some(Address::Drive {
            controller: 0,
            unit: u @ (0 | 1),
            ..
        }) => Ok(u),
        _ => Err(unsupported(format!(
            "{what}: a floppy needs unit 0 or 1 of floppy controller 0"
        ))),
    }
}

/// The floppy controller's options: the q35 `isa-fdc` device, or the i440fx controller's
/// boot indexes; `boot` is each disk's boot index.
pub(super) fn controller(b: &mut Builder<'_>, boot: &[Option<u32>]) -> Result<(), VirtError> {
    let mut props: Vec<(String, u32)> = Vec::new();
    let mut any = false;
    for (i, d) in b.def.devices.disks.iter().enumerate() {
        if d.device != DiskDevice::Floppy {
            continue;
        }
        let what = format!("disk '{}'", d.target_dev);
        if d.target_bus.is_some_and(|bus| bus != DiskBus::Fdc) {
            return Err(unsupported(format!(
                "{what}: a floppy must be on the fdc bus"
            )));
        }
        any = true;
        let u = unit(d, &what)?;
        if let Some(idx) = boot.get(i).copied().flatten() {
            let drive = if u == 0 { "A" } else { "B" };
            props.push((format!("bootindex{drive}"), idx));
        }
    }
    if !any {
        return Ok(());
    }
    match b.family {
        Family::Q35 => {
            let mut dev = Json::obj([("driver", Json::str("isa-fdc"))]);
            for (k, v) in props {
                dev.set(&k, Json::Num(v.into()));
            }
            b.json("-device", dev);
        }
        Family::I440fx => {
            for (k, v) in props {
                b.arg("-global", format!("isa-fdc.{k}={v}"));
            }
        }
        Family::Other => {
            return Err(unsupported(format!(
                "floppy disks need a PC machine (machine type '{}' has no floppy controller)",
                super::machine_type(b.def, b.ctx.qemu_version)
            )))
        }
    }
    Ok(())
}

/// A floppy drive's frontend, before its drive, id and options.
pub(super) fn frontend(disk: &Disk, what: &str) -> Result<Json, VirtError> {
    Ok(Json::obj([
        ("driver", Json::str("floppy")),
        ("unit", Json::Num(unit(disk, what)?.into())),
    ]))
}

#[cfg(test)]
mod tests {
    use crate::command::build;
    use crate::command::tests::ctx;

    fn disk_args(machine: &str, os_boot: &str, disks: &str) -> Vec<String> {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>fd</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='{machine}'>hvm</type>{os_boot}</os>\
             <devices>{disks}</devices></domain>"
        ))
        .expect("test XML parses");
        let args = build(&def, &ctx()).expect("builds").args;
        args.windows(2)
            .filter(|w| {
                w[0] == "-blockdev"
                    || w[1].contains("isa-fdc")
                    || w[1].contains("\"floppy\"")
                    || w[1].contains("virtio-blk")
            })
            .map(|w| w[1].clone())
            .collect()
    }

    const FLOPPIES: &str = "<disk type='file' device='disk'><source file='/tmp/dev2c/sh.img'/>\
        <target dev='vda' bus='virtio'/>\
        <address type='pci' domain='0' bus='0' slot='2' function='0'/></disk>\
        <disk type='file' device='floppy'><driver name='qemu' type='raw'/>\
        <source file='/tmp/dev2c/ro2.img'/><target dev='fda' bus='fdc'/><readonly/></disk>\
        <disk type='file' device='floppy'><target dev='fdb' bus='fdc'/><boot order='2'/></disk>";

    /// libvirt 9.0's `domxml-to-native` of the same disks on i440fx and q35.
    #[test]
    fn floppies_match_libvirts_arguments() {
        let want_tail = [
            r#"{"driver":"file","filename":"/tmp/dev2c/ro2.img","node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-2-format","read-only":true,"driver":"raw","file":"libvirt-2-storage"}"#,
            r#"{"driver":"floppy","unit":0,"drive":"libvirt-2-format","id":"fdc0-0-0"}"#,
            r#"{"driver":"floppy","unit":1,"id":"fdc0-0-1"}"#,
        ];
        let pc = disk_args("pc", "", FLOPPIES);
        assert_eq!(pc[0], "isa-fdc.bootindexB=2");
        assert_eq!(pc[4..], want_tail);
        let q35 = disk_args("q35", "", FLOPPIES);
        assert_eq!(q35[0], r#"{"driver":"isa-fdc","bootindexB":2}"#);
        assert_eq!(q35[4..], want_tail);
        let first = disk_args(
            "q35",
            "<boot dev='fd'/>",
            "<disk type='file' device='floppy'><target dev='fda' bus='fdc'/></disk>",
        );
        assert_eq!(
            first,
            [
                r#"{"driver":"isa-fdc","bootindexA":1}"#,
                r#"{"driver":"floppy","unit":0,"id":"fdc0-0-0"}"#
            ]
        );
    }

    #[test]
    fn an_i440fx_floppy_boot_index_is_a_global() {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>fd</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{FLOPPIES}</devices>\
             </domain>"
        ))
        .expect("parses");
        let args = build(&def, &ctx()).expect("builds").args;
        let at = args
            .iter()
            .position(|a| a == "isa-fdc.bootindexB=2")
            .expect("the global");
        assert_eq!(args[at - 1], "-global");
        let first_blockdev = args.iter().position(|a| a == "-blockdev").expect("disks");
        assert!(at < first_blockdev, "{args:?}");
    }
}
