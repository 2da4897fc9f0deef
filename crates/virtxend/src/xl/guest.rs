//! The domain as the native writers need it ([`Guest`]), read line by line from the XML the
//! workspace's codec formats. What is not read here cannot be written, and the writers' round
//! trip then refuses the element rather than drop it.

use super::chardev::Chardev;
use super::disk::Disk;
use super::graphics::Graphics;
use super::pci::Pci;
use super::spice::Spice;
use super::vif::Nic;

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

/// What the canonical XML of a domain says, in the terms of the native formats.
#[derive(Default)]
pub(crate) struct Guest {
    pub name: String,
    pub uuid: String,
    pub max_kib: u64,
    pub cur_kib: u64,
    pub vcpus: u32,
    pub current_vcpus: u32,
    pub kind: String,
    pub bootloader: Option<String>,
    pub bootloader_args: Option<String>,
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub cmdline: Option<String>,
    pub loader: Option<String>,
    pub boot: String,
    pub acpi: bool,
    pub apic: bool,
    pub pae: bool,
    pub hap_off: bool,
    pub viridian: bool,
    pub localtime: bool,
    pub adjustment: i64,
    pub actions: [String; 3],
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    pub graphics: Option<Graphics>,
    pub usbdevices: Vec<String>,
    pub spice: Option<Spice>,
    pub cpuset: Option<String>,
    pub nested: Option<bool>,
    pub tsc_mode: Option<String>,
    pub hpet: Option<bool>,
    pub ovmf: bool,
    pub emulator: Option<String>,
    pub serials: Vec<Chardev>,
    pub channels: Vec<(Chardev, String)>,
    pub usbctrls: Vec<(String, String)>,
    pub usbdevs: Vec<(String, String)>,
    pub pcis: Vec<Pci>,
    pub cpu_features: Vec<(String, String)>,
    pub e820_host: bool,
    pub numa: Vec<super::vnuma::Node>,
    pub dm_args: Vec<String>,
    pub passthrough: bool,
    pub max_grant_frames: Option<String>,
    pub max_event_channels: Option<String>,
    pub parallel: Option<Chardev>,
    pub sounds: Vec<String>,
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

/// Reads the canonical XML (the codec's output) line by line.
pub(crate) fn read(xml: &str) -> Guest {
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
