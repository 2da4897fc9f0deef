//! virtqemud's registry ([`registry`], the driver kit's [`HypervisorRegistry`]): a system
//! instance serves `qemu:///system`, a session instance `qemu:///session`; anything else is
//! NO_CONNECT naming the URI (the proxy routes each URI to the right instance).

use std::sync::Arc;

use virt_core::registry::{DaemonInfo, HypervisorRegistry};

use crate::QemuDriver;

/// What virtqemud serves beyond the baseline (see [`virt_core::features`]): event
/// resume, the console, the stats groups it fills, save / restore / managed save, snapshots,
/// block jobs, screenshot, send-key, inject-nmi and CD-ROM media updates, every guest
/// agent call, and the QEMU monitor passthrough.
pub fn qemu_features() -> Vec<String> {
    use virt_core::features::{
        self, BLOCK_JOBS, DEVICES_CONSOLES, GUEST_AGENT, QEMU_MONITOR, SAVE_RESTORE, SNAPSHOTS,
    };
    let mut f = features::base(crate::live::stats::SUPPORTED);
    f.extend(features::rpcs("domain", SAVE_RESTORE));
    f.extend(features::rpcs("domain", DEVICES_CONSOLES));
    f.push(SNAPSHOTS.into());
    f.extend(features::rpcs("domain", BLOCK_JOBS));
    f.extend(features::rpcs("guest", GUEST_AGENT));
    f.extend(features::rpcs("domain", QEMU_MONITOR));
    f
}

/// The registry of virtqemud serving `driver`: its URI (`qemu:///system` or
/// `qemu:///session`), its features.
pub fn registry(driver: Arc<QemuDriver>) -> HypervisorRegistry {
    HypervisorRegistry::new(
        crate::DAEMON_NAME,
        driver,
        DaemonInfo {
            driver: "QEMU".into(),
            schemes: vec!["qemu".into()],
            features: qemu_features(),
        },
    )
}
