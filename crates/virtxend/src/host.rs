//! The `Host` capability of the Xen driver: type `Xen` at the hypervisor's version, node
//! facts, capabilities (PV, HVM and PVH guests of the host's architecture and its 32-bit
//! sibling), and the conversions between domain XML and the native formats `xen-xl` and
//! `xen-xm`, which need no hypervisor.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::model::caps::{alt_32bit_arch, arch_wordsize, GuestCaps, GuestFeature};
use virt_core::model::Capabilities;
use virt_core::types::{NodeInfo, VersionInfo};
use virt_core::xml::FormatOptions;

use crate::XenDriver;

/// The Xen version as a libvirt version number: the running hypervisor's
/// (`/sys/hypervisor/version`), else that of the installed toolstack (`/usr/lib/xen-X.Y`), else
/// 0.
pub fn xen_version() -> u64 {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/sys/hypervisor/version/{f}"))
            .ok()
            .map(|s| s.trim().to_string())
    };
    if let (Some(major), Some(minor)) = (read("major"), read("minor")) {
        let extra = read("extra").unwrap_or_default();
        let text = format!("{major}.{minor}{extra}");
        if let Some(v) = virt_core::hostinfo::version_number(&text) {
            return v;
        }
    }
    installed_toolstack()
        .and_then(|(_, v)| virt_core::hostinfo::version_number(&v))
        .unwrap_or(0)
}

/// The installed toolstack's directory and version (`/usr/lib/xen-4.17`, `4.17`).
fn installed_toolstack() -> Option<(String, String)> {
    let mut found: Vec<String> = std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("xen-") && n[4..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    found.sort();
    let dir = found.pop()?;
    let version = dir[4..].to_string();
    Some((format!("/usr/lib/{dir}"), version))
}

/// The device model HVM guests run (`qemu-system-i386` of the toolstack).
fn device_model() -> String {
    let candidates = [
        installed_toolstack().map(|(d, _)| format!("{d}/bin/qemu-system-i386")),
        Some("/usr/bin/qemu-system-i386".to_string()),
    ];
    candidates
        .iter()
        .flatten()
        .find(|p| std::path::Path::new(p).exists())
        .cloned()
        .unwrap_or_else(|| "/usr/lib/xen/bin/qemu-system-i386".into())
}

fn feature(name: &str, default_on: Option<bool>, toggle: Option<bool>) -> GuestFeature {
    GuestFeature {
        name: name.into(),
        default_on,
        toggle,
    }
}

/// The guests of an x86 Xen host: for the host's architecture and its 32-bit sibling, PV
/// (`xen`, machine `xenpv`) and HVM (`hvm`, machine `xenfv`); PVH (`xenpvh`) for the host's.
pub fn xen_guests(host_arch: &str) -> Vec<GuestCaps> {
    let emulator = device_model();
    let mut arches = vec![host_arch.to_string()];
    if let Some(alt) = alt_32bit_arch(host_arch) {
        arches.push(alt.to_string());
    }
    let guest = |os: &str, arch: &str, machine: &str, features: Vec<GuestFeature>| GuestCaps {
        os_type: os.into(),
        arch: arch.into(),
        wordsize: arch_wordsize(arch),
        emulator: emulator.clone(),
        machines: vec![machine.into()],
        domain_types: vec!["xen".into()],
        features,
        ..GuestCaps::default()
    };
    let mut out = Vec::new();
    for arch in &arches {
        out.push(guest("xen", arch, "xenpv", Vec::new()));
    }
    for arch in &arches {
        let mut f = Vec::new();
        if arch == "i686" {
            f.push(feature("pae", None, None));
            f.push(feature("nonpae", None, None));
        }
        f.push(feature("acpi", Some(true), Some(true)));
        f.push(feature("apic", Some(true), Some(false)));
        f.push(feature("hap", Some(true), Some(true)));
        out.push(guest("hvm", arch, "xenfv", f));
    }
    out.push(guest("xenpvh", host_arch, "xenpvh", Vec::new()));
    out
}

impl XenDriver {
    /// The capabilities document's model.
    pub fn capabilities_model(&self) -> Capabilities {
        let arch = virt_core::hostinfo::host_arch();
        Capabilities {
            guests: xen_guests(&arch),
            host_arch: arch,
            ..Capabilities::default()
        }
    }
}

#[async_trait::async_trait]
impl Host for XenDriver {
    fn error_domain(&self) -> ErrorDomain {
        ErrorDomain::Libxl
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }

    async fn version(&self) -> DriverResult<VersionInfo> {
        Ok(VersionInfo {
            hypervisor_type: "Xen".into(),
            hypervisor_version: xen_version(),
            lib_version: virt_core::test_driver::LIB_VERSION,
        })
    }

    async fn capabilities(&self) -> DriverResult<String> {
        Ok(self.codec.format_capabilities(&self.capabilities_model()))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(virt_core::hostinfo::node_info())
    }

    /// libvirt: virConnectDomainXMLToNative, formats `xen-xl` and `xen-xm`.
    async fn domain_xml_to_native(
        &self,
        format: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "libxlConnectDomainXMLToNative")?;
        crate::xl::NativeFormat::parse(format)?;
        let def = self.parse(xml, false)?;
        crate::xl::convert_to(format, &def)
    }

    /// libvirt: virConnectDomainXMLFromNative, formats `xen-xl` and `xen-xm`: the domain XML
    /// as libvirt formats it (no secrets: a VNC password is left out).
    async fn domain_xml_from_native(
        &self,
        format: &str,
        config: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "libxlConnectDomainXMLFromNative")?;
        let def = crate::xl::convert_from(format, config)?;
        Ok(self.codec.format_domain(&def, FormatOptions::default()))
    }
}
