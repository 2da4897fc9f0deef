//! Features, guest CPU and clock, both formats (xen_common.c's hypervisor features and time
//! offset): `pae` (1 only: libvirt keeps PAE on), `acpi`, `apic`, `hap`, `viridian`, the `<xen>`
//! group (`e820_host`, `passthrough`), `nestedhvm`/`cpuid`/`vnuma` as `<cpu>` (xl), and
//! `localtime`, `rtc_timeoffset`, `tsc_mode`, `hpet` as `<clock>` and its timers.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::from_native::{Cfg, Kind};

/// `e820_host` (PV) and `passthrough` (`enabled` only: libvirt drops `disabled`, and a mode
/// is not kept) as the `<xen>` feature group.
fn xen_features(c: &Cfg, kind: Kind) -> Result<String, VirtError> {
    let mut inner = String::new();
    match c.flag("e820_host")? {
        None => {}
        Some(true) if kind != Kind::Hvm => inner.push_str("      <e820_host state='on'/>\n"),
        Some(true) => return Err(c.refuse("e820_host", "only for PV guests")),
        Some(false) => return Err(c.refuse("e820_host", "'0' is not kept by libvirt")),
    }
    match c.str("passthrough")? {
        None => {}
        Some("enabled") => inner.push_str("      <passthrough state='on'/>\n"),
        Some(o) => return Err(c.refuse("passthrough", format!("'{o}' is not supported"))),
    }
    Ok(if inner.is_empty() {
        inner
    } else {
        format!("    <xen>\n{inner}    </xen>\n")
    })
}

/// `vnuma` against the memory size and vCPU count `general` checked.
fn vnuma(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
    let memory = c.num("memory")?.unwrap_or(128);
    let maxmem = c.num("maxmem")?.unwrap_or(memory);
    let vcpus = c.num("vcpus")?.unwrap_or(1);
    let maxvcpus = c.num("maxvcpus")?.unwrap_or(vcpus);
    let total = u64::try_from(maxmem).unwrap_or(0).saturating_mul(1024);
    super::vnuma::from_native(c, total, u64::try_from(maxvcpus).unwrap_or(0), x)
}

pub(crate) fn features_and_clock(c: &Cfg, kind: Kind, x: &mut String) -> Result<(), VirtError> {
    let hvm_only = [
        "pae",
        "acpi",
        "apic",
        "hap",
        "viridian",
        "rtc_timeoffset",
        "nestedhvm",
        "cpuid",
        "tsc_mode",
        "hpet",
    ];
    if kind != Kind::Hvm {
        for k in hvm_only {
            if c.has(k) {
                return Err(c.refuse(k, "only for HVM guests"));
            }
        }
        let xen = xen_features(c, kind)?;
        if !xen.is_empty() {
            let _ = write!(x, "  <features>\n{xen}  </features>\n");
        }
        vnuma(c, x)?;
        let localtime = c.flag("localtime")?.unwrap_or(false);
        let offset = if localtime { "localtime" } else { "utc" };
        let _ = writeln!(x, "  <clock offset='{offset}' adjustment='reset'/>");
        return Ok(());
    }
    if c.flag("pae")? == Some(false) {
        // libvirt turns `pae = 0` into <pae/> on x86_64.
        return Err(c.refuse("pae", "'0' is not supported (libvirt keeps PAE on)"));
    }
    x.push_str("  <features>\n");
    if c.flag("acpi")?.unwrap_or(true) {
        x.push_str("    <acpi/>\n");
    }
    if c.flag("apic")?.unwrap_or(true) {
        x.push_str("    <apic/>\n");
    }
    x.push_str("    <pae/>\n");
    if c.flag("hap")? == Some(false) {
        x.push_str("    <hap state='off'/>\n");
    }
    if c.flag("viridian")?.unwrap_or(false) {
        x.push_str("    <viridian/>\n");
    }
    x.push_str(&xen_features(c, kind)?);
    x.push_str("  </features>\n");
    super::cpuid::from_native(c, x)?;
    vnuma(c, x)?;
    let basis = if c.flag("localtime")?.unwrap_or(false) {
        "localtime"
    } else {
        "utc"
    };
    let adj = c.num("rtc_timeoffset")?.unwrap_or(0);
    if adj.unsigned_abs() > 1 << 31 {
        return Err(c.refuse("rtc_timeoffset", "out of range"));
    }
    let mut timers = String::new();
    if let Some(t) = c.str("tsc_mode")? {
        let mode = match t {
            "always_emulate" => "emulate",
            "native" => "native",
            "native_paravirt" => "paravirt",
            o => return Err(c.refuse("tsc_mode", format!("'{o}' is not supported"))),
        };
        let _ = writeln!(
            timers,
            "    <timer name='tsc' present='yes' mode='{mode}'/>"
        );
    }
    if let Some(h) = c.flag("hpet")? {
        let p = if h { "yes" } else { "no" };
        let _ = writeln!(timers, "    <timer name='hpet' present='{p}'/>");
    }
    if timers.is_empty() {
        let _ = writeln!(
            x,
            "  <clock offset='variable' adjustment='{adj}' basis='{basis}'/>"
        );
    } else {
        let _ = write!(
            x,
            "  <clock offset='variable' adjustment='{adj}' basis='{basis}'>\n{timers}  </clock>\n"
        );
    }
    Ok(())
}
