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
use super::disk::Disk;
use super::graphics::Graphics;
use super::pci::Pci;
use super::spice::Spice;
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
    graphics: Option<Graphics>,
    usbdevices: Vec<String>,
    spice: Option<Spice>,
    cpuset: Option<String>,
    nested: Option<bool>,
    tsc_mode: Option<String>,
    hpet: Option<bool>,
    ovmf: bool,
    emulator: Option<String>,
    serials: Vec<Chardev>,
    channels: Vec<(Chardev, String)>,
    usbctrls: Vec<(String, String)>,
    usbdevs: Vec<(String, String)>,
    pcis: Vec<Pci>,
    cpu_features: Vec<(String, String)>,
    e820_host: bool,
    numa: Vec<super::vnuma::Node>,
    dm_args: Vec<String>,
    passthrough: bool,
    max_grant_frames: Option<String>,
    max_event_channels: Option<String>,
    parallel: Option<Chardev>,
    sounds: Vec<String>,
}

/// The element being read, for the lines inside it.
enum Block {
    Top,
    Disk(Disk),
    Nic(Nic),
    Serial(Chardev),
    Parallel(Chardev),
    Channel(Chardev, String),
    Console,
    UsbHostdev(String, String),
    PciHostdev(Pci),
}

fn read_disk(d: &mut Disk, l: &str) {
    if l.starts_with("<driver ") {
        d.driver = attr(l, "name").unwrap_or_default();
        d.format = attr(l, "type").unwrap_or_default();
    } else if l.starts_with("<source ") {
        d.source = attr(l, "file")
            .or_else(|| attr(l, "dev"))
            .or_else(|| attr(l, "name"));
    } else if l.starts_with("<target ") {
        d.vdev = attr(l, "dev").unwrap_or_default();
    } else if l == "<readonly/>" {
        d.readonly = true;
    } else if l == "<shareable/>" {
        d.shared = true;
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
        g.cpuset = attr(l, "cpuset");
        g.current_vcpus = attr(l, "current").map_or(g.vcpus, n32);
    } else if let Some(v) = text(l, "bootloader") {
        g.bootloader = Some(v);
    } else if let Some(v) = text(l, "bootloader_args") {
        g.bootloader_args = Some(v);
    } else if let Some(v) = text(l, "type") {
        g.kind = v;
    } else if let Some(v) = text(l, "loader") {
        g.ovmf = attr(l, "type").as_deref() == Some("pflash");
        g.loader = Some(v);
    } else if let Some(v) = text(l, "emulator") {
        g.emulator = Some(v);
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
    } else if l.starts_with("<input ") && attr(l, "bus").as_deref() == Some("usb") {
        g.usbdevices.extend(attr(l, "type"));
    } else if l.starts_with("<controller type='xenbus'") {
        g.max_grant_frames = attr(l, "maxGrantFrames");
        g.max_event_channels = attr(l, "maxEventChannels");
    } else if l.starts_with("<xen:arg ") {
        g.dm_args.extend(attr(l, "value"));
    } else if l.starts_with("<cell ") {
        g.numa.push(super::vnuma::Node {
            cpus: attr(l, "cpus").unwrap_or_default(),
            kib: attr(l, "memory").and_then(|m| m.parse().ok()).unwrap_or(0),
            distances: Vec::new(),
        });
    } else if l.starts_with("<sibling ") {
        if let Some(n) = g.numa.last_mut() {
            n.distances
                .extend(attr(l, "value").and_then(|v| v.parse::<u32>().ok()));
        }
    } else if l.starts_with("<sound ") {
        g.sounds.extend(attr(l, "model"));
    } else if l.starts_with("<graphics type='spice'") {
        let port = |a: &str| attr(l, a).and_then(|p| p.parse().ok());
        g.spice = Some(Spice {
            port: port("port"),
            tls_port: port("tlsPort"),
            host: attr(l, "listen"),
            ..Spice::default()
        });
    } else if l == "<mouse mode='client'/>" {
        if let Some(sp) = g.spice.as_mut() {
            sp.mouse_client = true;
        }
    } else if l == "<clipboard copypaste='yes'/>" {
        if let Some(sp) = g.spice.as_mut() {
            sp.clipboard = true;
        }
    } else if l.starts_with("<cpu mode='host-passthrough'") {
        g.nested = Some(true);
    } else if l == "<feature policy='disable' name='vmx'/>" {
        g.nested = Some(false);
    } else if l.starts_with("<feature policy=") {
        g.cpu_features.push((
            attr(l, "policy").unwrap_or_default(),
            attr(l, "name").unwrap_or_default(),
        ));
    } else if l.starts_with("<timer name='tsc'") {
        g.tsc_mode = attr(l, "mode").map(|m| {
            match m.as_str() {
                "emulate" => "always_emulate",
                "paravirt" => "native_paravirt",
                other => other,
            }
            .to_string()
        });
    } else if l.starts_with("<timer name='hpet'") {
        g.hpet = Some(attr(l, "present").as_deref() == Some("yes"));
    } else if l.starts_with("<controller type='usb'") {
        let model = attr(l, "model").unwrap_or_default();
        let version = model.strip_prefix("qusb").unwrap_or(&model).to_string();
        g.usbctrls
            .push((version, attr(l, "ports").unwrap_or_default()));
    } else if let Some(gr) = Graphics::from_line(l, |a| attr(l, a)) {
        g.graphics = Some(gr);
    } else {
        match l {
            "<acpi/>" => g.acpi = true,
            "<apic/>" => g.apic = true,
            "<pae/>" => g.pae = true,
            "<hap state='off'/>" => g.hap_off = true,
            "<viridian/>" => g.viridian = true,
            "<e820_host state='on'/>" => g.e820_host = true,
            "<passthrough state='on'/>" => g.passthrough = true,
            _ => {}
        }
    }
}

fn read(xml: &str) -> Guest {
    let mut g = Guest::default();
    let mut block = Block::Top;
    for l in xml.lines().map(str::trim) {
        let at = |a: &str| attr(l, a);
        block = match block {
            Block::Disk(d) if l == "</disk>" => {
                g.disks.push(d);
                Block::Top
            }
            Block::Disk(mut d) => {
                read_disk(&mut d, l);
                Block::Disk(d)
            }
            Block::Nic(n) if l == "</interface>" => {
                g.nics.push(n);
                Block::Top
            }
            Block::Nic(mut n) => {
                n.read_line(l, at);
                Block::Nic(n)
            }
            Block::Serial(c) if l == "</serial>" => {
                g.serials.push(c);
                Block::Top
            }
            Block::Serial(mut c) => {
                c.read_line(l, at);
                Block::Serial(c)
            }
            Block::Parallel(c) if l == "</parallel>" => {
                g.parallel = Some(c);
                Block::Top
            }
            Block::Parallel(mut c) => {
                c.read_line(l, at);
                Block::Parallel(c)
            }
            Block::Channel(c, name) if l == "</channel>" => {
                g.channels.push((c, name));
                Block::Top
            }
            Block::Channel(c, _) if l.starts_with("<target ") => {
                Block::Channel(c, at("name").unwrap_or_default())
            }
            Block::Channel(mut c, name) => {
                c.read_line(l, at);
                Block::Channel(c, name)
            }
            Block::Console if l == "</console>" => Block::Top,
            Block::Console => Block::Console,
            Block::UsbHostdev(b, d) if l == "</hostdev>" => {
                g.usbdevs.push((b, d));
                Block::Top
            }
            Block::UsbHostdev(..) if l.starts_with("<address ") => Block::UsbHostdev(
                at("bus").unwrap_or_default(),
                at("device").unwrap_or_default(),
            ),
            Block::UsbHostdev(b, d) => Block::UsbHostdev(b, d),
            Block::PciHostdev(p) if l == "</hostdev>" => {
                g.pcis.push(p);
                Block::Top
            }
            Block::PciHostdev(mut p) => {
                let hexn = |a: &str| {
                    at(a)
                        .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
                        .unwrap_or(0)
                };
                if l.starts_with("<source") {
                    p.write_filtering = at("writeFiltering").map(|w| w == "yes");
                } else if l.starts_with("<address ") {
                    p.addr = (hexn("domain"), hexn("bus"), hexn("slot"), hexn("function"));
                }
                Block::PciHostdev(p)
            }
            Block::Top => top_block(&mut g, l),
        };
    }
    g
}

/// A top-level line: the start of a device read line by line, or a line of its own.
fn top_block(g: &mut Guest, l: &str) -> Block {
    let kind = || attr(l, "type").unwrap_or_default();
    if l.starts_with("<disk ") {
        Block::Disk(Disk {
            cdrom: attr(l, "device").as_deref() == Some("cdrom"),
            block: attr(l, "type").as_deref() == Some("block"),
            rbd: attr(l, "type").as_deref() == Some("network"),
            ..Disk::default()
        })
    } else if l.starts_with("<interface ") {
        Block::Nic(Nic::default())
    } else if l.starts_with("<serial ") && !l.ends_with("/>") {
        Block::Serial(Chardev {
            kind: kind(),
            ..Chardev::default()
        })
    } else if l.starts_with("<parallel ") && !l.ends_with("/>") {
        Block::Parallel(Chardev {
            kind: kind(),
            ..Chardev::default()
        })
    } else if l.starts_with("<channel ") && !l.ends_with("/>") {
        Block::Channel(
            Chardev {
                kind: kind(),
                ..Chardev::default()
            },
            String::new(),
        )
    } else if l.starts_with("<console ") && !l.ends_with("/>") {
        Block::Console
    } else if l.starts_with("<hostdev ") && attr(l, "type").as_deref() == Some("usb") {
        Block::UsbHostdev(String::new(), String::new())
    } else if l.starts_with("<hostdev ") && attr(l, "type").as_deref() == Some("pci") {
        Block::PciHostdev(Pci::default())
    } else {
        read_top(g, l);
        Block::Top
    }
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
