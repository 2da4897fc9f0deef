//! [`LxcDriver`]: the LXC driver's state (definitions, event bus, paths, cgroup placement).
//!
//! Each capability trait of `virt_core::driver` is implemented in the module that owns its
//! work: `Host` in `host.rs`, `Definitions` in `definitions.rs`, `Lifecycle`, `Resources`,
//! `Consoles` and `Monitoring` under `live/`. Save and restore, snapshots and the guest agent
//! have no LXC meaning here: their calls answer NO_SUPPORT naming libvirt's function.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use virt_core::cgroup::Hierarchies;
use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::EventBus;
use virt_core::kit::store::ConfigStore;
use virt_core::paths::{Mode, Paths};
use virt_core::xml::DomainXmlCodec;
use virt_core::VirtError;

use crate::domains::{Dom, Domains};

/// How many recent events the bus keeps (and persists) for clients that resume.
pub const EVENT_RING: usize = 1024;

/// One LXC driver instance (`lxc:///system`, or `lxc:///session` for a user's containers in
/// user namespaces).
pub struct LxcDriver {
    pub(crate) uri: String,
    pub(crate) codec: Arc<dyn DomainXmlCodec>,
    pub(crate) store: ConfigStore,
    pub(crate) state: Mutex<Domains>,
    pub(crate) bus: EventBus,
    /// The driver itself, for tasks that outlive a call (the watch of each container).
    pub(crate) me: Weak<LxcDriver>,
    /// `RUN/lxc`: status files, plans, control sockets, exit records.
    pub(crate) run_root: PathBuf,
    /// Where each container's controller log goes (`LOG/NAME.log`).
    pub(crate) log_dir: PathBuf,
    /// The controller binary.
    pub(crate) controller: PathBuf,
    /// The machine-name prefix of container cgroups (`lxc`, `lxc-embed-HASH`), `None` when
    /// containers are not placed in cgroups (a session instance, or no writable hierarchy).
    pub(crate) cgroup_prefix: Option<String>,
    /// The mounted cgroup hierarchies.
    pub(crate) hierarchies: Hierarchies,
    /// systemd-machined, where containers are registered as `lxc-ID-NAME` (only when they are
    /// placed in cgroups, as libvirt's privileged driver registers them).
    pub(crate) machined: Option<virt_core::machined::Machined>,
    /// The next run generation.
    pub(crate) next_gen: AtomicU64,
    /// The next domain ID.
    pub(crate) next_id: std::sync::atomic::AtomicU32,
    /// virtnetworkd, for `<interface type='network'>`.
    pub(crate) siblings: virt_client::siblings::Siblings,
    /// Serialises picking free veth names and creating the pairs.
    pub(crate) veth_lock: tokio::sync::Mutex<()>,
}

impl LxcDriver {
    /// The driver of the instance whose directories are `paths`: definitions in `CONFIG/lxc`,
    /// loaded now (unusable files are logged and skipped), events persisted in
    /// `RUN/lxc/events`. Running containers are picked up by [`LxcDriver::start_guests`].
    pub fn open(paths: &Paths, codec: Arc<dyn DomainXmlCodec>) -> Arc<LxcDriver> {
        let uri = match paths.mode {
            Mode::System => "lxc:///system",
            Mode::Session => "lxc:///session",
        };
        let run_root = paths.run_dir.join("lxc");
        let hierarchies = Hierarchies::detect();
        let cgroup_prefix =
            virt_core::cgroup::machine_prefix(paths, "lxc").filter(|_| hierarchies.usable());
        let driver = Arc::new_cyclic(|me| LxcDriver {
            uri: uri.to_string(),
            codec,
            store: ConfigStore::new(paths.config_dir.join("lxc")),
            state: Mutex::new(Domains::new(ErrorDomain::Lxc)),
            bus: EventBus::persistent(EVENT_RING, &run_root.join("events")),
            me: me.clone(),
            run_root,
            log_dir: LxcDriver::log_dir(paths),
            controller: controller_path(),
            machined: cgroup_prefix
                .is_some()
                .then(|| virt_core::machined::Machined::new(crate::DAEMON_NAME)),
            cgroup_prefix,
            hierarchies,
            next_gen: AtomicU64::new(1),
            next_id: std::sync::atomic::AtomicU32::new(1),
            siblings: virt_client::siblings::Siblings::new(
                paths.socket("virtnetworkd"),
                paths.socket("virtstoraged"),
            ),
            veth_lock: tokio::sync::Mutex::new(()),
        });
        driver.load();
        driver
    }

    /// Where the controllers' logs go: `ROOT/var/log/virt/lxc` under a `--root`,
    /// `/var/log/virt/lxc` for the system instance, `STATE/lxc/log` for a session.
    pub fn log_dir(paths: &Paths) -> PathBuf {
        match (&paths.root, paths.mode) {
            (Some(root), _) => root.join("var/log/virt/lxc"),
            (None, Mode::System) => PathBuf::from("/var/log/virt/lxc"),
            (None, Mode::Session) => paths.state_dir.join("lxc/log"),
        }
    }

    /// The definitions store.
    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    fn load(&self) {
        let loaded = self.store.load_all(|xml| self.parse(xml, false));
        let n = virt_core::kit::record::load(&mut self.lock(), loaded);
        tracing::info!(domains = n, dir = %self.store.dir().display(), "definitions loaded");
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Domains> {
        self.state.lock().expect("lxc driver state lock poisoned")
    }

    pub(crate) fn check_flags(&self, flags: u32, allowed: u32, function: &str) -> DriverResult<()> {
        VirtError::check_flags(flags, allowed, ErrorDomain::Lxc, function)
    }

    /// Whether any container runs (a running container keeps the daemon from an idle exit).
    pub fn has_active(&self) -> bool {
        self.lock().by_uuid.values().any(Dom::is_active)
    }
}

/// SYSTEM_ERROR from the LXC driver.
pub(crate) fn system_error(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Lxc, err.to_string())
}

/// OPERATION_FAILED from the LXC driver.
pub(crate) fn operation_failed(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::OperationFailed,
        ErrorDomain::Lxc,
        err.to_string(),
    )
}

/// The controller binary: `VIRT_LXC_CONTROLLER` when set, else `virt-lxc-controller` beside
/// the daemon's own executable, else on `PATH`.
fn controller_path() -> PathBuf {
    if let Some(p) = std::env::var_os("VIRT_LXC_CONTROLLER") {
        return PathBuf::from(p);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(crate::CONTROLLER_NAME)));
    match beside {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from(crate::CONTROLLER_NAME),
    }
}

/// No save images for containers: every call is NO_SUPPORT naming libvirt's function.
impl SaveRestore for LxcDriver {}
/// No snapshots of containers: every call is NO_SUPPORT naming libvirt's function.
impl Snapshots for LxcDriver {}
/// No guest agent in containers: every call is NO_SUPPORT naming libvirt's function.
impl GuestAgent for LxcDriver {}
