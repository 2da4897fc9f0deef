//! The `Host` capability of the QEMU driver: versions, capabilities, domain capabilities,
//! vCPU limits and the native-config preview, answered from the probed emulators (`probe.rs`)
//! and the host facts of `host.rs`. Everything a connection asks of the host, in one place.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::types::{NodeInfo, VersionInfo};
use virt_core::VirtError;

use crate::host;
use crate::live::prepare::{PrepareFor, Prepared};
use crate::probe::QemuCaps;
use crate::to_native::QEMU_ARGV;
use crate::QemuDriver;

/// Capabilities, domain capabilities and vCPU limits, answered from the probed emulators.
impl QemuDriver {
    /// Probes every installed emulator now (or reads the cache), so the first capabilities
    /// call does not pay for it; the daemon runs this in the background once it serves.
    /// Calls that arrive meanwhile wait for this probe instead of starting their own.
    pub async fn probe_emulators(&self) {
        let t = std::time::Instant::now();
        let n = self.probed.all().await.len();
        tracing::info!(emulators = n, elapsed = ?t.elapsed(), "emulators probed");
    }

    fn invalid_arg(detail: String) -> VirtError {
        VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail)
    }

    /// The emulator serving `arch` (the host's when empty) among the installed ones.
    async fn emulator_for(&self, arch: &str) -> DriverResult<std::sync::Arc<QemuCaps>> {
        let arch = if arch.is_empty() {
            host::host_arch()
        } else {
            arch.to_string()
        };
        let preferred = host::find_emulator(&arch);
        let probed = self.probed.all().await;
        probed
            .iter()
            .find(|c| Some(&c.binary) == preferred.as_ref())
            .or_else(|| probed.iter().find(|c| c.arch() == arch))
            .cloned()
            .ok_or_else(|| {
                Self::invalid_arg(format!(
                    "unable to find any emulator to serve '{arch}' architecture"
                ))
            })
    }
}

#[async_trait::async_trait]
impl Host for QemuDriver {
    fn error_domain(&self) -> ErrorDomain {
        ErrorDomain::Qemu
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }

    async fn version(&self) -> DriverResult<VersionInfo> {
        Ok(VersionInfo {
            hypervisor_type: "QEMU".into(),
            hypervisor_version: self.emulator_version(),
            lib_version: virt_core::test_driver::LIB_VERSION,
        })
    }

    async fn capabilities(&self) -> DriverResult<String> {
        let probed = self.probed.all().await;
        let all: Vec<QemuCaps> = probed.iter().map(|c| (**c).clone()).collect();
        Ok(self
            .codec
            .format_capabilities(&host::capabilities_from(&all)))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(host::node_info())
    }

    /// virConnectGetDomainCapabilities's argument rules: the virt type defaults to `kvm` when
    /// the emulator can use KVM, else `qemu`; the emulator, when named, is probed and must serve `arch`
    /// when both are given; else the architecture (the host's by default) picks the emulator;
    /// the machine defaults to the emulator's default. Each refusal names what it refuses.
    async fn domain_capabilities(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "qemuConnectGetDomainCapabilities")?;
        let virt_type = match virt_type.to_ascii_lowercase().as_str() {
            "" => None,
            "qemu" => Some("qemu"),
            "kvm" => Some("kvm"),
            _ => return Err(Self::invalid_arg(format!("unknown virttype: {virt_type}"))),
        };
        let caps = if emulator.is_empty() {
            self.emulator_for(arch).await?
        } else {
            let path = std::path::Path::new(emulator);
            if !path.is_absolute() {
                return Err(Self::invalid_arg(format!(
                    "emulator '{emulator}' is not an absolute path"
                )));
            }
            let caps = self.probed.get(path).await.map_err(|e| {
                let mut e = e;
                if e.code == ErrorCode::SystemError {
                    e.code = ErrorCode::InvalidArg;
                }
                e
            })?;
            if !arch.is_empty() && caps.arch() != arch {
                return Err(Self::invalid_arg(format!(
                    "architecture from emulator '{emulator}' doesn't match given architecture '{arch}'"
                )));
            }
            caps
        };
        // As libvirt: KVM when this binary can use it, else TCG.
        let virt_type = virt_type.unwrap_or(if caps.kvm_usable() { "kvm" } else { "qemu" });
        let machine = (!machine.is_empty()).then_some(machine);
        let firmware = crate::firmware::descriptor::load(&self.firmware_dirs)?;
        let caps = host::domain_capabilities_from(&caps, machine, virt_type, &firmware)?;
        Ok(self.codec.format_domain_capabilities(&caps))
    }

    /// virConnectGetMaxVcpus from the probe: for `qemu` (or no type) the vCPU limit of the
    /// host emulator's default machine under TCG; for `kvm` that limit capped by KVM's own,
    /// refused when KVM is not usable. libvirt answers a fixed 16 for `qemu`; TCG runs as
    /// many vCPUs as the machine takes, so the probed figure is the true one. With no
    /// emulator installed, `qemu` answers libvirt's 16.
    async fn max_vcpus(&self, virt_type: &str) -> DriverResult<u32> {
        let kvm = match virt_type.to_ascii_lowercase().as_str() {
            "" | "qemu" => false,
            "kvm" => true,
            other => return Err(Self::invalid_arg(format!("unknown type '{other}'"))),
        };
        let machine_max = match self.emulator_for("").await {
            Ok(caps) => {
                let usable = if kvm {
                    caps.kvm_usable()
                } else {
                    caps.tcg_usable()
                };
                usable
                    .then(|| {
                        caps.default_machine()
                            .and_then(|m| caps.machine(m))
                            .map(|m| m.cpu_max)
                    })
                    .flatten()
            }
            Err(_) => None,
        };
        if !kvm {
            return Ok(machine_max.unwrap_or(host::TCG_MAX_VCPUS));
        }
        let limit = host::kvm_max_vcpus().ok_or_else(|| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Qemu,
                "Unable to open /dev/kvm",
            )
        })?;
        Ok(machine_max.map_or(limit, |m| m.min(limit)))
    }

    /// libvirt: virConnectDomainXMLToNative; see `to_native.rs`.
    async fn domain_xml_to_native(
        &self,
        format: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "qemuConnectDomainXMLToNative")?;
        if format != QEMU_ARGV {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!("unsupported config type {format}"),
            ));
        }
        let mut def = self.parse_checked(xml, false).await?;
        let Prepared { ctx, .. } = self.prepare_launch(&mut def, PrepareFor::Preview).await?;
        let cmd = crate::command::build(&def, &ctx)?;
        Ok(cmd.render_line())
    }
}
