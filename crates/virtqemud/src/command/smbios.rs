//! SMBIOS tables and fw_cfg entries on QEMU's command line, after `-uuid` as libvirt 9.0 puts
//! them:
//!
//! * `<os><smbios mode='sysinfo'/>`: the domain's `<sysinfo type='smbios'>` becomes
//!   `-smbios type=0,...` (bios), `type=1,...` (system), `type=2,...` (the base board; QEMU
//!   takes one), `type=3,...` (chassis) and `type=11,value=...,value=...` (OEM strings), each
//!   field in libvirt's order with commas doubled. Types 2 and 3 always name a manufacturer,
//!   empty if none is given, as libvirt writes them.
//! * `mode='host'`: the same, from the host's own tables, without the system UUID (a guest's
//!   UUID is its own). libvirt runs dmidecode; we read `/sys/class/dmi/id/*` (the kernel's copy
//!   of the same fields) and the raw OEM-strings structures in `/sys/firmware/dmi/entries`,
//!   taking whatever is readable. Fields the kernel does not export (base board location,
//!   chassis SKU) are not passed. A host without DMI (most containers, many VMs) cannot use
//!   this mode: the start fails with CONFIG_UNSUPPORTED, as libvirt's does.
//! * `mode='emulate'` or no mode: QEMU's own tables, nothing on the command line.
//! * Every `<sysinfo type='fwcfg'>` entry becomes `-fw_cfg name=...,string=...` or
//!   `name=...,file=...` whatever the mode (libvirt does not double commas there; we do, as
//!   QEMU's option parser needs).

use std::path::Path;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::sysinfo::{FwCfgValue, SmbiosBlock, SmbiosBlockKind, SmbiosInfo, Sysinfo};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::{opt, unsupported, Builder};

/// Where the kernel exports the host's DMI fields.
const DMI_ID: &str = "/sys/class/dmi/id";
/// Where the kernel exports the raw DMI structures (`TYPE-INSTANCE/raw`).
const DMI_ENTRIES: &str = "/sys/firmware/dmi/entries";

/// `/sys/class/dmi/id` files for each block's entries; `None` where the kernel has none.
fn dmi_file(kind: SmbiosBlockKind, entry: &str) -> Option<&'static str> {
    use SmbiosBlockKind::*;
    Some(match (kind, entry) {
        (Bios, "vendor") => "bios_vendor",
        (Bios, "version") => "bios_version",
        (Bios, "date") => "bios_date",
        (Bios, "release") => "bios_release",
        (System, "manufacturer") => "sys_vendor",
        (System, "product") => "product_name",
        (System, "version") => "product_version",
        (System, "serial") => "product_serial",
        (System, "uuid") => "product_uuid",
        (System, "sku") => "product_sku",
        (System, "family") => "product_family",
        (BaseBoard, "manufacturer") => "board_vendor",
        (BaseBoard, "product") => "board_name",
        (BaseBoard, "version") => "board_version",
        (BaseBoard, "serial") => "board_serial",
        (BaseBoard, "asset") => "board_asset_tag",
        (Chassis, "manufacturer") => "chassis_vendor",
        (Chassis, "version") => "chassis_version",
        (Chassis, "serial") => "chassis_serial",
        (Chassis, "asset") => "chassis_asset_tag",
        _ => return None,
    })
}

/// The host's SMBIOS fields as the kernel exports them under `dmi_id` (and the OEM strings
/// from the raw type-11 structures under `entries`); `None` when nothing is readable.
pub(crate) fn host_smbios(dmi_id: &Path, entries: &Path) -> Option<SmbiosInfo> {
    let read = |file: &str| {
        std::fs::read_to_string(dmi_id.join(file))
            .ok()
            .map(|s| s.trim_end_matches(['\n', '\r']).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let block = |kind: SmbiosBlockKind| {
        let entries: Vec<(String, String)> = kind
            .entry_names()
            .iter()
            .filter_map(|name| {
                let v = read(dmi_file(kind, name)?)?;
                Some((name.to_string(), v))
            })
            .collect();
        (!entries.is_empty()).then_some(SmbiosBlock { entries })
    };
    let info = SmbiosInfo {
        bios: block(SmbiosBlockKind::Bios),
        system: block(SmbiosBlockKind::System),
        base_boards: block(SmbiosBlockKind::BaseBoard).into_iter().collect(),
        chassis: block(SmbiosBlockKind::Chassis),
        oem_strings: host_oem_strings(entries),
    };
    (!info.is_empty()).then_some(info)
}

/// The strings of every SMBIOS type 11 structure (`11-N/raw`), in instance order.
fn host_oem_strings(entries: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for n in 0.. {
        let Ok(raw) = std::fs::read(entries.join(format!("11-{n}/raw"))) else {
            break;
        };
        out.extend(structure_strings(&raw));
    }
    out
}

/// The string set of one raw SMBIOS structure: NUL-terminated strings after the formatted
/// area (whose length is byte 1), ended by an empty one.
fn structure_strings(raw: &[u8]) -> Vec<String> {
    let Some(&len) = raw.get(1) else {
        return Vec::new();
    };
    let Some(strings) = raw.get(usize::from(len)..) else {
        return Vec::new();
    };
    strings
        .split(|b| *b == 0)
        .take_while(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Adds `-smbios` and `-fw_cfg` for `b.def` (see the module docs); the host's tables are read
/// only for `mode='host'`.
pub(crate) fn args(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let host = match b.def.os.smbios_mode.as_deref() {
        Some("host") => host_smbios(Path::new(DMI_ID), Path::new(DMI_ENTRIES)),
        _ => None,
    };
    for a in smbios_args(b.def, host.as_ref())? {
        b.arg("-smbios", a);
    }
    for a in fw_cfg_args(b.def) {
        b.arg("-fw_cfg", a);
    }
    Ok(())
}

/// The `-smbios` values for `def`, with `host` the host's tables (for `mode='host'`).
pub(crate) fn smbios_args(
    def: &DomainDef,
    host: Option<&SmbiosInfo>,
) -> Result<Vec<String>, VirtError> {
    let (source, skip_uuid) = match def.os.smbios_mode.as_deref() {
        Some("host") => (
            host.ok_or_else(|| unsupported("Host SMBIOS information is not available"))?,
            true,
        ),
        Some("sysinfo") => {
            let own = def.sysinfo.iter().find_map(|s| match s {
                Sysinfo::Smbios(info) => Some(info),
                Sysinfo::FwCfg(_) => None,
            });
            let own = own.ok_or_else(|| {
                VirtError::new(
                    ErrorCode::XmlError,
                    ErrorDomain::Qemu,
                    format!(
                        "domain '{}' has <smbios mode='sysinfo'/> but no <sysinfo type='smbios'>",
                        def.name
                    ),
                )
                .at("/domain/os/smbios/@mode")
            })?;
            (own, false)
        }
        _ => return Ok(Vec::new()),
    };
    if source.base_boards.len() > 1 {
        return Err(unsupported(
            "qemu does not support more than one entry to Type 2 in SMBIOS table",
        )
        .at("/domain/sysinfo/baseBoard[2]"));
    }
    let mut out = Vec::new();
    for kind in SmbiosBlockKind::ALL {
        let Some(block) = source.block(kind) else {
            continue;
        };
        let mut fields: Vec<(&str, &str)> = block
            .entries
            .iter()
            .filter(|(n, _)| !(skip_uuid && kind == SmbiosBlockKind::System && n == "uuid"))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        // libvirt always names the manufacturer of a base board and a chassis.
        let manufacturer_first =
            matches!(kind, SmbiosBlockKind::BaseBoard | SmbiosBlockKind::Chassis);
        if manufacturer_first && block.get("manufacturer").is_none() {
            fields.insert(0, ("manufacturer", ""));
        }
        if fields.is_empty() {
            continue;
        }
        let mut s = format!("type={}", kind.smbios_type());
        for (n, v) in fields {
            s.push_str(&format!(",{n}={}", opt(v)));
        }
        out.push(s);
    }
    if !source.oem_strings.is_empty() {
        let mut s = "type=11".to_string();
        for v in &source.oem_strings {
            s.push_str(&format!(",value={}", opt(v)));
        }
        out.push(s);
    }
    Ok(out)
}

/// The `-fw_cfg` values of every `<sysinfo type='fwcfg'>` entry.
pub(crate) fn fw_cfg_args(def: &DomainDef) -> Vec<String> {
    let mut out = Vec::new();
    for s in &def.sysinfo {
        let Sysinfo::FwCfg(entries) = s else {
            continue;
        };
        for e in entries {
            out.push(match &e.value {
                FwCfgValue::Text(t) => format!("name={},string={}", opt(&e.name), opt(t)),
                FwCfgValue::File(f) => format!("name={},file={}", opt(&e.name), opt(f)),
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "smbios_tests.rs"]
mod tests;
