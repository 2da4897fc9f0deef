//! [`LxcRegistry`]: which connection URIs this virtlxcd serves. A system instance serves
//! `lxc:///system` (and `lxc:///`, libvirt's spelling), a session instance `lxc:///session`;
//! anything else is NO_CONNECT naming the URI.

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::uri::ConnectUri;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::LxcDriver;

/// The registry of one virtlxcd instance.
pub struct LxcRegistry {
    driver: Arc<LxcDriver>,
}

impl LxcRegistry {
    /// A registry serving `driver` at its URI.
    pub fn new(driver: Arc<LxcDriver>) -> LxcRegistry {
        LxcRegistry { driver }
    }

    fn serves(&self, uri: &str) -> bool {
        let Ok(parsed) = ConnectUri::parse(uri) else {
            return false;
        };
        let mine = self.driver.uri();
        let path = mine.strip_prefix("lxc://").unwrap_or_default();
        let path_ok =
            parsed.path == path || (path == "/system" && matches!(parsed.path.as_str(), "" | "/"));
        parsed.driver == "lxc" && parsed.host.is_none() && path_ok
    }
}

/// What virtlxcd serves beyond the baseline: event resume, the console and the stats groups
/// it fills.
pub fn lxc_features() -> Vec<String> {
    virt_core::features::base(crate::live::stats::SUPPORTED)
}

impl DriverRegistry for LxcRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        match uri {
            None | Some("") => Ok(self.driver.clone()),
            Some(u) if self.serves(u) => Ok(self.driver.clone()),
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Lxc,
                format!("{u}: this virtlxcd serves {}", self.driver.uri()),
            )),
        }
    }

    fn daemon_info(&self) -> DaemonInfo {
        DaemonInfo {
            driver: "LXC".into(),
            schemes: vec!["lxc".into()],
            features: lxc_features(),
        }
    }
}
