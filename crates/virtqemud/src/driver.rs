//! [`QemuDriver`]: the QEMU driver's state (definitions, event bus, paths, probed emulators).
//!
//! Each capability trait of `virt_core::driver` is implemented in the module that owns its
//! work, with the bodies in the impl (no forwarding table):
//!
//! | capability | module |
//! |---|---|
//! | `Host` | `capabilities.rs` |
//! | `Definitions` | `definitions.rs` |
//! | `Lifecycle` | `live/lifecycle.rs` (the start machinery in `live/start.rs`) |
//! | `Resources` | `live/resources.rs` (the QMP device work in `live/hotplug.rs`) |
//! | `SaveRestore` | `live/save.rs` |
//! | `Monitoring` | `live/stats.rs` |
//! | `Consoles` | `live/console.rs` |
//! | `GuestAgent` | `live/guest.rs` |
//! | `Snapshots` | `live/snapshot.rs` |

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::events::EventBus;
use virt_core::runtime::{Mode, Paths};
use virt_core::xml::DomainXmlCodec;
use virt_core::VirtError;

use crate::domains::{Dom, Domains};
use crate::host;
use crate::probe::ProbedEmulators;
use crate::status_file::StatusDir;
use virt_core::kit::store::ConfigStore;

/// How many recent events the bus keeps (and persists) for clients that resume.
pub const EVENT_RING: usize = 1024;

/// One QEMU driver instance (`qemu:///system` or `qemu:///session`).
pub struct QemuDriver {
    pub(crate) uri: String,
    pub(crate) codec: Arc<dyn DomainXmlCodec>,
    pub(crate) store: ConfigStore,
    pub(crate) state: Mutex<Domains>,
    pub(crate) bus: EventBus,
    /// Raw QMP events of every run, for qemu-monitor-event listeners (`live/monitor.rs`).
    pub(crate) qmp_events: tokio::sync::broadcast::Sender<virt_core::types::QemuMonitorEvent>,
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
    /// Snapshot metadata, one dir per domain (`STATE/qemu/snapshot`, libvirt's
    /// `/var/lib/libvirt/qemu/snapshot`).
    pub(crate) snapshot_dir: PathBuf,
    /// The target block node of each running block copy, by domain and disk (removed
    /// when the copy ends without a pivot).
    pub(crate) copy_targets:
        Mutex<std::collections::HashMap<(virt_core::uuid::Uuid, String), String>>,
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
    /// systemd-machined, where guests are registered (`live/cgroup.rs`); only a privileged
    /// system instance registers, as only it places guests in cgroups.
    pub(crate) machined: Option<virt_core::machined::Machined>,
    /// virtnetworkd and virtstoraged, for network interfaces and volume disks.
    pub(crate) siblings: virt_client::siblings::Siblings,
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
        let cgroup_prefix = virt_core::cgroup::machine_prefix(paths, "qemu");
        let machined = cgroup_prefix
            .is_some()
            .then(|| virt_core::machined::Machined::new(crate::DAEMON_NAME));
        let driver = Arc::new_cyclic(|me| QemuDriver {
            uri: uri.to_string(),
            codec,
            store,
            state: Mutex::new(Domains::new(ErrorDomain::Qemu)),
            bus,
            qmp_events: tokio::sync::broadcast::channel(crate::live::monitor::EVENT_BACKLOG).0,
            emulator_version: OnceLock::new(),
            me: me.clone(),
            statuses: StatusDir::new(&run_root),
            run_root,
            log_dir: QemuDriver::log_dir(paths),
            save_dir: paths.state_dir.join("qemu/save"),
            snapshot_dir: paths.state_dir.join("qemu/snapshot"),
            copy_targets: Mutex::new(Default::default()),
            nvram_dir: paths.state_dir.join("qemu/nvram"),
            firmware_dirs: crate::firmware::descriptor::search_dirs(paths.mode == Mode::Session),
            swtpm_dir: paths.state_dir.join("swtpm"),
            ram_dir: paths.state_dir.join("qemu/ram"),
            hugepage_prefix: match &paths.root {
                None => "qemu".to_string(),
                Some(root) => format!(
                    "qemu-embed-{:08x}",
                    virt_core::cgroup::fnv1a(root.as_os_str().as_encoded_bytes())
                ),
            },
            versions: Mutex::new(Default::default()),
            next_id: AtomicU32::new(1),
            next_gen: AtomicU64::new(1),
            probed: ProbedEmulators::new(paths.state_dir.join("qemu/capabilities")),
            cgroup_prefix,
            machined,
            siblings: virt_client::siblings::Siblings::new(
                paths.socket("virtnetworkd"),
                paths.socket("virtstoraged"),
            ),
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
            dom.snapshots = self.load_snapshots(&dom.def.name);
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
