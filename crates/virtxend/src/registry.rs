//! virtxend's registry ([`registry`], the driver kit's [`HypervisorRegistry`]): the system
//! instance serves `xen:///system` (and `xen:///`, libvirt's spelling); anything else is
//! NO_CONNECT naming the URI.

use std::sync::Arc;

use virt_core::registry::{DaemonInfo, HypervisorRegistry};

use crate::XenDriver;

/// What virtxend serves beyond the baseline: event resume, the console and the stats groups
/// it fills.
pub fn xen_features() -> Vec<String> {
    virt_core::features::base(crate::live::SUPPORTED)
}

/// The registry of virtxend serving `driver`.
pub fn registry(driver: Arc<XenDriver>) -> HypervisorRegistry {
    HypervisorRegistry::new(
        crate::DAEMON_NAME,
        driver,
        DaemonInfo {
            driver: "Xen".into(),
            schemes: vec!["xen".into()],
            features: xen_features(),
        },
    )
}
