//! PCI passthrough (`pci` list, both formats): `[DOMAIN:]BUS:SLOT.FUNCTION[,permissive=N]`
//! in hex, as libvirt reads it into a `<hostdev type='pci'>` with the `xen` driver;
//! `permissive` becomes `writeFiltering` (reversed). Other options (`msitranslate`, `seize`,
//! `vslot`...) libvirt would drop, so they are refused.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::from_native::Cfg;

/// One passed-through PCI function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Pci {
    /// Domain, bus, slot, function.
    pub addr: (u32, u32, u32, u32),
    /// `permissive=0|1` as `writeFiltering`: `Some(true)` for `permissive=0`.
    pub write_filtering: Option<bool>,
}

fn hex(s: &str, max: u32) -> Result<u32, String> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("'{s}' is not a hex number"));
    }
    u32::from_str_radix(s, 16)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("'{s}' is out of range"))
}

fn parse(spec: &str) -> Result<Pci, String> {
    let (bdf, opts) = spec.split_once(',').unwrap_or((spec, ""));
    let parts: Vec<&str> = bdf.split(':').collect();
    let (domain, bus, sf) = match parts.as_slice() {
        [d, b, sf] => (hex(d, 0xffff)?, hex(b, 0xff)?, *sf),
        [b, sf] => (0, hex(b, 0xff)?, *sf),
        _ => return Err("expected [DOMAIN:]BUS:SLOT.FUNCTION".into()),
    };
    let (slot, func) = sf.split_once('.').ok_or("expected SLOT.FUNCTION")?;
    let mut p = Pci {
        addr: (domain, bus, hex(slot, 0x1f)?, hex(func, 7)?),
        write_filtering: None,
    };
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("permissive", "0")) => p.write_filtering = Some(true),
            Some(("permissive", "1")) => p.write_filtering = Some(false),
            _ => return Err(format!("option '{opt}' is not supported")),
        }
    }
    Ok(p)
}

/// The `pci` list of `c` as host devices.
pub(crate) fn from_native(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
    for spec in c.list("pci")? {
        let p = parse(spec).map_err(|why| c.refuse("pci", format!("'{spec}': {why}")))?;
        x.push_str(&p.xml());
    }
    Ok(())
}

impl Pci {
    /// The XML of this device.
    pub fn xml(&self) -> String {
        let (d, b, s, f) = self.addr;
        let filter = match self.write_filtering {
            Some(true) => " writeFiltering='yes'",
            Some(false) => " writeFiltering='no'",
            None => "",
        };
        let mut x = String::new();
        let _ = write!(
            x,
            "    <hostdev mode='subsystem' type='pci' managed='no'>\n      <driver name='xen'/>\n      \
             <source{filter}>\n        <address domain='{d:#06x}' bus='{b:#04x}' slot='{s:#04x}' \
             function='{f:#x}'/>\n      </source>\n    </hostdev>\n"
        );
        x
    }

    /// This device as a `pci` entry, as libvirt writes it.
    pub fn native(&self) -> String {
        let (d, b, s, f) = self.addr;
        let opt = match self.write_filtering {
            Some(true) => ",permissive=0",
            Some(false) => ",permissive=1",
            None => "",
        };
        format!("{d:04x}:{b:02x}:{s:02x}.{f:x}{opt}")
    }
}
