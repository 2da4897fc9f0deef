//! The `Driver` trait: one hypervisor connection's operations, mirroring libvirt's driver table.
//!
//! The gRPC service adapters (module `service`, feature `embedded`) are thin adapters over it.
//! Every method has a default that returns NO_SUPPORT ("this function is not supported by the connection driver: virX"), so
//! a driver implements what it supports and compiles unchanged when the trait grows. Flags are
//! libvirt's bit values; each driver checks them (unknown bits are INVALID_ARG).

use std::pin::Pin;

use crate::error::{ErrorDomain, VirtError};
use crate::events::EventSubscription;
use crate::guest::{AddressSource, DomainInterface, FsInfo};
use crate::state::StateReason;
pub use crate::types::BlockJobInfo;
use crate::types::{
    ControlInfo, DomainHandle, DomainInfo, DomainLookup, DomainSummary, InterfaceStats, NodeInfo,
    SnapshotInfo, StatsRecord, TypedParam, VersionInfo,
};
use crate::types::{IoThreadInfo, VcpuInfo};

/// The hypervisor a CPU comparison or baseline is about (virConnectCompareHypervisorCPU's
/// emulator, arch, machine and virttype); `None` for what the caller left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuTarget {
    /// Emulator binary.
    pub emulator: Option<String>,
    /// Architecture.
    pub arch: Option<String>,
    /// Machine type.
    pub machine: Option<String>,
    /// Virtualization type (`kvm`, `qemu`).
    pub virttype: Option<String>,
}

/// Result of every driver call.
pub type DriverResult<T> = Result<T, VirtError>;

/// What a validation dry run found: the definition a define of the same XML would store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedDomain {
    /// The effective configuration: inactive domain XML with the driver's defaults filled.
    pub xml: String,
    /// The domain the definition would be (name and UUID; no ID).
    pub domain: DomainHandle,
    /// A define would replace an existing domain of the same name and UUID.
    pub replaces_existing: bool,
}

impl ValidatedDomain {
    /// The answer for `def`, whose stored form is `xml`.
    pub fn new(xml: String, def: &crate::model::DomainDef, replaces_existing: bool) -> Self {
        ValidatedDomain {
            xml,
            domain: DomainHandle {
                name: def.name.clone(),
                uuid: def.uuid,
                id: None,
            },
            replaces_existing,
        }
    }
}

/// A console connection: bytes both ways.
pub trait ConsoleIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> ConsoleIo for T {}

/// A boxed console connection.
pub type ConsoleStream = Pin<Box<dyn ConsoleIo>>;

macro_rules! unsupported {
    ($self:ident, $api:literal) => {
        Err(VirtError::no_support($self.error_domain(), $api))
    };
}

/// Connection and host facts: who the driver is, what the host and its hypervisor offer.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Host: Send + Sync + 'static {
    /// The error domain this driver reports from (TEST, QEMU, LXC, LIBXL).
    fn error_domain(&self) -> ErrorDomain;

    /// The canonical URI this driver serves. libvirt: virConnectGetURI.
    fn uri(&self) -> String;

    /// Hypervisor type and versions. libvirt: virConnectGetType / GetVersion / GetLibVersion.
    async fn version(&self) -> DriverResult<VersionInfo>;

    /// The host name. libvirt: virConnectGetHostname.
    async fn hostname(&self) -> DriverResult<String> {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .map_err(|e| {
                VirtError::new(
                    crate::error::ErrorCode::SystemError,
                    self.error_domain(),
                    format!("cannot get hostname: {e}"),
                )
            })
    }

    /// `<capabilities>` XML. libvirt: virConnectGetCapabilities.
    async fn capabilities(&self) -> DriverResult<String> {
        unsupported!(self, "virConnectGetCapabilities")
    }

    /// `<domainCapabilities>` XML. libvirt: virConnectGetDomainCapabilities.
    async fn domain_capabilities(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virConnectGetDomainCapabilities")
    }

    /// Host facts. libvirt: virNodeGetInfo.
    async fn node_info(&self) -> DriverResult<NodeInfo> {
        unsupported!(self, "virNodeGetInfo")
    }

    /// Maximum vCPUs for a virt type. libvirt: virConnectGetMaxVcpus.
    async fn max_vcpus(&self, virt_type: &str) -> DriverResult<u32> {
        unsupported!(self, "virConnectGetMaxVcpus")
    }

    /// The native configuration of a domain definition in `format` (the QEMU driver's
    /// `qemu-argv`: the command line a start would run), defining and starting nothing.
    /// libvirt: virConnectDomainXMLToNative.
    async fn domain_xml_to_native(
        &self,
        format: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virConnectDomainXMLToNative")
    }

    /// The domain XML of a native configuration in `format` (the Xen driver's `xen-xl` and
    /// `xen-xm`), defining nothing. libvirt: virConnectDomainXMLFromNative.
    async fn domain_xml_from_native(
        &self,
        format: &str,
        config: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virConnectDomainXMLFromNative")
    }

    /// Host security model `(model, doi)`. libvirt: virNodeGetSecurityModel.
    async fn security_model(&self) -> DriverResult<(String, String)> {
        Ok((String::new(), String::new()))
    }

    // Host and Hypervisor group (issue 15).

    /// The host's `<sysinfo>` XML. libvirt: virConnectGetSysinfo.
    async fn sysinfo(&self, flags: u32) -> DriverResult<String> {
        unsupported!(self, "virConnectGetSysinfo")
    }

    /// Free bytes of NUMA cells `start`.. (at most `max`). libvirt: virNodeGetCellsFreeMemory.
    async fn cells_free_memory(&self, start: i32, max: i32) -> DriverResult<Vec<u64>> {
        unsupported!(self, "virNodeGetCellsFreeMemory")
    }

    /// Free bytes of the host. libvirt: virNodeGetFreeMemory.
    async fn free_memory(&self) -> DriverResult<u64> {
        unsupported!(self, "virNodeGetFreeMemory")
    }

    /// The online flag of each present host CPU. libvirt: virNodeGetCPUMap.
    async fn cpu_map(&self, flags: u32) -> DriverResult<Vec<bool>> {
        unsupported!(self, "virNodeGetCPUMap")
    }

    /// CPU time counters `(field, nanoseconds)` of `cpu` (-1: all). libvirt: virNodeGetCPUStats.
    async fn cpu_stats(&self, cpu: i32, flags: u32) -> DriverResult<Vec<(String, u64)>> {
        unsupported!(self, "virNodeGetCPUStats")
    }

    /// Memory counters `(field, KiB)` of NUMA cell `cell` (-1: the host).
    /// libvirt: virNodeGetMemoryStats.
    async fn memory_stats(&self, cell: i32, flags: u32) -> DriverResult<Vec<(String, u64)>> {
        unsupported!(self, "virNodeGetMemoryStats")
    }

    // CPU models and host memory (issue 15, cpu helper).

    /// CPU model names for libvirt architecture `arch` (empty: any model is accepted).
    /// libvirt: virConnectGetCPUModelNames.
    async fn cpu_model_names(&self, arch: &str, flags: u32) -> DriverResult<Vec<String>> {
        unsupported!(self, "virConnectGetCPUModelNames")
    }

    /// Compares `<cpu>` XML with the host CPU: 0 incompatible, 1 identical, 2 superset.
    /// libvirt: virConnectCompareCPU.
    async fn compare_cpu(&self, xml: &str, flags: u32) -> DriverResult<i32> {
        unsupported!(self, "virConnectCompareCPU")
    }

    /// The baseline `<cpu>` of `cpus`. libvirt: virConnectBaselineCPU.
    async fn baseline_cpu(&self, cpus: &[String], flags: u32) -> DriverResult<String> {
        unsupported!(self, "virConnectBaselineCPU")
    }

    /// Compares `<cpu>` XML with the CPU the hypervisor offers (`target`: emulator, arch,
    /// machine, virttype, each possibly empty). libvirt: virConnectCompareHypervisorCPU.
    async fn compare_hypervisor_cpu(
        &self,
        target: &CpuTarget,
        xml: &str,
        flags: u32,
    ) -> DriverResult<i32> {
        unsupported!(self, "virConnectCompareHypervisorCPU")
    }

    /// The baseline `<cpu>` of `cpus` usable by the hypervisor.
    /// libvirt: virConnectBaselineHypervisorCPU.
    async fn baseline_hypervisor_cpu(
        &self,
        target: &CpuTarget,
        cpus: &[String],
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virConnectBaselineHypervisorCPU")
    }

    /// Free pages of each size of `pages` (KiB) in cells `start`.. (`count` of them), cell by
    /// cell. libvirt: virNodeGetFreePages.
    async fn free_pages(
        &self,
        pages: &[u32],
        start: i32,
        count: u32,
        flags: u32,
    ) -> DriverResult<Vec<u64>> {
        unsupported!(self, "virNodeGetFreePages")
    }

    /// Sets (or with ADD grows) the page pools. libvirt: virNodeAllocPages.
    async fn alloc_pages(
        &self,
        sizes: &[u32],
        counts: &[u64],
        start: i32,
        count: u32,
        flags: u32,
    ) -> DriverResult<i32> {
        unsupported!(self, "virNodeAllocPages")
    }

    /// Shared memory tunables. libvirt: virNodeGetMemoryParameters.
    async fn node_memory_parameters(&self, flags: u32) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virNodeGetMemoryParameters")
    }

    /// Changes shared memory tunables. libvirt: virNodeSetMemoryParameters.
    async fn set_node_memory_parameters(
        &self,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virNodeSetMemoryParameters")
    }

    /// Suspends the host. libvirt: virNodeSuspendForDuration.
    async fn suspend_for_duration(
        &self,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virNodeSuspendForDuration")
    }

    /// The host's SEV facts. libvirt: virNodeGetSEVInfo.
    async fn sev_info(&self, flags: u32) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virNodeGetSEVInfo")
    }
}

/// Domains as definitions: lookup, list, define, validate, undefine, info, state, XML, autostart.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Definitions: Host {
    /// Resolves a domain. libvirt: virDomainLookupBy*.
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle>;

    /// Lists domains with libvirt's filter flags. libvirt: virConnectListAllDomains.
    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>>;

    /// Defines a persistent domain. libvirt: virDomainDefineXMLFlags.
    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainDefineXMLFlags")
    }

    /// Checks `xml` as [`Definitions::define_domain`] with the VALIDATE flag would, defining
    /// nothing, and returns the effective configuration. Failures carry every problem as a
    /// [`crate::error::Violation`] with its XPath; a name or UUID clash is a violation on
    /// `/domain/name` or `/domain/uuid`. libvirt: virDomainDefineXMLFlags with
    /// VIR_DOMAIN_DEFINE_VALIDATE, as a dry run.
    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        unsupported!(self, "virDomainDefineXMLFlags")
    }

    /// Removes a persistent definition. libvirt: virDomainUndefineFlags.
    async fn undefine_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainUndefineFlags")
    }

    /// dominfo facts. libvirt: virDomainGetInfo and friends.
    async fn domain_info(&self, dom: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        unsupported!(self, "virDomainGetInfo")
    }

    /// State and reason. libvirt: virDomainGetState.
    async fn domain_state(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        unsupported!(self, "virDomainGetState")
    }

    /// Domain XML. libvirt: virDomainGetXMLDesc.
    async fn domain_xml(&self, dom: &DomainLookup, flags: u32) -> DriverResult<String> {
        unsupported!(self, "virDomainGetXMLDesc")
    }

    /// Autostart. libvirt: virDomainGetAutostart.
    async fn autostart(&self, dom: &DomainLookup) -> DriverResult<bool> {
        unsupported!(self, "virDomainGetAutostart")
    }

    /// Autostart. libvirt: virDomainSetAutostart.
    async fn set_autostart(&self, dom: &DomainLookup, autostart: bool) -> DriverResult<()> {
        unsupported!(self, "virDomainSetAutostart")
    }

    // Domain management group (issue 15).

    /// The title, description or one metadata element (`kind`: libvirt
    /// virDomainMetadataType; `uri` names the element). libvirt: virDomainGetMetadata.
    async fn metadata(
        &self,
        dom: &DomainLookup,
        kind: i32,
        uri: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virDomainGetMetadata")
    }

    /// Sets (`Some`) or removes (`None`) the title, description or one metadata element,
    /// stored with namespace prefix `key`. libvirt: virDomainSetMetadata.
    async fn set_metadata(
        &self,
        dom: &DomainLookup,
        kind: i32,
        metadata: Option<&str>,
        key: &str,
        uri: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetMetadata")
    }

    /// Renames an inactive domain. libvirt: virDomainRename.
    async fn rename_domain(
        &self,
        dom: &DomainLookup,
        new_name: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainRename")
    }
}

/// Running domains: start, create, shutdown, destroy, reboot, reset, suspend, resume.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Lifecycle: Host {
    /// Starts a defined domain. libvirt: virDomainCreateWithFlags.
    async fn create_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainCreateWithFlags")
    }

    /// Creates and starts a transient domain. libvirt: virDomainCreateXML.
    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainCreateXML")
    }

    /// Asks the guest to power off. libvirt: virDomainShutdownFlags.
    async fn shutdown_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainShutdownFlags")
    }

    /// Hard stop. libvirt: virDomainDestroyFlags.
    async fn destroy_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainDestroyFlags")
    }

    /// Guest reboot. libvirt: virDomainReboot.
    async fn reboot_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainReboot")
    }

    /// Reset button. libvirt: virDomainReset.
    async fn reset_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainReset")
    }

    /// Pause. libvirt: virDomainSuspend.
    async fn suspend_domain(&self, dom: &DomainLookup) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainSuspend")
    }

    /// Unpause. libvirt: virDomainResume.
    async fn resume_domain(&self, dom: &DomainLookup) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainResume")
    }

    // Guest power management (issue 15: dompmsuspend, dompmwakeup).

    /// Suspends the guest to `target` (libvirt virNodeSuspendTarget: 0 MEM, 1 DISK,
    /// 2 HYBRID) for `duration` seconds. libvirt: virDomainPMSuspendForDuration.
    async fn pm_suspend(
        &self,
        dom: &DomainLookup,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainPMSuspendForDuration")
    }

    /// Wakes a pmsuspended guest. libvirt: virDomainPMWakeup.
    async fn pm_wakeup(&self, dom: &DomainLookup, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainPMWakeup")
    }
}

/// Changing a domain: memory, vCPUs, devices (libvirt's modification-impact calls).
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Resources: Host {
    /// Memory. libvirt: virDomainSetMemoryFlags.
    async fn set_domain_memory(
        &self,
        dom: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetMemoryFlags")
    }

    /// vCPU count. libvirt: virDomainSetVcpusFlags.
    async fn set_domain_vcpus(
        &self,
        dom: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetVcpusFlags")
    }

    /// vCPU count. libvirt: virDomainGetVcpusFlags.
    async fn domain_vcpus(&self, dom: &DomainLookup, flags: u32) -> DriverResult<u32> {
        unsupported!(self, "virDomainGetVcpusFlags")
    }

    /// Memory tunables of the live or persistent definition (LIVE / CONFIG / current, plus
    /// STRING_OKAY): `hard_limit`, `soft_limit`, `swap_hard_limit`, `min_guarantee`, KiB as
    /// ULLONG, [`crate::kit::typed_params::MEMORY_UNLIMITED`] for no limit.
    /// libvirt: virDomainGetMemoryParameters.
    async fn memory_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetMemoryParameters")
    }

    /// Changes memory tunables. libvirt: virDomainSetMemoryParameters.
    async fn set_memory_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetMemoryParameters")
    }

    /// The launch security parameters (STRING_OKAY): none for a domain without
    /// `<launchSecurity>`. libvirt: virDomainGetLaunchSecurityInfo.
    async fn launch_security_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetLaunchSecurityInfo")
    }

    /// The scheduler's name and its parameter count. libvirt: virDomainGetSchedulerType.
    async fn scheduler_type(&self, dom: &DomainLookup) -> DriverResult<(String, i32)> {
        unsupported!(self, "virDomainGetSchedulerType")
    }

    /// Scheduler parameters (LIVE / CONFIG / current; STRING_OKAY absent for the legacy call).
    /// libvirt: virDomainGetSchedulerParametersFlags.
    async fn scheduler_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetSchedulerParametersFlags")
    }

    /// Changes scheduler parameters. libvirt: virDomainSetSchedulerParametersFlags.
    async fn set_scheduler_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetSchedulerParametersFlags")
    }

    /// Hot-plug. libvirt: virDomainAttachDeviceFlags.
    async fn attach_device(&self, dom: &DomainLookup, xml: &str, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainAttachDeviceFlags")
    }

    /// Hot-unplug by XML or alias; `Ok(true)` when the device is gone already.
    /// libvirt: virDomainDetachDeviceFlags / virDomainDetachDeviceAlias.
    async fn detach_device(
        &self,
        dom: &DomainLookup,
        xml: &str,
        alias: &str,
        flags: u32,
    ) -> DriverResult<bool> {
        if !alias.is_empty() {
            return unsupported!(self, "virDomainDetachDeviceAlias");
        }
        unsupported!(self, "virDomainDetachDeviceFlags")
    }

    /// Device update. libvirt: virDomainUpdateDeviceFlags.
    async fn update_device(&self, dom: &DomainLookup, xml: &str, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainUpdateDeviceFlags")
    }

    // Block jobs (issue 15, qemu group).

    /// Populates a disk from its backing chain. libvirt: virDomainBlockPull.
    async fn block_pull(
        &self,
        dom: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockPull")
    }

    /// Pull into `base`, or (flag COPY) copy to `base`. libvirt: virDomainBlockRebase.
    async fn block_rebase(
        &self,
        dom: &DomainLookup,
        disk: &str,
        base: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockRebase")
    }

    /// Commits `top` (empty: the active layer) into `base` (empty: the bottom).
    /// libvirt: virDomainBlockCommit.
    async fn block_commit(
        &self,
        dom: &DomainLookup,
        disk: &str,
        base: &str,
        top: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockCommit")
    }

    /// Copies a disk to the destination `dest_xml` describes. libvirt: virDomainBlockCopy.
    async fn block_copy(
        &self,
        dom: &DomainLookup,
        disk: &str,
        dest_xml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockCopy")
    }

    /// The disk's block job, `None` when none runs. libvirt: virDomainGetBlockJobInfo.
    async fn block_job_info(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Option<BlockJobInfo>> {
        unsupported!(self, "virDomainGetBlockJobInfo")
    }

    /// Cancels a block job, or (flag PIVOT) completes it. libvirt: virDomainBlockJobAbort.
    async fn block_job_abort(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockJobAbort")
    }

    /// Sets a block job's bandwidth. libvirt: virDomainBlockJobSetSpeed.
    async fn block_job_set_speed(
        &self,
        dom: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockJobSetSpeed")
    }

    /// Resizes a disk to `size` KiB (bytes with flag BYTES). libvirt: virDomainBlockResize.
    async fn block_resize(
        &self,
        dom: &DomainLookup,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainBlockResize")
    }

    // --- Tuning, vCPU and IOThread calls (issue 15, group "tune") ---

    /// Block I/O tunables of one definition (LIVE / CONFIG / current; STRING_OKAY): `weight`
    /// UINT and the per-device STRING lists. libvirt: virDomainGetBlkioParameters.
    async fn blkio_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetBlkioParameters")
    }

    /// Changes block I/O tunables. libvirt: virDomainSetBlkioParameters.
    async fn set_blkio_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetBlkioParameters")
    }

    /// NUMA memory policy (`numa_mode` INT, `numa_nodeset` STRING).
    /// libvirt: virDomainGetNumaParameters.
    async fn numa_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetNumaParameters")
    }

    /// Changes the NUMA memory policy. libvirt: virDomainSetNumaParameters.
    async fn set_numa_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetNumaParameters")
    }

    /// Bandwidth of the interface `device` (host-side name or MAC).
    /// libvirt: virDomainGetInterfaceParameters.
    async fn interface_parameters(
        &self,
        dom: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetInterfaceParameters")
    }

    /// Changes an interface's bandwidth. libvirt: virDomainSetInterfaceParameters.
    async fn set_interface_parameters(
        &self,
        dom: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetInterfaceParameters")
    }

    /// I/O throttle of the disk `disk` (target or source). libvirt: virDomainGetBlockIoTune.
    async fn block_io_tune(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetBlockIoTune")
    }

    /// Changes a disk's I/O throttle. libvirt: virDomainSetBlockIoTune.
    async fn set_block_io_tune(
        &self,
        dom: &DomainLookup,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetBlockIoTune")
    }

    /// Perf events, one BOOLEAN each. libvirt: virDomainGetPerfEvents.
    async fn perf_events(&self, dom: &DomainLookup, flags: u32) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetPerfEvents")
    }

    /// Enables or disables perf events. libvirt: virDomainSetPerfEvents.
    async fn set_perf_events(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetPerfEvents")
    }

    /// The action for `kind` (virDomainLifecycle) becomes `action`
    /// (virDomainLifecycleAction). libvirt: virDomainSetLifecycleAction.
    async fn set_lifecycle_action(
        &self,
        dom: &DomainLookup,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetLifecycleAction")
    }

    /// CPU statistics: the totals for `start_cpu` -1, else `ncpus` host CPUs from
    /// `start_cpu`; also how many host CPUs there are. libvirt: virDomainGetCPUStats.
    async fn domain_cpu_stats(
        &self,
        dom: &DomainLookup,
        start_cpu: i32,
        ncpus: u32,
        flags: u32,
    ) -> DriverResult<(u32, Vec<Vec<TypedParam>>)> {
        unsupported!(self, "virDomainGetCPUStats")
    }

    /// Each online vCPU of the running domain. libvirt: virDomainGetVcpus.
    async fn vcpu_info(&self, dom: &DomainLookup) -> DriverResult<Vec<VcpuInfo>> {
        unsupported!(self, "virDomainGetVcpus")
    }

    /// Each vCPU's affinity (cpumap) in one definition. libvirt: virDomainGetVcpuPinInfo.
    async fn vcpu_pin_info(&self, dom: &DomainLookup, flags: u32) -> DriverResult<Vec<Vec<u8>>> {
        unsupported!(self, "virDomainGetVcpuPinInfo")
    }

    /// Pins one vCPU. libvirt: virDomainPinVcpuFlags.
    async fn pin_vcpu(
        &self,
        dom: &DomainLookup,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainPinVcpuFlags")
    }

    /// The emulator threads' affinity. libvirt: virDomainGetEmulatorPinInfo.
    async fn emulator_pin_info(&self, dom: &DomainLookup, flags: u32) -> DriverResult<Vec<u8>> {
        unsupported!(self, "virDomainGetEmulatorPinInfo")
    }

    /// Pins the emulator threads. libvirt: virDomainPinEmulator.
    async fn pin_emulator(
        &self,
        dom: &DomainLookup,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainPinEmulator")
    }

    /// The IOThreads and their affinity. libvirt: virDomainGetIOThreadInfo.
    async fn iothread_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<IoThreadInfo>> {
        unsupported!(self, "virDomainGetIOThreadInfo")
    }

    /// Pins one IOThread. libvirt: virDomainPinIOThread.
    async fn pin_iothread(
        &self,
        dom: &DomainLookup,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainPinIOThread")
    }

    /// Adds an IOThread. libvirt: virDomainAddIOThread.
    async fn add_iothread(&self, dom: &DomainLookup, id: u32, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainAddIOThread")
    }

    /// Removes an IOThread. libvirt: virDomainDelIOThread.
    async fn del_iothread(&self, dom: &DomainLookup, id: u32, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainDelIOThread")
    }

    /// Changes an IOThread's parameters. libvirt: virDomainSetIOThreadParams.
    async fn set_iothread_params(
        &self,
        dom: &DomainLookup,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetIOThreadParams")
    }

    /// The guest's view of its vCPUs. libvirt: virDomainGetGuestVcpus.
    async fn guest_vcpus(&self, dom: &DomainLookup, flags: u32) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetGuestVcpus")
    }

    /// Onlines or offlines the vCPUs of `cpumap` in the guest. libvirt: virDomainSetGuestVcpus.
    async fn set_guest_vcpus(
        &self,
        dom: &DomainLookup,
        cpumap: &str,
        state: bool,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetGuestVcpus")
    }

    /// Enables or disables the vCPUs of `vcpumap`. libvirt: virDomainSetVcpu.
    async fn set_vcpu(
        &self,
        dom: &DomainLookup,
        vcpumap: &str,
        state: bool,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetVcpu")
    }
}

/// Saving a running domain's memory to a file and back, managed or not.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait SaveRestore: Host {
    /// Managed save. libvirt: virDomainManagedSave.
    async fn managed_save(&self, dom: &DomainLookup, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainManagedSave")
    }

    /// libvirt: virDomainHasManagedSaveImage.
    async fn has_managed_save_image(&self, dom: &DomainLookup) -> DriverResult<bool> {
        unsupported!(self, "virDomainHasManagedSaveImage")
    }

    /// libvirt: virDomainManagedSaveRemove.
    async fn managed_save_remove(&self, dom: &DomainLookup) -> DriverResult<()> {
        unsupported!(self, "virDomainManagedSaveRemove")
    }

    /// Save to a file. libvirt: virDomainSaveFlags.
    async fn save_domain(
        &self,
        dom: &DomainLookup,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSaveFlags")
    }

    /// Restore from a file. libvirt: virDomainRestoreFlags.
    async fn restore_domain(
        &self,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        unsupported!(self, "virDomainRestoreFlags")
    }

    // Domain management group (issue 15).

    /// The domain XML in a save image. libvirt: virDomainSaveImageGetXMLDesc.
    async fn save_image_xml(&self, path: &str, flags: u32) -> DriverResult<String> {
        unsupported!(self, "virDomainSaveImageGetXMLDesc")
    }

    /// Replaces the domain XML in a save image. libvirt: virDomainSaveImageDefineXML.
    async fn define_save_image_xml(&self, path: &str, xml: &str, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainSaveImageDefineXML")
    }

    /// The domain XML in the managed-save image. libvirt: virDomainManagedSaveGetXMLDesc.
    async fn managed_save_xml(&self, dom: &DomainLookup, flags: u32) -> DriverResult<String> {
        unsupported!(self, "virDomainManagedSaveGetXMLDesc")
    }

    /// Replaces the domain XML in the managed-save image.
    /// libvirt: virDomainManagedSaveDefineXML.
    async fn define_managed_save_xml(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainManagedSaveDefineXML")
    }

    /// Dumps the guest's core to `path`. libvirt: virDomainCoreDumpWithFormat.
    async fn core_dump(
        &self,
        dom: &DomainLookup,
        path: &str,
        format: u32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainCoreDumpWithFormat")
    }
}

/// Snapshots of a domain and their tree.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Snapshots: Host {
    /// libvirt: virDomainSnapshotCreateXML.
    async fn create_snapshot(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        unsupported!(self, "virDomainSnapshotCreateXML")
    }

    /// libvirt: virDomainListAllSnapshots.
    async fn list_snapshots(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<SnapshotInfo>> {
        unsupported!(self, "virDomainListAllSnapshots")
    }

    /// libvirt: virDomainSnapshotGetXMLDesc. Empty name: the current snapshot.
    async fn snapshot_xml(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virDomainSnapshotGetXMLDesc")
    }

    /// libvirt: virDomainRevertToSnapshot. Empty name: the current snapshot.
    async fn revert_to_snapshot(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainRevertToSnapshot")
    }

    /// libvirt: virDomainSnapshotDelete. Empty name: the current snapshot.
    async fn delete_snapshot(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSnapshotDelete")
    }
}

/// Watching domains: bulk statistics and lifecycle (and other) events.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Monitoring: Host {
    /// Bulk stats of every domain matching `flags`. libvirt: virConnectGetAllDomainStats.
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        unsupported!(self, "virConnectGetAllDomainStats")
    }

    /// Bulk stats of the listed domains. libvirt: virDomainListGetStats.
    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        unsupported!(self, "virDomainListGetStats")
    }

    /// Traffic counters of the interface whose host-side device or MAC is `device`.
    /// libvirt: virDomainInterfaceStats.
    async fn interface_stats(
        &self,
        dom: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        unsupported!(self, "virDomainInterfaceStats")
    }

    /// I/O counters of the disk whose target or source is `device` (empty: every disk), as
    /// libvirt's `rd_operations`, `rd_bytes`, ... LLONG parameters.
    /// libvirt: virDomainBlockStatsFlags.
    async fn block_stats(
        &self,
        dom: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainBlockStatsFlags")
    }

    /// The state of the driver's control interface to the running domain.
    /// libvirt: virDomainGetControlInfo.
    async fn control_info(&self, dom: &DomainLookup, flags: u32) -> DriverResult<ControlInfo> {
        unsupported!(self, "virDomainGetControlInfo")
    }

    /// The I/O error state of the running domain's disks, as `(target, libvirt
    /// virDomainDiskErrorCode)`. libvirt: virDomainGetDiskErrors.
    async fn disk_errors(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(String, u32)>> {
        unsupported!(self, "virDomainGetDiskErrors")
    }

    /// Aborts the domain's background job. libvirt: virDomainAbortJob (no flags),
    /// virDomainAbortJobFlags.
    async fn abort_job(&self, dom: &DomainLookup, flags: u32) -> DriverResult<()> {
        if flags == 0 {
            unsupported!(self, "virDomainAbortJob")
        } else {
            unsupported!(self, "virDomainAbortJobFlags")
        }
    }

    /// Sets a disk's write threshold (bytes). libvirt: virDomainSetBlockThreshold.
    async fn set_block_threshold(
        &self,
        dom: &DomainLookup,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetBlockThreshold")
    }

    /// Capacity, allocation and physical size of one disk (bytes).
    /// libvirt: virDomainGetBlockInfo.
    async fn block_info(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<(u64, u64, u64)> {
        unsupported!(self, "virDomainGetBlockInfo")
    }

    /// Balloon statistics as (libvirt virDomainMemoryStatTags, value).
    /// libvirt: virDomainMemoryStats.
    async fn domain_memory_stats(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(i32, u64)>> {
        unsupported!(self, "virDomainMemoryStats")
    }

    // Jobs (issue 15: domjobinfo).

    /// The domain's background job. libvirt: virDomainGetJobInfo.
    async fn job_info(&self, dom: &DomainLookup) -> DriverResult<crate::types::JobInfo> {
        unsupported!(self, "virDomainGetJobInfo")
    }

    /// The domain's background job as (libvirt virDomainJobType, VIR_DOMAIN_JOB_* typed
    /// parameters); with COMPLETED (1) the last finished job's, which KEEP_COMPLETED (2)
    /// keeps. libvirt: virDomainGetJobStats.
    async fn job_stats(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(i32, Vec<TypedParam>)> {
        unsupported!(self, "virDomainGetJobStats")
    }

    /// Seconds between two refreshes of the balloon's statistics (0: none), live and/or in
    /// the persistent definition. libvirt: virDomainSetMemoryStatsPeriod.
    async fn set_memory_stats_period(
        &self,
        dom: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetMemoryStatsPeriod")
    }

    /// Subscribes to events, replaying retained ones from `from_sequence` when given.
    /// libvirt: virConnectDomainEventRegisterAny.
    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        unsupported!(self, "virConnectDomainEventRegisterAny")
    }

    /// The sequence number the next event will get (libvirt: none). Every driver whose
    /// [`Monitoring::subscribe_events`] works has it: it is where a live-only subscription starts.
    async fn get_event_sequence(&self) -> DriverResult<u64> {
        Ok(self.subscribe_events(None).await?.next_sequence())
    }

    /// Passes `command` to the running domain's QEMU monitor as-is and answers QEMU's reply
    /// text: the QMP reply object (flags 0, an error reply included), or the output of an HMP
    /// command (flags 1, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP). libvirt:
    /// virDomainQemuMonitorCommand.
    async fn qemu_monitor_command(
        &self,
        dom: &DomainLookup,
        command: &str,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virDomainQemuMonitorCommand")
    }

    /// Subscribes to the raw QMP events of every running domain, from now on (the service
    /// filters them by domain and name). libvirt: virConnectDomainQemuMonitorEventRegister.
    async fn subscribe_qemu_monitor_events(
        &self,
    ) -> DriverResult<tokio::sync::broadcast::Receiver<crate::types::QemuMonitorEvent>> {
        unsupported!(self, "virConnectDomainQemuMonitorEventRegister")
    }
}

/// A domain's serial console as a byte stream.
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait Consoles: Host {
    /// Opens a console. libvirt: virDomainOpenConsole.
    async fn open_console(
        &self,
        dom: &DomainLookup,
        dev_name: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        unsupported!(self, "virDomainOpenConsole")
    }

    // Devices and consoles group (issue 15).

    /// An image of screen `screen` of the domain's display: its MIME type and bytes.
    /// libvirt: virDomainScreenshot.
    async fn screenshot(
        &self,
        dom: &DomainLookup,
        screen: u32,
        flags: u32,
    ) -> DriverResult<Screenshot> {
        unsupported!(self, "virDomainScreenshot")
    }

    /// Presses `keycodes` (of `codeset`, libvirt's virKeycodeSet numbering) for `holdtime`
    /// milliseconds. libvirt: virDomainSendKey.
    async fn send_key(
        &self,
        dom: &DomainLookup,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSendKey")
    }

    /// Injects a non-maskable interrupt. libvirt: virDomainInjectNMI.
    async fn inject_nmi(&self, dom: &DomainLookup, flags: u32) -> DriverResult<()> {
        unsupported!(self, "virDomainInjectNMI")
    }

    /// Sends signal `signum` (virDomainProcessSignal numbering) to process `pid` of the
    /// domain. libvirt: virDomainSendProcessSignal.
    async fn send_process_signal(
        &self,
        dom: &DomainLookup,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSendProcessSignal")
    }
}

/// A screenshot: the image's MIME type and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// `image/x-portable-pixmap`, `image/png`, ...
    pub mime_type: String,
    /// The image.
    pub data: Vec<u8>,
}

/// Calls answered by the guest's agent (addresses, filesystems, time, info).
#[async_trait::async_trait]
#[allow(unused_variables)]
pub trait GuestAgent: Host {
    /// The guest's interfaces and addresses from `source`. libvirt: virDomainInterfaceAddresses.
    async fn interface_addresses(
        &self,
        dom: &DomainLookup,
        source: AddressSource,
        flags: u32,
    ) -> DriverResult<Vec<DomainInterface>> {
        unsupported!(self, "virDomainInterfaceAddresses")
    }

    /// Freezes guest file systems (all when `mountpoints` is empty); answers how many.
    /// libvirt: virDomainFSFreeze.
    async fn fs_freeze(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        unsupported!(self, "virDomainFSFreeze")
    }

    /// Thaws guest file systems (all when `mountpoints` is empty); answers how many.
    /// libvirt: virDomainFSThaw.
    async fn fs_thaw(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        unsupported!(self, "virDomainFSThaw")
    }

    /// The guest's clock as (seconds, nanoseconds). libvirt: virDomainGetTime.
    async fn domain_time(&self, dom: &DomainLookup, flags: u32) -> DriverResult<(i64, u32)> {
        unsupported!(self, "virDomainGetTime")
    }

    /// Sets the guest's clock (or resyncs it from the RTC with VIR_DOMAIN_TIME_SYNC).
    /// libvirt: virDomainSetTime.
    async fn set_domain_time(
        &self,
        dom: &DomainLookup,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetTime")
    }

    /// What the guest reports about itself, as typed parameters. libvirt:
    /// virDomainGetGuestInfo.
    async fn guest_info(
        &self,
        dom: &DomainLookup,
        types: u32,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        unsupported!(self, "virDomainGetGuestInfo")
    }

    /// The guest's host name. libvirt: virDomainGetHostname.
    async fn domain_hostname(&self, dom: &DomainLookup, flags: u32) -> DriverResult<String> {
        unsupported!(self, "virDomainGetHostname")
    }

    /// Runs a raw guest agent command (JSON) and answers the reply as JSON; `timeout` is
    /// libvirt's number (-2 block, -1 default, 0 no wait, seconds). libvirt:
    /// virDomainQemuAgentCommand.
    async fn qemu_agent_command(
        &self,
        dom: &DomainLookup,
        command: &str,
        timeout: i32,
        flags: u32,
    ) -> DriverResult<String> {
        unsupported!(self, "virDomainQemuAgentCommand")
    }

    /// Sets how long the domain's agent calls wait (libvirt's number, as
    /// [`GuestAgent::qemu_agent_command`]). libvirt: virDomainAgentSetResponseTimeout.
    async fn set_agent_response_timeout(
        &self,
        dom: &DomainLookup,
        timeout: i32,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainAgentSetResponseTimeout")
    }

    /// The guest's mounted file systems. libvirt: virDomainGetFSInfo.
    async fn fs_info(&self, dom: &DomainLookup, flags: u32) -> DriverResult<Vec<FsInfo>> {
        unsupported!(self, "virDomainGetFSInfo")
    }

    /// Trims the guest's file systems (`mountpoint` one only; `minimum` the shortest range
    /// worth discarding, in bytes). libvirt: virDomainFSTrim.
    async fn fs_trim(
        &self,
        dom: &DomainLookup,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainFSTrim")
    }

    /// Sets a guest user's password (a crypt(3) hash with VIR_DOMAIN_PASSWORD_ENCRYPTED).
    /// libvirt: virDomainSetUserPassword.
    async fn set_user_password(
        &self,
        dom: &DomainLookup,
        user: &str,
        password: &str,
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainSetUserPassword")
    }

    /// A guest user's authorized SSH keys. libvirt: virDomainAuthorizedSSHKeysGet.
    async fn authorized_ssh_keys(
        &self,
        dom: &DomainLookup,
        user: &str,
        flags: u32,
    ) -> DriverResult<Vec<String>> {
        unsupported!(self, "virDomainAuthorizedSSHKeysGet")
    }

    /// Replaces (no flag), appends to (APPEND) or removes from (REMOVE) a guest user's
    /// authorized SSH keys. libvirt: virDomainAuthorizedSSHKeysSet.
    async fn set_authorized_ssh_keys(
        &self,
        dom: &DomainLookup,
        user: &str,
        keys: &[String],
        flags: u32,
    ) -> DriverResult<()> {
        unsupported!(self, "virDomainAuthorizedSSHKeysSet")
    }
}

/// One hypervisor connection: every capability, each a trait of its own with libvirt's
/// NO_SUPPORT as the default of every optional call, so a driver implements the calls it has
/// (an empty `impl Snapshots for X {}` takes all the defaults). Implemented by the test driver,
/// virtqemud, and the LXC and Xen daemons to come; the gRPC services hold an `Arc<dyn Driver>`
/// and bring the capability traits into scope with [`prelude`].
pub trait Driver:
    Host
    + Definitions
    + Lifecycle
    + Resources
    + SaveRestore
    + Snapshots
    + Monitoring
    + Consoles
    + GuestAgent
{
}

impl<
        T: Host
            + Definitions
            + Lifecycle
            + Resources
            + SaveRestore
            + Snapshots
            + Monitoring
            + Consoles
            + GuestAgent,
    > Driver for T
{
}

/// The capability traits, to call a driver's methods: `use virt_core::driver::prelude::*;`.
pub mod prelude {
    pub use super::{
        Consoles, Definitions, Driver, GuestAgent, Host, Lifecycle, Monitoring, Resources,
        SaveRestore, Snapshots,
    };
}
