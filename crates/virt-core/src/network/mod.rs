//! Virtual networks: the [`NetworkDriver`] trait that virtnetworkd and the test driver
//! implement, and the vocabulary of its calls (proto/virt/v1/network.proto).

use crate::error::VirtError;

/// What a network driver does: libvirt's virNetwork* and virNetworkPort* calls.
#[async_trait::async_trait]
pub trait NetworkDriver: Send + Sync + 'static {
    /// libvirt: virConnectGetURI's scheme side: a name for logs and errors.
    fn name(&self) -> &str;

    /// Placeholder until the calls land; every call is answered from here meanwhile.
    async fn unimplemented(&self) -> Result<(), VirtError> {
        Err(VirtError::new(
            crate::ErrorCode::NoSupport,
            crate::ErrorDomain::Network,
            "this function is not supported by the connection driver: virNetwork",
        ))
    }
}
