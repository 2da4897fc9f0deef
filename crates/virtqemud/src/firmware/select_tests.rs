//! Firmware selection against Debian 12's ovmf descriptors (written into a temp dir as the
//! package ships them) and crafted ones: priority by file name, an /etc override, features
//! asked for and refused, machine globs, SMM, stateless, and what the live definition gets.

use std::path::{Path, PathBuf};

use virt_core::ErrorCode;

use super::*;
use crate::firmware::descriptor::{self, Descriptor};

/// A descriptor in Debian's layout (the three ovmf 2022.11 files differ only in these).
fn ovmf(code: &str, vars: &str, machines: &[&str], features: &[&str]) -> String {
    let quoted = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"{{
    "description": "UEFI firmware for x86_64",
    "interface-types": ["uefi"],
    "mapping": {{
        "device": "flash",
        "executable": {{"filename": "/usr/share/OVMF/{code}", "format": "raw"}},
        "nvram-template": {{"filename": "/usr/share/OVMF/{vars}", "format": "raw"}}
    }},
    "targets": [{{"architecture": "x86_64", "machines": [{}]}}],
    "features": [{}],
    "tags": []
}}"#,
        quoted(machines),
        quoted(features)
    )
}

/// Debian 12's `/usr/share/qemu/firmware`, file for file.
fn debian(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    let secure = [
        "acpi-s3",
        "amd-sev",
        "requires-smm",
        "secure-boot",
        "verbose-dynamic",
    ];
    let mut enrolled = secure.to_vec();
    enrolled.insert(2, "enrolled-keys");
    for (file, text) in [
        (
            "40-edk2-x86_64-secure-enrolled.json",
            ovmf(
                "OVMF_CODE_4M.ms.fd",
                "OVMF_VARS_4M.ms.fd",
                &["pc-q35-*"],
                &enrolled,
            ),
        ),
        (
            "50-edk2-x86_64-secure.json",
            ovmf(
                "OVMF_CODE_4M.secboot.fd",
                "OVMF_VARS_4M.fd",
                &["pc-q35-*"],
                &secure,
            ),
        ),
        (
            "60-edk2-x86_64.json",
            ovmf(
                "OVMF_CODE_4M.fd",
                "OVMF_VARS_4M.fd",
                &["pc-i440fx-*", "pc-q35-*"],
                &["acpi-s3", "amd-sev", "verbose-dynamic"],
            ),
        ),
    ] {
        std::fs::write(dir.join(file), text).expect("write");
    }
}

struct Fixture {
    _t: tempfile::TempDir,
    dirs: Vec<PathBuf>,
}

impl Fixture {
    fn new() -> Fixture {
        let t = tempfile::tempdir().expect("tmp");
        let usr = t.path().join("usr/share/qemu/firmware");
        debian(&usr);
        let etc = t.path().join("etc/qemu/firmware");
        std::fs::create_dir_all(&etc).expect("etc");
        Fixture {
            dirs: vec![usr, etc],
            _t: t,
        }
    }

    fn etc(&self) -> &Path {
        &self.dirs[1]
    }

    fn descriptors(&self) -> Vec<(PathBuf, Descriptor)> {
        descriptor::load(&self.dirs).expect("load")
    }

    /// The image chosen for `def` on `machine`, or the error.
    fn pick(&self, def: &DomainDef, machine: &str) -> Result<String, VirtError> {
        let all = self.descriptors();
        select(def, "x86_64", machine, &all, &self.dirs)
            .map(|(_, d)| d.image().expect("image").to_string())
    }
}

fn def(os_attrs: &str, inner: &str, features: &str) -> DomainDef {
    virt_xml::parse_domain(&format!(
        "<domain type='qemu'><name>g</name><memory>65536</memory>\
         <os {os_attrs}><type arch='x86_64' machine='q35'>hvm</type>{inner}</os>\
         <features><acpi/>{features}</features></domain>"
    ))
    .expect("parses")
}

fn efi(features: &str) -> DomainDef {
    let inner = if features.is_empty() {
        String::new()
    } else {
        format!("<firmware>{features}</firmware>")
    };
    def("firmware='efi'", &inner, "")
}

const Q35: &str = "pc-q35-7.2";
const PC: &str = "pc-i440fx-7.2";
const SB: &str = "<feature enabled='yes' name='secure-boot'/>";
const NO_SB: &str = "<feature enabled='no' name='secure-boot'/>";
const KEYS: &str = "<feature enabled='yes' name='enrolled-keys'/>";
const NO_KEYS: &str = "<feature enabled='no' name='enrolled-keys'/>";

#[test]
fn the_first_fitting_descriptor_by_file_name_wins() {
    let f = Fixture::new();
    // Nothing asked: 40 (secure, enrolled) fits q35 first, as libvirt 9.0 picks.
    assert_eq!(
        f.pick(&efi(""), Q35).expect("q35"),
        "/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
    );
    // i440fx: only 60 lists pc-i440fx-*.
    assert_eq!(
        f.pick(&efi(""), PC).expect("pc"),
        "/usr/share/OVMF/OVMF_CODE_4M.fd"
    );
}

#[test]
fn features_asked_for_and_refused_narrow_the_choice() {
    let f = Fixture::new();
    let cases = [
        (SB.to_string(), "OVMF_CODE_4M.ms.fd"),
        (format!("{SB}{KEYS}"), "OVMF_CODE_4M.ms.fd"),
        (format!("{SB}{NO_KEYS}"), "OVMF_CODE_4M.secboot.fd"),
        (NO_KEYS.to_string(), "OVMF_CODE_4M.secboot.fd"),
        (NO_SB.to_string(), "OVMF_CODE_4M.fd"),
        (format!("{NO_SB}{NO_KEYS}"), "OVMF_CODE_4M.fd"),
    ];
    for (features, image) in cases {
        let got = f.pick(&efi(&features), Q35).expect(&features);
        assert_eq!(got, format!("/usr/share/OVMF/{image}"), "{features}");
    }
    // SMM turned off rules out the secure builds; S4 is something no OVMF here claims.
    let smm_off = def("firmware='efi'", "", "<smm state='off'/>");
    assert_eq!(
        f.pick(&smm_off, Q35).expect("smm off"),
        "/usr/share/OVMF/OVMF_CODE_4M.fd"
    );
    let s4 = virt_xml::parse_domain(
        "<domain type='qemu'><name>g</name><memory>65536</memory><os firmware='efi'>\
         <type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>\
         <pm><suspend-to-disk enabled='yes'/></pm></domain>",
    )
    .expect("parses");
    let e = f.pick(&s4, Q35).expect_err("no S4");
    assert!(e.detail.contains("lacks feature 'acpi-s4'"), "{}", e.detail);
}

#[test]
fn no_fitting_firmware_names_what_was_asked_and_why_each_was_passed_over() {
    let f = Fixture::new();
    let e = f.pick(&efi(SB), PC).expect_err("secure boot on i440fx");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    let d = &e.detail;
    assert!(
        d.starts_with("Unable to find any firmware to satisfy 'efi': "),
        "{d}"
    );
    assert!(
        d.contains("x86_64 machine 'pc-i440fx-7.2' with secure-boot=yes"),
        "{d}"
    );
    assert!(d.contains(&f.dirs[0].display().to_string()), "{d}");
    assert!(
        d.contains("40-edk2-x86_64-secure-enrolled.json does not run x86_64 machine"),
        "{d}"
    );
    assert!(
        d.contains("60-edk2-x86_64.json lacks feature 'secure-boot'"),
        "{d}"
    );
    assert!(d.contains("only q35 machine types"), "{d}");
    // BIOS: Debian ships no BIOS descriptor, so libvirt 9.0 refuses firmware='bios' too.
    let bios = def("firmware='bios'", "", "");
    let e = f.pick(&bios, Q35).expect_err("bios");
    assert!(
        e.detail
            .starts_with("Unable to find any firmware to satisfy 'bios'"),
        "{}",
        e.detail
    );
    // Stateless: no stateless OVMF here.
    let stateless = def("firmware='efi'", "<loader stateless='yes'/>", "");
    let e = f.pick(&stateless, Q35).expect_err("stateless");
    assert!(e.detail.contains("with stateless"), "{}", e.detail);
    // Another architecture.
    let all = f.descriptors();
    let e = select(&efi(""), "aarch64", "virt-7.2", &all, &f.dirs).expect_err("arm");
    assert!(
        e.detail.contains("aarch64 machine 'virt-7.2'"),
        "{}",
        e.detail
    );
}

#[test]
fn an_etc_file_overrides_its_namesake_and_an_empty_one_masks_it() {
    let f = Fixture::new();
    // /etc replaces 40 with a non-secure build for q35 only.
    std::fs::write(
        f.etc().join("40-edk2-x86_64-secure-enrolled.json"),
        ovmf(
            "CUSTOM_CODE.fd",
            "CUSTOM_VARS.fd",
            &["pc-q35-7.*"],
            &["acpi-s3"],
        ),
    )
    .expect("override");
    assert_eq!(
        f.pick(&efi(""), Q35).expect("q35"),
        "/usr/share/OVMF/CUSTOM_CODE.fd"
    );
    // Its machine glob does not take 8.0: the next file does.
    assert_eq!(
        f.pick(&efi(""), "pc-q35-8.0").expect("8.0"),
        "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
    );
    // Masking 40 and 50 leaves only the plain build, so secure boot finds nothing.
    std::fs::write(f.etc().join("40-edk2-x86_64-secure-enrolled.json"), "").expect("mask");
    std::fs::write(f.etc().join("50-edk2-x86_64-secure.json"), "").expect("mask");
    assert_eq!(
        f.pick(&efi(""), Q35).expect("plain"),
        "/usr/share/OVMF/OVMF_CODE_4M.fd"
    );
    f.pick(&efi(SB), Q35).expect_err("masked");
    // A lower file name in /etc takes priority over everything in /usr.
    std::fs::write(
        f.etc().join("10-first.json"),
        ovmf("FIRST.fd", "FIRST_VARS.fd", &["pc-*"], &[]),
    )
    .expect("first");
    assert_eq!(
        f.pick(&efi(""), PC).expect("first"),
        "/usr/share/OVMF/FIRST.fd"
    );
}

#[test]
fn the_live_definition_spells_out_loader_nvram_and_smm() {
    let f = Fixture::new();
    let all = f.descriptors();
    let nvram_dir = Path::new("/state/qemu/nvram");
    let asked = efi(SB);
    let (_, d) = select(&asked, "x86_64", Q35, &all, &f.dirs).expect("fits");
    let live = apply(&asked, d, nvram_dir);
    assert_eq!(live.os.firmware, None);
    assert_eq!(live.os.firmware_features, asked.os.firmware_features);
    let l = live.os.loader.as_ref().expect("loader");
    assert_eq!(
        l.path.as_deref(),
        Some("/usr/share/OVMF/OVMF_CODE_4M.ms.fd")
    );
    assert_eq!(
        (l.readonly, l.secure, l.loader_type.as_deref()),
        (Some(true), Some(true), Some("pflash"))
    );
    let n = live.os.nvram.as_ref().expect("nvram");
    assert_eq!(n.path.as_deref(), Some("/state/qemu/nvram/g_VARS.fd"));
    assert_eq!(
        n.template.as_deref(),
        Some("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
    );
    let smm = live.features.iter().find(|f| f.name == "smm").expect("smm");
    assert_eq!(smm.state, Some(true));
    let xml = virt_xml::LibvirtXml;
    let text = virt_core::xml::DomainXmlCodec::format_domain(
        &xml,
        &live,
        virt_core::xml::FormatOptions {
            id: Some(1),
            secure: false,
            inactive: false,
        },
    );
    assert!(
        text.contains(
            "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>"
        ),
        "{text}"
    );
    assert!(text.contains("<smm state='on'/>"), "{text}");
    // Without secure boot: no secure loader, no SMM; a given NVRAM path is kept.
    let plain = def(
        "firmware='efi'",
        &format!("<firmware>{NO_SB}</firmware><nvram>/mine/v.fd</nvram>"),
        "",
    );
    let (_, d) = select(&plain, "x86_64", Q35, &all, &f.dirs).expect("fits");
    let live = apply(&plain, d, nvram_dir);
    let l = live.os.loader.as_ref().expect("loader");
    assert_eq!(l.secure, None);
    assert!(!live.features.iter().any(|f| f.name == "smm"));
    let n = live.os.nvram.as_ref().expect("nvram");
    assert_eq!(
        (n.path.as_deref(), n.template.as_deref()),
        (Some("/mine/v.fd"), Some("/usr/share/OVMF/OVMF_VARS_4M.fd"))
    );
}

#[test]
fn an_explicit_flash_loader_gets_the_template_of_its_image() {
    let f = Fixture::new();
    let all = f.descriptors();
    let mut d = def(
        "",
        "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader>\
         <nvram>/n/g_VARS.fd</nvram>",
        "",
    );
    fill_template(&mut d, &all);
    let n = d.os.nvram.as_ref().expect("nvram");
    assert_eq!(
        n.template.as_deref(),
        Some("/usr/share/OVMF/OVMF_VARS_4M.fd")
    );
    // Unknown images get none (the store must then exist already); a given one stays.
    let mut d = def(
        "",
        "<loader readonly='yes' type='pflash'>/opt/my.fd</loader>\
         <nvram template='/opt/my_VARS.fd'>/n/g_VARS.fd</nvram>",
        "",
    );
    fill_template(&mut d, &all);
    assert_eq!(
        d.os.nvram.and_then(|n| n.template).as_deref(),
        Some("/opt/my_VARS.fd")
    );
    // resolve() reads the descriptors only when it has something to resolve.
    let bios = def("", "", "");
    let gone = vec![PathBuf::from("/nonexistent/firmware")];
    let live = crate::firmware::resolve(&bios, Q35, &gone, Path::new("/n")).expect("bios");
    assert_eq!(live, bios);
    let live = crate::firmware::resolve(&efi(""), Q35, &f.dirs, Path::new("/n")).expect("efi");
    assert_eq!(
        live.os.loader.and_then(|l| l.path).as_deref(),
        Some("/usr/share/OVMF/OVMF_CODE_4M.ms.fd")
    );
}

#[test]
fn domain_caps_list_the_interfaces_and_images_for_the_machine() {
    let f = Fixture::new();
    let all = f.descriptors();
    let (os, loader) = crate::firmware::domain_caps(&all, "x86_64", Q35);
    assert_eq!(
        os.enums,
        vec![("firmware".to_string(), vec!["efi".to_string()])]
    );
    assert_eq!(
        loader.values,
        [
            "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
            "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
            "/usr/share/OVMF/OVMF_CODE_4M.fd"
        ]
    );
    let secure = |l: &virt_core::model::caps::LoaderCaps| {
        l.enums
            .iter()
            .find(|(n, _)| n == "secure")
            .map(|(_, v)| v.clone())
            .expect("secure")
    };
    assert_eq!(secure(&loader), ["yes", "no"]);
    let (os, loader) = crate::firmware::domain_caps(&all, "x86_64", PC);
    assert_eq!(os.enums[0].1, ["efi"]);
    assert_eq!(loader.values, ["/usr/share/OVMF/OVMF_CODE_4M.fd"]);
    assert_eq!(secure(&loader), ["no"]);
    let (os, loader) = crate::firmware::domain_caps(&all, "aarch64", "virt");
    assert!(os.enums[0].1.is_empty());
    assert!(loader.values.is_empty());
}
