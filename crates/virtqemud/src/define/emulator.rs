//! Define-time validation against the emulator, as libvirt's QEMU driver makes it before it
//! stores a definition (its post-parse capabilities lookup and qemuValidateDomainDef): the
//! `<emulator>` exists and is executable, it is a QEMU whose probed capabilities serve the
//! definition's OS type, architecture, virt type and machine type. Define, the VALIDATE dry
//! run and create (transient) all pass through [`QemuDriver::check_emulator`]; a launch
//! resolves the emulator with the same [`QemuDriver::emulator_of`], so a definition that
//! passed here starts on the binary that was checked.
//!
//! The capabilities come from the probe cache (`crate::probe::ProbedEmulators`): a define
//! costs a `stat` of the binary while its stamp holds, and only the first use of a binary
//! (or a changed one) runs QEMU.
//!
//! Errors carry libvirt's codes and texts, and a violation naming the element:
//!
//! | problem | code | text |
//! |---|---|---|
//! | `<emulator>` missing on disk | SYSTEM_ERROR | Cannot check QEMU binary PATH: No such file or directory |
//! | not executable / a directory | SYSTEM_ERROR | QEMU binary PATH is not executable: Permission denied / Is a directory |
//! | no `<emulator>`, none installed for the arch | CONFIG_UNSUPPORTED | No emulator found for arch 'ARCH' |
//! | OS type, arch, virt type, machine | CONFIG_UNSUPPORTED | Emulator 'PATH' does not support arch 'ARCH' (os type, virt type, machine type likewise) |
//!
//! SYSTEM_ERROR travels as gRPC UNAVAILABLE (the architecture's mapping); the libvirt code in
//! the status details is what clients act on, as virsh users see it from libvirt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::host;
use crate::probe::QemuCaps;
use crate::QemuDriver;

const EMULATOR: &str = "/domain/devices/emulator";
const ARCH: &str = "/domain/os/type/@arch";

fn at(code: ErrorCode, path: &str, detail: String) -> VirtError {
    let mut e = VirtError::new(code, ErrorDomain::Qemu, detail);
    e.violations.push(Violation {
        path: path.to_string(),
        description: e.message(),
    });
    e
}

fn unsupported(path: &str, detail: String) -> VirtError {
    at(ErrorCode::ConfigUnsupported, path, detail)
}

/// `<emulator>` as a path: relative paths are taken from `/`, the daemon's working directory
/// as a service (libvirt's daemon resolves them the same way).
fn emulator_path(text: &str) -> PathBuf {
    Path::new("/").join(text)
}

/// The checks libvirt makes on the binary itself before probing it (virFileIsExecutable).
fn check_executable(text: &str, path: &Path) -> DriverResult<()> {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(path).map_err(|e| {
        at(
            ErrorCode::SystemError,
            EMULATOR,
            format!("Cannot check QEMU binary {text}: {}", strerror(&e)),
        )
    })?;
    let why = if md.is_dir() {
        "Is a directory"
    } else if md.permissions().mode() & 0o111 == 0 {
        "Permission denied"
    } else {
        return Ok(());
    };
    Err(at(
        ErrorCode::SystemError,
        EMULATOR,
        format!("QEMU binary {text} is not executable: {why}"),
    ))
}

fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Whether a binary for `binary_arch` runs guests of `arch`: its own, and the 32-bit or
/// other-endian sibling libvirt lets it run (x86_64 runs i686, aarch64 armv7l, ppc64 ppc64le).
pub(crate) fn arch_supported(binary_arch: &str, arch: &str) -> bool {
    binary_arch == arch
        || matches!(
            (binary_arch, arch),
            ("x86_64", "i686") | ("aarch64", "armv7l") | ("ppc64", "ppc64le")
        )
}

/// QEMU's name of libvirt's `arch` (`qemu-system-i386` runs `i686`).
fn qemu_target(arch: &str) -> &str {
    match arch {
        "i686" => "i386",
        "armv7l" | "armv6l" => "arm",
        "ppc64le" => "ppc64",
        other => other,
    }
}

/// The binary that also runs `arch` guests when its own is missing (see [`arch_supported`]).
fn sibling(arch: &str) -> Option<&'static str> {
    match arch {
        "i686" => Some("x86_64"),
        "armv7l" => Some("aarch64"),
        _ => None,
    }
}

/// Checks `def` against what `caps` (its emulator's) can do, in libvirt's order: OS type,
/// architecture, virt type, machine type.
pub(crate) fn check_caps(def: &DomainDef, caps: &QemuCaps, emulator: &str) -> DriverResult<()> {
    if def.os.os_type != "hvm" {
        return Err(unsupported(
            "/domain/os/type",
            format!(
                "Emulator '{emulator}' does not support os type '{}'",
                def.os.os_type
            ),
        ));
    }
    let arch = def.os.arch.as_deref().unwrap_or(caps.arch());
    if !arch_supported(caps.arch(), arch) {
        return Err(unsupported(
            ARCH,
            format!("Emulator '{emulator}' does not support arch '{arch}'"),
        ));
    }
    let virt_type_ok = match def.virt_type.as_str() {
        "kvm" => caps.kvm_usable(),
        "qemu" => caps.tcg_usable(),
        _ => false,
    };
    if !virt_type_ok {
        return Err(unsupported(
            "/domain/@type",
            format!(
                "Emulator '{emulator}' does not support virt type '{}'",
                def.virt_type
            ),
        ));
    }
    if let Some(machine) = def.os.machine.as_deref() {
        if caps.machine(machine).is_none() {
            return Err(unsupported(
                "/domain/os/type/@machine",
                format!("Emulator '{emulator}' does not support machine type '{machine}'"),
            ));
        }
    }
    Ok(())
}

impl QemuDriver {
    /// The emulator `def` runs on: its `<emulator>` (checked to exist and be executable), or
    /// the installed `qemu-system-*` serving its architecture (the host's when it names
    /// none), as libvirt fills it from the capabilities.
    pub(crate) fn emulator_of(&self, def: &DomainDef) -> DriverResult<PathBuf> {
        if let Some(text) = &def.devices.emulator {
            let path = emulator_path(text);
            check_executable(text, &path)?;
            return Ok(path);
        }
        let arch = def.os.arch.clone().unwrap_or_else(host::host_arch);
        // libvirt's search: qemu-system-<QEMU's name of the arch>, else the sibling that runs
        // it; found on PATH without probing anything.
        let names = [qemu_target(&arch), sibling(&arch).unwrap_or_default()];
        names
            .iter()
            .filter(|n| !n.is_empty())
            .find_map(|n| host::find_emulator(n))
            .ok_or_else(|| unsupported(ARCH, format!("No emulator found for arch '{arch}'")))
    }

    /// The define-time checks of this module: the emulator and its probed capabilities
    /// against the definition. Answers the capabilities for callers that need more of them.
    pub(crate) async fn check_emulator(&self, def: &DomainDef) -> DriverResult<Arc<QemuCaps>> {
        let binary = self.emulator_of(def)?;
        let shown = def
            .devices
            .emulator
            .clone()
            .unwrap_or_else(|| binary.to_string_lossy().into_owned());
        let caps = self.probed.get(&binary).await.map_err(|mut e| {
            if e.violations.is_empty() {
                e.violations.push(Violation {
                    path: EMULATOR.into(),
                    description: e.message(),
                });
            }
            e
        })?;
        check_caps(def, &caps, &shown)?;
        Ok(caps)
    }
}

/// A probed x86_64 `binary` for tests: TCG, KVM when `kvm`, machines pc-i440fx-7.2 (`pc`, the
/// default) and pc-q35-7.2 (`q35`).
#[cfg(test)]
pub(crate) fn fixture_caps(binary: &Path, kvm: bool) -> QemuCaps {
    let machine = |name: &str, alias: &str| crate::probe::Machine {
        name: name.into(),
        alias: Some(alias.into()),
        is_default: alias == "pc",
        cpu_max: 255,
        deprecated: false,
        hotpluggable_cpus: true,
        default_cpu_type: None,
    };
    QemuCaps {
        binary: binary.to_path_buf(),
        version: (7, 2, 0),
        package: String::new(),
        arch: "x86_64".into(),
        machines: vec![machine("pc-i440fx-7.2", "pc"), machine("pc-q35-7.2", "q35")],
        devices: Default::default(),
        types: Default::default(),
        vnc: true,
        kvm: kvm.then(Default::default),
        tcg: Some(Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(xml: &str) -> DomainDef {
        use virt_core::xml::DomainXmlCodec;
        virt_xml::LibvirtXml.parse_domain(xml).expect("parse")
    }

    fn domain(virt_type: &str, arch: &str, machine: &str) -> DomainDef {
        def(&format!(
            "<domain type='{virt_type}'><name>v</name><memory>65536</memory>\
             <os><type arch='{arch}' machine='{machine}'>hvm</type></os></domain>"
        ))
    }

    fn caps(kvm: bool) -> QemuCaps {
        fixture_caps(Path::new("/usr/bin/qemu-system-x86_64"), kvm)
    }

    fn refusal(d: &DomainDef, c: &QemuCaps) -> (ErrorCode, String, String) {
        let e = check_caps(d, c, "/usr/bin/qemu-system-x86_64").expect_err("refused");
        (e.code, e.violations[0].path.clone(), e.detail)
    }

    #[test]
    fn machines_by_name_or_alias_and_i686_on_x86_64_are_accepted() {
        let c = caps(true);
        for (t, arch, m) in [
            ("qemu", "x86_64", "pc"),
            ("kvm", "x86_64", "q35"),
            ("qemu", "i686", "pc-i440fx-7.2"),
        ] {
            check_caps(&domain(t, arch, m), &c, "e").expect("accepted");
        }
    }

    #[test]
    fn unknown_machine_arch_and_virt_type_are_config_unsupported_at_their_xpath() {
        let c = caps(false);
        assert_eq!(
            refusal(&domain("qemu", "x86_64", "pc-q35-1.0"), &c),
            (
                ErrorCode::ConfigUnsupported,
                "/domain/os/type/@machine".into(),
                "Emulator '/usr/bin/qemu-system-x86_64' does not support machine type 'pc-q35-1.0'"
                    .into()
            )
        );
        assert_eq!(
            refusal(&domain("qemu", "aarch64", "virt"), &c).1,
            "/domain/os/type/@arch"
        );
        // KVM asked of a binary (or host) without it, as libvirt says it.
        let (code, path, detail) = refusal(&domain("kvm", "x86_64", "pc"), &c);
        assert_eq!(
            (code, path.as_str()),
            (ErrorCode::ConfigUnsupported, "/domain/@type")
        );
        assert!(
            detail.ends_with("does not support virt type 'kvm'"),
            "{detail}"
        );
    }

    #[test]
    fn missing_or_unexecutable_emulators_are_system_errors_naming_the_binary() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("qemu-kvm");
        let text = missing.to_string_lossy().into_owned();
        let e = check_executable(&text, &missing).expect_err("missing");
        assert_eq!(e.code, ErrorCode::SystemError);
        assert_eq!(
            e.detail,
            format!("Cannot check QEMU binary {text}: No such file or directory")
        );
        assert_eq!(e.violations[0].path, EMULATOR);
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").expect("file");
        let e = check_executable("p", &plain).expect_err("not executable");
        assert_eq!(
            e.detail,
            "QEMU binary p is not executable: Permission denied"
        );
        let e = check_executable("d", dir.path()).expect_err("a directory");
        assert_eq!(e.detail, "QEMU binary d is not executable: Is a directory");
    }

    #[test]
    fn arches_map_to_qemus_binary_names_and_siblings() {
        assert_eq!(qemu_target("i686"), "i386");
        assert_eq!(qemu_target("x86_64"), "x86_64");
        assert_eq!(sibling("i686"), Some("x86_64"));
        for (binary, arch) in [("x86_64", "i686"), ("aarch64", "armv7l")] {
            assert!(arch_supported(binary, arch));
        }
    }

    #[test]
    fn relative_emulator_paths_are_taken_from_the_root() {
        assert_eq!(
            emulator_path("qemu-system-x86_64"),
            PathBuf::from("/qemu-system-x86_64")
        );
        assert_eq!(emulator_path("/usr/bin/x"), PathBuf::from("/usr/bin/x"));
    }
}
