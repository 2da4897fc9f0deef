//! [`QemuDriver`]: the QEMU driver's definitions, events and host facts behind the `Driver`
//! trait. The operations on definitions are in `ops.rs`; this file holds the state and the
//! trait table.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use virt_core::driver::{ConsoleStream, Driver, DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::{EventBus, EventSubscription};
use virt_core::runtime::{Mode, Paths};
use virt_core::state::StateReason;
use virt_core::types::{
    DomainHandle, DomainInfo, DomainLookup, DomainSummary, NodeInfo, StatsRecord, VersionInfo,
};
use virt_core::xml::DomainXmlCodec;
use virt_core::VirtError;

use crate::domains::{Dom, Domains};
use crate::host;
use crate::status::StatusDir;
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
    /// Emulator versions by binary, with the mtime they were read at (`--version` is an exec
    /// of tens of milliseconds, not to be paid on every start).
    pub(crate) versions: Mutex<std::collections::HashMap<PathBuf, (std::time::SystemTime, u64)>>,
    /// The next domain ID.
    pub(crate) next_id: AtomicU32,
    /// The next run generation.
    pub(crate) next_gen: AtomicU64,
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
            versions: Mutex::new(Default::default()),
            next_id: AtomicU32::new(1),
            next_gen: AtomicU64::new(1),
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

#[async_trait::async_trait]
impl Driver for QemuDriver {
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
        Ok(self.codec.format_capabilities(&host::capabilities()))
    }

    async fn domain_capabilities(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.domain_caps(emulator, arch, machine, virt_type, flags)
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(host::node_info())
    }

    async fn max_vcpus(&self, virt_type: &str) -> DriverResult<u32> {
        match virt_type.to_ascii_lowercase().as_str() {
            "" | "qemu" => Ok(host::TCG_MAX_VCPUS),
            "kvm" => host::kvm_max_vcpus().ok_or_else(|| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    "Unable to open /dev/kvm",
                )
            }),
            other => Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!("unknown type '{other}'"),
            )),
        }
    }

    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(
            flags,
            crate::domains::list_flags::ALL,
            "qemuConnectListAllDomains",
        )?;
        Ok(self.lock().list(flags))
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.define(xml, flags)
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.validate(xml, flags)
    }

    async fn undefine_domain(&self, dom: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.undefine(dom, flags)
    }

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

    async fn open_console(
        &self,
        dom: &DomainLookup,
        dev_name: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.console(dom, dev_name, flags)
    }
}
