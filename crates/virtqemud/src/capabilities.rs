//! The `Host` capability of the QEMU driver: versions, capabilities, domain capabilities,
//! vCPU limits and the native-config preview, answered from the probed emulators (`probe.rs`)
//! and the host facts of `host.rs`. Everything a connection asks of the host, in one place,
//! with the building of the capabilities and domain capabilities the driver publishes
//! ([`capabilities_from`], [`domain_capabilities_from`]).
//!
//! Domain capabilities publish exactly what define accepts and this binary can run: the
//! device enums are those of [`crate::command::honoured`] narrowed by what the binary has.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::types::{NodeInfo, VersionInfo};
use virt_core::VirtError;

use std::path::PathBuf;

use crate::host::{self, find_emulator, host_arch, kvm_available, kvm_max_vcpus};
use crate::live::prepare::{PrepareFor, Prepared};
use crate::probe::{CpuExpansion, CpuModel, Machine, QemuCaps};
use crate::to_native::QEMU_ARGV;
use crate::QemuDriver;
use virt_core::model::caps::{
    CustomCpuModel, DomainCapsBlock, GuestCaps, GuestFeature, GuestMachine, HostModelCpu,
};
use virt_core::model::{Capabilities, DomainCapabilities};

/// `<capabilities>` without probing: the host architecture and one hvm guest for the host's
/// emulator, with the domain types define accepts (`qemu`, and `kvm` when /dev/kvm is usable).
/// [`capabilities_from`] replaces the guests with probed ones.
pub fn capabilities() -> Capabilities {
    let arch = host_arch();
    let mut types = vec!["qemu".to_string()];
    if kvm_available() {
        types.push("kvm".into());
    }
    let guests = find_emulator(&arch)
        .map(|emulator| GuestCaps {
            os_type: "hvm".into(),
            wordsize: if arch.contains("64") || arch == "s390x" {
                64
            } else {
                32
            },
            arch: arch.clone(),
            emulator: emulator.display().to_string(),
            domain_types: types,
            ..GuestCaps::default()
        })
        .into_iter()
        .collect();
    Capabilities {
        host_arch: arch,
        guests,
        // The page sizes freepages --all asks for (issue 15, cpu helper).
        host_page_sizes_kib: crate::host_cpu::page_sizes_kib(),
        ..Capabilities::default()
    }
}

fn wordsize(arch: &str) -> u32 {
    if arch.contains("64") || arch == "s390x" {
        64
    } else {
        32
    }
}

/// `<capabilities>` from probed emulators: the host part as [`capabilities`], and one hvm
/// guest per emulator with its machines (the default first, each alias after its machine with
/// `canonical=`, deprecated ones marked) and its domain types: `qemu` when TCG runs, `kvm`
/// when KVM is usable. Guest features list only what the driver honours: CPU selection and
/// per-device boot order.
pub fn capabilities_from(probed: &[QemuCaps]) -> Capabilities {
    let guests = probed
        .iter()
        .filter(|c| c.tcg_usable() || c.kvm_usable())
        .map(guest_caps)
        .collect();
    Capabilities {
        guests,
        ..capabilities()
    }
}

fn guest_caps(caps: &QemuCaps) -> GuestCaps {
    let mut machines: Vec<&Machine> = caps.machines().iter().collect();
    // Stable: the default first, the rest in QEMU's order.
    machines.sort_by_key(|m| !m.is_default);
    let mut entries = Vec::new();
    for m in machines {
        entries.push(GuestMachine {
            name: m.name.clone(),
            canonical: None,
            max_cpus: Some(m.cpu_max),
            deprecated: m.deprecated,
        });
        if let Some(alias) = &m.alias {
            entries.push(GuestMachine {
                name: alias.clone(),
                canonical: Some(m.name.clone()),
                max_cpus: Some(m.cpu_max),
                deprecated: m.deprecated,
            });
        }
    }
    let mut types = Vec::new();
    if caps.tcg_usable() {
        types.push("qemu".to_string());
    }
    if caps.kvm_usable() {
        types.push("kvm".to_string());
    }
    let feature = |name: &str| GuestFeature {
        name: name.into(),
        ..GuestFeature::default()
    };
    GuestCaps {
        os_type: "hvm".into(),
        arch: caps.arch().to_string(),
        wordsize: wordsize(caps.arch()),
        emulator: caps.binary.display().to_string(),
        machines: Vec::new(),
        domain_types: types,
        machine_entries: entries,
        features: vec![feature("cpuselection"), feature("deviceboot")],
    }
}

/// `<domainCapabilities>` of a probed emulator for `machine` (its default when `None`; an
/// alias is reported by its canonical name) and domain type `virt_type` (`qemu` or `kvm`),
/// with the firmware `firmware` (QEMU's descriptors, [`crate::firmware::descriptor::load`])
/// offers for that machine.
///
/// It publishes what the driver honours and QEMU can do, nothing more: the machine's vCPU
/// limit (capped by KVM's for `kvm`); CPU modes host-passthrough (KVM only), maximum,
/// host-model (when QEMU expanded it) and custom (when a model is usable); disks as disk or
/// cdrom on the buses whose controllers this binary has (IDE only on i440fx / isapc machines,
/// which have one built in); VNC graphics when built in; VGA / virtio video; rng on virtio with
/// the random and builtin backends; TPMs (tpm-tis, tpm-crb) on the emulator (swtpm) and
/// external backends; `<os>` firmware and loader values from the descriptors; no host device
/// assignment, no iothreads.
pub fn domain_capabilities_from(
    caps: &QemuCaps,
    machine: Option<&str>,
    virt_type: &str,
    firmware: &[(PathBuf, crate::firmware::descriptor::Descriptor)],
) -> Result<DomainCapabilities, VirtError> {
    let invalid = |detail: String| VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail);
    let emulator = caps.binary.display().to_string();
    let usable = match virt_type {
        "kvm" => caps.kvm_usable(),
        "qemu" => caps.tcg_usable(),
        other => return Err(invalid(format!("unknown virttype: {other}"))),
    };
    if !usable {
        let what = if virt_type == "kvm" { "KVM" } else { "TCG" };
        return Err(invalid(format!(
            "{what} is not supported by '{emulator}' on this host"
        )));
    }
    let wanted = machine.or_else(|| caps.default_machine());
    let m = match wanted {
        Some(name) => caps.machine(name).ok_or_else(|| {
            invalid(format!(
                "the machine '{name}' is not supported by emulator '{emulator}'"
            ))
        })?,
        None => {
            return Err(invalid(format!(
                "emulator '{emulator}' has no machine types"
            )))
        }
    };
    let mut vcpu_max = m.cpu_max;
    if virt_type == "kvm" {
        vcpu_max = vcpu_max.min(kvm_max_vcpus().unwrap_or(vcpu_max));
    }
    let cpu_modes = vec![
        ("host-passthrough".to_string(), virt_type == "kvm"),
        ("maximum".to_string(), true),
        (
            "host-model".to_string(),
            caps.host_model(virt_type).is_some(),
        ),
        (
            "custom".to_string(),
            caps.cpu_models(virt_type).iter().any(|c| c.usable()),
        ),
    ];
    let (os, loader) = crate::firmware::domain_caps(firmware, caps.arch(), &m.name);
    Ok(DomainCapabilities {
        path: emulator,
        domain: virt_type.to_string(),
        machine: Some(m.name.clone()),
        arch: caps.arch().to_string(),
        vcpu_max,
        iothreads: Some(false),
        os: Some(os),
        loader: Some(loader),
        cpu_modes,
        host_model: caps.host_model(virt_type).map(host_model_cpu),
        custom_models: custom_models(caps.cpu_models(virt_type)),
        devices: device_blocks(caps, m),
        features: Vec::new(),
    })
}

/// Whether value `value` of enum `name` of device block `block`, which the command-line
/// builder honours, is something this binary and machine can do: the QEMU device (or backend
/// object) the builder emits for it exists, and for IDE the machine has the controller built in.
/// A value this table does not know is not published: a value honoured later must be added
/// here before domain capabilities offer it.
fn can_do(caps: &QemuCaps, m: &Machine, block: &str, name: &str, value: &str) -> bool {
    let dev = |d: &str| caps.has_device(d);
    let builtin_ide = m.name.starts_with("pc-i440fx") || m.name == "isapc";
    match (block, name, value) {
        ("disk", "bus", "ide") => builtin_ide && dev("ide-hd"),
        ("disk", "bus", "sata") => dev("ich9-ahci") && dev("ide-hd"),
        ("disk", "bus", "scsi") => dev("virtio-scsi-pci") && dev("scsi-hd"),
        ("disk", "bus", "virtio") => dev("virtio-blk-pci"),
        // PC machines have a floppy controller (q35 gets an isa-fdc).
        ("disk", "bus", "fdc") | ("disk", "diskDevice", "floppy") => {
            dev("floppy") && (builtin_ide || dev("isa-fdc"))
        }
        ("disk", "diskDevice", "disk") => ["ide", "sata", "scsi", "virtio"]
            .iter()
            .any(|bus| can_do(caps, m, "disk", "bus", bus)),
        ("disk", "diskDevice", "cdrom") => {
            (dev("ide-cd") && (builtin_ide || dev("ich9-ahci")))
                || (dev("scsi-cd") && dev("virtio-scsi-pci"))
        }
        ("graphics", "type", "vnc") => caps.vnc,
        // QXL exists only in a QEMU built with SPICE.
        ("graphics", "type", "spice") => dev("qxl-vga"),
        ("video", "modelType", "qxl") => dev("qxl-vga") && dev("qxl"),
        ("video", "modelType", "ramfb") => dev("ramfb"),
        ("redirdev", "bus", "usb") => dev("usb-redir") && dev("qxl-vga"),
        ("video", "modelType", "vga") => dev("VGA"),
        ("video", "modelType", "cirrus") => dev("cirrus-vga"),
        ("video", "modelType", "bochs") => dev("bochs-display"),
        ("video", "modelType", "virtio") => dev("virtio-vga") && dev("virtio-gpu-pci"),
        ("video", "modelType", "none") => true,
        ("rng", "model", "virtio") => dev("virtio-rng-pci"),
        ("rng", "model", "virtio-transitional") => dev("virtio-rng-pci-transitional"),
        ("rng", "model", "virtio-non-transitional") => dev("virtio-rng-pci-non-transitional"),
        ("rng", "backendModel", "random") => caps.has_type("rng-random"),
        ("rng", "backendModel", "builtin") => caps.has_type("rng-builtin"),
        // Host devices: what QEMU can take; whether this host has one to give is a start's
        // question (crate::hostdev), as in libvirt.
        ("hostdev", "mode", "subsystem") => true,
        ("hostdev", "subsysType", "usb") => dev("usb-host"),
        ("hostdev", "subsysType", "pci") => dev("vfio-pci"),
        ("tpm", "model", "tpm-tis") => dev("tpm-tis"),
        ("tpm", "model", "tpm-crb") => dev("tpm-crb"),
        ("tpm", "backendModel", "emulator") => {
            let have = |b: &str| crate::tpm::swtpm::find_binary(b).is_ok();
            caps.has_type("tpm-emulator") && have("swtpm") && have("swtpm_setup")
        }
        ("tpm", "backendModel", "external") => caps.has_type("tpm-emulator"),
        ("tpm", "backendVersion", "1.2" | "2.0") => caps.has_type("tpm-emulator"),
        _ => false,
    }
}

/// The device blocks: exactly the enums define accepts ([`crate::command::honoured`]), each
/// narrowed to the values this binary and machine can do ([`can_do`]); a block with an empty
/// enum is unsupported.
fn device_blocks(caps: &QemuCaps, m: &Machine) -> Vec<DomainCapsBlock> {
    let honoured = crate::command::honoured();
    let blocks: Vec<DomainCapsBlock> = honoured
        .caps
        .devices
        .iter()
        .map(|b| {
            let enums: Vec<(String, Vec<String>)> = b
                .enums
                .iter()
                .map(|(name, values)| {
                    let kept = values
                        .iter()
                        .filter(|v| can_do(caps, m, &b.name, name, v))
                        .cloned()
                        .collect();
                    (name.clone(), kept)
                })
                .collect();
            DomainCapsBlock {
                name: b.name.clone(),
                supported: b.supported && enums.iter().all(|(_, v)| !v.is_empty()),
                enums,
            }
        })
        .collect();
    blocks
}

/// The host-model CPU as published: the model QEMU expanded (`host` under KVM, `max` under
/// TCG, the names the command line uses), with each feature of the static expansion required
/// or disabled, under QEMU's feature names (which define accepts as written).
fn host_model_cpu(exp: &CpuExpansion) -> HostModelCpu {
    HostModelCpu {
        model: exp.model.clone(),
        fallback: Some("forbid".into()),
        vendor: None,
        features: exp
            .features
            .iter()
            .map(|(name, on)| {
                let policy = if *on { "require" } else { "disable" };
                (policy.to_string(), name.clone())
            })
            .collect(),
    }
}

/// Every CPU model the accelerator knows, usable when QEMU reported no unavailable feature.
/// QEMU does not say who makes a model, so the vendor is left unknown.
fn custom_models(models: &[CpuModel]) -> Vec<CustomCpuModel> {
    models
        .iter()
        .map(|c| CustomCpuModel {
            name: c.name.clone(),
            usable: Some(c.usable()),
            deprecated: c.deprecated,
            vendor: None,
        })
        .collect()
}

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

    /// The emulator and virt type a CPU comparison or baseline is about, resolved as
    /// virConnectGetDomainCapabilities resolves its arguments.
    async fn cpu_target(
        &self,
        target: &virt_core::driver::CpuTarget,
    ) -> DriverResult<(std::sync::Arc<QemuCaps>, String)> {
        let arch = target.arch.as_deref().unwrap_or_default();
        let caps = match target.emulator.as_deref() {
            None => self.emulator_for(arch).await?,
            Some(emulator) => {
                let caps = self.probed.get(std::path::Path::new(emulator)).await?;
                if !arch.is_empty() && caps.arch() != arch {
                    return Err(Self::invalid_arg(format!(
                        "architecture from emulator '{emulator}' doesn't match given architecture '{arch}'"
                    )));
                }
                caps
            }
        };
        let virt_type = match target.virttype.as_deref().map(str::to_ascii_lowercase) {
            None => if caps.kvm_usable() { "kvm" } else { "qemu" }.to_string(),
            Some(t) if t == "kvm" || t == "qemu" => t,
            Some(t) => return Err(Self::invalid_arg(format!("unknown virttype: {t}"))),
        };
        Ok((caps, virt_type))
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

    /// libvirt: virNodeSuspendForDuration, as its QEMU and LXC drivers do it
    /// (virt_core::nodesuspend).
    async fn suspend_for_duration(
        &self,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> DriverResult<()> {
        virt_core::nodesuspend::suspend_in_background(target, duration, flags).await
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
        Ok(self.codec.format_capabilities(&capabilities_from(&all)))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(host::node_info())
    }

    // Host and Hypervisor group (issue 15): the real host's facts, as libvirt's QEMU driver
    // reads them (SMBIOS from the kernel's /sys/class/dmi/id rather than dmidecode).

    async fn sysinfo(&self, flags: u32) -> DriverResult<String> {
        VirtError::check_flags(flags, 0, ErrorDomain::Qemu, "qemuConnectGetSysinfo")?;
        virt_core::hostinfo::sysinfo()
    }

    async fn cells_free_memory(&self, start: i32, max: i32) -> DriverResult<Vec<u64>> {
        virt_core::hostinfo::cells_free_memory(start, max)
    }

    async fn free_memory(&self) -> DriverResult<u64> {
        virt_core::hostinfo::free_memory()
    }

    async fn cpu_map(&self, flags: u32) -> DriverResult<Vec<bool>> {
        VirtError::check_flags(flags, 0, ErrorDomain::Qemu, "virHostCPUGetMap")?;
        virt_core::hostinfo::cpu_map()
    }

    async fn cpu_stats(&self, cpu: i32, flags: u32) -> DriverResult<Vec<(String, u64)>> {
        VirtError::check_flags(flags, 0, ErrorDomain::Qemu, "virHostCPUGetStats")?;
        virt_core::hostinfo::cpu_stats(cpu)
    }

    async fn memory_stats(&self, cell: i32, flags: u32) -> DriverResult<Vec<(String, u64)>> {
        VirtError::check_flags(flags, 0, ErrorDomain::Qemu, "virHostMemGetStats")?;
        virt_core::hostinfo::memory_stats(cell)
    }

    // CPU models and host memory (issue 15, cpu helper).

    /// The probed QEMU's CPU models for `arch` (under KVM when the binary can use it, else
    /// TCG), in QEMU's order; libvirt's CPU map answers for an architecture no installed
    /// emulator serves.
    async fn cpu_model_names(&self, arch: &str, flags: u32) -> DriverResult<Vec<String>> {
        self.check_flags(flags, 0, "qemuConnectGetCPUModelNames")?;
        let dir = virt_core::kit::cpu_map::map_dir();
        if arch == "none" || !virt_core::kit::cpu_map::ARCHES.contains(&arch) {
            return virt_core::kit::cpu_map::model_names(&dir, arch);
        }
        match self.emulator_for(arch).await {
            Ok(caps) => {
                let virt_type = if caps.kvm_usable() { "kvm" } else { "qemu" };
                Ok(caps
                    .cpu_models(virt_type)
                    .iter()
                    .map(|c| c.name.clone())
                    .collect())
            }
            Err(_) => virt_core::kit::cpu_map::model_names(&dir, arch),
        }
    }

    /// virConnectBaselineCPU as libvirt's QEMU driver answers it: from the CPU map.
    async fn baseline_cpu(&self, cpus: &[String], flags: u32) -> DriverResult<String> {
        self.check_flags(flags, 3, "qemuConnectBaselineCPU")?;
        virt_core::kit::cpu_map::baseline(&virt_core::kit::cpu_map::map_dir(), cpus, flags & 1 != 0)
    }

    /// virConnectCompareHypervisorCPU against the probed host-model CPU of the emulator
    /// (see `host_cpu::compare`).
    async fn compare_hypervisor_cpu(
        &self,
        target: &virt_core::driver::CpuTarget,
        xml: &str,
        flags: u32,
    ) -> DriverResult<i32> {
        self.check_flags(flags, 3, "qemuConnectCompareHypervisorCPU")?;
        let (caps, virt_type) = self.cpu_target(target).await?;
        let fmap = virt_core::kit::cpu_map::load_features(&virt_core::kit::cpu_map::map_dir())
            .unwrap_or_default();
        crate::host_cpu::compare(&caps, &virt_type, &fmap, xml, flags & 1 != 0)
    }

    /// virConnectCompareCPU: as [`Host::compare_hypervisor_cpu`] for the host's emulator and
    /// its default virt type (KVM when usable), whose host-model CPU is this host's CPU as a
    /// guest can have it.
    async fn compare_cpu(&self, xml: &str, flags: u32) -> DriverResult<i32> {
        self.check_flags(flags, 3, "qemuConnectCompareCPU")?;
        let (caps, virt_type) = self
            .cpu_target(&virt_core::driver::CpuTarget::default())
            .await?;
        let fmap = virt_core::kit::cpu_map::load_features(&virt_core::kit::cpu_map::map_dir())
            .unwrap_or_default();
        crate::host_cpu::compare(&caps, &virt_type, &fmap, xml, flags & 1 != 0)
    }

    /// virConnectBaselineHypervisorCPU: the CPU map's baseline, decoded into a model the
    /// probed QEMU can run under the virt type (`kit::cpu_map::hypervisor_baseline`).
    async fn baseline_hypervisor_cpu(
        &self,
        target: &virt_core::driver::CpuTarget,
        cpus: &[String],
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 3, "qemuConnectBaselineHypervisorCPU")?;
        let (caps, virt_type) = self.cpu_target(target).await?;
        let usable: Vec<String> = caps
            .cpu_models(&virt_type)
            .iter()
            .filter(|c| c.usable())
            .map(|c| c.name.clone())
            .collect();
        virt_core::kit::cpu_map::hypervisor_baseline(
            &virt_core::kit::cpu_map::map_dir(),
            cpus,
            flags & 1 != 0,
            caps.arch(),
            &usable,
        )
    }

    async fn free_pages(
        &self,
        pages: &[u32],
        start: i32,
        count: u32,
        flags: u32,
    ) -> DriverResult<Vec<u64>> {
        self.check_flags(flags, 0, "qemuNodeGetFreePages")?;
        crate::host_cpu::free_pages(pages, start, count)
    }

    async fn alloc_pages(
        &self,
        sizes: &[u32],
        counts: &[u64],
        start: i32,
        count: u32,
        flags: u32,
    ) -> DriverResult<i32> {
        self.check_flags(flags, 1, "qemuNodeAllocPages")?;
        crate::host_cpu::alloc_pages(sizes, counts, start, count, flags & 1 == 0)
    }

    async fn node_memory_parameters(
        &self,
        flags: u32,
    ) -> DriverResult<Vec<virt_core::types::TypedParam>> {
        self.check_flags(flags, 0, "qemuNodeGetMemoryParameters")?;
        crate::host_cpu::node_memory_parameters()
    }

    async fn set_node_memory_parameters(
        &self,
        params: &[virt_core::types::TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "qemuNodeSetMemoryParameters")?;
        crate::host_cpu::set_node_memory_parameters(params)
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
        let caps = domain_capabilities_from(&caps, machine, virt_type, &firmware)?;
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
