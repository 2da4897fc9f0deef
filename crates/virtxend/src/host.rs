//! The `Host` capability of the Xen driver: type `Xen` at the hypervisor's version, node
//! facts, capabilities (PV, HVM and PVH guests of the host's architecture and its 32-bit
//! sibling), and the conversions between domain XML and the native formats `xen-xl` and
//! `xen-xm`, which need no hypervisor.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorCode;
use virt_core::error::ErrorDomain;
use virt_core::model::caps::{
    alt_32bit_arch, arch_wordsize, DomainCapabilities, DomainCapsBlock, GuestCaps, GuestFeature,
    LoaderCaps,
};
use virt_core::model::Capabilities;
use virt_core::types::{NodeInfo, VersionInfo};
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

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

/// The guests of an x86 Xen host, in libvirt's order: PV (`xen`, machine `xenpv`) for the
/// host's architecture, then for its 32-bit sibling and for itself HVM (`hvm`, machine
/// `xenfv`, with libvirt's feature toggles) and PVH (`xenpvh`).
pub fn xen_guests(host_arch: &str) -> Vec<GuestCaps> {
    let emulator = device_model();
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
    let hap = || feature("hap", Some(true), Some(true));
    let mut out = vec![guest("xen", host_arch, "xenpv", Vec::new())];
    let mut arches: Vec<String> = alt_32bit_arch(host_arch)
        .map(str::to_string)
        .into_iter()
        .collect();
    arches.push(host_arch.to_string());
    for arch in &arches {
        let mut f = Vec::new();
        if arch_wordsize(arch) == 32 {
            f.push(feature("pae", None, None));
            f.push(feature("nonpae", None, None));
        }
        f.push(feature("acpi", Some(true), Some(true)));
        f.push(feature("apic", Some(true), Some(false)));
        f.push(hap());
        out.push(guest("hvm", arch, "xenfv", f));
        out.push(guest("xenpvh", arch, "xenpvh", vec![hap()]));
    }
    out
}

/// Firmware an HVM guest can boot: OVMF and hvmloader of the toolstack.
fn loaders() -> Vec<String> {
    let dir = installed_toolstack()
        .map(|(d, _)| format!("{d}/boot"))
        .filter(|d| std::path::Path::new(d).is_dir())
        .unwrap_or_else(|| "/usr/lib/xen/boot".into());
    vec![format!("{dir}/ovmf.bin"), format!("{dir}/hvmloader")]
}

fn block(name: &str, enums: &[(&str, &[&str])]) -> DomainCapsBlock {
    DomainCapsBlock {
        name: name.into(),
        supported: true,
        enums: enums
            .iter()
            .map(|(n, v)| (n.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}

/// The domain capabilities of a Xen guest of `machine` (`xenpv`, `xenpvh`, `xenfv`) on
/// `arch`, as libvirt's Xen driver describes them.
pub fn domain_capabilities_model(arch: &str, machine: &str) -> DomainCapabilities {
    let hvm = machine == "xenfv";
    let mut devices = vec![
        block(
            "disk",
            &[
                ("diskDevice", &["disk", "cdrom"]),
                ("bus", &["ide", "scsi", "xen"]),
                ("model", &[]),
            ],
        ),
        block("graphics", &[("type", &["sdl", "vnc", "spice"])]),
        block("video", &[("modelType", &["vga", "cirrus", "xen"])]),
    ];
    // PVH guests have no PCI or USB passthrough.
    if machine != "xenpvh" {
        devices.push(block(
            "hostdev",
            &[
                ("mode", &["subsystem"]),
                (
                    "startupPolicy",
                    &["default", "mandatory", "requisite", "optional"],
                ),
                ("subsysType", &["usb", "pci"]),
                ("capsType", &[]),
                ("pciBackend", &["xen"]),
            ],
        ));
    }
    DomainCapabilities {
        path: device_model(),
        domain: "xen".into(),
        machine: Some(machine.into()),
        arch: arch.into(),
        // Xen's limits: HVM guests up to 128 vCPUs, PV and PVH up to 512.
        vcpu_max: if hvm { 128 } else { 512 },
        iothreads: Some(false),
        os: Some(DomainCapsBlock {
            name: "os".into(),
            supported: true,
            enums: Vec::new(),
        }),
        loader: Some(if hvm {
            LoaderCaps {
                supported: true,
                values: loaders(),
                enums: vec![
                    ("type".into(), vec!["rom".into(), "pflash".into()]),
                    ("readonly".into(), vec!["yes".into()]),
                ],
            }
        } else {
            LoaderCaps::default()
        }),
        cpu_modes: ["host-passthrough", "maximum", "host-model", "custom"]
            .iter()
            .map(|m| (m.to_string(), false))
            .collect(),
        devices,
        features: ["gic", "vmcoreinfo", "genid", "sev", "sgx"]
            .iter()
            .map(|f| (f.to_string(), false))
            .collect(),
        ..DomainCapabilities::default()
    }
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

    /// libvirt: virConnectGetDomainCapabilities. Virt type `xen` only; machines `xenpv`
    /// (the default), `xenpvh` and `xenfv`; the host's architecture or its 32-bit sibling.
    async fn domain_capabilities(
        &self,
        _emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "libxlConnectGetDomainCapabilities")?;
        let invalid = |d: String| VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Libxl, d);
        if !(virt_type.is_empty() || virt_type.eq_ignore_ascii_case("xen")) {
            return Err(invalid(format!("unknown virttype: {virt_type}")));
        }
        let host = virt_core::hostinfo::host_arch();
        let arch = if arch.is_empty() { host.as_str() } else { arch };
        if arch != host && alt_32bit_arch(&host) != Some(arch) {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Libxl,
                format!("Xen on this host does not run '{arch}' guests"),
            ));
        }
        let machine = match machine {
            "" => "xenpv",
            m @ ("xenpv" | "xenpvh" | "xenfv") => m,
            _ => {
                return Err(invalid(
                    "Xen only supports 'xenpv', 'xenpvh' and 'xenfv' machines".into(),
                ))
            }
        };
        Ok(self
            .codec
            .format_domain_capabilities(&domain_capabilities_model(arch, machine)))
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
