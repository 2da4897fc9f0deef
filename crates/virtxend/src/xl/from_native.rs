//! Native configuration -> domain XML, in both formats, as libvirt 9.0's parsers produce it
//! (src/libxl/xen_xl.c and xen_xm.c over the shared xen_common.c). What the formats share is
//! here; disks, interfaces and graphics have their own modules, the xm-only OS rules
//! `xm`. Every key outside the converted set, and every value of a known key this
//! module does not convert faithfully, is refused with CONFIG_UNSUPPORTED naming the key:
//! nothing is dropped.
//!
//! The domain is written as libvirt's XML and read back with the workspace's codec; when the
//! codec would not give back that very XML (it sorts disks as libvirt's XML parser does, which
//! libvirt's native parsers do not), the config is refused rather than changed.

use std::fmt::Write as _;

use virt_core::model::domain::DomainDef;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::cfg::{self, Entry, Value};
use super::{chardev, disk, graphics, usb, vif, xm, NativeFormat};

/// The keys both formats convert.
const COMMON_KEYS: &[&str] = &[
    "name",
    "uuid",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "builder",
    "kernel",
    "ramdisk",
    "extra",
    "root",
    "bootloader",
    "bootargs",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "disk",
    "vif",
    "vfb",
    "vnc",
    "vnclisten",
    "vncpasswd",
    "vncunused",
    "vncdisplay",
    "keymap",
    "sdl",
    "display",
    "xauthority",
    "serial",
    "parallel",
    "localtime",
    "rtc_timeoffset",
    "pae",
    "acpi",
    "apic",
    "hap",
    "viridian",
    "boot",
    "usb",
    "usbdevice",
    "cpus",
    "tsc_mode",
    "hpet",
    "device_model_override",
    "pci",
    "soundhw",
    "e820_host",
    "passthrough",
];

/// The keys only xl.cfg has.
const XL_KEYS: &[&str] = &[
    "type",
    "cmdline",
    "channel",
    "nestedhvm",
    "cpuid",
    "bios",
    "max_grant_frames",
    "max_event_channels",
    "device_model_args",
    "vnuma",
    "usbctrl",
    "usbdev",
];

/// The keys converted, in `format`.
pub fn supported_keys(format: NativeFormat) -> Vec<&'static str> {
    let mut v = COMMON_KEYS.to_vec();
    if format == NativeFormat::Xl {
        v.extend_from_slice(XL_KEYS);
        v.extend_from_slice(super::spice::KEYS);
    }
    v
}

/// A refusal naming `key` of a config in `format`.
pub(crate) fn unsupported(
    format: NativeFormat,
    key: &str,
    why: impl std::fmt::Display,
) -> VirtError {
    let (domain, what) = match format {
        NativeFormat::Xl => (ErrorDomain::Xenxl, "xl.cfg"),
        NativeFormat::Xm => (ErrorDomain::Xenxm, "xm config"),
    };
    VirtError::new(
        ErrorCode::ConfigUnsupported,
        domain,
        format!("{what} key '{key}': {why}"),
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

/// A parsed config and its format, with typed getters that refuse by key.
pub(crate) struct Cfg {
    pub format: NativeFormat,
    entries: Vec<Entry>,
}

impl Cfg {
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    pub fn refuse(&self, key: &str, why: impl std::fmt::Display) -> VirtError {
        unsupported(self.format, key, why)
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The raw value of `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }

    pub fn str(&self, key: &str) -> Result<Option<&str>, VirtError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(self.refuse(key, "expected a string")),
        }
    }

    pub fn num(&self, key: &str) -> Result<Option<i64>, VirtError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Num(n)) => Ok(Some(*n)),
            Some(Value::Str(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.refuse(key, format!("'{s}' is not a number"))),
            Some(Value::List(_)) => Err(self.refuse(key, "expected a number")),
        }
    }

    /// A 0/1 switch.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, VirtError> {
        match self.num(key)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(n) => Err(self.refuse(key, format!("'{n}' is not 0 or 1"))),
        }
    }

    pub fn list(&self, key: &str) -> Result<Vec<&str>, VirtError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| self.refuse(key, "list items must be strings"))
                })
                .collect(),
            Some(_) => Err(self.refuse(key, "expected a list")),
        }
    }
}

/// The guest kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pv,
    Hvm,
    Pvh,
}

/// Converts an xl.cfg text to a domain definition.
pub fn from_native(text: &str) -> Result<DomainDef, VirtError> {
    from_native_in(NativeFormat::Xl, text)
}

/// Converts a config in `format` to a domain definition.
pub fn from_native_in(format: NativeFormat, text: &str) -> Result<DomainDef, VirtError> {
    let xml = to_xml_in(format, text)?;
    let codec = virt_xml::LibvirtXml;
    // What the codec still rejects (a name libvirt would refuse, say) is refused as a whole.
    let def = codec
        .parse_domain(&xml)
        .map_err(|e| unsupported(format, "config", &e.detail))?;
    let back = codec.format_domain(&def, FormatOptions::default());
    let order = |x: &str| -> Vec<String> {
        x.lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("<disk ") || (l.starts_with("<target dev=") && l.contains(" bus="))
            })
            .map(str::to_string)
            .collect()
    };
    if order(&back) != order(&xml) {
        return Err(unsupported(
            format,
            "disk",
            "libvirt's XML parser would change these disks (it sorts them by bus and name, \
             and makes a drive without media type 'file')",
        ));
    }
    Ok(def)
}

/// Converts an xl.cfg text to libvirt's domain XML (before the codec's round trip).
pub fn to_xml(text: &str) -> Result<String, VirtError> {
    to_xml_in(NativeFormat::Xl, text)
}

/// Converts a config in `format` to libvirt's domain XML.
pub fn to_xml_in(format: NativeFormat, text: &str) -> Result<String, VirtError> {
    let entries = cfg::parse(text)?;
    let keys = supported_keys(format);
    for e in &entries {
        if !keys.contains(&e.key.as_str()) {
            return Err(unsupported(
                format,
                &e.key,
                "not supported by this driver yet",
            ));
        }
        if e.append {
            return Err(unsupported(format, &e.key, "'+=' is not supported yet"));
        }
    }
    let c = Cfg { format, entries };
    let kind = kind(&c)?;
    let mut x = String::from("<domain type='xen'>\n");
    general(&c, &mut x)?;
    os(&c, kind, &mut x)?;
    super::features::features_and_clock(&c, kind, &mut x)?;
    actions(&c, &mut x)?;
    devices(&c, kind, &mut x)?;
    let args = c.list("device_model_args")?;
    if c.has("device_model_args") {
        if args.is_empty() {
            return Err(c.refuse("device_model_args", "an empty list is not supported"));
        }
        x = x.replacen(
            "<domain type='xen'>",
            "<domain type='xen' xmlns:xen='http://libvirt.org/schemas/domain/xen/1.0'>",
            1,
        );
        x.push_str("  <xen:commandline>\n");
        for a in args {
            let _ = writeln!(x, "    <xen:arg value='{}'/>", esc(a));
        }
        x.push_str("  </xen:commandline>\n");
    }
    x.push_str("</domain>\n");
    Ok(x)
}

fn kind(c: &Cfg) -> Result<Kind, VirtError> {
    let ty = if c.format == NativeFormat::Xl {
        c.str("type")?
    } else {
        None
    };
    match (ty, c.str("builder")?) {
        (Some("pv"), _) | (None, None | Some("generic")) => Ok(Kind::Pv),
        (Some("hvm"), _) | (None, Some("hvm")) => Ok(Kind::Hvm),
        (Some("pvh"), _) => Ok(Kind::Pvh),
        (Some(t), _) => Err(c.refuse("type", format!("unknown type '{t}'"))),
        (None, Some(b)) => Err(c.refuse("builder", format!("unknown builder '{b}'"))),
    }
}

fn general(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
    let name = c.str("name")?.ok_or_else(|| {
        let (domain, what) = match c.format {
            NativeFormat::Xl => (ErrorDomain::Xenxl, "xl.cfg"),
            NativeFormat::Xm => (ErrorDomain::Xenxm, "xm config"),
        };
        VirtError::new(ErrorCode::NoName, domain, format!("{what} has no 'name'"))
    })?;
    let _ = writeln!(x, "  <name>{}</name>", esc(name));
    if let Some(u) = c.str("uuid")? {
        if virt_core::uuid::Uuid::parse(u).is_none() {
            return Err(c.refuse("uuid", format!("'{u}' is not a UUID")));
        }
        let _ = writeln!(x, "  <uuid>{}</uuid>", esc(u));
    }
    let memory = c.num("memory")?.unwrap_or(128);
    let maxmem = c.num("maxmem")?.unwrap_or(memory);
    if memory <= 0 {
        return Err(c.refuse("memory", "must be positive"));
    }
    if maxmem < memory {
        return Err(c.refuse("maxmem", "below 'memory' is not supported"));
    }
    let kib = |m: i64, key: &str| {
        m.checked_mul(1024)
            .ok_or_else(|| c.refuse(key, "too large"))
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
        return Err(c.refuse("vcpus", "out of range"));
    }
    if !(vcpus..=4096).contains(&maxvcpus) {
        return Err(c.refuse("maxvcpus", "out of range"));
    }
    let cpuset = match c.str("cpus")? {
        None => String::new(),
        Some(set) => {
            let ok = !set.is_empty()
                && set.split(',').all(|r| {
                    let mut ends = r.splitn(2, '-');
                    ends.all(|n| {
                        !n.is_empty() && n.len() < 5 && n.bytes().all(|b| b.is_ascii_digit())
                    })
                });
            if !ok {
                return Err(c.refuse("cpus", format!("'{set}' is not a list of CPU ranges")));
            }
            format!(" cpuset='{set}'")
        }
    };
    if maxvcpus == vcpus {
        let _ = writeln!(x, "  <vcpu placement='static'{cpuset}>{maxvcpus}</vcpu>");
    } else {
        let _ = writeln!(
            x,
            "  <vcpu placement='static'{cpuset} current='{vcpus}'>{maxvcpus}</vcpu>"
        );
    }
    Ok(())
}

fn os(c: &Cfg, kind: Kind, x: &mut String) -> Result<(), VirtError> {
    if kind != Kind::Hvm && c.has("bios") {
        return Err(c.refuse("bios", "only for HVM guests"));
    }
    if kind == Kind::Hvm {
        for k in ["bootloader", "bootargs"] {
            if c.has(k) {
                return Err(c.refuse(k, "only for PV and PVH guests"));
            }
        }
    } else {
        if let Some(b) = c.str("bootloader")? {
            let _ = writeln!(x, "  <bootloader>{}</bootloader>", esc(b));
        }
        if let Some(b) = c.str("bootargs")? {
            if !c.has("bootloader") {
                return Err(c.refuse("bootargs", "without 'bootloader' is not supported"));
            }
            let _ = writeln!(x, "  <bootloader_args>{}</bootloader_args>", esc(b));
        }
    }
    x.push_str("  <os>\n");
    match kind {
        Kind::Pv => x.push_str("    <type arch='x86_64' machine='xenpv'>linux</type>\n"),
        Kind::Pvh => x.push_str("    <type arch='x86_64' machine='xenpvh'>xenpvh</type>\n"),
        Kind::Hvm => {
            x.push_str("    <type arch='x86_64' machine='xenfv'>hvm</type>\n");
            match (c.format, c.str("bios")?) {
                (NativeFormat::Xm, _) => {
                    let _ = writeln!(
                        x,
                        "    <loader type='rom'>{}</loader>",
                        esc(xm::hvm_loader(c)?)
                    );
                }
                (NativeFormat::Xl, None) => x.push_str(
                    "    <loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>\n",
                ),
                (NativeFormat::Xl, Some("ovmf")) => x.push_str(
                    "    <loader readonly='yes' type='pflash'>/usr/lib/xen/boot/ovmf.bin</loader>\n",
                ),
                (NativeFormat::Xl, Some(b)) => {
                    return Err(c.refuse("bios", format!("'{b}' is not supported (only 'ovmf')")))
                }
            }
            for dev in boot_order(c)? {
                let _ = writeln!(x, "    <boot dev='{dev}'/>");
            }
        }
    }
    if kind == Kind::Hvm && c.format == NativeFormat::Xm {
        // xm's `kernel` is the loader: libvirt reads no direct kernel boot for HVM.
        for k in ["ramdisk", "extra", "root"] {
            if c.has(k) {
                return Err(c.refuse(k, "direct kernel boot of xm HVM guests is not supported"));
            }
        }
    } else {
        if kind != Kind::Hvm && c.has("boot") {
            return Err(c.refuse("boot", "only for HVM guests"));
        }
        if let Some(k) = c.str("kernel")? {
            let _ = writeln!(x, "    <kernel>{}</kernel>", esc(k));
        }
        if let Some(r) = c.str("ramdisk")? {
            let _ = writeln!(x, "    <initrd>{}</initrd>", esc(r));
        }
        let explicit = if c.format == NativeFormat::Xl {
            c.str("cmdline")?
        } else {
            None
        };
        let cmdline = match explicit {
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
    Ok(())
}

/// `boot`: up to four of `a` (floppy), `c` (disk), `d` (CD-ROM), `n` (network), each once.
fn boot_order(c: &Cfg) -> Result<Vec<&'static str>, VirtError> {
    let boot = c.str("boot")?.unwrap_or("c");
    if boot.is_empty() || boot.len() > 4 {
        return Err(c.refuse("boot", format!("'{boot}' must name one to four devices")));
    }
    let mut out = Vec::new();
    for ch in boot.chars() {
        let dev = match ch {
            'a' => "fd",
            'c' => "hd",
            'd' => "cdrom",
            'n' => "network",
            o => return Err(c.refuse("boot", format!("unknown boot device '{o}'"))),
        };
        if out.contains(&dev) {
            return Err(c.refuse("boot", format!("'{ch}' named twice")));
        }
        out.push(dev);
    }
    Ok(out)
}

fn actions(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
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
            return Err(c.refuse(key, format!("unknown action '{v}'")));
        }
        let _ = writeln!(x, "  <{key}>{v}</{key}>");
    }
    Ok(())
}

fn devices(c: &Cfg, kind: Kind, x: &mut String) -> Result<(), VirtError> {
    let hvm = kind == Kind::Hvm;
    x.push_str("  <devices>\n");
    if let Some(e) = c.str("device_model_override")? {
        let _ = writeln!(x, "    <emulator>{}</emulator>", esc(e));
    }
    let (mut ide, mut scsi) = (false, false);
    for d in c.list("disk")? {
        let disk = match c.format {
            NativeFormat::Xl => disk::parse_xl(d, hvm),
            NativeFormat::Xm => xm::parse_disk(d, hvm),
        }
        .map_err(|why| c.refuse("disk", format!("'{d}': {why}")))?;
        ide |= disk.bus == "ide";
        scsi |= disk.bus == "scsi";
        x.push_str(&disk.xml());
    }
    x.push_str("    <controller type='xenbus' index='0'");
    for (key, attr) in [
        ("max_grant_frames", "maxGrantFrames"),
        ("max_event_channels", "maxEventChannels"),
    ] {
        match c.num(key)? {
            None => {}
            Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => {
                let _ = write!(x, " {attr}='{n}'");
            }
            // libvirt ignores 0, and a limit must fit 32 bits.
            Some(n) => return Err(c.refuse(key, format!("'{n}' is out of range"))),
        }
    }
    x.push_str("/>\n");
    usb::controllers(c, hvm, x)?;
    if scsi {
        x.push_str("    <controller type='scsi' index='0'/>\n");
    }
    if ide {
        x.push_str("    <controller type='ide' index='0'/>\n");
    }
    for v in c.list("vif")? {
        let nic =
            vif::parse(v, hvm, c.format).map_err(|why| c.refuse("vif", format!("'{v}': {why}")))?;
        x.push_str(&nic.xml());
    }
    chardev::parallel(c, hvm, x)?;
    chardev::serials(c, hvm, x)?;
    if !hvm {
        x.push_str(
            "    <console type='pty'>\n      <target type='xen' port='0'/>\n    </console>\n",
        );
    }
    chardev::channels(c, x)?;
    usb::inputs(c, hvm, x)?;
    if hvm {
        x.push_str("    <input type='mouse' bus='ps2'/>\n    <input type='keyboard' bus='ps2'/>\n");
    } else {
        x.push_str("    <input type='mouse' bus='xen'/>\n    <input type='keyboard' bus='xen'/>\n");
    }
    graphics::from_native(c, hvm, x)?;
    super::pci::from_native(c, x)?;
    sound(c, hvm, x)?;
    usb::hostdevs(c, hvm, x)?;
    x.push_str("    <memballoon model='xen'/>\n  </devices>\n");
    Ok(())
}

/// `soundhw`: a comma-separated list of models, or `all` (libvirt's `sb16,es1370`).
fn sound(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    let Some(list) = c.str("soundhw")? else {
        return Ok(());
    };
    if !hvm {
        return Err(c.refuse("soundhw", "only for HVM guests"));
    }
    let models: Vec<&str> = if list == "all" {
        vec!["sb16", "es1370"]
    } else {
        list.split(',').collect()
    };
    for m in models {
        if !["sb16", "es1370", "pcspk", "ac97", "ich6", "ich7", "ich9"].contains(&m) {
            return Err(c.refuse("soundhw", format!("model '{m}' is not supported")));
        }
        let _ = writeln!(x, "    <sound model='{m}'/>");
    }
    Ok(())
}
