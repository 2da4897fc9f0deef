//! `<disk>`: parse, libvirt's insertion order, and format.

use virt_core::model::devices::{DeviceSecLabel, Disk, DiskDriver, DiskSource, DiskSourceHost};
use virt_core::model::enums::{DiskBus, DiskDevice, DiskType};

use super::{format_info, parse_address, parse_alias, parse_boot};
use crate::domain::non_empty;
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

const NET_PROTOCOLS: &[&str] = &[
    "nbd", "rbd", "sheepdog", "gluster", "iscsi", "http", "https", "ftp", "ftps", "tftp", "ssh",
    "vxhs", "nfs",
];

/// A `<backingStore>`: empty, the chain's end; else a file image (`<format>`, `<source
/// file>`) and the rest of the chain below it.
fn parse_backing(mut b: Cursor<'_>, d: &mut Disk) -> Result<(), XmlError> {
    let kind = b.attr("type");
    let _ = b.attr("index");
    let Some(kind) = kind else {
        b.text()?;
        b.finish()?;
        d.backing_store_none = d.backing_chain.is_empty();
        return Ok(());
    };
    if kind != "file" {
        return Err(b.invalid_attr("type", kind, "file"));
    }
    let format = match b.child("format")? {
        Some(mut f) => {
            let t = f.attr_string("type");
            f.finish()?;
            t
        }
        None => None,
    };
    let path = match b.child("source")? {
        Some(mut s) => {
            let p = s.attr_req("file")?.to_string();
            s.finish()?;
            p
        }
        None => {
            return Err(XmlError::Missing {
                path: format!("{}/source", b.path()),
            })
        }
    };
    d.backing_chain
        .push(virt_core::model::devices::BackingStore { path, format });
    let next = b.child("backingStore")?;
    b.finish()?;
    if let Some(n) = next {
        parse_backing(n, d)?;
    }
    Ok(())
}

pub(super) fn parse(mut c: Cursor<'_>) -> Result<Disk, XmlError> {
    let mut d = Disk {
        disk_type: c
            .attr_with("type", "expected a disk type", DiskType::from_xml)?
            .unwrap_or_default(),
        device: c
            .attr_with(
                "device",
                "expected disk, cdrom, floppy or lun",
                DiskDevice::from_xml,
            )?
            .unwrap_or_default(),
        ..Disk::default()
    };
    if matches!(d.disk_type, DiskType::Nvme | DiskType::Vhostuser) {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("disk type '{}' is not supported", d.disk_type),
        });
    }
    if let Some(drv) = c.child("driver")? {
        d.driver = Some(parse_driver(drv)?);
    }
    if let Some(src) = c.child("source")? {
        d.source = parse_source(src, d.disk_type)?;
    }
    if let Some(b) = c.child("backingStore")? {
        parse_backing(b, &mut d)?;
    }
    if d.source.is_none() {
        match d.disk_type {
            DiskType::Network => {
                return Err(XmlError::Missing {
                    path: format!("{}/source", c.path()),
                })
            }
            // libvirt keeps an empty drive (cdrom without media) as type 'file'.
            _ => d.disk_type = DiskType::File,
        }
    }
    let mut t = c.child("target")?.ok_or_else(|| XmlError::Missing {
        path: format!("{}/target", c.path()),
    })?;
    d.target_dev = t.attr_req("dev")?.to_string();
    d.target_bus = t.attr_with("bus", "expected a disk bus", DiskBus::from_xml)?;
    d.target_tray = t.attr_word("tray", &["open", "closed"])?;
    d.target_removable = t.attr_on_off("removable")?;
    t.finish()?;
    if let Some(io) = c.child("iotune")? {
        d.iotune = parse_iotune(io)?;
    }
    d.readonly = flag(&mut c, "readonly")?;
    d.shareable = flag(&mut c, "shareable")?;
    d.transient = flag(&mut c, "transient")?;
    d.serial = non_empty(c.child_text("serial")?);
    d.wwn = non_empty(c.child_text("wwn")?);
    if let Some(w) = &d.wwn {
        if w.len() != 16 || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(XmlError::InvalidValue {
                path: format!("{}/wwn", c.path()),
                value: w.clone(),
                reason: "expected 16 hex digits".into(),
            });
        }
    }
    d.boot_order = parse_boot(&mut c)?;
    d.alias = parse_alias(&mut c)?;
    d.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(d)
}

/// `<iotune>` children in libvirt's print order (`virDomainDiskDefFormatIotune`).
const IOTUNE: &[&str] = &[
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec_max",
    "read_bytes_sec_max",
    "write_bytes_sec_max",
    "total_iops_sec_max",
    "read_iops_sec_max",
    "write_iops_sec_max",
    "size_iops_sec",
    "group_name",
    "total_bytes_sec_max_length",
    "read_bytes_sec_max_length",
    "write_bytes_sec_max_length",
    "total_iops_sec_max_length",
    "read_iops_sec_max_length",
    "write_iops_sec_max_length",
];

/// `<iotune>`: numbers as written (libvirt reads them as unsigned 64-bit integers), with
/// libvirt's check that a total and a read/write limit of one kind are not both set.
fn parse_iotune(mut c: Cursor<'_>) -> Result<Vec<(String, String)>, XmlError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for &name in IOTUNE {
        let path = format!("{}/{name}", c.path());
        let Some(text) = c.child_text(name)? else {
            continue;
        };
        let text = text.trim().to_string();
        if name != "group_name" && crate::strict::parse_u64(&text).is_none() {
            return Err(XmlError::InvalidValue {
                path,
                value: text,
                reason: "expected an unsigned integer".into(),
            });
        }
        out.push((name.to_string(), text));
    }
    let base = c.path().to_string();
    c.finish()?;
    let set = |n: &str| {
        out.iter()
            .any(|(k, v)| k == n && crate::strict::parse_u64(v).is_some_and(|x| x > 0))
    };
    for kind in ["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"] {
        let total = set(&format!("total_{kind}"));
        if total && (set(&format!("read_{kind}")) || set(&format!("write_{kind}"))) {
            return Err(XmlError::Invalid {
                path: format!("{base}/total_{kind}"),
                message: format!("total and read/write of {kind} cannot be set at the same time"),
            });
        }
    }
    Ok(out)
}

fn flag(c: &mut Cursor<'_>, name: &str) -> Result<bool, XmlError> {
    match c.child(name)? {
        None => Ok(false),
        Some(mut e) => {
            e.text()?;
            e.finish()?;
            Ok(true)
        }
    }
}

fn parse_driver(mut c: Cursor<'_>) -> Result<DiskDriver, XmlError> {
    let drv = DiskDriver {
        name: non_empty(c.attr_string("name")),
        format: non_empty(c.attr_string("type")),
        cache: c.attr_word(
            "cache",
            &[
                "default",
                "none",
                "writethrough",
                "writeback",
                "directsync",
                "unsafe",
            ],
        )?,
        error_policy: c.attr_word("error_policy", &["stop", "report", "ignore", "enospace"])?,
        rerror_policy: c.attr_word("rerror_policy", &["stop", "report", "ignore"])?,
        io: c.attr_word("io", &["threads", "native", "io_uring"])?,
        ioeventfd: c.attr_on_off("ioeventfd")?,
        event_idx: c.attr_on_off("event_idx")?,
        copy_on_read: c.attr_on_off("copy_on_read")?,
        discard: c.attr_word("discard", &["unmap", "ignore"])?,
        iothread: c.attr_u32("iothread")?,
        detect_zeroes: c.attr_word("detect_zeroes", &["off", "on", "unmap"])?,
        queues: c.attr_u32("queues")?,
    };
    c.finish()?;
    Ok(drv)
}

fn parse_source(mut c: Cursor<'_>, ty: DiskType) -> Result<Option<DiskSource>, XmlError> {
    let mut s = DiskSource {
        startup_policy: c.attr_word("startupPolicy", &["mandatory", "requisite", "optional"])?,
        ..DiskSource::default()
    };
    match ty {
        DiskType::File => s.path = non_empty(c.attr_string("file")),
        DiskType::Block => s.path = non_empty(c.attr_string("dev")),
        DiskType::Dir => s.path = non_empty(c.attr_string("dir")),
        DiskType::Volume => {
            s.pool = non_empty(c.attr_string("pool"));
            s.volume = non_empty(c.attr_string("volume"));
            s.mode = c.attr_word("mode", &["host", "direct"])?;
        }
        DiskType::Network => {
            s.protocol = Some(c.attr_req("protocol").and_then(|p| {
                if NET_PROTOCOLS.contains(&p) {
                    Ok(p.to_string())
                } else {
                    Err(c.invalid_attr("protocol", p, "expected a network disk protocol"))
                }
            })?);
            s.name = non_empty(c.attr_string("name"));
            for mut h in c.children("host") {
                let host = DiskSourceHost {
                    name: non_empty(h.attr_string("name")),
                    port: h.attr_u32("port")?,
                    transport: h.attr_word("transport", &["tcp", "unix", "rdma"])?,
                    socket: non_empty(h.attr_string("socket")),
                };
                h.finish()?;
                s.hosts.push(host);
            }
        }
        DiskType::Nvme | DiskType::Vhostuser => {}
    }
    for l in c.children("seclabel") {
        s.seclabels.push(parse_device_seclabel(l)?);
    }
    c.finish()?;
    let empty = s == DiskSource::default();
    Ok((!empty).then_some(s))
}

/// A `<seclabel>` under a disk source. As in libvirt, a label needs relabelling on.
fn parse_device_seclabel(mut c: Cursor<'_>) -> Result<DeviceSecLabel, XmlError> {
    let mut l = DeviceSecLabel {
        model: non_empty(c.attr_string("model")),
        relabel: c.attr_yes_no("relabel")?,
        labelskip: c.attr_yes_no("labelskip")?,
        label: None,
    };
    if let Some(mut t) = c.child("label")? {
        l.label = Some(t.text()?);
        if l.relabel == Some(false) {
            return Err(XmlError::Invalid {
                path: t.path().to_string(),
                message: "Cannot specify a label if relabelling is turned off".into(),
            });
        }
        t.finish()?;
    }
    // libvirt's schema (devSeclabel): an override says relabel='no', labelskip='yes' or gives
    // a label; libvirt drops any other one silently, this crate refuses it.
    let meaningful = matches!(
        (l.relabel, l.labelskip, &l.label),
        (Some(false), None, None) | (None, Some(true), None) | (None | Some(true), None, Some(_))
    );
    if !meaningful {
        return Err(XmlError::Invalid {
            path: c.path().to_string(),
            message: "a device seclabel needs relabel='no', labelskip='yes' or a <label>".into(),
        });
    }
    c.finish()?;
    Ok(l)
}

fn format_device_seclabel(w: &mut Writer, l: &DeviceSecLabel) {
    w.tag("seclabel")
        .attr_opt("model", l.model.as_deref())
        .yes_no("labelskip", l.labelskip)
        .yes_no("relabel", l.relabel)
        .children(|w| w.text_elem("label", l.label.as_deref()));
}

/// The index libvirt derives from a disk name (`vda` 0, `sdb` 1, `hdaa` 26), ignoring a
/// trailing partition number; `None` for names without a known prefix.
pub(crate) fn name_to_index(name: &str) -> Option<u32> {
    let rest = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let letters: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    let digits = &rest[letters.len()..];
    if letters.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || letters.len() > 6 {
        return None;
    }
    let mut idx: u32 = 0;
    for (i, c) in letters.bytes().enumerate() {
        idx = (idx + u32::from(i > 0)) * 26 + u32::from(c - b'a');
    }
    Some(idx)
}

/// Inserts `disk` where libvirt's `virDomainDiskInsert` puts it: after the last disk on the
/// same bus, before the first disk of that bus with a higher index.
pub(super) fn insert(disks: &mut Vec<Disk>, disk: Disk) {
    let key = |d: &Disk| name_to_index(&d.target_dev).map_or(-1, i64::from);
    let new = key(&disk);
    let mut at: Option<usize> = None;
    for i in (0..disks.len()).rev() {
        if disks[i].target_bus != disk.target_bus {
            continue;
        }
        if key(&disks[i]) > new {
            at = Some(i);
        } else if at.is_none() {
            at = Some(i + 1);
        }
    }
    match at {
        Some(i) => disks.insert(i, disk),
        None => disks.push(disk),
    }
}

pub(super) fn format(w: &mut Writer, d: &Disk) {
    w.tag("disk")
        .attr("type", d.disk_type)
        .attr("device", d.device)
        .open();
    if let Some(drv) = &d.driver {
        w.tag("driver")
            .attr_opt("name", drv.name.as_deref())
            .attr_opt("type", drv.format.as_deref())
            .attr_opt("cache", drv.cache.as_deref())
            .attr_opt("error_policy", drv.error_policy.as_deref())
            .attr_opt("rerror_policy", drv.rerror_policy.as_deref())
            .attr_opt("io", drv.io.as_deref())
            .on_off("ioeventfd", drv.ioeventfd)
            .on_off("event_idx", drv.event_idx)
            .on_off("copy_on_read", drv.copy_on_read)
            .attr_opt("discard", drv.discard.as_deref())
            .attr_opt("iothread", drv.iothread)
            .attr_opt("detect_zeroes", drv.detect_zeroes.as_deref())
            .attr_opt("queues", drv.queues)
            .empty();
    }
    if let Some(s) = &d.source {
        format_source(w, d.disk_type, s);
    }
    for (i, b) in d.backing_chain.iter().enumerate() {
        w.tag("backingStore")
            .attr("type", "file")
            .attr("index", d.backing_chain.len() + 1 - i)
            .open();
        if let Some(f) = &b.format {
            w.tag("format").attr("type", f).empty();
        }
        w.tag("source").attr("file", &b.path).empty();
    }
    if d.backing_store_none || !d.backing_chain.is_empty() {
        w.tag("backingStore").empty();
    }
    for _ in &d.backing_chain {
        w.close("backingStore");
    }
    w.tag("target")
        .attr("dev", &d.target_dev)
        .attr_opt("bus", d.target_bus)
        .attr_opt("tray", d.target_tray.as_deref())
        .on_off("removable", d.target_removable)
        .empty();
    if !d.iotune.is_empty() {
        w.tag("iotune").open();
        for (k, v) in &d.iotune {
            w.tag(k).text(v);
        }
        w.close("iotune");
    }
    for (set, name) in [
        (d.readonly, "readonly"),
        (d.shareable, "shareable"),
        (d.transient, "transient"),
    ] {
        if set {
            w.tag(name).empty();
        }
    }
    w.text_elem("serial", d.serial.as_deref());
    w.text_elem("wwn", d.wwn.as_deref());
    format_info(w, d.boot_order, d.alias.as_deref(), d.address.as_ref());
    w.close("disk");
}

fn format_source(w: &mut Writer, ty: DiskType, s: &DiskSource) {
    let path_attr = match ty {
        DiskType::Block => "dev",
        DiskType::Dir => "dir",
        _ => "file",
    };
    // A volume's resolved path is runtime state: the XML names the pool and volume only.
    let path = s.path.as_deref().filter(|_| ty != DiskType::Volume);
    let tag = w
        .tag("source")
        .attr_opt(path_attr, path)
        .attr_opt("protocol", s.protocol.as_deref())
        .attr_opt("name", s.name.as_deref())
        .attr_opt("pool", s.pool.as_deref())
        .attr_opt("volume", s.volume.as_deref())
        .attr_opt("mode", s.mode.as_deref())
        .attr_opt("startupPolicy", s.startup_policy.as_deref());
    tag.children(|w| {
        for h in &s.hosts {
            w.tag("host")
                .attr_opt("transport", h.transport.as_deref())
                .attr_opt("name", h.name.as_deref())
                .attr_opt("port", h.port)
                .attr_opt("socket", h.socket.as_deref())
                .empty();
        }
        for l in &s.seclabels {
            format_device_seclabel(w, l);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strict::parse_u32;

    fn disk(dev: &str, bus: Option<DiskBus>) -> Disk {
        Disk {
            target_dev: dev.into(),
            target_bus: bus,
            ..Disk::default()
        }
    }

    #[test]
    fn backing_chains_read_and_write_back() {
        let xml = "<domain type='qemu'><name>b</name><memory>65536</memory>\
            <os><type>hvm</type></os><devices>\
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
            <source file='/i/top.qcow2'/>\
            <backingStore type='file' index='3'><format type='qcow2'/>\
            <source file='/i/mid.qcow2'/>\
            <backingStore type='file' index='2'><format type='raw'/>\
            <source file='/i/base.img'/><backingStore/></backingStore></backingStore>\
            <target dev='vda' bus='virtio'/></disk></devices></domain>";
        let def = crate::parse_domain(xml).expect("parses");
        let d = &def.devices.disks[0];
        assert_eq!(d.backing_chain.len(), 2);
        assert_eq!(d.backing_chain[1].path, "/i/base.img");
        assert_eq!(d.backing_chain[1].format.as_deref(), Some("raw"));
        assert!(!d.backing_store_none);
        let out = crate::domain::format(
            &def,
            virt_core::xml::FormatOptions {
                id: None,
                secure: false,
                inactive: false,
            },
        );
        assert!(
            out.contains(
                "<source file='/i/top.qcow2'/>\n      <backingStore type='file' index='3'>\n        \
                 <format type='qcow2'/>\n        <source file='/i/mid.qcow2'/>\n        \
                 <backingStore type='file' index='2'>\n          <format type='raw'/>\n          \
                 <source file='/i/base.img'/>\n          <backingStore/>\n        \
                 </backingStore>\n      </backingStore>\n      <target dev='vda'"
            ),
            "{out}"
        );
        let again = crate::parse_domain(&out).expect("parses back");
        assert_eq!(again.devices.disks[0].backing_chain, d.backing_chain);
        // `<backingStore/>` alone: no chain.
        let none = xml.replace(
            &xml[xml
                .find("<backingStore type='file' index='3'>")
                .expect("chain")..xml.find("<target").expect("target")],
            "<backingStore/>",
        );
        let def = crate::parse_domain(&none).expect("parses");
        assert!(def.devices.disks[0].backing_store_none);
        assert!(def.devices.disks[0].backing_chain.is_empty());
    }

    #[test]
    fn disk_names_give_libvirt_indexes() {
        assert_eq!(name_to_index("vda"), Some(0));
        assert_eq!(name_to_index("sdb"), Some(1));
        assert_eq!(name_to_index("hdz"), Some(25));
        assert_eq!(name_to_index("sdaa"), Some(26));
        assert_eq!(name_to_index("xvda1"), Some(0));
        assert_eq!(name_to_index("zz"), None);
        assert_eq!(name_to_index("vd"), None);
        assert_eq!(name_to_index("vda1x"), None);
        assert_eq!(parse_u32("1"), Some(1));
    }

    #[test]
    fn insertion_groups_by_bus_and_sorts_by_index() {
        let mut v = Vec::new();
        for (dev, bus) in [
            ("vda", Some(DiskBus::Virtio)),
            ("hdc", Some(DiskBus::Ide)),
            ("vdc", Some(DiskBus::Virtio)),
            ("vdb", Some(DiskBus::Virtio)),
        ] {
            insert(&mut v, disk(dev, bus));
        }
        let order: Vec<&str> = v.iter().map(|d| d.target_dev.as_str()).collect();
        assert_eq!(order, ["vda", "vdb", "vdc", "hdc"]);
        let mut v = Vec::new();
        for dev in ["hda", "sdb", "vdc", "xvdd", "fda", "ubda"] {
            insert(&mut v, disk(dev, None));
        }
        let order: Vec<&str> = v.iter().map(|d| d.target_dev.as_str()).collect();
        assert_eq!(order, ["hda", "fda", "ubda", "sdb", "vdc", "xvdd"]);
    }
}
