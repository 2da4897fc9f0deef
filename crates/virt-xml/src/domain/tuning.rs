//! `<blkiotune>`, `<memtune>`, `<memoryBacking>` and `<idmap>`: strict parse with libvirt's
//! (and its schema's) ranges, and output in libvirt's order. `<cputune>` is in `cputune`.

use virt_core::model::tuning::{
    BlkioDevice, BlkioTune, HugePage, IdMap, IdMapEntry, MemTune, MemoryBacking,
};
use virt_core::model::DomainDef;

use crate::strict::{parse_u32, parse_u64, Cursor};
use crate::units::{parse_kib, parse_kib_at};
use crate::writer::Writer;
use crate::XmlError;

/// libvirt's `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED` in KiB: a memtune value this large means
/// "no limit" and is not printed.
const MEMORY_UNLIMITED_KIB: u64 = (i64::MAX as u64) >> 10;

/// The text of child `name` parsed with `parse`, `None` when absent.
pub(super) fn number<T>(
    c: &mut Cursor<'_>,
    name: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, XmlError> {
    let Some(mut e) = c.child(name)? else {
        return Ok(None);
    };
    let text = e.text()?;
    let v = parse(text.trim()).ok_or_else(|| e.invalid_text(&text, expected))?;
    e.finish()?;
    Ok(Some(v))
}

/// `<blkiotune>`: weights 100..=1000 (the schema's range; 0 means unset, as in libvirt).
pub(super) fn parse_blkiotune(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut b) = c.child("blkiotune")? else {
        return Ok(());
    };
    let weight = |c: &mut Cursor<'_>| {
        number(
            c,
            "weight",
            "expected a weight from 100 to 1000 (0: unset)",
            |s| parse_u32(s).filter(|w| *w == 0 || (100..=1000).contains(w)),
        )
        .map(|w| w.filter(|w| *w > 0))
    };
    let mut t = BlkioTune {
        weight: weight(&mut b)?,
        ..BlkioTune::default()
    };
    for mut d in b.children("device") {
        let path_xpath = format!("{}/path", d.path());
        let path = d.child_text("path")?.unwrap_or_default();
        if !path.starts_with('/') {
            return Err(XmlError::Unsupported {
                path: path_xpath,
                message: format!("missing or relative per-device path '{path}'"),
            });
        }
        if t.devices.iter().any(|o| o.path == path) {
            return Err(XmlError::Unsupported {
                path: path_xpath,
                message: format!("duplicate blkio device path '{path}'"),
            });
        }
        let iops = |d: &mut Cursor<'_>, name: &str| {
            number(d, name, "expected an unsigned 32-bit integer", parse_u32)
                .map(|v| v.filter(|v| *v > 0).map(u64::from))
        };
        let bytes = |d: &mut Cursor<'_>, name: &str| {
            number(d, name, "expected an unsigned integer", parse_u64).map(|v| v.filter(|v| *v > 0))
        };
        let dev = BlkioDevice {
            path,
            weight: weight(&mut d)?,
            read_iops_sec: iops(&mut d, "read_iops_sec")?,
            write_iops_sec: iops(&mut d, "write_iops_sec")?,
            read_bytes_sec: bytes(&mut d, "read_bytes_sec")?,
            write_bytes_sec: bytes(&mut d, "write_bytes_sec")?,
        };
        d.finish()?;
        t.devices.push(dev);
    }
    b.finish()?;
    def.blkiotune = t;
    Ok(())
}

/// `<memtune>`: scaled integers up to libvirt's "unlimited", which means no limit.
pub(super) fn parse_memtune(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut m) = c.child("memtune")? else {
        return Ok(());
    };
    let mut limit = |name: &str| -> Result<Option<u64>, XmlError> {
        let Some(mut e) = m.child(name)? else {
            return Ok(None);
        };
        let unit = e.attr("unit");
        let text = e.text()?;
        let kib = parse_kib(e.path(), &text, unit)?;
        if kib > MEMORY_UNLIMITED_KIB {
            return Err(XmlError::Overflow {
                path: e.path().to_string(),
                value: text.trim().to_string(),
                unit: unit.unwrap_or("KiB").to_string(),
            });
        }
        e.finish()?;
        Ok(Some(kib).filter(|k| *k < MEMORY_UNLIMITED_KIB))
    };
    def.memtune = MemTune {
        hard_limit_kib: limit("hard_limit")?,
        soft_limit_kib: limit("soft_limit")?,
        min_guarantee_kib: limit("min_guarantee")?,
        swap_hard_limit_kib: limit("swap_hard_limit")?,
    };
    m.finish()
}

/// A flag element (`<locked/>`): present or not, no attributes.
fn flag(c: &mut Cursor<'_>, name: &str) -> Result<bool, XmlError> {
    match c.child(name)? {
        None => Ok(false),
        Some(e) => e.finish().map(|()| true),
    }
}

/// `<memoryBacking>`. A hugepage `nodeset` names guest NUMA cells, which this crate does
/// not model, so it is refused (libvirt drops `nodeset='0'` without cells and refuses others).
pub(super) fn parse_memory_backing(
    c: &mut Cursor<'_>,
    def: &mut DomainDef,
) -> Result<(), XmlError> {
    let Some(mut m) = c.child("memoryBacking")? else {
        return Ok(());
    };
    let mut b = MemoryBacking::default();
    if let Some(mut h) = m.child("hugepages")? {
        b.hugepages = true;
        for mut p in h.children("page") {
            let size = p.attr_req("size")?;
            let unit = p.attr("unit");
            let size_kib = parse_kib_at(&p.attr_path("size"), &p.attr_path("unit"), size, unit)?;
            if size_kib == 0 {
                return Err(p.invalid_attr("size", size, "hugepage size can't be zero"));
            }
            if p.attr("nodeset").is_some() {
                return Err(XmlError::Unsupported {
                    path: p.attr_path("nodeset"),
                    message: "hugepage nodeset needs guest NUMA cells, which are not supported"
                        .into(),
                });
            }
            if let Some(other) = b.pages.iter().find(|o| o.nodeset.is_none()) {
                return Err(XmlError::Unsupported {
                    path: p.path().to_string(),
                    message: format!(
                        "two master hugepages detected: {} and {size_kib}",
                        other.size_kib
                    ),
                });
            }
            p.finish()?;
            b.pages.push(HugePage {
                size_kib,
                nodeset: None,
            });
        }
        h.finish()?;
    }
    b.nosharepages = flag(&mut m, "nosharepages")?;
    b.locked = flag(&mut m, "locked")?;
    if let Some(mut s) = m.child("source")? {
        b.source_type = s.attr_word("type", &["file", "anonymous", "memfd"])?;
        s.finish()?;
    }
    if let Some(mut a) = m.child("access")? {
        b.access_mode = a.attr_word("mode", &["shared", "private"])?;
        a.finish()?;
    }
    if let Some(mut a) = m.child("allocation")? {
        b.allocation_mode = a.attr_word("mode", &["immediate", "ondemand"])?;
        b.allocation_threads = a.attr_u32("threads")?.filter(|t| *t > 0);
        a.finish()?;
    }
    b.discard = flag(&mut m, "discard")?;
    m.finish()?;
    def.memory_backing = b;
    Ok(())
}

/// `<idmap>`: `uid` and `gid` ranges, both needed, the container's root mapped; kept sorted
/// by `start` as libvirt does.
pub(super) fn parse_idmap(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut m) = c.child("idmap")? else {
        return Ok(());
    };
    let path = m.path().to_string();
    let mut entries = |name: &str| -> Result<Vec<IdMapEntry>, XmlError> {
        let mut out = Vec::new();
        for mut e in m.children(name) {
            let mut num = |attr: &str| -> Result<u32, XmlError> {
                let v = e.attr_req(attr)?;
                parse_u32(v).ok_or_else(|| e.invalid_attr(attr, v, "expected an unsigned integer"))
            };
            let entry = IdMapEntry {
                start: num("start")?,
                target: num("target")?,
                count: num("count")?,
            };
            e.finish()?;
            out.push(entry);
        }
        out.sort_by_key(|e| e.start);
        Ok(out)
    };
    let map = IdMap {
        uids: entries("uid")?,
        gids: entries("gid")?,
    };
    m.finish()?;
    if map.is_empty() {
        return Ok(());
    }
    if map.uids.is_empty() || map.gids.is_empty() {
        return Err(XmlError::Unsupported {
            path,
            message: "uid and gid should be mapped both".into(),
        });
    }
    if map.uids[0].start != 0 || map.gids[0].start != 0 {
        return Err(XmlError::Unsupported {
            path,
            message: "You must map the root user of container".into(),
        });
    }
    def.idmap = map;
    Ok(())
}

/// Writes `<blkiotune>`, `<memtune>` and `<memoryBacking>` (after `<currentMemory>`).
pub(super) fn format_memory_tuning(w: &mut Writer, def: &DomainDef) {
    let b = &def.blkiotune;
    if !b.is_empty() {
        w.tag("blkiotune").open();
        if let Some(v) = b.weight {
            w.tag("weight").text(&v.to_string());
        }
        for d in &b.devices {
            w.tag("device").open();
            w.tag("path").text(&d.path);
            for (name, v) in [
                ("weight", d.weight.map(u64::from)),
                ("read_iops_sec", d.read_iops_sec),
                ("write_iops_sec", d.write_iops_sec),
                ("read_bytes_sec", d.read_bytes_sec),
                ("write_bytes_sec", d.write_bytes_sec),
            ] {
                if let Some(v) = v {
                    w.tag(name).text(&v.to_string());
                }
            }
            w.close("device");
        }
        w.close("blkiotune");
    }
    let m = &def.memtune;
    if !m.is_empty() {
        w.tag("memtune").open();
        for (name, v) in [
            ("hard_limit", m.hard_limit_kib),
            ("soft_limit", m.soft_limit_kib),
            ("min_guarantee", m.min_guarantee_kib),
            ("swap_hard_limit", m.swap_hard_limit_kib),
        ] {
            if let Some(v) = v {
                w.tag(name).attr("unit", "KiB").text(&v.to_string());
            }
        }
        w.close("memtune");
    }
    let b = &def.memory_backing;
    if !b.is_empty() {
        w.tag("memoryBacking").open();
        if b.hugepages {
            w.tag("hugepages").children(|w| {
                for p in &b.pages {
                    w.tag("page")
                        .attr("size", p.size_kib)
                        .attr("unit", "KiB")
                        .attr_opt("nodeset", p.nodeset.as_deref())
                        .empty();
                }
            });
        }
        if b.nosharepages {
            w.tag("nosharepages").empty();
        }
        if b.locked {
            w.tag("locked").empty();
        }
        if let Some(t) = &b.source_type {
            w.tag("source").attr("type", t).empty();
        }
        if let Some(m) = &b.access_mode {
            w.tag("access").attr("mode", m).empty();
        }
        if b.allocation_mode.is_some() || b.allocation_threads.is_some() {
            w.tag("allocation")
                .attr_opt("mode", b.allocation_mode.as_deref())
                .attr_opt("threads", b.allocation_threads)
                .empty();
        }
        if b.discard {
            w.tag("discard").empty();
        }
        w.close("memoryBacking");
    }
}

/// Writes `<idmap>` (after `<os>`).
pub(super) fn format_idmap(w: &mut Writer, def: &DomainDef) {
    if def.idmap.is_empty() {
        return;
    }
    w.tag("idmap").open();
    for (name, list) in [("uid", &def.idmap.uids), ("gid", &def.idmap.gids)] {
        for e in list {
            w.tag(name)
                .attr("start", e.start)
                .attr("target", e.target)
                .attr("count", e.count)
                .empty();
        }
    }
    w.close("idmap");
}

#[cfg(test)]
#[path = "tuning_tests.rs"]
mod tests;
