//! [`QemuDriver`]: the QEMU driver's definitions, events and host facts behind the `Driver`
//! trait. The operations on definitions are in `ops.rs`; this file holds the state and the
//! trait table.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::{EventBus, EventSubscription};
use virt_core::guest::{AddressSource, DomainInterface};
use virt_core::runtime::{Mode, Paths};
use virt_core::state::StateReason;
use virt_core::types::{
    DomainHandle, DomainInfo, DomainLookup, DomainSummary, NodeInfo, StatsRecord, TypedParam,
    VersionInfo,
};
use virt_core::xml::DomainXmlCodec;
use virt_core::VirtError;

use crate::domains::{Dom, Domains};
use crate::host;
use crate::probe::{ProbedEmulators, QemuCaps};
use crate::status_file::StatusDir;
use crate::store::ConfigStore;

/// How many recent events the bus keeps (and persists) for clients that resume.
pub const EVENT_RING: usize = 1024;

/// One QEMU driver instance (`qemu:///system` or `qemu:///session`).
pub struct QemuDriver {
    pub(crate) uri: String,
    pub(crate) codec: Arc<dyn DomainXmlCodec>,
    pub(crate) store: ConfigStore,
    pub(crate) state: Mutex<Domains>,
    pub(crate) bus: EventBus,
    emulator_version: OnceLock<u64>,
    /// The driver itself, for tasks that outlive a call (event loops).
    pub(crate) me: Weak<QemuDriver>,
    /// Status files of running domains (`RUN/qemu/NAME.xml`).
    pub(crate) statuses: StatusDir,
    /// `RUN/qemu`: status files, per-run private dirs, the autostart marker.
    pub(crate) run_root: PathBuf,
    /// Where the per-domain QEMU logs go.
    pub(crate) log_dir: PathBuf,
    /// Managed-save images (`STATE/qemu/save`).
    pub(crate) save_dir: PathBuf,
    /// UEFI variable stores (`STATE/qemu/nvram`, libvirt's `/var/lib/libvirt/qemu/nvram`).
    pub(crate) nvram_dir: PathBuf,
    /// Where QEMU's firmware descriptors are looked for, lowest priority first.
    pub(crate) firmware_dirs: Vec<PathBuf>,
    /// Emulated TPM state, one dir per domain UUID (`STATE/swtpm`, libvirt's
    /// `/var/lib/libvirt/swtpm`).
    pub(crate) swtpm_dir: PathBuf,
    /// `STATE/qemu/ram`: memory backing files of `<source type='file'/>` guests.
    pub(crate) ram_dir: PathBuf,
    /// This daemon's dir name on hugetlbfs (`MOUNT/libvirt/NAME`): `qemu`, or
    /// `qemu-embed-HASH` under a `--root`, as libvirt's embedded driver names it.
    pub(crate) hugepage_prefix: String,
    /// Emulator versions by binary, with the mtime they were read at (`--version` is an exec
    /// of tens of milliseconds, not to be paid on every start).
    pub(crate) versions: Mutex<std::collections::HashMap<PathBuf, (std::time::SystemTime, u64)>>,
    /// The next domain ID.
    pub(crate) next_id: AtomicU32,
    /// The next run generation.
    pub(crate) next_gen: AtomicU64,
    /// Probed emulators (capabilities, domain capabilities, vCPU limits), probed on first
    /// use and cached in `STATE/qemu/capabilities`.
    pub(crate) probed: ProbedEmulators,
    /// The machine-name prefix of guest cgroups, `None` when guests are not placed in
    /// cgroups (see `crate::cgroup`).
    pub(crate) cgroup_prefix: Option<String>,
}

impl QemuDriver {
    /// The driver of the instance whose directories are `paths`: definitions in
    /// `CONFIG/qemu`, loaded now (unusable files are logged and skipped), events persisted in
    /// `RUN/qemu/events`. The URI follows the mode: `qemu:///system` or `qemu:///session`.
    /// Running guests are picked up by [`QemuDriver::start_guests`], which the daemon calls
    /// next.
    pub fn open(paths: &Paths, codec: Arc<dyn DomainXmlCodec>) -> Arc<QemuDriver> {
        let uri = match paths.mode {
            Mode::System => "qemu:///system",
            Mode::Session => "qemu:///session",
        };
        let store = ConfigStore::new(paths.config_dir.join("qemu"));
        let bus = EventBus::persistent(EVENT_RING, &QemuDriver::event_store(paths));
        let run_root = paths.run_dir.join("qemu");
        let driver = Arc::new_cyclic(|me| QemuDriver {
            uri: uri.to_string(),
            codec,
            store,
            state: Mutex::new(Domains::default()),
            bus,
            emulator_version: OnceLock::new(),
            me: me.clone(),
            statuses: StatusDir::new(&run_root),
            run_root,
            log_dir: QemuDriver::log_dir(paths),
            save_dir: paths.state_dir.join("qemu/save"),
            nvram_dir: paths.state_dir.join("qemu/nvram"),
            firmware_dirs: crate::firmware::descriptor::search_dirs(paths.mode == Mode::Session),
            swtpm_dir: paths.state_dir.join("swtpm"),
            ram_dir: paths.state_dir.join("qemu/ram"),
            hugepage_prefix: match &paths.root {
                None => "qemu".to_string(),
                Some(root) => format!(
                    "qemu-embed-{:08x}",
                    crate::cgroup::fnv1a(root.as_os_str().as_encoded_bytes())
                ),
            },
            versions: Mutex::new(Default::default()),
            next_id: AtomicU32::new(1),
            next_gen: AtomicU64::new(1),
            probed: ProbedEmulators::new(paths.state_dir.join("qemu/capabilities")),
            cgroup_prefix: crate::cgroup::machine_prefix(paths),
        });
        driver.load();
        driver
    }

    /// Where QEMU's per-domain logs go: `ROOT/var/log/virt/qemu` under a `--root`,
    /// `/var/log/virt/qemu` for the system instance, `STATE/qemu/log` for a session.
    pub fn log_dir(paths: &Paths) -> PathBuf {
        match (&paths.root, paths.mode) {
            (Some(root), _) => root.join("var/log/virt/qemu"),
            (None, Mode::System) => PathBuf::from("/var/log/virt/qemu"),
            (None, Mode::Session) => paths.state_dir.join("qemu/log"),
        }
    }

    /// Where the event ring lives: `RUN/qemu/events`.
    pub fn event_store(paths: &Paths) -> PathBuf {
        paths.run_dir.join("qemu").join("events")
    }

    /// The definitions store.
    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    fn load(&self) {
        let loaded = self.store.load_all(|xml| self.parse(xml, false));
        let mut st = self.lock();
        for sd in loaded {
            if st.by_uuid.contains_key(&sd.def.uuid) {
                tracing::warn!(name = %sd.def.name, uuid = %sd.def.uuid, "skipping a second definition with the same UUID");
                continue;
            }
            let mut dom = Dom::new(sd.def, sd.autostart, true);
            dom.managed_save = self.managed_save_path(&dom.def.name).is_file();
            st.insert(dom);
        }
        tracing::info!(domains = st.by_uuid.len(), dir = %self.store.dir().display(), "definitions loaded");
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Domains> {
        self.state.lock().expect("qemu driver state lock poisoned")
    }

    pub(crate) fn check_flags(&self, flags: u32, allowed: u32, function: &str) -> DriverResult<()> {
        VirtError::check_flags(flags, allowed, ErrorDomain::Qemu, function)
    }

    /// The version of `emulator`, cached while its mtime stays the same.
    pub(crate) fn version_of(&self, emulator: &std::path::Path) -> u64 {
        let mtime = std::fs::metadata(emulator)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut cache = self.versions.lock().expect("version cache lock poisoned");
        if let Some((t, v)) = cache.get(emulator) {
            if *t == mtime {
                return *v;
            }
        }
        let v = host::emulator_version(emulator);
        cache.insert(emulator.to_path_buf(), (mtime, v));
        v
    }

    pub(crate) fn emulator_version(&self) -> u64 {
        *self.emulator_version.get_or_init(|| {
            host::find_emulator(&host::host_arch()).map_or(0, |e| host::emulator_version(&e))
        })
    }
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

    /// virConnectGetDomainCapabilities's argument rules: the virt type defaults to `kvm` when
    /// the emulator can use KVM, else `qemu`; the emulator, when named, is probed and must serve `arch`
    /// when both are given; else the architecture (the host's by default) picks the emulator;
    /// the machine defaults to the emulator's default. Each refusal names what it refuses.
    pub(crate) async fn domain_caps(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
    ) -> DriverResult<virt_core::model::DomainCapabilities> {
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
        host::domain_capabilities_from(&caps, machine, virt_type, &firmware)
    }

    /// virConnectGetMaxVcpus from the probe: for `qemu` (or no type) the vCPU limit of the
    /// host emulator's default machine under TCG; for `kvm` that limit capped by KVM's own,
    /// refused when KVM is not usable. libvirt answers a fixed 16 for `qemu`; TCG runs as
    /// many vCPUs as the machine takes, so the probed figure is the true one. With no
    /// emulator installed, `qemu` answers libvirt's 16.
    pub(crate) async fn max_vcpus_of(&self, virt_type: &str) -> DriverResult<u32> {
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

    async fn domain_capabilities(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "qemuConnectGetDomainCapabilities")?;
        let caps = self.domain_caps(emulator, arch, machine, virt_type).await?;
        Ok(self.codec.format_domain_capabilities(&caps))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(host::node_info())
    }

    async fn domain_xml_to_native(
        &self,
        format: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.xml_to_native(format, xml, flags).await
    }

    async fn max_vcpus(&self, virt_type: &str) -> DriverResult<u32> {
        self.max_vcpus_of(virt_type).await
    }
}

#[async_trait::async_trait]
impl Definitions for QemuDriver {
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(
            flags,
            virt_core::kit::flags::list::ALL,
            "qemuConnectListAllDomains",
        )?;
        Ok(self.lock().list(flags))
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.define(xml, flags).await
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.validate(xml, flags).await
    }

    async fn undefine_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.undefine(dom, flags)
    }

    async fn domain_info(&self, dom: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        self.info(dom)
    }

    async fn domain_state(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        self.check_flags(flags, 0, "qemuDomainGetState")?;
        let st = self.lock();
        let d = st.get(dom)?;
        Ok((d.handle(), d.state()))
    }

    async fn domain_xml(&self, dom: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.xml(dom, flags)
    }

    async fn autostart(&self, dom: &DomainLookup) -> DriverResult<bool> {
        Ok(self.lock().get(dom)?.autostart)
    }

    async fn set_autostart(&self, dom: &DomainLookup, autostart: bool) -> DriverResult<()> {
        self.set_autostart_flag(dom, autostart)
    }
}

#[async_trait::async_trait]
impl Lifecycle for QemuDriver {
    async fn create_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.start(dom, flags).await
    }

    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.create_xml(xml, flags).await
    }

    async fn shutdown_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.shutdown(dom, flags).await
    }

    async fn destroy_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.destroy(dom, flags).await
    }

    async fn reboot_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.reboot(dom, flags).await
    }

    async fn reset_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.reset(dom, flags).await
    }

    async fn suspend_domain(&self, dom: &DomainLookup) -> DriverResult<DomainHandle> {
        self.suspend(dom).await
    }

    async fn resume_domain(&self, dom: &DomainLookup) -> DriverResult<DomainHandle> {
        self.resume(dom).await
    }
}

#[async_trait::async_trait]
impl Resources for QemuDriver {
    async fn set_domain_memory(
        &self,
        dom: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.set_memory(dom, kib, flags).await
    }

    async fn set_domain_vcpus(
        &self,
        dom: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.set_vcpus(dom, count, flags).await
    }

    async fn domain_vcpus(&self, dom: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.vcpus_count(dom, flags)
    }

    async fn attach_device(&self, dom: &DomainLookup, xml: &str, flags: u32) -> DriverResult<()> {
        self.attach(dom, xml, flags).await
    }

    async fn detach_device(
        &self,
        dom: &DomainLookup,
        xml: &str,
        alias: &str,
        flags: u32,
    ) -> DriverResult<bool> {
        self.detach(dom, xml, alias, flags).await
    }
}

#[async_trait::async_trait]
impl SaveRestore for QemuDriver {
    async fn managed_save(&self, dom: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.managed_save_domain(dom, flags).await
    }

    async fn has_managed_save_image(&self, dom: &DomainLookup) -> DriverResult<bool> {
        self.lock().get(dom).map(|d| d.managed_save)
    }

    async fn managed_save_remove(&self, dom: &DomainLookup) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(dom)?;
        let path = self.managed_save_path(&d.def.name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    format!("cannot remove managed save image '{}': {e}", path.display()),
                ))
            }
        }
        d.managed_save = false;
        Ok(())
    }

    async fn save_domain(
        &self,
        dom: &DomainLookup,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.save(dom, path, xml, flags).await
    }

    async fn restore_domain(
        &self,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.restore(path, xml, flags).await
    }
}

impl Snapshots for QemuDriver {}

#[async_trait::async_trait]
impl Monitoring for QemuDriver {
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.all_stats(stats, flags).await
    }

    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.list_stats(doms, stats, flags).await
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        self.bus.subscribe_checked(from_sequence, ErrorDomain::Qemu)
    }
}

#[async_trait::async_trait]
impl Consoles for QemuDriver {
    async fn open_console(
        &self,
        dom: &DomainLookup,
        dev_name: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.console(dom, dev_name, flags)
    }
}

#[async_trait::async_trait]
impl GuestAgent for QemuDriver {
    async fn interface_addresses(
        &self,
        dom: &DomainLookup,
        source: AddressSource,
        flags: u32,
    ) -> DriverResult<Vec<DomainInterface>> {
        QemuDriver::interface_addresses(self, dom, source, flags).await
    }

    async fn fs_freeze(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        QemuDriver::fs_freeze(self, dom, mountpoints, flags).await
    }

    async fn fs_thaw(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        QemuDriver::fs_thaw(self, dom, mountpoints, flags).await
    }

    async fn domain_time(&self, dom: &DomainLookup, flags: u32) -> DriverResult<(i64, u32)> {
        QemuDriver::domain_time(self, dom, flags).await
    }

    async fn set_domain_time(
        &self,
        dom: &DomainLookup,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> DriverResult<()> {
        QemuDriver::set_domain_time(self, dom, seconds, nseconds, flags).await
    }

    async fn guest_info(
        &self,
        dom: &DomainLookup,
        types: u32,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        QemuDriver::guest_info(self, dom, types, flags).await
    }

    async fn domain_hostname(&self, dom: &DomainLookup, flags: u32) -> DriverResult<String> {
        QemuDriver::domain_hostname(self, dom, flags).await
    }

    async fn qemu_agent_command(
        &self,
        dom: &DomainLookup,
        command: &str,
        timeout: i32,
        flags: u32,
    ) -> DriverResult<String> {
        QemuDriver::qemu_agent_command(self, dom, command, timeout, flags).await
    }

    async fn set_agent_response_timeout(
        &self,
        dom: &DomainLookup,
        timeout: i32,
        flags: u32,
    ) -> DriverResult<()> {
        self.set_agent_timeout(dom, timeout, flags)
    }
}
