//! Guest firmware, as libvirt 9.0's QEMU driver handles it: UEFI and BIOS picked from QEMU's
//! firmware descriptors, and the per-domain UEFI variable store.
//!
//! # When what happens
//!
//! * **Define** ([`validate::check_define`]): libvirt's rules on `<os>` (auto-selection
//!   leaves loader attributes to the descriptors, a secure loader needs q35 and SMM, UEFI
//!   needs ACPI). An explicit read-only flash loader gets its NVRAM path
//!   (`NVRAM_DIR/NAME_VARS.fd`) now; with `<os firmware='efi'>` the stored definition stays
//!   as written, because libvirt 9.0 selects at start.
//! * **Start** ([`resolve`]): with `firmware='efi|bios'` the first fitting descriptor in
//!   priority order ([`select`]) becomes an explicit `<loader>` + `<nvram template=...>`,
//!   with `<smm state='on'/>` and `secure='yes'` when the firmware requires SMM; the result is
//!   the live definition (what `dumpxml` shows while it runs). An explicit flash loader gets
//!   the template of the descriptor with the same image. Then [`nvram::ensure`] copies the
//!   template when the store is missing (or always with START_RESET_NVRAM).
//! * **Command line** (`command.rs`): the flash images as `-blockdev` pairs named by
//!   `-machine pflash0=,pflash1=`, `smm=on|off` from `<features><smm>`, and
//!   `-global driver=cfi.pflash01,property=secure,value=on` for a secure loader.
//! * **Undefine** (`definitions.rs`): a domain whose store exists ([`nvram::path_of`]) is refused
//!   without VIR_DOMAIN_UNDEFINE_NVRAM (removes it) or KEEP_NVRAM (keeps it).
//! * **Domain capabilities** ([`domain_caps`]): `<enum name='firmware'>` lists the interfaces
//!   some descriptor offers for the machine, `<loader>` their images, `secure` `yes` only
//!   when one of them does secure boot.
//!
//! Where we differ: when no descriptor fits, the error keeps libvirt's first words
//! ("Unable to find any firmware to satisfy 'efi'") and goes on to name the search dirs, the
//! machine, the features asked and why each descriptor was passed over. Like libvirt 9.0,
//! `firmware='bios'` needs a BIOS descriptor; Debian ships none, so it fails at start there
//! (and domain capabilities do not offer it).

pub mod descriptor;
pub mod nvram;
pub mod select;
pub mod validate;

use std::path::{Path, PathBuf};

use virt_core::model::caps::LoaderCaps;
use virt_core::model::{DomainCapsBlock, DomainDef};
use virt_core::VirtError;

use descriptor::Descriptor;

/// The definition QEMU runs for `def` on `machine` (canonical name): firmware selected from
/// the descriptors in `dirs` when `<os firmware=...>` asks, the template filled in for an
/// explicit flash loader, `def` unchanged otherwise. Descriptors are read only when needed.
pub fn resolve(
    def: &DomainDef,
    machine: &str,
    dirs: &[PathBuf],
    nvram_dir: &Path,
) -> Result<DomainDef, VirtError> {
    let os = &def.os;
    let explicit_flash = os.firmware.is_none()
        && os.nvram.as_ref().is_some_and(|n| n.template.is_none())
        && os.loader.as_ref().and_then(|l| l.loader_type.as_deref()) == Some("pflash");
    if os.firmware.is_none() && !explicit_flash {
        return Ok(def.clone());
    }
    let descriptors = descriptor::load(dirs)?;
    if explicit_flash {
        let mut live = def.clone();
        select::fill_template(&mut live, &descriptors);
        return Ok(live);
    }
    let arch = os.arch.clone().unwrap_or_else(crate::host::host_arch);
    let (_, d) = select::select(def, &arch, machine, &descriptors, dirs)?;
    Ok(select::apply(def, d, nvram_dir))
}

/// The `<os>` block and its `<loader>` for `machine` on `arch` (see the module docs).
pub fn domain_caps(
    descriptors: &[(PathBuf, Descriptor)],
    arch: &str,
    machine: &str,
) -> (DomainCapsBlock, LoaderCaps) {
    let fitting: Vec<&Descriptor> = descriptors
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d.runs(arch, machine) && d.image().is_some())
        .collect();
    let mut firmware = Vec::new();
    for (interface, name) in [("bios", "bios"), ("uefi", "efi")] {
        if fitting.iter().any(|d| d.offers(interface)) {
            firmware.push(name.to_string());
        }
    }
    let mut images: Vec<String> = Vec::new();
    for image in fitting.iter().filter_map(|d| d.image()) {
        if !images.iter().any(|i| i == image) {
            images.push(image.to_string());
        }
    }
    let secure = if fitting.iter().any(|d| d.has("requires-smm")) {
        vec!["yes", "no"]
    } else {
        vec!["no"]
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let os = DomainCapsBlock {
        name: "os".into(),
        supported: true,
        enums: vec![("firmware".into(), firmware)],
    };
    let loader = LoaderCaps {
        supported: true,
        values: images,
        enums: vec![
            ("type".into(), strings(&["rom", "pflash"])),
            ("readonly".into(), strings(&["yes", "no"])),
            ("secure".into(), strings(&secure)),
        ],
    };
    (os, loader)
}
