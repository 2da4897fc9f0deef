//! `<pool>` and `<volume>`: libvirt's storage XML (storage_conf.c) for the pool types this
//! project serves (`dir`, `fs`, `logical`). Pool types libvirt knows but we do not serve, and
//! elements we do not act on, are CONFIG_UNSUPPORTED naming them; nothing is dropped.

use virt_core::error::{ErrorDomain, VirtError};
use virt_core::storage::model::{
    BackingStore, Permissions, PoolDef, PoolSource, Timestamps, VolDef, POOL_TYPES, POOL_TYPE_FLAGS,
};
use virt_core::uuid::Uuid;

use crate::strict::Cursor;
use crate::units::unit_scale;
use crate::writer::Writer;
use crate::XmlError;

/// File system types an `fs` pool accepts (libvirt's virStoragePoolFormatFileSystem).
const FS_FORMATS: &[&str] = &[
    "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
    "ocfs2", "vmfs",
];
/// Volume formats libvirt knows for file volumes (virStorageFileFormat), the ones a `dir`
/// pool accepts.
const VOL_FORMATS: &[&str] = &[
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
    "qcow", "qcow2", "qed", "vmdk",
];

/// Turns "unknown element/attribute" into CONFIG_UNSUPPORTED: storage XML this project does
/// not act on is refused by name.
fn unsupported(e: XmlError) -> XmlError {
    match e {
        XmlError::UnknownElement { path } => XmlError::Unsupported {
            message: format!("unsupported element {path}"),
            path,
        },
        XmlError::UnknownAttribute { path } => XmlError::Unsupported {
            message: format!("unsupported attribute {path}"),
            path,
        },
        other => other,
    }
}

fn scaled(c: &mut Cursor<'_>, name: &str) -> Result<Option<u64>, XmlError> {
    let Some(mut e) = c.child(name)? else {
        return Ok(None);
    };
    let unit = e.attr_string("unit");
    let text = e.text()?;
    let path = e.path().to_string();
    e.finish()?;
    let value = text.trim();
    let n: u64 = value.parse().map_err(|_| XmlError::InvalidValue {
        path: path.clone(),
        value: value.to_string(),
        reason: "expected a non-negative integer".into(),
    })?;
    let scale = match unit.as_deref() {
        None | Some("") => 1,
        Some(u) => unit_scale(u).ok_or_else(|| XmlError::UnknownUnit {
            path: format!("{path}/@unit"),
            unit: u.to_string(),
        })?,
    };
    n.checked_mul(scale)
        .filter(|b| *b <= i64::MAX as u64)
        .map(Some)
        .ok_or(XmlError::Overflow {
            path,
            value: value.to_string(),
            unit: unit.unwrap_or_default(),
        })
}

fn perms(c: &mut Cursor<'_>) -> Result<Permissions, XmlError> {
    let mut p = Permissions::default();
    let Some(mut e) = c.child("permissions")? else {
        return Ok(p);
    };
    let mode_path = format!("{}/mode", e.path());
    if let Some(m) = e.child_text("mode")? {
        let m = m.trim().to_string();
        p.mode = Some(
            u32::from_str_radix(&m, 8)
                .ok()
                .filter(|v| *v <= 0o7777)
                .ok_or(XmlError::InvalidValue {
                    path: mode_path,
                    value: m,
                    reason: "malformed octal mode".into(),
                })?,
        );
    }
    for (name, slot) in [("owner", &mut p.owner), ("group", &mut p.group)] {
        let path = format!("{}/{name}", e.path());
        if let Some(v) = e.child_text(name)? {
            let v = v.trim().to_string();
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n| *n >= -1 && *n <= u32::MAX as i64)
                .ok_or(XmlError::InvalidValue {
                    path,
                    value: v,
                    reason: format!("malformed {name} element"),
                })?;
            *slot = (n != -1).then_some(n);
        }
    }
    p.label = e.child_text("label")?.filter(|s| !s.is_empty());
    e.finish()?;
    Ok(p)
}

fn format_type(c: &mut Cursor<'_>, allowed: &[&str]) -> Result<Option<String>, XmlError> {
    let Some(mut f) = c.child("format")? else {
        return Ok(None);
    };
    let t = f.attr_req("type")?.to_string();
    if !allowed.contains(&t.as_str()) {
        return Err(f.invalid_attr(
            "type",
            &t,
            &format!("expected one of {}", allowed.join(", ")),
        ));
    }
    f.finish()?;
    Ok(Some(t))
}

/// libvirt's path clean-up: no doubled or trailing slashes.
fn sanitize_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.trim().chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// Parses `<pool>`.
pub fn parse_pool(xml: &str) -> Result<PoolDef, XmlError> {
    let root = crate::parse_root(xml, "(storage_pool_definition)", "pool")?;
    parse_pool_element(Cursor::new(&root, "/pool")).map_err(unsupported)
}

/// Parses a `<pool>` element found at `path` (inside a test-driver node file).
pub(crate) fn parse_pool_at(el: &crate::dom::Element, path: &str) -> Result<PoolDef, XmlError> {
    parse_pool_element(Cursor::new(el, path)).map_err(unsupported)
}

fn parse_pool_element(mut c: Cursor<'_>) -> Result<PoolDef, XmlError> {
    let ty = c.attr_req("type")?.to_string();
    if !POOL_TYPES.contains(&ty.as_str()) {
        let known = POOL_TYPE_FLAGS.iter().any(|(t, _)| *t == ty);
        return Err(if known {
            XmlError::Unsupported {
                path: c.attr_path("type"),
                message: format!("storage pool type '{ty}' is not supported"),
            }
        } else {
            c.invalid_attr("type", &ty, "unknown storage pool type")
        });
    }
    let mut def = PoolDef {
        pool_type: ty.clone(),
        ..PoolDef::default()
    };
    let name = c.child_text("name")?.map(|s| s.trim().to_string());
    let uuid_path = format!("{}/uuid", c.path());
    def.uuid = match c.child_text("uuid")? {
        Some(u) => Uuid::parse(&u).ok_or(XmlError::BadUuid {
            path: uuid_path,
            value: u,
        })?,
        None => Uuid::random(),
    };
    def.capacity = scaled(&mut c, "capacity")?.unwrap_or(0);
    def.allocation = scaled(&mut c, "allocation")?.unwrap_or(0);
    def.available = scaled(&mut c, "available")?.unwrap_or(0);
    if let Some(mut s) = c.child("source")? {
        def.source = parse_source(&mut s, &ty)?;
        s.finish()?;
    }
    if let Some(mut t) = c.child("target")? {
        if let Some(p) = t.child_text("path")? {
            def.target_path = sanitize_path(&p);
        }
        def.target_perms = perms(&mut t)?;
        t.finish()?;
    }
    let root_path = c.path().to_string();
    c.finish()?;
    // libvirt: a logical pool's VG defaults to the pool name and the reverse.
    def.name = match (name.filter(|n| !n.is_empty()), &def.source.name) {
        (Some(n), _) => n,
        (None, Some(s)) if ty == "logical" => s.clone(),
        (None, _) => return Err(XmlError::MissingName { path: root_path }),
    };
    if def.name.contains('/') {
        return Err(XmlError::Invalid {
            path: format!("{root_path}/name"),
            message: format!("name {} cannot contain '/'", def.name),
        });
    }
    match ty.as_str() {
        "logical" => {
            let vg = def
                .source
                .name
                .get_or_insert_with(|| def.name.clone())
                .clone();
            def.source.format.get_or_insert_with(|| "lvm2".into());
            if def.target_path.is_empty() {
                def.target_path = format!("/dev/{vg}");
            }
        }
        "fs" => {
            def.source.format.get_or_insert_with(|| "auto".into());
            if def.source.devices.len() != 1 {
                return Err(XmlError::Missing {
                    path: format!("{root_path}/source/device"),
                });
            }
        }
        _ => {}
    }
    if def.target_path.is_empty() {
        return Err(XmlError::Missing {
            path: format!("{root_path}/target/path"),
        });
    }
    if !def.target_path.starts_with('/') {
        return Err(XmlError::InvalidValue {
            path: format!("{root_path}/target/path"),
            value: def.target_path.clone(),
            reason: "expected an absolute path".into(),
        });
    }
    Ok(def)
}

fn parse_source(s: &mut Cursor<'_>, ty: &str) -> Result<PoolSource, XmlError> {
    let mut src = PoolSource::default();
    for mut d in s.children("device") {
        src.devices.push(sanitize_path(d.attr_req("path")?));
        d.finish()?;
    }
    if let Some(mut d) = s.child("dir")? {
        src.dir = Some(sanitize_path(d.attr_req("path")?));
        d.finish()?;
    }
    src.name = s.child_text("name")?.map(|n| n.trim().to_string());
    let formats: &[&str] = match ty {
        "fs" => FS_FORMATS,
        "logical" => &["unknown", "lvm2"],
        _ => &[],
    };
    src.format = format_type(s, formats)?;
    if ty == "dir" && (!src.devices.is_empty() || src.name.is_some() || src.dir.is_some()) {
        return Err(XmlError::Unsupported {
            path: s.path().to_string(),
            message: "a dir pool takes no source".into(),
        });
    }
    Ok(src)
}

fn write_perms(w: &mut Writer, p: &Permissions) {
    if p.is_empty() {
        return;
    }
    w.tag("permissions").open();
    if let Some(m) = p.mode {
        w.tag("mode").text(&format!("{m:04o}"));
    }
    if let Some(o) = p.owner {
        w.tag("owner").text(&o.to_string());
    }
    if let Some(g) = p.group {
        w.tag("group").text(&g.to_string());
    }
    w.text_elem("label", p.label.as_deref());
    w.close("permissions");
}

/// Formats `<pool>` as libvirt 9.0's virStoragePoolDefFormat.
pub fn format_pool(def: &PoolDef) -> String {
    let mut w = Writer::default();
    w.tag("pool").attr("type", &def.pool_type).open();
    w.tag("name").text(&def.name);
    w.tag("uuid").text(&def.uuid.to_string());
    w.tag("capacity")
        .attr("unit", "bytes")
        .text(&def.capacity.to_string());
    w.tag("allocation")
        .attr("unit", "bytes")
        .text(&def.allocation.to_string());
    w.tag("available")
        .attr("unit", "bytes")
        .text(&def.available.to_string());
    w.tag("source").open();
    for d in &def.source.devices {
        w.tag("device").attr("path", d).empty();
    }
    if let Some(d) = &def.source.dir {
        w.tag("dir").attr("path", d).empty();
    }
    if def.pool_type == "logical" {
        w.text_elem("name", def.source.name.as_deref());
    }
    if let Some(f) = &def.source.format {
        w.tag("format").attr("type", f).empty();
    }
    w.close("source");
    w.tag("target").open();
    w.tag("path").text(&def.target_path);
    write_perms(&mut w, &def.target_perms);
    w.close("target");
    w.close("pool");
    w.finish()
}

/// Parses `<volume>`.
pub fn parse_volume(xml: &str) -> Result<VolDef, XmlError> {
    let root = crate::parse_root(xml, "(storage_volume_definition)", "volume")?;
    parse_volume_element(Cursor::new(&root, "/volume")).map_err(unsupported)
}

fn parse_volume_element(mut c: Cursor<'_>) -> Result<VolDef, XmlError> {
    let mut v = VolDef {
        vol_type: c
            .attr_word(
                "type",
                &["file", "block", "dir", "network", "netdir", "ploop"],
            )?
            .unwrap_or_else(|| "file".into()),
        ..VolDef::default()
    };
    let root_path = c.path().to_string();
    v.name = c
        .child_text("name")?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or(XmlError::MissingName {
            path: root_path.clone(),
        })?;
    if v.name.contains('/') {
        return Err(XmlError::Invalid {
            path: format!("{root_path}/name"),
            message: format!("volume name '{}' cannot contain '/'", v.name),
        });
    }
    // Output-only elements a client echoes back (virsh vol-clone sends the source's XML).
    let _ = c.child_text("key")?;
    if let Some(s) = c.child("source")? {
        s.finish()?;
    }
    v.capacity = scaled(&mut c, "capacity")?.ok_or(XmlError::Missing {
        path: format!("{root_path}/capacity"),
    })?;
    v.allocation = scaled(&mut c, "allocation")?;
    v.physical = scaled(&mut c, "physical")?;
    if let Some(mut t) = c.child("target")? {
        if let Some(p) = t.child_text("path")? {
            v.target_path = sanitize_path(&p);
        }
        v.format = format_type(&mut t, VOL_FORMATS)?;
        v.target_perms = perms(&mut t)?;
        skip_timestamps(&mut t)?;
        v.cluster_size = scaled(&mut t, "clusterSize")?;
        t.finish()?;
    }
    if let Some(mut b) = c.child("backingStore")? {
        let path = b
            .child_text("path")?
            .map(|p| sanitize_path(&p))
            .ok_or(XmlError::Missing {
                path: format!("{}/path", b.path()),
            })?;
        let format = format_type(&mut b, VOL_FORMATS)?;
        let _ = perms(&mut b)?;
        skip_timestamps(&mut b)?;
        b.finish()?;
        v.backing = Some(BackingStore {
            path,
            format,
            ..BackingStore::default()
        });
    }
    c.finish()?;
    Ok(v)
}

/// Reads past `<timestamps>`: output-only facts a client echoes back (virsh vol-clone sends
/// the source's XML), never acted on.
fn skip_timestamps(c: &mut Cursor<'_>) -> Result<(), XmlError> {
    if let Some(mut t) = c.child("timestamps")? {
        for n in ["atime", "mtime", "ctime", "btime"] {
            let _ = t.child_text(n)?;
        }
        t.finish()?;
    }
    Ok(())
}

fn write_timestamps(w: &mut Writer, ts: &Option<Timestamps>) {
    let Some(ts) = ts else {
        return;
    };
    let fmt = |(s, ns): (i64, u32)| {
        if ns == 0 {
            s.to_string()
        } else {
            format!("{s}.{ns:09}")
        }
    };
    w.tag("timestamps").open();
    w.tag("atime").text(&fmt(ts.atime));
    w.tag("mtime").text(&fmt(ts.mtime));
    w.tag("ctime").text(&fmt(ts.ctime));
    w.tag("btime").text("0");
    w.close("timestamps");
}

/// Formats `<volume>` as libvirt 9.0's virStorageVolDefFormat.
pub fn format_volume(def: &VolDef) -> String {
    let mut w = Writer::default();
    w.tag("volume").attr("type", &def.vol_type).open();
    w.tag("name").text(&def.name);
    w.tag("key").text(&def.key);
    w.tag("capacity")
        .attr("unit", "bytes")
        .text(&def.capacity.to_string());
    w.tag("allocation")
        .attr("unit", "bytes")
        .text(&def.allocation.unwrap_or(0).to_string());
    if let Some(p) = def.physical {
        w.tag("physical").attr("unit", "bytes").text(&p.to_string());
    }
    w.tag("target").open();
    w.tag("path").text(&def.target_path);
    if let Some(f) = &def.format {
        w.tag("format").attr("type", f).empty();
    }
    write_perms(&mut w, &def.target_perms);
    write_timestamps(&mut w, &def.timestamps);
    if let Some(cs) = def.cluster_size {
        w.tag("clusterSize").attr("unit", "B").text(&cs.to_string());
    }
    w.close("target");
    if let Some(b) = &def.backing {
        w.tag("backingStore").open();
        w.tag("path").text(&b.path);
        if let Some(f) = &b.format {
            w.tag("format").attr("type", f).empty();
        }
        write_perms(&mut w, &b.perms);
        write_timestamps(&mut w, &b.timestamps);
        w.close("backingStore");
    }
    w.close("volume");
    w.finish()
}

/// The codec as virt-core's storage seam.
impl virt_core::storage::StorageXmlCodec for crate::LibvirtXml {
    fn parse_pool(&self, xml: &str) -> Result<PoolDef, VirtError> {
        parse_pool(xml).map_err(|e| match e {
            // libvirt's own words for the one omission virsh users meet most.
            XmlError::Missing { path } if path.ends_with("/target/path") => VirtError::new(
                virt_core::ErrorCode::XmlError,
                ErrorDomain::Storage,
                "missing storage pool target path",
            ),
            e => e.into_virt(ErrorDomain::Storage),
        })
    }

    fn format_pool(&self, def: &PoolDef) -> String {
        format_pool(def)
    }

    fn parse_volume(&self, xml: &str) -> Result<VolDef, VirtError> {
        parse_volume(xml).map_err(|e| e.into_virt(ErrorDomain::Storage))
    }

    fn format_volume(&self, def: &VolDef) -> String {
        format_volume(def)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libvirt's own output, which the test driver serves too.
    const DEFAULT_POOL: &str = virt_core::test_driver::pools::DEFAULT_POOL_XML;

    #[test]
    fn default_pool_round_trips_byte_for_byte() {
        let def = parse_pool(DEFAULT_POOL).expect("parses");
        assert_eq!(def.capacity, 100 << 30);
        assert_eq!(format_pool(&def), DEFAULT_POOL);
    }

    #[test]
    fn logical_pool_takes_its_vg_from_the_name_and_prints_lvm2() {
        let def = parse_pool(
            "<pool type='logical'><name>vg0</name><source><device path='/dev/loop7'/></source></pool>",
        )
        .expect("parses");
        assert_eq!(def.source.name.as_deref(), Some("vg0"));
        assert_eq!(def.target_path, "/dev/vg0");
        let xml = format_pool(&def);
        assert!(xml.contains("    <device path='/dev/loop7'/>\n    <name>vg0</name>\n    <format type='lvm2'/>\n"), "{xml}");
    }

    #[test]
    fn unserved_pool_type_and_unknown_element_are_config_unsupported_by_name() {
        let e = parse_pool("<pool type='netfs'><name>n</name></pool>").expect_err("refused");
        assert_eq!(e.code(), virt_core::ErrorCode::ConfigUnsupported);
        assert!(e.to_string().contains("netfs"), "{e}");
        let e = parse_pool(
            "<pool type='dir'><name>n</name><target><path>/x</path></target><features/></pool>",
        )
        .expect_err("refused");
        assert_eq!(e.code(), virt_core::ErrorCode::ConfigUnsupported);
        assert!(e.to_string().contains("/pool/features"), "{e}");
    }

    #[test]
    fn volume_parses_units_perms_and_backing_store_and_formats_them() {
        let v = parse_volume(
            "<volume><name>a.qcow2</name><capacity unit='G'>10</capacity><allocation>0</allocation>\
             <target><format type='qcow2'/><permissions><mode>0644</mode><owner>107</owner></permissions></target>\
             <backingStore><path>/p/base.img</path><format type='raw'/></backingStore></volume>",
        )
        .expect("parses");
        assert_eq!(v.capacity, 10 << 30);
        assert_eq!(v.allocation, Some(0));
        assert_eq!(v.target_perms.mode, Some(0o644));
        let xml = format_volume(&v);
        assert!(xml.contains("<mode>0644</mode>") && xml.contains("<owner>107</owner>"));
        assert!(xml.contains(
            "  <backingStore>\n    <path>/p/base.img</path>\n    <format type='raw'/>\n"
        ));
        let again = parse_volume(&xml).expect("parses");
        assert_eq!(again.backing, v.backing);
    }

    #[test]
    fn volume_without_capacity_is_refused_naming_it() {
        let e = parse_volume("<volume><name>x</name></volume>").expect_err("refused");
        assert!(e.to_string().contains("/volume/capacity"), "{e}");
    }
}
