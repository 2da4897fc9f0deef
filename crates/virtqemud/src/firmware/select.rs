//! Firmware selection at start: [`select`] picks the first descriptor (in priority order)
//! that fits the definition, [`apply`] turns the definition into the explicit one QEMU runs,
//! and [`fill_template`] completes an explicit flash loader with its variable-store template.
//!
//! A descriptor fits when it offers the interface asked (`efi` → `uefi`, `bios` → `bios`),
//! runs the guest's architecture on its machine type, is loaded from flash (split mode,
//! raw images; stateless mode when `<loader stateless='yes'/>` asks) or memory, has every
//! `<firmware><feature enabled='yes'>` and none of the `enabled='no'` ones, supports the
//! ACPI sleep states `<pm>` enables, and agrees on SMM: a firmware that requires it is out
//! when `<features><smm state='off'/>` says so, and one that does not is out when the loader
//! must be secure. These are libvirt 9.0's rules (qemu_firmware.c).

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::domain::{Feature, Loader, Nvram};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::descriptor::{Descriptor, Mapping};

/// Why a descriptor does not fit, or `None` when it does.
pub fn misfit(def: &DomainDef, d: &Descriptor, arch: &str, machine: &str) -> Option<String> {
    let os = &def.os;
    let want = match os.firmware.as_deref() {
        Some("bios") => "bios",
        _ => "uefi",
    };
    if !d.offers(want) {
        return Some(format!("does not offer interface '{want}'"));
    }
    if !d.runs(arch, machine) {
        return Some(format!("does not run {arch} machine '{machine}'"));
    }
    for (name, enabled) in &os.firmware_features {
        if d.has(name) != *enabled {
            let has = if d.has(name) { "has" } else { "lacks" };
            return Some(format!("{has} feature '{name}'"));
        }
    }
    for (asked, feature) in [
        (def.pm.suspend_to_mem, "acpi-s3"),
        (def.pm.suspend_to_disk, "acpi-s4"),
    ] {
        if asked == Some(true) && !d.has(feature) {
            return Some(format!("lacks feature '{feature}'"));
        }
    }
    let loader = os.loader.as_ref();
    let smm_off = smm(def) == Some(false);
    if d.has("requires-smm") {
        if smm_off {
            return Some("requires SMM, which the domain turns off".into());
        }
        if loader.and_then(|l| l.secure) == Some(false) {
            return Some("requires SMM, which the loader does not restrict flash to".into());
        }
    } else if loader.and_then(|l| l.secure) == Some(true) {
        return Some("does not support SMM, which a secure loader needs".into());
    }
    let stateless = loader.and_then(|l| l.stateless) == Some(true);
    match &d.mapping {
        Mapping::Flash {
            mode,
            executable,
            nvram_template,
        } => {
            let wanted = if stateless { "stateless" } else { "split" };
            if mode != wanted {
                return Some(format!("is a '{mode}' flash, not '{wanted}'"));
            }
            // The command line maps flash images with the raw driver.
            if executable.format != "raw" {
                return Some(format!("has a '{}' image", executable.format));
            }
            if !stateless && nvram_template.as_ref().is_none_or(|t| t.format != "raw") {
                return Some("has no raw variable-store template".into());
            }
            None
        }
        Mapping::Memory { .. } if stateless => Some("is not a flash image".into()),
        Mapping::Memory { .. } => None,
        Mapping::Kernel { .. } => Some("is a kernel, not a firmware image".into()),
    }
}

/// `<features><smm state=...>`.
fn smm(def: &DomainDef) -> Option<bool> {
    def.features
        .iter()
        .find(|f| f.name == "smm")
        .and_then(|f| f.state)
}

/// The first descriptor of `descriptors` that fits `def` (see the module docs), or
/// OPERATION_FAILED naming the interface, machine and features asked.
pub fn select<'a>(
    def: &DomainDef,
    arch: &str,
    machine: &str,
    descriptors: &'a [(PathBuf, Descriptor)],
    dirs: &[PathBuf],
) -> Result<&'a (PathBuf, Descriptor), VirtError> {
    let mut why = Vec::new();
    for entry in descriptors {
        match misfit(def, &entry.1, arch, machine) {
            None => return Ok(entry),
            Some(w) => {
                let name = entry.0.file_name().unwrap_or_default().to_string_lossy();
                why.push(format!("{name} {w}"));
            }
        }
    }
    Err(no_firmware(def, arch, machine, dirs, &why))
}

fn no_firmware(
    def: &DomainDef,
    arch: &str,
    machine: &str,
    dirs: &[PathBuf],
    why: &[String],
) -> VirtError {
    let os = &def.os;
    let fw = os.firmware.as_deref().unwrap_or("efi");
    let mut asked: Vec<String> = os
        .firmware_features
        .iter()
        .map(|(n, e)| format!("{n}={}", if *e { "yes" } else { "no" }))
        .collect();
    if os.loader.as_ref().and_then(|l| l.stateless) == Some(true) {
        asked.push("stateless".into());
    }
    if smm(def) == Some(false) {
        asked.push("smm=off".into());
    }
    let asked = if asked.is_empty() {
        "no particular features".to_string()
    } else {
        asked.join(", ")
    };
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let mut detail = format!(
        "Unable to find any firmware to satisfy '{fw}': no descriptor in {} fits {arch} \
         machine '{machine}' with {asked}",
        dirs.join(", ")
    );
    if !why.is_empty() {
        detail.push_str(&format!(" ({})", why.join("; ")));
    }
    let secure = os
        .firmware_features
        .iter()
        .any(|(n, e)| n == "secure-boot" && *e);
    if secure && !machine.starts_with("pc-q35") && machine != "q35" {
        detail.push_str("; secure boot requires SMM, which only q35 machine types have");
    }
    VirtError::new(ErrorCode::OperationFailed, ErrorDomain::Qemu, detail)
}

/// The definition QEMU runs with descriptor `d`: the loader and variable store spelled out
/// (`NVRAM_DIR/NAME_VARS.fd` unless `<nvram>` names one), SMM on and the loader secure when
/// the firmware requires SMM, and no `firmware=` any more, as libvirt 9.0's live XML shows.
pub fn apply(def: &DomainDef, d: &Descriptor, nvram_dir: &Path) -> DomainDef {
    let mut live = def.clone();
    let os = &mut live.os;
    os.firmware = None;
    let stateless = os.loader.as_ref().and_then(|l| l.stateless);
    match &d.mapping {
        Mapping::Flash {
            executable,
            nvram_template,
            ..
        } => {
            os.loader = Some(Loader {
                path: Some(executable.filename.clone()),
                readonly: Some(true),
                secure: d.has("requires-smm").then_some(true),
                loader_type: Some("pflash".into()),
                stateless,
            });
            os.nvram = match (stateless, nvram_template) {
                (Some(true), _) | (_, None) => None,
                (_, Some(t)) => Some(Nvram {
                    path: os
                        .nvram
                        .as_ref()
                        .and_then(|n| n.path.clone())
                        .or_else(|| Some(default_nvram(nvram_dir, &def.name))),
                    template: Some(t.filename.clone()),
                }),
            };
        }
        Mapping::Memory { filename } => {
            os.loader = Some(Loader {
                path: Some(filename.clone()),
                loader_type: Some("rom".into()),
                ..Loader::default()
            });
            os.nvram = None;
        }
        Mapping::Kernel { .. } => {}
    }
    if d.has("requires-smm") {
        match live.features.iter_mut().find(|f| f.name == "smm") {
            Some(f) => f.state = Some(true),
            None => live.features.push(Feature {
                name: "smm".into(),
                state: Some(true),
                ..Feature::default()
            }),
        }
    }
    live
}

/// `NVRAM_DIR/NAME_VARS.fd`: where a domain's variable store goes unless `<nvram>` says.
pub fn default_nvram(nvram_dir: &Path, name: &str) -> String {
    nvram_dir
        .join(format!("{name}_VARS.fd"))
        .display()
        .to_string()
}

/// An explicit flash loader whose variable store names no template gets the template of the
/// descriptor with the same executable, as libvirt does at start.
pub fn fill_template(def: &mut DomainDef, descriptors: &[(PathBuf, Descriptor)]) {
    let os = &mut def.os;
    let (Some(loader), Some(nvram)) = (os.loader.as_ref(), os.nvram.as_mut()) else {
        return;
    };
    if nvram.template.is_some() || loader.loader_type.as_deref() != Some("pflash") {
        return;
    }
    let found = descriptors.iter().find_map(|(_, d)| match &d.mapping {
        Mapping::Flash {
            mode,
            executable,
            nvram_template: Some(t),
        } if mode == "split" && Some(&executable.filename) == loader.path.as_ref() => {
            Some(t.filename.clone())
        }
        _ => None,
    });
    nvram.template = found;
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
