//! Domain XML -> xl.cfg, for the subset [`super::from_native()`] reads, written as libvirt 9.0's
//! `xen-xl` formatter writes it (key order, defaults such as `localtime = 0`, `vif-bridge`).
//!
//! Faithful or refused: the values are read from the definition as the codec formats it, then
//! the same values are written as an xl.cfg of the subset and converted back; unless that gives
//! exactly the definition's XML, the conversion is refused (CONFIG_UNSUPPORTED naming the first
//! element it would lose). So nothing outside the subset is ever dropped silently.

use virt_core::model::domain::DomainDef;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::cfg::{self, Entry, Value};

fn refuse(what: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::ConfigUnsupported,
        ErrorDomain::Xenxl,
        format!("cannot write as xl.cfg: {what}"),
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
struct Disk {
    source: String,
    vdev: String,
    cdrom: bool,
    readonly: bool,
}

#[derive(Default)]
struct Nic {
    bridge: Option<String>,
    mac: String,
    ip: Option<String>,
    script: Option<String>,
    model: Option<String>,
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
    kernel: Option<String>,
    initrd: Option<String>,
    cmdline: Option<String>,
    actions: [String; 3],
    disks: Vec<Disk>,
    nics: Vec<Nic>,
    serial_pty: bool,
    vnc: bool,
    sdl: bool,
    vnclisten: Option<String>,
    vncpasswd: Option<String>,
}

fn read(xml: &str) -> Result<Guest, VirtError> {
    let mut g = Guest::default();
    let mut disk: Option<Disk> = None;
    let mut nic: Option<Nic> = None;
    let num = |s: Option<String>, what: &str| -> Result<u64, VirtError> {
        s.and_then(|s| s.parse().ok())
            .ok_or_else(|| refuse(format!("bad <{what}>")))
    };
    for l in xml.lines().map(str::trim) {
        if let Some(d) = disk.as_mut() {
            if l == "</disk>" {
                g.disks.extend(disk.take());
            } else if l.starts_with("<source ") {
                d.source = attr(l, "file").unwrap_or_default();
            } else if l.starts_with("<target ") {
                d.vdev = attr(l, "dev").unwrap_or_default();
            } else if l == "<readonly/>" {
                d.readonly = true;
            }
            continue;
        }
        if let Some(n) = nic.as_mut() {
            if l == "</interface>" {
                g.nics.extend(nic.take());
            } else if l.starts_with("<mac ") {
                n.mac = attr(l, "address").unwrap_or_default();
            } else if l.starts_with("<source ") {
                n.bridge = attr(l, "bridge");
            } else if l.starts_with("<ip ") {
                n.ip = attr(l, "address");
            } else if l.starts_with("<script ") {
                n.script = attr(l, "path");
            } else if l.starts_with("<model ") {
                n.model = attr(l, "type");
            }
            continue;
        }
        if let Some(v) = text(l, "name") {
            g.name = v;
        } else if let Some(v) = text(l, "uuid") {
            g.uuid = v;
        } else if let Some(v) = text(l, "memory") {
            g.max_kib = num(Some(v), "memory")?;
        } else if let Some(v) = text(l, "currentMemory") {
            g.cur_kib = num(Some(v), "currentMemory")?;
        } else if let Some(v) = text(l, "vcpu") {
            g.vcpus = u32::try_from(num(Some(v), "vcpu")?).map_err(|_| refuse("bad <vcpu>"))?;
            g.current_vcpus = match attr(l, "current") {
                Some(c) => {
                    u32::try_from(num(Some(c), "vcpu")?).map_err(|_| refuse("bad <vcpu>"))?
                }
                None => g.vcpus,
            };
        } else if let Some(v) = text(l, "bootloader") {
            g.bootloader = Some(v);
        } else if let Some(v) = text(l, "type") {
            g.kind = v;
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
        } else if l.starts_with("<disk ") {
            disk = Some(Disk {
                cdrom: attr(l, "device").as_deref() == Some("cdrom"),
                ..Disk::default()
            });
        } else if l.starts_with("<interface ") {
            nic = Some(Nic::default());
        } else if l.starts_with("<serial type='pty'>") {
            g.serial_pty = true;
        } else if l.starts_with("<graphics type='vnc'") {
            g.vnc = true;
            g.vnclisten = attr(l, "listen");
            g.vncpasswd = attr(l, "passwd");
        } else if l.starts_with("<graphics type='sdl'") {
            g.sdl = true;
        }
    }
    Ok(g)
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn mib(kib: u64, key: &str) -> Result<Value, VirtError> {
    if !kib.is_multiple_of(1024) {
        return Err(refuse(format!(
            "{key} of {kib} KiB is not a whole number of MiB"
        )));
    }
    i64::try_from(kib / 1024)
        .map(Value::Num)
        .map_err(|_| refuse(format!("{key} too large")))
}

/// The subset xl.cfg [`super::from_native()`] reads, for the check.
fn subset_cfg(g: &Guest) -> Result<Vec<(&'static str, Value)>, VirtError> {
    let mut v = vec![("name", s(&g.name)), ("uuid", s(&g.uuid))];
    v.push(("maxmem", mib(g.max_kib, "memory")?));
    v.push(("memory", mib(g.cur_kib, "currentMemory")?));
    v.push(("maxvcpus", Value::Num(g.vcpus.into())));
    v.push(("vcpus", Value::Num(g.current_vcpus.into())));
    match g.kind.as_str() {
        "hvm" => v.push(("type", s("hvm"))),
        "xenpvh" => v.push(("type", s("pvh"))),
        _ => v.push(("type", s("pv"))),
    }
    for (k, val) in [
        ("bootloader", &g.bootloader),
        ("kernel", &g.kernel),
        ("ramdisk", &g.initrd),
        ("cmdline", &g.cmdline),
    ] {
        if let Some(val) = val {
            v.push((k, s(val)));
        }
    }
    for (k, a) in ["on_poweroff", "on_reboot", "on_crash"]
        .into_iter()
        .zip(&g.actions)
    {
        v.push((k, s(a)));
    }
    let disks = g.disks.iter().map(|d| s(&disk_spec(d, ""))).collect();
    v.push(("disk", Value::List(disks)));
    v.push((
        "vif",
        Value::List(g.nics.iter().map(|n| s(&vif(n, false))).collect()),
    ));
    if g.serial_pty {
        v.push(("serial", s("pty")));
    }
    if g.vnc {
        v.push(("vnc", Value::Num(1)));
    }
    if g.sdl {
        v.push(("sdl", Value::Num(1)));
    }
    if let Some(l) = &g.vnclisten {
        v.push(("vnclisten", s(l)));
    }
    if let Some(p) = &g.vncpasswd {
        v.push(("vncpasswd", s(p)));
    }
    Ok(v)
}

/// One disk as an xl disk spec; `backend` (`,backendtype=qdisk` or nothing) follows the access.
fn disk_spec(d: &Disk, backend: &str) -> String {
    let access = if d.readonly { "ro" } else { "rw" };
    let cdrom = if d.cdrom { ",devtype=cdrom" } else { "" };
    format!(
        "format=raw,vdev={},access={access}{backend}{cdrom},target={}",
        d.vdev, d.source
    )
}

fn vif(n: &Nic, default_script: bool) -> String {
    let mut spec = format!("mac={}", n.mac);
    if let Some(b) = &n.bridge {
        spec.push_str(&format!(",bridge={b}"));
    }
    if let Some(ip) = &n.ip {
        spec.push_str(&format!(",ip={ip}"));
    }
    match (&n.script, &n.bridge) {
        (Some(sc), _) => spec.push_str(&format!(",script={sc}")),
        (None, Some(_)) if default_script => spec.push_str(",script=vif-bridge"),
        _ => {}
    }
    if let Some(m) = &n.model {
        spec.push_str(&format!(",model={m}"));
    }
    spec
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
    if def.virt_type != "xen" {
        return Err(refuse(format!(
            "domain type '{}' is not 'xen'",
            def.virt_type
        )));
    }
    let codec = virt_xml::LibvirtXml;
    let opts = FormatOptions {
        secure: true,
        ..FormatOptions::default()
    };
    let xml = codec.format_domain(def, opts);
    let g = read(&xml)?;
    // The check: the subset's xl.cfg must come back as this very definition.
    let check = cfg::format(&entries(subset_cfg(&g)?));
    let back = super::from_native::from_native(&check).map_err(|e| refuse(e.message()))?;
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
        return Err(refuse(format!("'{line}' is not supported yet")));
    }
    let hvm = g.kind == "hvm";
    let mut v = vec![("name", s(&g.name)), ("uuid", s(&g.uuid))];
    v.push(("maxmem", mib(g.max_kib, "memory")?));
    v.push(("memory", mib(g.cur_kib, "currentMemory")?));
    if g.vcpus != g.current_vcpus {
        v.push(("maxvcpus", Value::Num(g.vcpus.into())));
    }
    v.push(("vcpus", Value::Num(g.current_vcpus.into())));
    if hvm {
        for (k, n) in [
            ("pae", 1),
            ("acpi", 1),
            ("apic", 1),
            ("viridian", 0),
            ("rtc_timeoffset", 0),
        ] {
            v.push((k, Value::Num(n)));
        }
    }
    v.push(("localtime", Value::Num(0)));
    for (k, a) in ["on_poweroff", "on_reboot", "on_crash"]
        .into_iter()
        .zip(&g.actions)
    {
        v.push((k, s(a)));
    }
    if hvm {
        v.push(("sdl", Value::Num(i64::from(g.sdl))));
        v.push(("vnc", Value::Num(i64::from(g.vnc))));
        if g.vnc {
            v.push(("vncunused", Value::Num(1)));
            if let Some(l) = &g.vnclisten {
                v.push(("vnclisten", s(l)));
            }
            if let Some(p) = &g.vncpasswd {
                v.push(("vncpasswd", s(p)));
            }
        }
    }
    if !g.nics.is_empty() {
        v.push((
            "vif",
            Value::List(g.nics.iter().map(|n| s(&vif(n, true))).collect()),
        ));
    }
    if hvm {
        v.push(("parallel", s("none")));
        v.push(("serial", s(if g.serial_pty { "pty" } else { "none" })));
        v.push(("builder", s("hvm")));
        v.push(("boot", s("c")));
    }
    if g.kind == "xenpvh" {
        v.push(("type", s("pvh")));
    }
    for (k, val) in [
        ("bootloader", &g.bootloader),
        ("kernel", &g.kernel),
        ("ramdisk", &g.initrd),
        ("cmdline", &g.cmdline),
    ] {
        if let Some(val) = val {
            v.push((k, s(val)));
        }
    }
    if !g.disks.is_empty() {
        let disks = g
            .disks
            .iter()
            .map(|d| s(&disk_spec(d, ",backendtype=qdisk")))
            .collect();
        v.push(("disk", Value::List(disks)));
    }
    Ok(cfg::format(&entries(v)))
}
