//! Storage pools and volumes: the [`StorageDriver`] trait that virtstoraged and the test driver
//! implement, and the vocabulary of its calls (proto/virt/v1/storage.proto).

use crate::error::VirtError;

/// What a storage driver does: libvirt's virStoragePool* and virStorageVol* calls.
#[async_trait::async_trait]
pub trait StorageDriver: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    /// Placeholder until the calls land; every call is answered from here meanwhile.
    async fn unimplemented(&self) -> Result<(), VirtError> {
        Err(VirtError::new(
            crate::ErrorCode::NoSupport,
            crate::ErrorDomain::Storage,
            "this function is not supported by the connection driver: virStoragePool",
        ))
    }
}
