//! `<filesystem>` devices and the user `<alias>` every device may carry.

use virt_core::model::fs::Filesystem;

use super::{format_address, format_alias, parse_address, parse_alias};
use crate::strict::Cursor;
use crate::units::parse_kib_at;
use crate::writer::Writer;
use crate::XmlError;

/// Filesystem types (`virDomainFSType`).
const FS_TYPES: &[&str] = &["mount", "block", "file", "template", "ram", "bind"];

/// Filesystem drivers (`virDomainFSDriver`, without the implicit `default`).
const FS_DRIVERS: &[&str] = &["path", "handle", "loop", "nbd", "ploop", "virtiofs"];

/// Image formats a filesystem driver takes (`virStorageFileFormat`).
const FS_FORMATS: &[&str] = &[
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
    "qcow", "qcow2", "qed", "vmdk",
];

/// Parses a `<filesystem>`.
pub(super) fn parse(mut c: Cursor<'_>) -> Result<Filesystem, XmlError> {
    let mut fs = Filesystem {
        fs_type: c
            .attr_word("type", FS_TYPES)?
            .unwrap_or_else(|| "mount".into()),
        accessmode: c
            .attr_word("accessmode", &["passthrough", "mapped", "squash"])?
            .unwrap_or_else(|| "passthrough".into()),
        ..Filesystem::default()
    };
    if let Some(mut d) = c.child("driver")? {
        fs.driver_type = d.attr_word("type", FS_DRIVERS)?;
        fs.driver_format = d.attr_word("format", FS_FORMATS)?;
        fs.driver_wrpolicy = d.attr_word("wrpolicy", &["immediate"])?;
        if fs.driver_type.is_none() {
            // libvirt prints format and wrpolicy only beside a driver type.
            for (name, set) in [
                ("format", fs.driver_format.is_some()),
                ("wrpolicy", fs.driver_wrpolicy.is_some()),
            ] {
                if set {
                    return Err(XmlError::Unsupported {
                        path: d.attr_path(name),
                        message: format!("driver {name} needs a driver type"),
                    });
                }
            }
        }
        d.finish()?;
    }
    if fs.driver_type.as_deref() == Some("virtiofs") && fs.accessmode != "passthrough" {
        return Err(c.invalid_attr(
            "accessmode",
            &fs.accessmode,
            "virtiofs supports only accessmode 'passthrough'",
        ));
    }
    let source_path = format!("{}/source", c.path());
    if let Some(mut s) = c.child("source")? {
        match fs.source_attr() {
            Some(attr) => {
                let v = s.attr_req(attr)?;
                if v.is_empty() {
                    return Err(s.invalid_attr(attr, v, "expected a non-empty source"));
                }
                fs.source = Some(v.to_string());
            }
            None => {
                let usage = s.attr_req("usage")?;
                let units = s.attr("units");
                let kib = parse_kib_at(&s.attr_path("usage"), &s.attr_path("units"), usage, units)?;
                fs.usage_kib = Some(kib);
            }
        }
        s.finish()?;
    }
    if fs.source.is_none() && fs.usage_kib.is_none() {
        return Err(XmlError::Missing { path: source_path });
    }
    let target_path = format!("{}/target/@dir", c.path());
    if let Some(mut t) = c.child("target")? {
        fs.target = t.attr_req("dir")?.to_string();
        t.finish()?;
    }
    if fs.target.is_empty() {
        return Err(XmlError::Missing { path: target_path });
    }
    if let Some(r) = c.child("readonly")? {
        r.finish()?;
        fs.readonly = true;
    }
    fs.alias = parse_alias(&mut c)?;
    fs.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(fs)
}

/// Writes a `<filesystem>` as libvirt's `virDomainFSDefFormat` does.
pub(super) fn format(w: &mut Writer, fs: &Filesystem) {
    w.tag("filesystem")
        .attr("type", &fs.fs_type)
        .attr("accessmode", &fs.accessmode)
        .open();
    if let Some(t) = &fs.driver_type {
        w.tag("driver")
            .attr("type", t)
            .attr_opt("format", fs.driver_format.as_deref())
            .attr_opt("wrpolicy", fs.driver_wrpolicy.as_deref())
            .empty();
    }
    match (fs.source_attr(), &fs.source, fs.usage_kib) {
        (Some(attr), Some(src), _) => w.tag("source").attr(attr, src).empty(),
        (None, _, Some(kib)) => w
            .tag("source")
            .attr("usage", kib)
            .attr("units", "KiB")
            .empty(),
        _ => {}
    }
    w.tag("target").attr("dir", &fs.target).empty();
    if fs.readonly {
        w.tag("readonly").empty();
    }
    format_alias(w, fs.alias.as_deref());
    format_address(w, fs.address.as_ref());
    w.close("filesystem");
}

#[cfg(test)]
#[path = "fs_tpm_tests.rs"]
mod tests;
