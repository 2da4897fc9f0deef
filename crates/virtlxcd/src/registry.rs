//! virtlxcd's registry ([`registry`], the driver kit's [`HypervisorRegistry`]): a system
//! instance serves `lxc:///system` (and `lxc:///`, libvirt's spelling), a session instance
//! `lxc:///session`; anything else is NO_CONNECT naming the URI.

use std::sync::Arc;

use virt_core::registry::{DaemonInfo, HypervisorRegistry};

use crate::LxcDriver;

/// What virtlxcd serves beyond the baseline: event resume, the console and the stats groups
/// it fills.
pub fn lxc_features() -> Vec<String> {
    virt_core::features::base(crate::live::stats::SUPPORTED)
}

/// The registry of virtlxcd serving `driver`.
pub fn registry(driver: Arc<LxcDriver>) -> HypervisorRegistry {
    HypervisorRegistry::new(
        crate::DAEMON_NAME,
        driver,
        DaemonInfo {
            driver: "LXC".into(),
            schemes: vec!["lxc".into()],
            features: lxc_features(),
        },
    )
}
