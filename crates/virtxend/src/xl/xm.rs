//! What only the `xen-xm` format (xend's xm configuration, libvirt's xen_xm.c) does
//! differently from xl.cfg: its positional disks (`DRIVER:[SUBTYPE:]SOURCE,VDEV[:cdrom],MODE`,
//! the driver name kept in the XML, `phy` meaning a block device), an HVM guest naming its
//! firmware loader in `kernel` (required, as libvirt requires it), and a PV guest's command
//! line written as `extra` (xm has no `cmdline`).

use std::fmt::Write as _;

use virt_core::VirtError;

use super::cfg::Value;
use super::disk::{bus_of, Disk};
use super::from_native::Cfg;
use super::NativeFormat;

/// The HVM loader an xm config names in `kernel`.
pub(crate) fn hvm_loader(c: &Cfg) -> Result<&str, VirtError> {
    c.str("kernel")?.ok_or_else(|| {
        c.refuse(
            "kernel",
            "an HVM guest needs its loader here (libvirt refuses the config without it)",
        )
    })
}

/// The OS keys of an xm config, in libvirt's order: for HVM `builder`, `kernel` (the loader)
/// and `boot`; for PV `bootloader`, `bootargs`, `kernel`, `ramdisk` and `extra`.
pub(crate) fn os_keys(
    hvm: bool,
    loader: Option<&str>,
    boot: &str,
    pv: [(&'static str, Option<&str>); 5],
    v: &mut Vec<(&'static str, Value)>,
) {
    let s = |x: &str| Value::Str(x.to_string());
    if hvm {
        v.push(("builder", s("hvm")));
        if let Some(l) = loader {
            v.push(("kernel", s(l)));
        }
        v.push(("boot", s(boot)));
        return;
    }
    for (k, val) in pv {
        if let Some(val) = val {
            let k = if k == "cmdline" { "extra" } else { k };
            v.push((k, s(val)));
        }
    }
}

/// One xm disk entry: `[DRIVER:[SUBTYPE:]]SOURCE,[ioemu:]VDEV[:cdrom|:disk],MODE`.
pub(crate) fn parse_disk(spec: &str, hvm: bool) -> Result<Disk, String> {
    let parts: Vec<&str> = spec.split(',').collect();
    let [src, dev, mode] = parts.as_slice() else {
        return Err("expected SOURCE,VDEV,MODE".into());
    };
    let dev: &str = dev.strip_prefix("ioemu:").unwrap_or(dev);
    let (vdev, cdrom) = match dev.split_once(':') {
        Some((v, "cdrom")) => (v, true),
        Some((v, "disk")) => (v, false),
        Some(_) => return Err(format!("device '{dev}' is not supported")),
        None => (dev, false),
    };
    let (mut driver, mut format, mut source) = ("phy".to_string(), "raw".to_string(), None);
    if !src.is_empty() {
        let (d, rest) = match src.split_once(':') {
            Some((d, rest)) => (d, rest),
            None => ("phy", *src),
        };
        if !["phy", "file", "tap", "tap2", "qemu"].contains(&d) {
            return Err(format!("driver '{d}' is not supported"));
        }
        driver = d.to_string();
        let mut path = rest;
        if d == "tap" || d == "tap2" {
            let (sub, p) = rest
                .split_once(':')
                .ok_or_else(|| format!("'{d}:' without a sub-type"))?;
            format = match sub {
                "aio" | "raw" => "raw".into(),
                "qcow2" | "qed" => sub.into(),
                other => return Err(format!("tap sub-type '{other}' is not supported")),
            };
            path = p;
        }
        if path.is_empty() {
            return Err("an empty source path".into());
        }
        if path.contains(':') {
            return Err(format!(
                "source '{path}' (a second prefix) is not supported"
            ));
        }
        source = Some(path.to_string());
    }
    let (readonly, shared) = match *mode {
        "r" | "ro" => (true, false),
        "w" | "rw" => (false, false),
        "w!" | "!" => (false, true),
        m => return Err(format!("mode '{m}' is not supported")),
    };
    let bus = bus_of(vdev, hvm, NativeFormat::Xm)?;
    Ok(Disk {
        source,
        vdev: vdev.to_string(),
        bus,
        cdrom,
        readonly,
        shared,
        block: driver == "phy",
        driver,
        format,
        rbd: false,
    })
}

/// A disk as an xm `disk` entry, as libvirt writes it.
pub(crate) fn disk_native(d: &Disk) -> String {
    let mut s = String::new();
    if let Some(src) = &d.source {
        let _ = write!(s, "{}:", d.driver);
        if d.driver == "tap" || d.driver == "tap2" {
            let f = if d.format == "raw" { "aio" } else { &d.format };
            let _ = write!(s, "{f}:");
        }
        s.push_str(src);
    }
    let _ = write!(s, ",{}", d.vdev);
    if d.cdrom {
        s.push_str(":cdrom");
    }
    s.push_str(match (d.readonly, d.shared) {
        (true, _) => ",r",
        (false, true) => ",!",
        (false, false) => ",w",
    });
    s
}
