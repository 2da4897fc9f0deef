//! [`XenDriver`]: the Xen driver's state (definitions, running domains, event bus, paths, the
//! toolstack and the Xen Store).
//!
//! Each capability trait of `virt_core::driver` is implemented in the module that owns its
//! work: `Host` in `host.rs`, `Definitions` in `definitions.rs`, `Lifecycle`, `Resources`,
//! `Consoles` and `Monitoring` under `live/`. Save and restore, snapshots and the guest agent
//! are not offered yet: their calls answer NO_SUPPORT naming libvirt's function.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::EventBus;
use virt_core::kit::store::ConfigStore;
use virt_core::paths::{Mode, Paths};
use virt_core::xml::DomainXmlCodec;
use virt_core::VirtError;

use crate::domains::{Dom, Domains};
use crate::toolstack::Xl;

/// How many recent events the bus keeps (and persists) for clients that resume.
pub const EVENT_RING: usize = 1024;

/// The Xen driver of one host (`xen:///system`).
pub struct XenDriver {
    pub(crate) uri: String,
    pub(crate) codec: Arc<dyn DomainXmlCodec>,
    /// Persistent definitions, `CONFIG/libxl/NAME.xml` (libvirt keeps them in
    /// `/etc/libvirt/libxl`).
    pub(crate) store: ConfigStore,
    pub(crate) state: Mutex<Domains>,
    pub(crate) bus: EventBus,
    /// The driver itself, for tasks that outlive a call (the Xen Store watch).
    pub(crate) me: Weak<XenDriver>,
    /// `RUN/libxl`: the xl.cfg each running domain was created from and its live XML.
    pub(crate) run_root: PathBuf,
    /// The toolstack.
    pub(crate) xl: Xl,
    /// The next run generation.
    pub(crate) next_gen: AtomicU64,
}

impl XenDriver {
    /// The driver of the instance whose directories are `paths`: definitions in
    /// `CONFIG/libxl`, loaded now (unusable files are logged and skipped), events persisted in
    /// `RUN/libxl/events`. Running domains are picked up by [`XenDriver::start_guests`].
    pub fn open(paths: &Paths, codec: Arc<dyn DomainXmlCodec>) -> Arc<XenDriver> {
        let run_root = paths.run_dir.join("libxl");
        let driver = Arc::new_cyclic(|me| XenDriver {
            uri: match paths.mode {
                Mode::System => "xen:///system".into(),
                Mode::Session => "xen:///session".into(),
            },
            codec,
            store: ConfigStore::new(paths.config_dir.join("libxl")),
            state: Mutex::new(Domains::new(ErrorDomain::Libxl)),
            bus: EventBus::persistent(EVENT_RING, &run_root.join("events")),
            me: me.clone(),
            run_root,
            xl: Xl::from_env(),
            next_gen: AtomicU64::new(1),
        });
        driver.load();
        driver
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
            st.insert(Dom::new(sd.def, sd.autostart, true));
        }
        tracing::info!(domains = st.by_uuid.len(), dir = %self.store.dir().display(), "definitions loaded");
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Domains> {
        self.state.lock().expect("xen driver state lock poisoned")
    }

    pub(crate) fn check_flags(&self, flags: u32, allowed: u32, function: &str) -> DriverResult<()> {
        VirtError::check_flags(flags, allowed, ErrorDomain::Libxl, function)
    }

    /// Whether any domain of ours runs (running domains keep the daemon from an idle exit;
    /// Domain-0 does not).
    pub fn has_active(&self) -> bool {
        self.lock()
            .by_uuid
            .values()
            .any(|d| d.run.as_ref().is_some_and(|r| r.id != 0))
    }

    /// The files of a running domain: its xl.cfg and its live XML.
    pub(crate) fn run_files(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.run_root.join(format!("{name}.cfg")),
            self.run_root.join(format!("{name}.xml")),
        )
    }
}

/// Whether this host runs on a Xen hypervisor with this domain as its control domain: `Ok`,
/// or what is missing, in words a user can act on.
pub fn hypervisor_check() -> Result<(), String> {
    hypervisor_check_in(Path::new("/"))
}

fn hypervisor_check_in(root: &Path) -> Result<(), String> {
    let ty = std::fs::read_to_string(root.join("sys/hypervisor/type")).unwrap_or_default();
    if ty.trim() != "xen" {
        return Err(
            "this host does not run on a Xen hypervisor (/sys/hypervisor/type is not 'xen')".into(),
        );
    }
    match std::fs::read_to_string(root.join("proc/xen/capabilities")) {
        Ok(c) if c.contains("control_d") => Ok(()),
        Ok(_) => Err("this domain is not Xen's control domain (dom0): /proc/xen/capabilities lacks control_d".into()),
        Err(_) => Err("xenfs is not mounted on /proc/xen (/proc/xen/capabilities is missing)".into()),
    }
}

/// NO_XEN (could not use Xen hypervisor entry) naming what is missing, for calls that need a
/// running hypervisor on a host without one.
pub(crate) fn no_xen(why: &str) -> VirtError {
    VirtError::new(
        ErrorCode::NoXen,
        ErrorDomain::Libxl,
        format!("{why}; virtxend serves conversions, capabilities and definitions only"),
    )
}

/// SYSTEM_ERROR from the Xen driver.
pub(crate) fn system_error(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Libxl, err.to_string())
}

/// OPERATION_FAILED from the Xen driver.
pub(crate) fn operation_failed(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::OperationFailed,
        ErrorDomain::Libxl,
        err.to_string(),
    )
}

/// No save images yet: every call is NO_SUPPORT naming libvirt's function.
impl SaveRestore for XenDriver {}
/// No snapshots (libvirt's Xen driver has none either): NO_SUPPORT naming libvirt's function.
impl Snapshots for XenDriver {}
/// No guest agent channel: every call is NO_SUPPORT naming libvirt's function.
impl GuestAgent for XenDriver {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hypervisor_check_names_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = hypervisor_check_in(dir.path()).expect_err("no hypervisor");
        assert!(e.contains("/sys/hypervisor/type"), "{e}");
        std::fs::create_dir_all(dir.path().join("sys/hypervisor")).expect("mkdir");
        std::fs::write(dir.path().join("sys/hypervisor/type"), "xen\n").expect("write");
        let e = hypervisor_check_in(dir.path()).expect_err("no xenfs");
        assert!(e.contains("/proc/xen/capabilities"), "{e}");
        std::fs::create_dir_all(dir.path().join("proc/xen")).expect("mkdir");
        std::fs::write(dir.path().join("proc/xen/capabilities"), "").expect("write");
        let e = hypervisor_check_in(dir.path()).expect_err("domU");
        assert!(e.contains("control_d"), "{e}");
        std::fs::write(dir.path().join("proc/xen/capabilities"), "control_d\n").expect("write");
        hypervisor_check_in(dir.path()).expect("dom0");
    }
}
