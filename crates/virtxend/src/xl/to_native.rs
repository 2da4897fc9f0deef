//! Domain XML -> native configuration, in both formats, written as libvirt 9.0's formatters
//! write them (key order, defaults such as `localtime = 0`, `vif-bridge`).
//!
//! Faithful or refused: the values are read from the definition as the codec formats it and
//! written as the native config; that config is converted back, and unless it gives exactly
//! the definition's XML, the conversion is refused (CONFIG_UNSUPPORTED naming the first
//! element it would lose). So nothing outside the converted set is ever dropped silently.

use virt_core::model::domain::DomainDef;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::cfg::{self, Entry, Value};
use super::chardev::Chardev;
use super::guest::{read, Guest};
use super::{xm, NativeFormat};

fn refuse(format: NativeFormat, what: impl std::fmt::Display) -> VirtError {
    let (domain, name) = match format {
        NativeFormat::Xl => (ErrorDomain::Xenxl, "xl.cfg"),
        NativeFormat::Xm => (ErrorDomain::Xenxm, "xm config"),
    };
    VirtError::new(
        ErrorCode::ConfigUnsupported,
        domain,
        format!("cannot write as {name}: {what}"),
    )
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn mib(format: NativeFormat, kib: u64, key: &str) -> Result<Value, VirtError> {
    if !kib.is_multiple_of(1024) {
        return Err(refuse(
            format,
            format!("{key} of {kib} KiB is not a whole number of MiB"),
        ));
    }
    i64::try_from(kib / 1024)
        .map(Value::Num)
        .map_err(|_| refuse(format, format!("{key} too large")))
}

/// The native config of `g`; `check` leaves out the defaults libvirt adds on the way out
/// (a bridge's `vif-bridge` script), for the round-trip check.
fn native(
    format: NativeFormat,
    g: &Guest,
    check: bool,
) -> Result<Vec<(&'static str, Value)>, VirtError> {
    let hvm = g.kind == "hvm";
    let mut v = vec![("name", s(&g.name)), ("uuid", s(&g.uuid))];
    v.push(("maxmem", mib(format, g.max_kib, "memory")?));
    v.push(("memory", mib(format, g.cur_kib, "currentMemory")?));
    if g.vcpus != g.current_vcpus {
        v.push(("maxvcpus", Value::Num(g.vcpus.into())));
    }
    v.push(("vcpus", Value::Num(g.current_vcpus.into())));
    if let Some(set) = &g.cpuset {
        v.push(("cpus", s(set)));
    }
    if hvm {
        v.push(("pae", Value::Num(i64::from(g.pae))));
        v.push(("acpi", Value::Num(i64::from(g.acpi))));
        v.push(("apic", Value::Num(i64::from(g.apic))));
        if g.hap_off {
            v.push(("hap", Value::Num(0)));
        }
        v.push(("viridian", Value::Num(i64::from(g.viridian))));
    } else if g.e820_host {
        v.push(("e820_host", Value::Num(1)));
    }
    if g.passthrough {
        v.push(("passthrough", s("enabled")));
    }
    if hvm {
        if let Some(t) = &g.tsc_mode {
            v.push(("tsc_mode", s(t)));
        }
        if let Some(h) = g.hpet {
            v.push(("hpet", Value::Num(i64::from(h))));
        }
        v.push(("rtc_timeoffset", Value::Num(g.adjustment)));
    }
    v.push(("localtime", Value::Num(i64::from(g.localtime))));
    for (k, a) in ["on_poweroff", "on_reboot", "on_crash"]
        .into_iter()
        .zip(&g.actions)
    {
        v.push((k, s(a)));
    }
    if let Some(e) = &g.emulator {
        v.push(("device_model_override", s(e)));
    }
    match (&g.graphics, hvm) {
        (Some(gr), true) => gr.hvm_native(&mut v),
        (Some(gr), false) => v.push(("vfb", Value::List(vec![s(&gr.vfb())]))),
        (None, _) => {}
    }
    if !g.nics.is_empty() {
        let nics = g
            .nics
            .iter()
            .map(|n| s(&n.native(hvm, format, !check)))
            .collect();
        v.push(("vif", Value::List(nics)));
    }
    if !g.pcis.is_empty() {
        let pcis = g.pcis.iter().map(|p| s(&p.native())).collect();
        v.push(("pci", Value::List(pcis)));
    }
    if hvm {
        let parallel = g.parallel.as_ref().map(Chardev::serial_native);
        v.push(("parallel", s(parallel.as_deref().unwrap_or("none"))));
        let serials: Vec<Value> = g.serials.iter().map(|c| s(&c.serial_native())).collect();
        match serials.len() {
            0 => v.push(("serial", s("none"))),
            1 => v.extend(serials.into_iter().map(|x| ("serial", x))),
            _ => v.push(("serial", Value::List(serials))),
        }
        if !g.sounds.is_empty() {
            v.push(("soundhw", s(&g.sounds.join(","))));
        }
    }
    os_keys(format, g, hvm, &mut v);
    if !g.numa.is_empty() {
        v.push(("vnuma", super::vnuma::native(&g.numa)));
    }
    for (key, val) in [
        ("max_event_channels", &g.max_event_channels),
        ("max_grant_frames", &g.max_grant_frames),
    ] {
        if let Some(n) = val.as_ref().and_then(|n| n.parse::<i64>().ok()) {
            v.push((key, Value::Num(n)));
        }
    }
    if !g.disks.is_empty() {
        let disks = g.disks.iter().map(|d| s(&d.native(format))).collect();
        v.push(("disk", Value::List(disks)));
    }
    if let Some(sp) = &g.spice {
        sp.native(&mut v);
    }
    match g.usbdevices.as_slice() {
        [] => {}
        [one] => {
            v.push(("usb", Value::Num(1)));
            v.push(("usbdevice", s(one)));
        }
        many => {
            v.push(("usb", Value::Num(1)));
            v.push((
                "usbdevice",
                Value::List(many.iter().map(|u| s(u)).collect()),
            ));
        }
    }
    if !g.usbdevs.is_empty() {
        let devs = g
            .usbdevs
            .iter()
            .map(|(b, d)| s(&format!("hostbus={b},hostaddr={d}")))
            .collect();
        v.push(("usbdev", Value::List(devs)));
    }
    if !g.usbctrls.is_empty() {
        let ctrls = g
            .usbctrls
            .iter()
            .map(|(ver, ports)| s(&format!("type=qusb,version={ver},ports={ports}")))
            .collect();
        v.push(("usbctrl", Value::List(ctrls)));
    }
    if !g.channels.is_empty() {
        let chans = g
            .channels
            .iter()
            .map(|(c, n)| s(&c.channel_native(n)))
            .collect();
        v.push(("channel", Value::List(chans)));
    }
    if !g.dm_args.is_empty() {
        let args = g.dm_args.iter().map(|a| s(a)).collect();
        v.push(("device_model_args", Value::List(args)));
    }
    Ok(v)
}

fn os_keys(format: NativeFormat, g: &Guest, hvm: bool, v: &mut Vec<(&'static str, Value)>) {
    let pv = [
        ("bootloader", g.bootloader.as_deref()),
        ("bootargs", g.bootloader_args.as_deref()),
        ("kernel", g.kernel.as_deref()),
        ("ramdisk", g.initrd.as_deref()),
        ("cmdline", g.cmdline.as_deref()),
    ];
    let boot = if g.boot.is_empty() { "c" } else { &g.boot };
    match format {
        NativeFormat::Xm => xm::os_keys(hvm, g.loader.as_deref(), boot, pv, v),
        NativeFormat::Xl if hvm => {
            v.push(("builder", s("hvm")));
            if g.ovmf {
                v.push(("bios", s("ovmf")));
            }
            for (k, val) in &pv[2..] {
                if let Some(val) = val {
                    v.push((k, s(val)));
                }
            }
            v.push(("boot", s(boot)));
            if let Some(n) = g.nested {
                v.push(("nestedhvm", Value::Num(i64::from(n))));
            }
            if let Some(cpuid) = super::cpuid::native(&g.cpu_features) {
                v.push(("cpuid", s(&cpuid)));
            }
        }
        NativeFormat::Xl => {
            if g.kind == "xenpvh" {
                v.push(("type", s("pvh")));
            }
            for (k, val) in pv {
                if let Some(val) = val {
                    v.push((k, s(val)));
                }
            }
        }
    }
}

fn entries(v: Vec<(&'static str, Value)>) -> Vec<Entry> {
    v.into_iter()
        .enumerate()
        .map(|(i, (k, value))| Entry {
            key: k.to_string(),
            value,
            append: false,
            line: i + 1,
        })
        .collect()
}

/// Converts a domain definition to xl.cfg text, as libvirt 9.0 writes it.
pub fn to_native(def: &DomainDef) -> Result<String, VirtError> {
    to_native_in(NativeFormat::Xl, def)
}

/// Converts a domain definition to a config in `format`, as libvirt 9.0 writes it.
pub fn to_native_in(format: NativeFormat, def: &DomainDef) -> Result<String, VirtError> {
    if def.virt_type != "xen" {
        return Err(refuse(
            format,
            format!("domain type '{}' is not 'xen'", def.virt_type),
        ));
    }
    let codec = virt_xml::LibvirtXml;
    let opts = FormatOptions {
        secure: true,
        ..FormatOptions::default()
    };
    let xml = codec.format_domain(def, opts);
    let g = read(&xml);
    // The check: the config must come back as this very definition.
    let check = cfg::format(&entries(native(format, &g, true)?));
    let back = super::from_native::from_native_in(format, &check)
        .map_err(|e| refuse(format, &e.detail))?;
    let back = codec.format_domain(&back, opts);
    // `localtime = 0` reads back as a UTC clock reset at start, which is what a UTC clock
    // without an adjustment is on Xen: the two are the same definition here.
    let xml = xml.replace(
        "<clock offset='utc'/>",
        "<clock offset='utc' adjustment='reset'/>",
    );
    if back != xml {
        let (a, b): (Vec<_>, Vec<_>) = (xml.lines().collect(), back.lines().collect());
        let i = (0..a.len().max(b.len()))
            .find(|&i| a.get(i) != b.get(i))
            .unwrap_or(0);
        let line = a.get(i).map_or("end of document", |l| l.trim());
        return Err(refuse(format, format!("'{line}' is not supported yet")));
    }
    Ok(cfg::format(&entries(native(format, &g, false)?)))
}
