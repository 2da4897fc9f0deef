//! Define-time rules for `<os>` firmware, as libvirt 9.0 applies them (each error observed on
//! a real 9.0 with its code), and the one thing define fills in: an explicit read-only flash
//! loader without `<nvram>` gets `NVRAM_DIR/NAME_VARS.fd`, visible in the inactive XML.
//!
//! With `firmware=` (auto-selection) the loader's `readonly`, `type` and `secure` and the
//! variable store's `template` are the selection's to decide, so naming them is an
//! XML_DETAIL error, as are firmware features without auto-selection and enrolled keys
//! without secure boot. A secure loader needs a q35 machine and `<smm state='on'/>`, and UEFI
//! on x86 needs ACPI (CONFIG_UNSUPPORTED).

use std::path::Path;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::domain::Nvram;
use virt_core::model::DomainDef;
use virt_core::VirtError;

fn xml_detail(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::XmlDetail, ErrorDomain::Domain, detail)
}

fn unsupported(detail: &str) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail)
}

/// Checks `def`'s firmware settings and fills the NVRAM path of an explicit flash loader
/// (see the module docs).
pub fn check_define(def: &mut DomainDef, nvram_dir: &Path) -> Result<(), VirtError> {
    check_autoselection(def)?;
    let os = &def.os;
    let loader = os.loader.as_ref();
    let pflash = loader.and_then(|l| l.loader_type.as_deref()) == Some("pflash");
    let x86 = matches!(os.arch.as_deref(), None | Some("x86_64") | Some("i686"));
    let uefi = os.firmware.as_deref() == Some("efi") || pflash;
    if uefi && x86 && !def.features.iter().any(|f| f.name == "acpi") {
        return Err(unsupported("UEFI requires ACPI on this architecture"));
    }
    if loader.and_then(|l| l.secure) == Some(true) {
        let machine = os.machine.as_deref().unwrap_or("pc");
        if machine != "q35" && !machine.starts_with("pc-q35") {
            return Err(unsupported(
                "Secure boot is supported with q35 machine types only",
            ));
        }
        let smm = def.features.iter().find(|f| f.name == "smm");
        if smm.and_then(|f| f.state) != Some(true) {
            return Err(unsupported("Secure boot requires SMM feature enabled"));
        }
    }
    let stateless = loader.and_then(|l| l.stateless) == Some(true);
    let readonly = loader.and_then(|l| l.readonly) == Some(true);
    let has_path = os.nvram.as_ref().is_some_and(|n| n.path.is_some());
    if os.firmware.is_none() && pflash && readonly && !stateless && !has_path {
        let path = super::select::default_nvram(nvram_dir, &def.name);
        let nvram = def.os.nvram.get_or_insert_with(Nvram::default);
        nvram.path = Some(path);
    }
    Ok(())
}

fn check_autoselection(def: &DomainDef) -> Result<(), VirtError> {
    let os = &def.os;
    if os.firmware.is_none() {
        if !os.firmware_features.is_empty() {
            return Err(xml_detail(
                "cannot use feature-based firmware autoselection when firmware autoselection \
                 is disabled",
            ));
        }
    } else {
        if let Some(l) = &os.loader {
            for (set, attr) in [
                (l.readonly.is_some(), "readonly"),
                (l.loader_type.is_some(), "type"),
                (l.secure.is_some(), "secure"),
            ] {
                if set {
                    return Err(xml_detail(format!(
                        "loader attribute '{attr}' cannot be specified when firmware \
                         autoselection is enabled"
                    )));
                }
            }
        }
        if os.nvram.as_ref().is_some_and(|n| n.template.is_some()) {
            return Err(xml_detail(
                "nvram attribute 'template' cannot be specified when firmware autoselection \
                 is enabled",
            ));
        }
    }
    let feature = |name: &str| {
        os.firmware_features
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| *e)
    };
    if feature("enrolled-keys") == Some(true) && feature("secure-boot") == Some(false) {
        return Err(xml_detail(
            "firmware feature 'enrolled-keys' cannot be enabled when firmware feature \
             'secure-boot' is disabled",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(os: &str, features: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>v</name><memory>65536</memory>{os}\
             <features>{features}</features></domain>"
        ))
        .expect("parses")
    }

    fn check(os: &str, features: &str) -> Result<DomainDef, VirtError> {
        let mut d = def(os, features);
        check_define(&mut d, Path::new("/var/lib/virt/qemu/nvram")).map(|()| d)
    }

    fn refused(os: &str, features: &str) -> (ErrorCode, String) {
        let e = check(os, features).expect_err("refused");
        (e.code, e.detail)
    }

    const Q35: &str = "<type arch='x86_64' machine='q35'>hvm</type>";

    #[test]
    fn autoselection_leaves_loader_choices_to_the_descriptors() {
        let cases = [
            ("<loader readonly='yes'/>", "loader attribute 'readonly'"),
            ("<loader type='pflash'/>", "loader attribute 'type'"),
            // A path without a type is a ROM, as libvirt reads it.
            ("<loader>/x.fd</loader>", "loader attribute 'type'"),
            ("<loader secure='no'/>", "loader attribute 'secure'"),
            ("<nvram template='/t.fd'/>", "nvram attribute 'template'"),
        ];
        for (inner, what) in cases {
            let (code, detail) =
                refused(&format!("<os firmware='efi'>{Q35}{inner}</os>"), "<acpi/>");
            assert_eq!(code, ErrorCode::XmlDetail, "{inner}");
            assert!(
                detail.starts_with(what)
                    && detail.ends_with("when firmware autoselection is enabled"),
                "{inner}: {detail}"
            );
        }
        // An NVRAM path and a stateless loader are the user's to choose.
        let d = check(
            &format!("<os firmware='efi'>{Q35}<nvram>/v/a.fd</nvram></os>"),
            "<acpi/>",
        )
        .expect("nvram path");
        assert_eq!(d.os.nvram.and_then(|n| n.path).as_deref(), Some("/v/a.fd"));
        check(
            &format!("<os firmware='efi'>{Q35}<loader stateless='yes'/></os>"),
            "<acpi/>",
        )
        .expect("stateless");
    }

    #[test]
    fn firmware_features_need_autoselection_and_keys_need_secure_boot() {
        let (code, detail) = refused(
            &format!(
                "<os>{Q35}<firmware><feature enabled='yes' name='secure-boot'/></firmware></os>"
            ),
            "<acpi/>",
        );
        assert_eq!(code, ErrorCode::XmlDetail);
        assert_eq!(
            detail,
            "cannot use feature-based firmware autoselection when firmware autoselection is disabled"
        );
        let (code, detail) = refused(
            &format!(
                "<os firmware='efi'>{Q35}<firmware><feature enabled='yes' name='enrolled-keys'/>\
                 <feature enabled='no' name='secure-boot'/></firmware></os>"
            ),
            "<acpi/>",
        );
        assert_eq!(code, ErrorCode::XmlDetail);
        assert_eq!(
            detail,
            "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled"
        );
    }

    #[test]
    fn secure_loaders_need_q35_and_smm_and_uefi_needs_acpi() {
        let secure = "<loader readonly='yes' secure='yes' type='pflash'>/c.fd</loader>";
        let (code, detail) = refused(
            &format!("<os><type arch='x86_64' machine='pc'>hvm</type>{secure}</os>"),
            "<acpi/><smm state='on'/>",
        );
        assert_eq!(code, ErrorCode::ConfigUnsupported);
        assert_eq!(
            detail,
            "Secure boot is supported with q35 machine types only"
        );
        let (code, detail) = refused(&format!("<os>{Q35}{secure}</os>"), "<acpi/>");
        assert_eq!(code, ErrorCode::ConfigUnsupported);
        assert_eq!(detail, "Secure boot requires SMM feature enabled");
        check(
            &format!("<os>{Q35}{secure}</os>"),
            "<acpi/><smm state='on'/>",
        )
        .expect("q35+smm");
        let (code, detail) = refused(&format!("<os firmware='efi'>{Q35}</os>"), "");
        assert_eq!(code, ErrorCode::ConfigUnsupported);
        assert_eq!(detail, "UEFI requires ACPI on this architecture");
        let (_, detail) = refused(
            &format!("<os>{Q35}<loader readonly='yes' type='pflash'>/c.fd</loader></os>"),
            "",
        );
        assert_eq!(detail, "UEFI requires ACPI on this architecture");
        // BIOS needs no ACPI.
        check(&format!("<os firmware='bios'>{Q35}</os>"), "").expect("bios");
    }

    #[test]
    fn an_explicit_read_only_flash_loader_gets_its_nvram_path_at_define() {
        let d = check(
            &format!("<os>{Q35}<loader readonly='yes' type='pflash'>/c.fd</loader></os>"),
            "<acpi/>",
        )
        .expect("ok");
        assert_eq!(
            d.os.nvram.and_then(|n| n.path).as_deref(),
            Some("/var/lib/virt/qemu/nvram/v_VARS.fd")
        );
        // Given paths stay; read-write, stateless, ROM loaders and autoselection get none.
        for (inner, firmware) in [
            (
                "<loader readonly='yes' type='pflash'>/c.fd</loader><nvram>/n.fd</nvram>",
                "",
            ),
            ("<loader readonly='no' type='pflash'>/c.fd</loader>", ""),
            (
                "<loader readonly='yes' type='pflash' stateless='yes'>/c.fd</loader>",
                "",
            ),
            ("<loader type='rom'>/b.bin</loader>", ""),
            ("", "firmware='efi'"),
        ] {
            let d = check(&format!("<os {firmware}>{Q35}{inner}</os>"), "<acpi/>").expect(inner);
            let path = d.os.nvram.and_then(|n| n.path);
            assert!(
                path.is_none() || path.as_deref() == Some("/n.fd"),
                "{inner}: {path:?}"
            );
        }
    }
}
