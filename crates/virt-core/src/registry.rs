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
