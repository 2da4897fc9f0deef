//! Disks in both native formats: xl.cfg's disk specs (xl-disk-configuration(5): `key=value`
//! items with `target=` last, or the positional `TARGET,FORMAT,VDEV,ACCESS` form) and xm's
//! positional `DRIVER:SOURCE,VDEV[:cdrom],MODE` entries (read and written in [`super::xm`]),
//! in one [`Disk`] written back the way libvirt 9.0 writes each format.

use std::fmt::Write as _;

use super::NativeFormat;

/// One disk, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Disk {
    /// The image or device; none for an empty CD-ROM.
    pub source: Option<String>,
    /// The guest device name (`xvda`, `hdc`, `sda`).
    pub vdev: String,
    /// `xen`, `ide` or `scsi`.
    pub bus: &'static str,
    /// `device='cdrom'`.
    pub cdrom: bool,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>` (xm's `w!` mode).
    pub shared: bool,
    /// The driver name: `qemu` (xl's qdisk), `phy`, `file`, `tap`, `tap2`.
    pub driver: String,
    /// The image format: `raw`, `qcow2`, `qed`.
    pub format: String,
    /// `type='block'` (a `<source dev=>`) rather than `type='file'`.
    pub block: bool,
    /// `type='network'` with `protocol='rbd'`: `source` is the pool/image name (xl only).
    pub rbd: bool,
}

/// Image formats converted both ways (libvirt writes `vhd` back as `xvhd`, and `qcow` is
/// refused by libxl, so neither is offered).
const FORMATS: &[&str] = &["raw", "qcow2", "qed"];

/// Index of a disk name's letters (`a` = 0, `z` = 25, `aa` = 26), as libvirt counts them.
fn letters_index(l: &str) -> Option<u32> {
    if l.is_empty() || l.len() > 3 || !l.bytes().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let mut idx: u32 = 0;
    for c in l.bytes() {
        idx = idx * 26 + u32::from(c - b'a') + 1;
    }
    Some(idx - 1)
}

impl Disk {
    /// The XML of this disk, with the drive address libvirt assigns to IDE and SCSI disks.
    pub fn xml(&self) -> String {
        let mut x = String::new();
        let kind = match (self.rbd, self.block) {
            (true, _) => "network",
            (false, true) => "block",
            (false, false) => "file",
        };
        let _ = writeln!(
            x,
            "    <disk type='{kind}' device='{}'>",
            if self.cdrom { "cdrom" } else { "disk" }
        );
        let _ = writeln!(
            x,
            "      <driver name='{}' type='{}'/>",
            self.driver, self.format
        );
        match &self.source {
            Some(s) if self.rbd => {
                let _ = writeln!(x, "      <source protocol='rbd' name='{}'/>", super::esc(s));
            }
            Some(s) => {
                let attr = if self.block { "dev" } else { "file" };
                let _ = writeln!(x, "      <source {attr}='{}'/>", super::esc(s));
            }
            None => {}
        }
        let _ = writeln!(
            x,
            "      <target dev='{}' bus='{}'/>",
            super::esc(&self.vdev),
            self.bus
        );
        if self.readonly {
            x.push_str("      <readonly/>\n");
        }
        if self.shared {
            x.push_str("      <shareable/>\n");
        }
        let idx = letters_index(self.vdev.get(2..).unwrap_or_default()).unwrap_or(0);
        match self.bus {
            "ide" => {
                let _ = writeln!(
                    x,
                    "      <address type='drive' controller='{}' bus='{}' target='0' unit='{}'/>",
                    idx / 4,
                    (idx % 4) / 2,
                    idx % 2
                );
            }
            "scsi" => {
                let _ = writeln!(
                    x,
                    "      <address type='drive' controller='{}' bus='0' target='0' unit='{}'/>",
                    idx / 7,
                    idx % 7
                );
            }
            _ => {}
        }
        x.push_str("    </disk>\n");
        x
    }

    /// This disk as an entry of `format`'s `disk` list, as libvirt writes it.
    pub fn native(&self, format: NativeFormat) -> String {
        match format {
            NativeFormat::Xl => {
                let access = match (self.readonly, self.shared) {
                    (true, _) => "ro",
                    (false, true) => "!",
                    (false, false) => "rw",
                };
                let backend = match self.driver.as_str() {
                    "phy" => "phy",
                    "tap" | "tap2" => "tap",
                    _ => "qdisk",
                };
                let mut s = format!(
                    "format={},vdev={},access={access},backendtype={backend}",
                    self.format, self.vdev
                );
                if self.cdrom {
                    s.push_str(",devtype=cdrom");
                }
                match &self.source {
                    Some(src) if self.rbd => {
                        let _ = write!(s, ",target=rbd:{src}:auth_supported=none");
                    }
                    Some(src) => {
                        let _ = write!(s, ",target={src}");
                    }
                    None => {}
                }
                s
            }
            NativeFormat::Xm => super::xm::disk_native(self),
        }
    }
}

/// The bus a guest device name is on, or why it is refused.
pub(crate) fn bus_of(vdev: &str, hvm: bool, format: NativeFormat) -> Result<&'static str, String> {
    let (prefix, letters) = vdev.split_at(vdev.len().min(2));
    let (bus, letters) = match prefix {
        "xv" if vdev.starts_with("xvd") => ("xen", &vdev[3..]),
        "hd" if hvm => ("ide", letters),
        "sd" if hvm => ("scsi", letters),
        "hd" | "sd" if format == NativeFormat::Xm => ("xen", letters),
        "sd" => ("xen", letters),
        _ => return Err(format!("vdev '{vdev}' is not supported")),
    };
    let idx = letters_index(letters).ok_or_else(|| format!("vdev '{vdev}' is not supported"))?;
    // Beyond the first IDE controller's four disks and the first SCSI controller's seven,
    // libvirt adds controllers this slice does not write.
    if (bus == "ide" && idx > 3) || (bus == "scsi" && idx > 6) {
        return Err(format!(
            "vdev '{vdev}' (a second controller) is not supported"
        ));
    }
    Ok(bus)
}

/// One xl disk spec.
pub(crate) fn parse_xl(spec: &str, hvm: bool) -> Result<Disk, String> {
    let (mut target, mut format, mut vdev, mut access, mut devtype, mut backend) =
        (None, None, None, None, None, None);
    let mut positional = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        // `target=` is last and takes the rest of the spec, commas included.
        if let Some(t) = rest.trim_start().strip_prefix("target=") {
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
            Some(("backendtype", v)) => backend = Some(v.to_string()),
            Some((k, _)) => return Err(format!("disk parameter '{k}' is not supported")),
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
            _ => return Err("too many positional parameters".into()),
        }
        target = Some(t);
    } else if !positional.is_empty() {
        return Err("positional parameters after 'target=' are not supported".into());
    }
    // An empty value means the default (xl-disk-configuration(5)).
    let [format, vdev, access, devtype, backend] =
        [format, vdev, access, devtype, backend].map(|v| v.filter(|v| !v.is_empty()));
    let mut source = target.filter(|t| !t.is_empty());
    if let Some(t) = &source {
        for prefix in ["phy:", "file:", "tap:aio:", "aio:"] {
            if let Some(rest) = t.strip_prefix(prefix) {
                source = Some(rest.to_string());
                break;
            }
        }
    }
    let mut rbd = false;
    if let Some(t) = source.as_deref().and_then(|t| t.strip_prefix("rbd:")) {
        // Without monitors or authentication: libvirt writes `auth_supported=none` back.
        let name = t.strip_suffix(":auth_supported=none").unwrap_or(t);
        let ok = !name.is_empty()
            && !name.starts_with('/')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
        if !ok {
            return Err(format!(
                "rbd target '{t}' (only POOL/IMAGE without options) is not supported"
            ));
        }
        source = Some(name.to_string());
        rbd = true;
    }
    if let Some(t) = source.as_ref().filter(|_| !rbd) {
        if t.contains(':') && !t.starts_with('/') {
            return Err(format!(
                "target '{t}' (a prefix or protocol) is not supported"
            ));
        }
    }
    let format = format.unwrap_or_else(|| "raw".into());
    if !FORMATS.contains(&format.as_str()) {
        return Err(format!("format '{format}' is not supported"));
    }
    let mut vdev = vdev.ok_or("no vdev")?;
    let mut cdrom = false;
    if let Some(v) = vdev.strip_suffix(":cdrom") {
        vdev = v.to_string();
        cdrom = true;
    }
    match devtype.as_deref() {
        None | Some("disk") => {}
        Some("cdrom") => cdrom = true,
        Some(d) => return Err(format!("devtype '{d}' is not supported")),
    }
    // libvirt makes an xl CD-ROM a read-only raw image of the qdisk backend whatever the
    // spec says, so other values would be lost.
    if cdrom {
        if format != "raw" {
            return Err(format!(
                "format '{format}' of a CD-ROM (libvirt makes it raw)"
            ));
        }
        if matches!(backend.as_deref(), Some(b) if b != "qdisk") {
            return Err("a CD-ROM backend other than qdisk (libvirt uses qdisk)".into());
        }
        if matches!(access.as_deref(), Some("w" | "rw")) {
            return Err("a writable CD-ROM (libvirt makes it read-only)".into());
        }
    }
    let readonly = match access.as_deref() {
        None if cdrom => true,
        None | Some("w" | "rw") => false,
        Some("r" | "ro") => true,
        Some(a) => return Err(format!("access '{a}' is not supported")),
    };
    let (driver, block) = match backend.as_deref() {
        None | Some("qdisk") => ("qemu", false),
        Some("phy") if format == "raw" => ("phy", true),
        Some("tap") => ("tap", false),
        Some(b) => return Err(format!("backendtype '{b}' with format '{format}'")),
    };
    if block && source.is_none() {
        return Err("backendtype 'phy' without a target".into());
    }
    if rbd && (driver != "qemu" || cdrom) {
        return Err("an rbd target needs the qdisk backend and a disk device".into());
    }
    let bus = bus_of(&vdev, hvm, NativeFormat::Xl)?;
    Ok(Disk {
        source,
        vdev,
        bus,
        cdrom,
        readonly,
        shared: false,
        driver: driver.into(),
        format,
        block,
        rbd,
    })
}
