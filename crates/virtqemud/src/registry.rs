//! [`QemuRegistry`]: which connection URIs this virtqemud serves. A system instance serves
//! `qemu:///system`, a session instance `qemu:///session`; anything else is NO_CONNECT naming
//! the URI (the proxy routes each URI to the right instance).

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::uri::ConnectUri;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::QemuDriver;

/// The registry of one virtqemud instance.
pub struct QemuRegistry {
    driver: Arc<QemuDriver>,
}

impl QemuRegistry {
    /// A registry serving `driver` at its URI.
    pub fn new(driver: Arc<QemuDriver>) -> QemuRegistry {
        QemuRegistry { driver }
    }

    /// The driver.
    pub fn driver(&self) -> &Arc<QemuDriver> {
        &self.driver
    }

    /// Whether `uri` names this instance: the `qemu` driver, no host, this instance's path
    /// (query parameters such as `socket=` are the client's business).
    fn serves(&self, uri: &str) -> bool {
        let Ok(parsed) = ConnectUri::parse(uri) else {
            return false;
        };
        let mine = self.driver.uri();
        let path = mine.strip_prefix("qemu://").unwrap_or_default();
        parsed.driver == "qemu" && parsed.host.is_none() && parsed.path == path
    }
}

/// What virtqemud serves beyond the baseline (see [`virt_core::features`]): event
/// resume, the console, the stats groups it fills, save / restore / managed save and every
/// guest agent call. No snapshots yet.
pub fn qemu_features() -> Vec<String> {
    use virt_core::features::{self, GUEST_AGENT, SAVE_RESTORE};
    let mut f = features::base(crate::live::stats::SUPPORTED);
    f.extend(features::rpcs("domain", SAVE_RESTORE));
    f.extend(features::rpcs("guest", GUEST_AGENT));
    f
}

impl DriverRegistry for QemuRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        match uri {
            None | Some("") => Ok(self.driver.clone()),
            Some(u) if self.serves(u) => Ok(self.driver.clone()),
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Qemu,
                format!("{u}: this virtqemud serves {}", self.driver.uri()),
            )),
        }
    }

    fn daemon_info(&self) -> DaemonInfo {
        DaemonInfo {
            driver: "QEMU".into(),
            schemes: vec!["qemu".into()],
            features: qemu_features(),
        }
    }
}
