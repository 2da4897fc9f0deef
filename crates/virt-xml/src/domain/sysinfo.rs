//! `<sysinfo>`: SMBIOS blocks (`type='smbios'`) and QEMU fw_cfg entries (`type='fwcfg'`).
//!
//! libvirt reads each block's entries by name and prints them in a fixed order, dropping empty
//! values and silently ignoring names it does not know; here an unknown name, a name given twice
//! or a block given twice is refused naming its XPath. A `<system>` UUID must match the domain's
//! `<uuid>` and supplies it when `<uuid>` is absent ([`reconcile_uuid`]). fw_cfg names follow
//! QEMU's rules as libvirt's QEMU driver checks them: under `opt/`, outside the `opt/ovmf/` and
//! `opt/org.qemu/` namespaces QEMU and OVMF own, and at most 55 bytes (QEMU's limit).

use virt_core::model::sysinfo::{
    FwCfgEntry, FwCfgValue, SmbiosBlock, SmbiosBlockKind, SmbiosInfo, Sysinfo,
};
use virt_core::model::DomainDef;
use virt_core::uuid::Uuid;

use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// The longest fw_cfg file name QEMU takes (its `FW_CFG_MAX_FILE_PATH` less the NUL).
const FW_CFG_NAME_MAX: usize = 55;

/// fw_cfg namespaces that belong to QEMU and OVMF.
const FW_CFG_RESERVED: &[&str] = &["opt/ovmf/", "opt/org.qemu/"];

/// Reads every `<sysinfo>` child of the domain, in document order.
pub(super) fn parse(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    for mut s in c.children("sysinfo") {
        let kind = s.attr_req("type")?;
        let info = match kind {
            "smbios" => Sysinfo::Smbios(parse_smbios(&mut s)?),
            "fwcfg" => Sysinfo::FwCfg(parse_fwcfg(&mut s)?),
            other => return Err(s.invalid_attr("type", other, "expected smbios or fwcfg")),
        };
        let twice = def
            .sysinfo
            .iter()
            .any(|o| std::mem::discriminant(o) == std::mem::discriminant(&info));
        if twice {
            return Err(XmlError::Unsupported {
                path: s.path().to_string(),
                message: format!("only one <sysinfo type='{kind}'> can be used"),
            });
        }
        s.finish()?;
        def.sysinfo.push(info);
    }
    Ok(())
}

fn parse_smbios(s: &mut Cursor<'_>) -> Result<SmbiosInfo, XmlError> {
    let mut info = SmbiosInfo::default();
    for kind in SmbiosBlockKind::ALL {
        if kind == SmbiosBlockKind::BaseBoard {
            for mut b in s.children(kind.element()) {
                let block = parse_block(&mut b, kind)?;
                b.finish()?;
                info.base_boards.extend(block);
            }
            continue;
        }
        let Some(mut b) = s.child(kind.element())? else {
            continue;
        };
        let block = parse_block(&mut b, kind)?;
        b.finish()?;
        match kind {
            SmbiosBlockKind::Bios => info.bios = block,
            SmbiosBlockKind::System => info.system = block,
            _ => info.chassis = block,
        }
    }
    if let Some(mut o) = s.child("oemStrings")? {
        for mut e in o.children("entry") {
            info.oem_strings.push(e.text()?);
            e.finish()?;
        }
        o.finish()?;
    }
    Ok(info)
}

/// One block's entries in libvirt's order; `None` when none has a value.
fn parse_block(b: &mut Cursor<'_>, kind: SmbiosBlockKind) -> Result<Option<SmbiosBlock>, XmlError> {
    let names = kind.entry_names();
    let mut found: Vec<(usize, String)> = Vec::new();
    for mut e in b.children("entry") {
        let name = e.attr_req("name")?;
        let expected = format!("expected one of {}", names.join(", "));
        let slot = names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| e.invalid_attr("name", name, &expected))?;
        if found.iter().any(|(i, _)| *i == slot) {
            return Err(XmlError::Duplicate {
                path: e.path().to_string(),
            });
        }
        let path = e.path().to_string();
        let mut value = e.text()?;
        e.finish()?;
        if value.is_empty() {
            continue;
        }
        match (kind, name) {
            (SmbiosBlockKind::Bios, "date") if !valid_bios_date(&value) => {
                return Err(XmlError::InvalidValue {
                    path,
                    value,
                    reason: "invalid BIOS 'date' format: expected mm/dd/yy or mm/dd/yyyy".into(),
                })
            }
            (SmbiosBlockKind::System, "uuid") => {
                value = Uuid::parse(&value)
                    .ok_or_else(|| XmlError::BadUuid {
                        path,
                        value: value.clone(),
                    })?
                    .to_string();
            }
            _ => {}
        }
        found.push((slot, value));
    }
    found.sort_by_key(|(i, _)| *i);
    let entries: Vec<(String, String)> = found
        .into_iter()
        .map(|(i, v)| (names[i].to_string(), v))
        .collect();
    Ok((!entries.is_empty()).then_some(SmbiosBlock { entries }))
}

/// libvirt's check of a BIOS date: `mm/dd/yy` or `mm/dd/yyyy`, month 1-12, day 1-31, a year of
/// two digits or from 1900.
fn valid_bios_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('/').collect();
    let [m, d, y] = parts.as_slice() else {
        return false;
    };
    let num = |s: &str| crate::strict::parse_u32(s);
    match (num(m), num(d), num(y)) {
        (Some(m), Some(d), Some(y)) => {
            (1..=12).contains(&m) && (1..=31).contains(&d) && !(100..1900).contains(&y)
        }
        _ => false,
    }
}

fn parse_fwcfg(s: &mut Cursor<'_>) -> Result<Vec<FwCfgEntry>, XmlError> {
    let mut out: Vec<FwCfgEntry> = Vec::new();
    for mut e in s.children("entry") {
        let name = e.attr_req("name")?.to_string();
        let name_path = e.attr_path("name");
        let refuse = |message: &str| XmlError::Unsupported {
            path: name_path.clone(),
            message: message.to_string(),
        };
        if !name.starts_with("opt/") {
            return Err(refuse("invalid firmware name: it must start with 'opt/'"));
        }
        if FW_CFG_RESERVED.iter().any(|p| name.starts_with(p)) {
            return Err(refuse("that firmware name is reserved"));
        }
        if name.len() > FW_CFG_NAME_MAX {
            return Err(refuse(&format!(
                "firmware name is longer than {FW_CFG_NAME_MAX} bytes"
            )));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(XmlError::Duplicate {
                path: e.path().to_string(),
            });
        }
        let file = e.attr_string("file");
        let text = e.text()?;
        let value = match (file, text.is_empty()) {
            (Some(f), true) => FwCfgValue::File(f),
            (None, false) => FwCfgValue::Text(text),
            (Some(_), false) => {
                return Err(XmlError::Invalid {
                    path: e.path().to_string(),
                    message: "a firmware entry has either a value or a 'file' attribute, not both"
                        .into(),
                })
            }
            (None, true) => {
                return Err(XmlError::Invalid {
                    path: e.path().to_string(),
                    message: "firmware entry must have either value or 'file' attribute".into(),
                })
            }
        };
        e.finish()?;
        out.push(FwCfgEntry { name, value });
    }
    Ok(out)
}

/// Whether the domain element has a `<uuid>` child (before parsing: an absent one is
/// generated, and the SMBIOS system UUID may supply it instead).
pub(super) fn uuid_given(domain: &crate::dom::Element) -> bool {
    domain.children.iter().any(
        |n| matches!(n, crate::dom::Node::Element(e) if e.prefix.is_none() && e.name == "uuid"),
    )
}

/// Applies libvirt's rule between `<uuid>` and the SMBIOS system UUID: equal when both are
/// given; the system one becomes the domain's when `<uuid>` was absent (`uuid_given` false).
pub(super) fn reconcile_uuid(
    def: &mut DomainDef,
    uuid_given: bool,
    path: &str,
) -> Result<(), XmlError> {
    let system_uuid = def.sysinfo.iter().find_map(|s| match s {
        Sysinfo::Smbios(info) => info.system.as_ref().and_then(|b| b.get("uuid")),
        Sysinfo::FwCfg(_) => None,
    });
    let Some(text) = system_uuid else {
        return Ok(());
    };
    let uuid = Uuid::parse(text).ok_or_else(|| XmlError::BadUuid {
        path: format!("{path}/sysinfo/system/entry"),
        value: text.to_string(),
    })?;
    if !uuid_given {
        def.uuid = uuid;
    } else if uuid != def.uuid {
        return Err(XmlError::Invalid {
            path: format!("{path}/sysinfo/system/entry"),
            message: "UUID mismatch between <uuid> and <sysinfo>".into(),
        });
    }
    Ok(())
}

/// Prints every `<sysinfo>` as libvirt does.
pub(super) fn format(w: &mut Writer, def: &DomainDef) {
    for s in &def.sysinfo {
        match s {
            Sysinfo::Smbios(info) => {
                w.tag("sysinfo")
                    .attr("type", "smbios")
                    .children(|w| format_smbios(w, info));
            }
            Sysinfo::FwCfg(entries) => {
                w.tag("sysinfo").attr("type", "fwcfg").children(|w| {
                    for e in entries {
                        let tag = w.tag("entry").attr("name", &e.name);
                        match &e.value {
                            FwCfgValue::Text(t) => tag.text(t),
                            FwCfgValue::File(f) => tag.attr("file", f).empty(),
                        }
                    }
                });
            }
        }
    }
}

fn format_smbios(w: &mut Writer, info: &SmbiosInfo) {
    let block = |w: &mut Writer, kind: SmbiosBlockKind, b: &SmbiosBlock| {
        w.tag(kind.element()).children(|w| {
            for (name, value) in &b.entries {
                w.tag("entry").attr("name", name).text(value);
            }
        });
    };
    if let Some(b) = &info.bios {
        block(w, SmbiosBlockKind::Bios, b);
    }
    if let Some(b) = &info.system {
        block(w, SmbiosBlockKind::System, b);
    }
    for b in &info.base_boards {
        block(w, SmbiosBlockKind::BaseBoard, b);
    }
    if let Some(b) = &info.chassis {
        block(w, SmbiosBlockKind::Chassis, b);
    }
    if !info.oem_strings.is_empty() {
        w.tag("oemStrings").children(|w| {
            for s in &info.oem_strings {
                w.tag("entry").text(s);
            }
        });
    }
}

#[cfg(test)]
#[path = "sysinfo_tests.rs"]
mod tests;
