//! Which driver serves a connection URI, and what a daemon says about itself: the seam between
//! the drivers (the test driver, virtqemud, ...) and the gRPC services that pick one per call.
//! It sits below both, so a driver names its registry without depending on gRPC.

use std::sync::Arc;

use crate::driver::Driver;
use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::network::NetworkDriver;
use crate::storage::StorageDriver;

/// The gRPC metadata key every call carries: the connection URI it is for.
pub const URI_METADATA: &str = "virt-uri";

/// What a daemon says about itself in `Info`.
#[derive(Debug, Clone, Default)]
pub struct DaemonInfo {
    /// Driver type name as virConnectGetType: "QEMU", "TEST", ...
    pub driver: String,
    /// URI schemes served.
    pub schemes: Vec<String>,
    /// Feature strings ([`crate::features`], proto/README.md).
    pub features: Vec<String>,
}

/// Picks the driver that serves a connection URI.
pub trait DriverRegistry: Send + Sync + 'static {
    /// The driver for `uri` (the `virt-uri` metadata; `None` when absent: the daemon's default).
    /// Errors: NO_CONNECT for a URI this daemon does not serve.
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError>;
    /// What this daemon says about itself.
    fn daemon_info(&self) -> DaemonInfo;
    /// The network driver for `uri`. A hypervisor daemon serves none (its clients reach
    /// virtnetworkd directly or through the proxy): NO_SUPPORT naming the daemon that does.
    fn network_driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn NetworkDriver>, VirtError> {
        let _ = uri;
        Err(VirtError::new(
            ErrorCode::NoSupport,
            ErrorDomain::Network,
            "this function is not supported by the connection driver: network calls are served by virtnetworkd",
        ))
    }
    /// The storage driver for `uri`; as [`DriverRegistry::network_driver_for`], virtstoraged's.
    fn storage_driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn StorageDriver>, VirtError> {
        let _ = uri;
        Err(VirtError::new(
            ErrorCode::NoSupport,
            ErrorDomain::Storage,
            "this function is not supported by the connection driver: storage calls are served by virtstoraged",
        ))
    }
}

/// The registry of one hypervisor daemon instance (virtqemud, virtlxcd, ...): one driver, at
/// one URI. A URI naming the same instance (`lxc:///` for `lxc:///system`, any query such as
/// `socket=`, which is the client's business) gets the driver; anything else is NO_CONNECT
/// naming the URI and the one this daemon serves (the proxy routes each URI to the right
/// instance).
pub struct HypervisorRegistry {
    daemon: &'static str,
    driver: Arc<dyn Driver>,
    info: DaemonInfo,
}

impl HypervisorRegistry {
    /// The registry of daemon `daemon` (its program name, for messages) serving `driver` at
    /// its URI, describing itself with `info`.
    pub fn new(daemon: &'static str, driver: Arc<dyn Driver>, info: DaemonInfo) -> Self {
        HypervisorRegistry {
            daemon,
            driver,
            info,
        }
    }

    /// Whether `uri` names this instance: its driver, no host, the same instance path.
    fn serves(&self, uri: &str) -> bool {
        use crate::uri::probe::local_daemon;
        let (Ok(asked), Ok(mine)) = (
            crate::uri::ConnectUri::parse(uri),
            crate::uri::ConnectUri::parse(&self.driver.uri()),
        ) else {
            return false;
        };
        asked.driver == mine.driver
            && asked.host.is_none()
            && (asked.path == mine.path
                || local_daemon(&asked.driver, &asked.path)
                    .is_some_and(|d| Some(d) == local_daemon(&mine.driver, &mine.path)))
    }
}

impl DriverRegistry for HypervisorRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        match uri {
            None | Some("") => Ok(self.driver.clone()),
            Some(u) if self.serves(u) => Ok(self.driver.clone()),
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                self.driver.error_domain(),
                format!("{u}: this {} serves {}", self.daemon, self.driver.uri()),
            )),
        }
    }

    fn daemon_info(&self) -> DaemonInfo {
        self.info.clone()
    }
}
