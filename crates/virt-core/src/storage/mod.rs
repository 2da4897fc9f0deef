//! Storage pools and volumes: the [`StorageDriver`] trait that virtstoraged and the test driver
//! implement, and the vocabulary of its calls (proto/virt/v1/storage.proto).
//!
//! The pool state machine (lookup, define, start, destroy, undefine, volume bookkeeping, the
//! flags of pool listing, events) is written once, in [`manager::PoolManager`]; a driver only
//! supplies a [`manager::PoolBackend`] that touches the real (or imagined) storage.

pub mod events;
pub mod manager;
pub mod model;

use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::uuid::Uuid;

pub use events::{PoolEvent, PoolEventBus, PoolEventType};
pub use model::{PoolDef, StorageXmlCodec, VolDef};

/// How a call names a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolRef {
    /// By name.
    Name(String),
    /// By UUID.
    Uuid(Uuid),
}

/// How a call names a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolRef {
    /// By pool and name.
    Name {
        /// The pool.
        pool: PoolRef,
        /// The volume's name.
        name: String,
    },
    /// By key.
    Key(String),
    /// By path.
    Path(String),
}

/// A pool's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolHandle {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
}

/// One pool as a listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSummary {
    /// Identity.
    pub pool: PoolHandle,
    /// Running.
    pub active: bool,
    /// Has a persistent definition.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
    /// `dir`, `fs`, `logical`.
    pub pool_type: String,
}

/// libvirt's virStoragePoolState values.
pub mod pool_state {
    /// Not running.
    pub const INACTIVE: i32 = 0;
    /// Running.
    pub const RUNNING: i32 = 2;
}

/// What `virsh pool-info` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// Listing facts.
    pub summary: PoolSummary,
    /// [`pool_state`] value.
    pub state: i32,
    /// Bytes.
    pub capacity: u64,
    /// Bytes.
    pub allocation: u64,
    /// Bytes.
    pub available: u64,
}

/// A volume's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolHandle {
    /// Pool name.
    pub pool: String,
    /// Volume name.
    pub name: String,
    /// Key.
    pub key: String,
}

/// What `virsh vol-info` and `vol-list --details` show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolInfo {
    /// Identity.
    pub volume: VolHandle,
    /// libvirt's virStorageVolType: 0 file, 1 block, 2 dir, ...
    pub vol_type: i32,
    /// Bytes.
    pub capacity: u64,
    /// Bytes.
    pub allocation: u64,
    /// Path on the host.
    pub path: String,
    /// Format type (`raw`, `qcow2`, ...), empty when unknown.
    pub format: String,
}

/// libvirt's virStorageVolType number of a `<volume type=...>` word.
pub fn vol_type_number(word: &str) -> i32 {
    match word {
        "block" => 1,
        "dir" => 2,
        "network" => 3,
        "netdir" => 4,
        "ploop" => 5,
        _ => 0,
    }
}

/// Bytes travelling through an upload or a download, chunk by chunk.
pub type ByteStream = tokio::sync::mpsc::Receiver<Result<Vec<u8>, VirtError>>;

/// Flag bits of the calls, as storage.proto and libvirt number them.
pub mod flags {
    /// virConnectListAllStoragePoolsFlags.
    pub mod list {
        /// Inactive pools.
        pub const INACTIVE: u32 = 1;
        /// Active pools.
        pub const ACTIVE: u32 = 2;
        /// Persistent pools.
        pub const PERSISTENT: u32 = 4;
        /// Transient pools.
        pub const TRANSIENT: u32 = 8;
        /// Autostarting pools.
        pub const AUTOSTART: u32 = 16;
        /// Pools that do not autostart.
        pub const NO_AUTOSTART: u32 = 32;
    }
    /// virStoragePoolBuildFlags.
    pub mod build {
        /// Repair (unused by dir/fs/logical).
        pub const REPAIR: u32 = 1;
        /// Resize (unused).
        pub const RESIZE: u32 = 2;
        /// Refuse when something is there already.
        pub const NO_OVERWRITE: u32 = 4;
        /// Overwrite what is there.
        pub const OVERWRITE: u32 = 8;
    }
    /// virStoragePoolCreateFlags.
    pub mod create {
        /// Build first.
        pub const BUILD: u32 = 1;
        /// Build with OVERWRITE.
        pub const BUILD_OVERWRITE: u32 = 2;
        /// Build with NO_OVERWRITE.
        pub const BUILD_NO_OVERWRITE: u32 = 4;
    }
    /// virStorageVolCreateFlags.
    pub mod vol_create {
        /// Preallocate qcow2 metadata.
        pub const PREALLOC_METADATA: u32 = 1;
        /// Reflink clone.
        pub const REFLINK: u32 = 2;
        /// Validate the XML against the schema.
        pub const VALIDATE: u32 = 4;
    }
    /// virStorageVolResizeFlags.
    pub mod resize {
        /// Allocate the new space.
        pub const ALLOCATE: u32 = 1;
        /// The capacity is a change.
        pub const DELTA: u32 = 2;
        /// Allow shrinking.
        pub const SHRINK: u32 = 4;
    }
}

fn no_support(api: &str) -> VirtError {
    VirtError::new(ErrorCode::NoSupport, ErrorDomain::Storage, api)
}

/// What a storage driver does: libvirt's virStoragePool* and virStorageVol* calls. Every call
/// defaults to NO_SUPPORT naming libvirt's API, so a driver serves what it can.
#[async_trait::async_trait]
pub trait StorageDriver: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    /// virStoragePoolLookupByName / ByUUIDString.
    async fn lookup_storage_pool(&self, pool: &PoolRef) -> Result<PoolHandle, VirtError> {
        let _ = pool;
        Err(no_support("virStoragePoolLookupByName"))
    }
    /// virStoragePoolLookupByVolume.
    async fn lookup_storage_pool_by_volume(&self, vol: &VolRef) -> Result<PoolHandle, VirtError> {
        let _ = vol;
        Err(no_support("virStoragePoolLookupByVolume"))
    }
    /// virConnectListAllStoragePools; sorted by name.
    async fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolSummary>, VirtError> {
        let _ = flags;
        Err(no_support("virConnectListAllStoragePools"))
    }
    /// virStoragePoolDefineXML.
    async fn define_storage_pool(&self, xml: &str, flags: u32) -> Result<PoolHandle, VirtError> {
        let _ = (xml, flags);
        Err(no_support("virStoragePoolDefineXML"))
    }
    /// virStoragePoolCreateXML.
    async fn create_storage_pool_xml(
        &self,
        xml: &str,
        flags: u32,
    ) -> Result<PoolHandle, VirtError> {
        let _ = (xml, flags);
        Err(no_support("virStoragePoolCreateXML"))
    }
    /// virStoragePoolBuild.
    async fn build_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        let _ = (pool, flags);
        Err(no_support("virStoragePoolBuild"))
    }
    /// virStoragePoolCreate.
    async fn start_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        let _ = (pool, flags);
        Err(no_support("virStoragePoolCreate"))
    }
    /// virStoragePoolRefresh.
    async fn refresh_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let _ = pool;
        Err(no_support("virStoragePoolRefresh"))
    }
    /// virStoragePoolDestroy.
    async fn destroy_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let _ = pool;
        Err(no_support("virStoragePoolDestroy"))
    }
    /// virStoragePoolDelete.
    async fn delete_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        let _ = (pool, flags);
        Err(no_support("virStoragePoolDelete"))
    }
    /// virStoragePoolUndefine.
    async fn undefine_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let _ = pool;
        Err(no_support("virStoragePoolUndefine"))
    }
    /// virStoragePoolGetInfo + IsPersistent + GetAutostart.
    async fn get_storage_pool_info(&self, pool: &PoolRef) -> Result<PoolInfo, VirtError> {
        let _ = pool;
        Err(no_support("virStoragePoolGetInfo"))
    }
    /// virStoragePoolGetXMLDesc.
    async fn get_storage_pool_xml(&self, pool: &PoolRef, flags: u32) -> Result<String, VirtError> {
        let _ = (pool, flags);
        Err(no_support("virStoragePoolGetXMLDesc"))
    }
    /// virStoragePoolSetAutostart.
    async fn set_storage_pool_autostart(
        &self,
        pool: &PoolRef,
        autostart: bool,
    ) -> Result<(), VirtError> {
        let _ = (pool, autostart);
        Err(no_support("virStoragePoolSetAutostart"))
    }
    /// virStoragePoolListAllVolumes with every volume's info; sorted by name.
    async fn list_storage_volumes(
        &self,
        pool: &PoolRef,
        flags: u32,
    ) -> Result<Vec<VolInfo>, VirtError> {
        let _ = (pool, flags);
        Err(no_support("virStoragePoolListAllVolumes"))
    }
    /// virStorageVolLookupByName / ByKey / ByPath.
    async fn lookup_storage_volume(&self, vol: &VolRef) -> Result<VolHandle, VirtError> {
        let _ = vol;
        Err(no_support("virStorageVolLookupByName"))
    }
    /// virStorageVolCreateXML.
    async fn create_storage_volume(
        &self,
        pool: &PoolRef,
        xml: &str,
        flags: u32,
    ) -> Result<VolHandle, VirtError> {
        let _ = (pool, xml, flags);
        Err(no_support("virStorageVolCreateXML"))
    }
    /// virStorageVolCreateXMLFrom.
    async fn clone_storage_volume(
        &self,
        pool: &PoolRef,
        xml: &str,
        source: &VolRef,
        flags: u32,
    ) -> Result<VolHandle, VirtError> {
        let _ = (pool, xml, source, flags);
        Err(no_support("virStorageVolCreateXMLFrom"))
    }
    /// virStorageVolDelete.
    async fn delete_storage_volume(&self, vol: &VolRef, flags: u32) -> Result<(), VirtError> {
        let _ = (vol, flags);
        Err(no_support("virStorageVolDelete"))
    }
    /// virStorageVolResize.
    async fn resize_storage_volume(
        &self,
        vol: &VolRef,
        capacity: u64,
        flags: u32,
    ) -> Result<(), VirtError> {
        let _ = (vol, capacity, flags);
        Err(no_support("virStorageVolResize"))
    }
    /// virStorageVolWipePattern.
    async fn wipe_storage_volume(
        &self,
        vol: &VolRef,
        algorithm: u32,
        flags: u32,
    ) -> Result<(), VirtError> {
        let _ = (vol, algorithm, flags);
        Err(no_support("virStorageVolWipe"))
    }
    /// virStorageVolGetInfo + GetPath.
    async fn get_storage_volume_info(
        &self,
        vol: &VolRef,
        flags: u32,
    ) -> Result<VolInfo, VirtError> {
        let _ = (vol, flags);
        Err(no_support("virStorageVolGetInfo"))
    }
    /// virStorageVolGetXMLDesc.
    async fn get_storage_volume_xml(&self, vol: &VolRef, flags: u32) -> Result<String, VirtError> {
        let _ = (vol, flags);
        Err(no_support("virStorageVolGetXMLDesc"))
    }
    /// virStorageVolUpload: writes `data` at `offset` (at most `length` bytes, 0 = all of
    /// it); answers the bytes written.
    async fn upload_storage_volume(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
        data: ByteStream,
    ) -> Result<u64, VirtError> {
        let _ = (vol, offset, length, flags, data);
        Err(no_support("virStorageVolUpload"))
    }
    /// virStorageVolDownload: the bytes from `offset` (`length` of them, 0 = to the end), and
    /// how many that will be.
    async fn download_storage_volume(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<(u64, ByteStream), VirtError> {
        let _ = (vol, offset, length, flags);
        Err(no_support("virStorageVolDownload"))
    }
    /// Pool lifecycle events, replaying retained ones numbered `from` and above first.
    async fn subscribe_storage_pool_events(
        &self,
        from: Option<u64>,
    ) -> Result<events::PoolSubscription, VirtError> {
        let _ = from;
        Err(no_support("virConnectStoragePoolEventRegisterAny"))
    }
}
