//! What only the `xen-xm` format (xend's xm configuration, libvirt's xen_xm.c) does
//! differently from xl.cfg, beyond its positional disks ([`super::disk::parse_xm`]): an HVM
//! guest names its firmware loader in `kernel` (required, as libvirt requires it), and a PV
//! guest's command line is written as `extra` (xm has no `cmdline`).

use virt_core::VirtError;

use super::cfg::Value;
use super::from_native::Cfg;

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
