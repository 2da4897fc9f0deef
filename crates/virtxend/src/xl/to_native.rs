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
use super::disk::Disk;
use super::graphics::Graphics;
use super::vif::Nic;
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

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The value of attribute `name` on a one-line element.
fn attr(line: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}='");
    let start = line.find(&pat)? + pat.len();
    let end = line[start..].find('\'')? + start;
    Some(unescape(&line[start..end]))
}

/// The text of `<tag ...>text</tag>` on one line.
fn text(line: &str, tag: &str) -> Option<String> {
    if !line.starts_with(&format!("<{tag}>")) && !line.starts_with(&format!("<{tag} ")) {
        return None;
    }
    let start = line.find('>')? + 1;
    let end = line.rfind(&format!("</{tag}>"))?;
    (start <= end).then(|| unescape(&line[start..end]))
}

#[derive(Default)]
struct Guest {
    name: String,
    uuid: String,
    max_kib: u64,
    cur_kib: u64,
    vcpus: u32,
    current_vcpus: u32,
    kind: String,
    bootloader: Option<String>,
    bootloader_args: Option<String>,
    kernel: Option<String>,
    initrd: Option<String>,
    cmdline: Option<String>,
    loader: Option<String>,
    boot: String,
    acpi: bool,
    apic: bool,
    pae: bool,
    hap_off: bool,
    viridian: bool,
    localtime: bool,
    adjustment: i64,
    actions: [String; 3],
    disks: Vec<Disk>,
    nics: Vec<Nic>,
    serial_pty: bool,
    graphics: Option<Graphics>,
    usbdevice: Option<String>,
}

fn read_disk(d: &mut Disk, l: &str) {
    if l.starts_with("<driver ") {
        d.driver = attr(l, "name").unwrap_or_default();
        d.format = attr(l, "type").unwrap_or_default();
    } else if l.starts_with("<source ") {
        d.source = attr(l, "file").or_else(|| attr(l, "dev"));
    } else if l.starts_with("<target ") {
        d.vdev = attr(l, "dev").unwrap_or_default();
    } else if l == "<readonly/>" {
        d.readonly = true;
    } else if l == "<shareable/>" {
        d.shared = true;
    }
}

fn read_nic(n: &mut Nic, l: &str) {
    if l.starts_with("<mac ") {
        n.mac = attr(l, "address").unwrap_or_default();
    } else if l.starts_with("<source ") {
        n.bridge = attr(l, "bridge");
    } else if l.starts_with("<ip ") {
        n.ips.extend(attr(l, "address"));
    } else if l.starts_with("<script ") {
        n.script = attr(l, "path");
    } else if l.starts_with("<target ") {
        n.vifname = attr(l, "dev");
    } else if l.starts_with("<model ") {
        n.model = attr(l, "type");
    }
}

fn read_top(g: &mut Guest, l: &str) {
    let num = |v: String| v.parse::<u64>().unwrap_or(0);
    let n32 = |v: String| v.parse::<u32>().unwrap_or(0);
    if let Some(v) = text(l, "name") {
        g.name = v;
    } else if let Some(v) = text(l, "uuid") {
        g.uuid = v;
    } else if let Some(v) = text(l, "memory") {
        g.max_kib = num(v);
    } else if let Some(v) = text(l, "currentMemory") {
        g.cur_kib = num(v);
    } else if let Some(v) = text(l, "vcpu") {
        g.vcpus = n32(v);
        g.current_vcpus = attr(l, "current").map_or(g.vcpus, n32);
    } else if let Some(v) = text(l, "bootloader") {
        g.bootloader = Some(v);
    } else if let Some(v) = text(l, "bootloader_args") {
        g.bootloader_args = Some(v);
    } else if let Some(v) = text(l, "type") {
        g.kind = v;
    } else if let Some(v) = text(l, "loader") {
        g.loader = Some(v);
    } else if let Some(v) = text(l, "kernel") {
        g.kernel = Some(v);
    } else if let Some(v) = text(l, "initrd") {
        g.initrd = Some(v);
    } else if let Some(v) = text(l, "cmdline") {
        g.cmdline = Some(v);
    } else if let Some(v) = text(l, "on_poweroff") {
        g.actions[0] = v;
    } else if let Some(v) = text(l, "on_reboot") {
        g.actions[1] = v;
    } else if let Some(v) = text(l, "on_crash") {
        g.actions[2] = v;
    } else if l.starts_with("<boot dev=") {
        g.boot.push(match attr(l, "dev").as_deref() {
            Some("fd") => 'a',
            Some("cdrom") => 'd',
            Some("network") => 'n',
            _ => 'c',
        });
    } else if l.starts_with("<clock ") {
        g.localtime = attr(l, "offset").as_deref() == Some("localtime")
            || attr(l, "basis").as_deref() == Some("localtime");
        g.adjustment = attr(l, "adjustment")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
    } else if l == "<serial type='pty'>" {
        g.serial_pty = true;
    } else if l.starts_with("<input ") && attr(l, "bus").as_deref() == Some("usb") {
        g.usbdevice = attr(l, "type");
    } else if let Some(gr) = Graphics::from_line(l, |a| attr(l, a)) {
        g.graphics = Some(gr);
    } else {
        match l {
            "<acpi/>" => g.acpi = true,
            "<apic/>" => g.apic = true,
            "<pae/>" => g.pae = true,
            "<hap state='off'/>" => g.hap_off = true,
            "<viridian/>" => g.viridian = true,
            _ => {}
        }
    }
}

fn read(xml: &str) -> Guest {
    let mut g = Guest::default();
    let mut disk: Option<Disk> = None;
    let mut nic: Option<Nic> = None;
    for l in xml.lines().map(str::trim) {
        if let Some(d) = disk.as_mut() {
            if l == "</disk>" {
                g.disks.extend(disk.take());
            } else {
                read_disk(d, l);
            }
        } else if let Some(n) = nic.as_mut() {
            if l == "</interface>" {
                g.nics.extend(nic.take());
            } else {
                read_nic(n, l);
            }
        } else if l.starts_with("<disk ") {
            disk = Some(Disk {
                cdrom: attr(l, "device").as_deref() == Some("cdrom"),
                block: attr(l, "type").as_deref() == Some("block"),
                ..Disk::default()
            });
        } else if l.starts_with("<interface ") {
            nic = Some(Nic::default());
        } else {
            read_top(&mut g, l);
        }
    }
    g
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
    if hvm {
        v.push(("pae", Value::Num(i64::from(g.pae))));
        v.push(("acpi", Value::Num(i64::from(g.acpi))));
        v.push(("apic", Value::Num(i64::from(g.apic))));
        if g.hap_off {
            v.push(("hap", Value::Num(0)));
        }
        v.push(("viridian", Value::Num(i64::from(g.viridian))));
        v.push(("rtc_timeoffset", Value::Num(g.adjustment)));
    }
    v.push(("localtime", Value::Num(i64::from(g.localtime))));
    for (k, a) in ["on_poweroff", "on_reboot", "on_crash"]
        .into_iter()
        .zip(&g.actions)
    {
        v.push((k, s(a)));
    }
    match (&g.graphics, hvm) {
        (Some(gr), true) => gr.hvm_native(&mut v),
        (Some(gr), false) => v.push(("vfb", Value::List(vec![s(&gr.vfb())]))),
        (None, _) => {}
    }
    if !g.nics.is_empty() {
        let nics = g.nics.iter().map(|n| s(&n.native(!check))).collect();
        v.push(("vif", Value::List(nics)));
    }
    if hvm {
        v.push(("parallel", s("none")));
        v.push(("serial", s(if g.serial_pty { "pty" } else { "none" })));
    }
    os_keys(format, g, hvm, &mut v);
    if !g.disks.is_empty() {
        let disks = g.disks.iter().map(|d| s(&d.native(format))).collect();
        v.push(("disk", Value::List(disks)));
    }
    if let Some(u) = &g.usbdevice {
        v.push(("usb", Value::Num(1)));
        v.push(("usbdevice", s(u)));
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
            v.push(("boot", s(boot)));
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
        .map_err(|e| refuse(format, e.message()))?;
    let back = codec.format_domain(&back, opts);
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
