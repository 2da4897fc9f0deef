//! xl.cfg -> domain XML, for a first subset of keys, as libvirt 9.0's `xen-xl` parser
//! (src/libxl/xen_xl.c, xen_common.c) produces it. Every key outside the subset, and every value
//! of a known key this module does not convert faithfully, is refused with CONFIG_UNSUPPORTED
//! naming the key: nothing is dropped.
//!
//! The domain is written as libvirt's XML and read back with the workspace's codec, so the
//! definition is the one libvirt would hold.

use std::fmt::Write as _;

use virt_core::model::domain::DomainDef;
use virt_core::xml::DomainXmlCodec;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::cfg::{self, Entry, Value};

/// The keys this slice converts.
pub const SUPPORTED_KEYS: &[&str] = &[
    "name",
    "uuid",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "type",
    "builder",
    "kernel",
    "ramdisk",
    "extra",
    "cmdline",
    "root",
    "bootloader",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "disk",
    "vif",
    "vnc",
    "vnclisten",
    "vncpasswd",
    "sdl",
    "serial",
    // Keys libvirt writes with their default values (accepted with those values only).
    "localtime",
    "pae",
    "acpi",
    "apic",
    "viridian",
    "rtc_timeoffset",
    "parallel",
    "boot",
    "vncunused",
];

/// Keys accepted only with the value libvirt's own xl.cfg output gives them; HVM-only ones
/// flagged.
const DEFAULTS: &[(&str, DefaultValue, bool)] = &[
    ("localtime", DefaultValue::Num(0), false),
    ("pae", DefaultValue::Num(1), true),
    ("acpi", DefaultValue::Num(1), true),
    ("apic", DefaultValue::Num(1), true),
    ("viridian", DefaultValue::Num(0), true),
    ("rtc_timeoffset", DefaultValue::Num(0), true),
    ("parallel", DefaultValue::Str("none"), true),
    ("boot", DefaultValue::Str("c"), true),
];

#[derive(Clone, Copy)]
enum DefaultValue {
    Num(i64),
    Str(&'static str),
}

pub(crate) fn unsupported(key: &str, why: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::ConfigUnsupported,
        ErrorDomain::Xenxl,
        format!("xl.cfg key '{key}': {why}"),
    )
}

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\'' => o.push_str("&apos;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

struct Cfg {
    entries: Vec<Entry>,
}

impl Cfg {
    fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn str(&self, key: &str) -> Result<Option<&str>, VirtError> {
        match self.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(unsupported(key, "expected a string")),
        }
    }

    fn num(&self, key: &str) -> Result<Option<i64>, VirtError> {
        match self.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Num(n)) => Ok(Some(*n)),
            Some(Value::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| unsupported(key, format!("'{s}' is not a number"))),
            Some(Value::List(_)) => Err(unsupported(key, "expected a number")),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<&str>, VirtError> {
        match self.get(key).map(|e| &e.value) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| unsupported(key, "list items must be strings"))
                })
                .collect(),
            Some(_) => Err(unsupported(key, "expected a list")),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pv,
    Hvm,
    Pvh,
}

/// Converts an xl.cfg text to a domain definition.
pub fn from_native(text: &str) -> Result<DomainDef, VirtError> {
    let xml = to_xml(text)?;
    virt_xml::LibvirtXml.parse_domain(&xml)
}

/// Converts an xl.cfg text to libvirt's domain XML (before the codec's round trip).
pub fn to_xml(text: &str) -> Result<String, VirtError> {
    let entries = cfg::parse(text)?;
    for e in &entries {
        if !SUPPORTED_KEYS.contains(&e.key.as_str()) {
            return Err(unsupported(&e.key, "not supported by this driver yet"));
        }
        if e.append {
            return Err(unsupported(&e.key, "'+=' is not supported yet"));
        }
    }
    let c = Cfg { entries };
    let kind = match (c.str("type")?, c.str("builder")?) {
        (Some("pv"), _) | (None, None | Some("generic")) => Kind::Pv,
        (Some("hvm"), _) | (None, Some("hvm")) => Kind::Hvm,
        (Some("pvh"), _) => Kind::Pvh,
        (Some(t), _) => return Err(unsupported("type", format!("unknown type '{t}'"))),
        (None, Some(b)) => return Err(unsupported("builder", format!("unknown builder '{b}'"))),
    };
    for (key, want, hvm_only) in DEFAULTS {
        if c.get(key).is_none() {
            continue;
        }
        if *hvm_only && kind != Kind::Hvm {
            return Err(unsupported(key, "only for HVM guests"));
        }
        let ok = match want {
            DefaultValue::Num(n) => c.num(key)? == Some(*n),
            DefaultValue::Str(v) => c.str(key)? == Some(*v),
        };
        if !ok {
            return Err(unsupported(
                key,
                "values other than libvirt's default are not supported yet",
            ));
        }
    }
    let name = c.str("name")?.ok_or_else(|| {
        VirtError::new(
            ErrorCode::NoName,
            ErrorDomain::Xenxl,
            "xl.cfg has no 'name'",
        )
    })?;
    let mut x = String::new();
    x.push_str("<domain type='xen'>\n");
    let _ = writeln!(x, "  <name>{}</name>", esc(name));
    if let Some(u) = c.str("uuid")? {
        let _ = writeln!(x, "  <uuid>{}</uuid>", esc(u));
    }
    let memory = c.num("memory")?.unwrap_or(128);
    let maxmem = c.num("maxmem")?.unwrap_or(memory);
    if memory <= 0 {
        return Err(unsupported("memory", "must be positive"));
    }
    if maxmem < memory {
        return Err(unsupported("maxmem", "below 'memory' is not supported"));
    }
    let kib = |m: i64, key: &str| {
        m.checked_mul(1024)
            .ok_or_else(|| unsupported(key, "too large"))
    };
    let _ = writeln!(
        x,
        "  <memory unit='KiB'>{}</memory>",
        kib(maxmem, "maxmem")?
    );
    let _ = writeln!(
        x,
        "  <currentMemory unit='KiB'>{}</currentMemory>",
        kib(memory, "memory")?
    );
    let vcpus = c.num("vcpus")?.unwrap_or(1);
    let maxvcpus = c.num("maxvcpus")?.unwrap_or(vcpus);
    if !(1..=4096).contains(&vcpus) {
        return Err(unsupported("vcpus", "out of range"));
    }
    if !(vcpus..=4096).contains(&maxvcpus) {
        return Err(unsupported("maxvcpus", "out of range"));
    }
    if maxvcpus == vcpus {
        let _ = writeln!(x, "  <vcpu placement='static'>{maxvcpus}</vcpu>");
    } else {
        let _ = writeln!(
            x,
            "  <vcpu placement='static' current='{vcpus}'>{maxvcpus}</vcpu>"
        );
    }
    if let Some(b) = c.str("bootloader")? {
        if kind == Kind::Hvm {
            return Err(unsupported("bootloader", "only for PV and PVH guests"));
        }
        let _ = writeln!(x, "  <bootloader>{}</bootloader>", esc(b));
    }
    x.push_str("  <os>\n");
    match kind {
        Kind::Pv => x.push_str("    <type arch='x86_64' machine='xenpv'>linux</type>\n"),
        Kind::Pvh => x.push_str("    <type arch='x86_64' machine='xenpvh'>xenpvh</type>\n"),
        Kind::Hvm => x.push_str(
            "    <type arch='x86_64' machine='xenfv'>hvm</type>\n    \
             <loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>\n    <boot dev='hd'/>\n",
        ),
    }
    if kind == Kind::Hvm {
        for k in ["kernel", "ramdisk", "extra", "cmdline", "root"] {
            if c.get(k).is_some() {
                return Err(unsupported(
                    k,
                    "direct kernel boot of HVM guests is not supported yet",
                ));
            }
        }
    } else {
        if let Some(k) = c.str("kernel")? {
            let _ = writeln!(x, "    <kernel>{}</kernel>", esc(k));
        }
        if let Some(r) = c.str("ramdisk")? {
            let _ = writeln!(x, "    <initrd>{}</initrd>", esc(r));
        }
        let cmdline = match c.str("cmdline")? {
            Some(cl) => Some(cl.to_string()),
            None => match (c.str("root")?, c.str("extra")?) {
                (Some(r), Some(e)) => Some(format!("root={r} {e}")),
                (Some(r), None) => Some(format!("root={r}")),
                (None, Some(e)) => Some(e.to_string()),
                (None, None) => None,
            },
        };
        if let Some(cl) = cmdline {
            let _ = writeln!(x, "    <cmdline>{}</cmdline>", esc(&cl));
        }
    }
    x.push_str("  </os>\n");
    if kind == Kind::Hvm {
        x.push_str("  <features>\n    <acpi/>\n    <apic/>\n    <pae/>\n  </features>\n");
        x.push_str("  <clock offset='variable' adjustment='0' basis='utc'/>\n");
    } else {
        x.push_str("  <clock offset='utc' adjustment='reset'/>\n");
    }
    for (key, default) in [
        ("on_poweroff", "destroy"),
        ("on_reboot", "restart"),
        ("on_crash", "restart"),
    ] {
        let v = c.str(key)?.unwrap_or(default);
        let allowed: &[&str] = if key == "on_crash" {
            &[
                "destroy",
                "restart",
                "preserve",
                "rename-restart",
                "coredump-destroy",
                "coredump-restart",
            ]
        } else {
            &["destroy", "restart", "preserve", "rename-restart"]
        };
        if !allowed.contains(&v) {
            return Err(unsupported(key, format!("unknown action '{v}'")));
        }
        let _ = writeln!(x, "  <{key}>{v}</{key}>");
    }
    x.push_str("  <devices>\n");
    let mut ide = false;
    for d in c.list("disk")? {
        let disk = parse_disk(d)?;
        ide |= disk.bus == "ide";
        if disk.bus == "ide" && kind != Kind::Hvm {
            return Err(unsupported(
                "disk",
                format!("'{}': IDE disks need an HVM guest", disk.vdev),
            ));
        }
        let _ = writeln!(
            x,
            "    <disk type='file' device='{}'>",
            if disk.cdrom { "cdrom" } else { "disk" }
        );
        x.push_str("      <driver name='qemu' type='raw'/>\n");
        if !disk.target.is_empty() {
            let _ = writeln!(x, "      <source file='{}'/>", esc(&disk.target));
        }
        let _ = writeln!(
            x,
            "      <target dev='{}' bus='{}'/>",
            esc(&disk.vdev),
            disk.bus
        );
        if disk.readonly {
            x.push_str("      <readonly/>\n");
        }
        if let Some((bus, unit)) = disk.ide_addr {
            let _ = writeln!(
                x,
                "      <address type='drive' controller='0' bus='{bus}' target='0' unit='{unit}'/>"
            );
        }
        x.push_str("    </disk>\n");
    }
    x.push_str("    <controller type='xenbus' index='0'/>\n");
    if ide {
        x.push_str("    <controller type='ide' index='0'/>\n");
    }
    for v in c.list("vif")? {
        x.push_str(&vif_xml(v)?);
    }
    match c.str("serial")? {
        None => {}
        Some("none") if kind == Kind::Hvm => {}
        Some("pty") if kind == Kind::Hvm => x.push_str(
            "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    \
             <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n",
        ),
        Some(s) if kind == Kind::Hvm => {
            return Err(unsupported(
                "serial",
                format!("'{s}' is not supported yet (only 'pty')"),
            ))
        }
        Some(_) => {
            return Err(unsupported(
                "serial",
                "only for HVM guests (libvirt ignores it for PV)",
            ))
        }
    }
    if kind != Kind::Hvm {
        x.push_str(
            "    <console type='pty'>\n      <target type='xen' port='0'/>\n    </console>\n",
        );
        x.push_str("    <input type='mouse' bus='xen'/>\n    <input type='keyboard' bus='xen'/>\n");
        for k in ["vnc", "vnclisten", "vncpasswd", "sdl", "vncunused"] {
            if c.get(k).is_some() {
                return Err(unsupported(
                    k,
                    "graphics of PV/PVH guests (vfb) are not supported yet",
                ));
            }
        }
    } else {
        x.push_str("    <input type='mouse' bus='ps2'/>\n    <input type='keyboard' bus='ps2'/>\n");
        let vnc = c.num("vnc")?.unwrap_or(0) != 0;
        let sdl = c.num("sdl")?.unwrap_or(0) != 0;
        if vnc && sdl {
            return Err(unsupported(
                "sdl",
                "together with 'vnc' is not supported yet",
            ));
        }
        if c.get("vncunused").is_some() && (!vnc || c.num("vncunused")? != Some(1)) {
            return Err(unsupported(
                "vncunused",
                "only 'vncunused = 1' with 'vnc = 1' is supported",
            ));
        }
        if !vnc {
            for k in ["vnclisten", "vncpasswd"] {
                if c.get(k).is_some() {
                    return Err(unsupported(k, "without 'vnc = 1' is not supported"));
                }
            }
        }
        if vnc {
            let pw = match c.str("vncpasswd")? {
                Some(p) => format!(" passwd='{}'", esc(p)),
                None => String::new(),
            };
            match c.str("vnclisten")? {
                Some(l) => {
                    let _ = write!(
                        x,
                        "    <graphics type='vnc' port='-1' autoport='yes' listen='{0}'{pw}>\n      \
                         <listen type='address' address='{0}'/>\n    </graphics>\n",
                        esc(l)
                    );
                }
                None => {
                    let _ = write!(
                        x,
                        "    <graphics type='vnc' port='-1' autoport='yes'{pw}>\n      \
                         <listen type='address'/>\n    </graphics>\n"
                    );
                }
            }
        } else if sdl {
            x.push_str("    <graphics type='sdl'/>\n");
        }
        if vnc || sdl {
            x.push_str(
                "    <video>\n      <model type='cirrus' vram='8192' heads='1' primary='yes'/>\n    </video>\n",
            );
        }
    }
    x.push_str("    <memballoon model='xen'/>\n  </devices>\n</domain>\n");
    Ok(x)
}

struct Disk {
    target: String,
    vdev: String,
    bus: &'static str,
    cdrom: bool,
    readonly: bool,
    ide_addr: Option<(u32, u32)>,
}

const FORMATS: &[&str] = &["raw", "qcow", "qcow2", "vhd", "qed", "empty"];

fn parse_disk(spec: &str) -> Result<Disk, VirtError> {
    let bad = |why: String| unsupported("disk", format!("'{spec}': {why}"));
    let (mut target, mut format, mut vdev, mut access, mut devtype) =
        (None, None, None, None, None);
    let mut positional = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        let trimmed = rest.trim_start();
        // `target=` is last and takes the rest of the spec, commas included.
        if let Some(t) = trimmed.strip_prefix("target=") {
            target = Some(t.to_string());
            break;
        }
        let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
        rest = tail;
        let item = item.trim();
        match item.split_once('=') {
            Some(("format", v)) => format = Some(v.to_string()),
            Some(("vdev", v)) => vdev = Some(v.to_string()),
            Some(("access", v)) => access = Some(v.to_string()),
            Some(("devtype", v)) => devtype = Some(v.to_string()),
            Some(("backendtype", "qdisk")) => {}
            Some((k, _)) => return Err(bad(format!("disk parameter '{k}' is not supported yet"))),
            None => positional.push(item.to_string()),
        }
    }
    if target.is_none() && !positional.is_empty() {
        let mut it = positional.into_iter();
        let t = it.next().unwrap_or_default();
        let rest: Vec<String> = it.collect();
        match rest.as_slice() {
            [] => {}
            [v] => vdev = Some(v.clone()),
            [v, a] if !FORMATS.contains(&v.as_str()) => {
                vdev = Some(v.clone());
                access = Some(a.clone());
            }
            [f, v] => {
                format = Some(f.clone());
                vdev = Some(v.clone());
            }
            [f, v, a] => {
                format = Some(f.clone());
                vdev = Some(v.clone());
                access = Some(a.clone());
            }
            _ => return Err(bad("too many positional parameters".into())),
        }
        target = Some(t);
    } else if !positional.is_empty() {
        return Err(bad(
            "positional parameters after 'target=' are not supported".into(),
        ));
    }
    let mut target = target.ok_or_else(|| bad("no target".into()))?;
    for prefix in ["phy:", "file:", "tap:aio:", "aio:"] {
        if let Some(t) = target.strip_prefix(prefix) {
            target = t.to_string();
            break;
        }
    }
    if target.contains(':') && !target.starts_with('/') {
        return Err(bad(format!(
            "target '{target}' (a prefix or protocol) is not supported yet"
        )));
    }
    if let Some(f) = &format {
        if f != "raw" {
            return Err(bad(format!("format '{f}' is not supported yet")));
        }
    }
    let mut vdev = vdev.ok_or_else(|| bad("no vdev".into()))?;
    let mut cdrom = false;
    if let Some(v) = vdev.strip_suffix(":cdrom") {
        vdev = v.to_string();
        cdrom = true;
    }
    match devtype.as_deref() {
        None | Some("disk") => {}
        Some("cdrom") => cdrom = true,
        Some(d) => return Err(bad(format!("devtype '{d}' is not supported"))),
    }
    let readonly = match access.as_deref() {
        None | Some("w" | "rw") => false,
        Some("r" | "ro") => true,
        Some(a) => return Err(bad(format!("access '{a}' is not supported"))),
    };
    let (bus, ide_addr) = if vdev.starts_with("xvd") && vdev.len() > 3 {
        ("xen", None)
    } else if let Some(l) = vdev.strip_prefix("hd") {
        let idx = match l {
            "a" => 0,
            "b" => 1,
            "c" => 2,
            "d" => 3,
            _ => return Err(bad(format!("vdev '{vdev}' is not supported yet"))),
        };
        ("ide", Some((idx / 2, idx % 2)))
    } else {
        return Err(bad(format!("vdev '{vdev}' is not supported yet")));
    };
    Ok(Disk {
        target,
        vdev,
        bus,
        cdrom,
        readonly,
        ide_addr,
    })
}

fn vif_xml(spec: &str) -> Result<String, VirtError> {
    let bad = |why: String| unsupported("vif", format!("'{spec}': {why}"));
    let (mut mac, mut bridge, mut model, mut script, mut ip) = (None, None, None, None, None);
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("mac", v)) => mac = Some(v),
            Some(("bridge", v)) => bridge = Some(v),
            Some(("model", v)) => model = Some(v),
            Some(("script", v)) => script = Some(v),
            Some(("ip", v)) => ip = Some(v),
            Some((k, _)) => return Err(bad(format!("vif parameter '{k}' is not supported yet"))),
            None => return Err(bad(format!("'{item}' is not a key=value parameter"))),
        }
    }
    let mut x = String::new();
    let _ = writeln!(
        x,
        "    <interface type='{}'>",
        if bridge.is_some() {
            "bridge"
        } else {
            "ethernet"
        }
    );
    let mac = mac.unwrap_or("00:00:00:00:00:00");
    let valid_mac = mac.len() == 17
        && mac.split(':').count() == 6
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !valid_mac {
        return Err(bad(format!("mac '{mac}' is not a MAC address")));
    }
    let _ = writeln!(x, "      <mac address='{}'/>", mac.to_ascii_lowercase());
    if let Some(b) = bridge {
        let _ = writeln!(x, "      <source bridge='{}'/>", esc(b));
    }
    if let Some(ip) = ip {
        if ip.contains(' ') || ip.contains('/') || ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(bad(format!(
                "ip '{ip}' (only one IPv4 address is supported yet)"
            )));
        }
        let _ = writeln!(x, "      <ip address='{ip}' family='ipv4'/>");
    }
    if let Some(s) = script {
        let _ = writeln!(x, "      <script path='{}'/>", esc(s));
    }
    if let Some(m) = model {
        if !m
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(format!("model '{m}'")));
        }
        let _ = writeln!(x, "      <model type='{m}'/>");
    }
    x.push_str("    </interface>\n");
    Ok(x)
}
