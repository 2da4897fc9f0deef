//! The test driver's storage: libvirt's `default-pool` (and the `<pool>`s of a node file),
//! with volumes kept in memory, answering as libvirt 9.0's test driver does: pools get 100 GiB
//! of imagined capacity, a volume's allocation counts against it, build / delete touch nothing,
//! volumes survive a destroy and start, and resize, wipe, upload and download are NO_SUPPORT.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{ErrorDomain, VirtError};
use crate::storage::manager::{Pool, PoolBackend, PoolManager, PoolScan, Wording};
use crate::storage::model::{PoolDef, StorageXmlCodec, VolDef};

/// `default-pool` as libvirt 9.0's `virsh pool-dumpxml default-pool` prints it.
pub const DEFAULT_POOL_XML: &str = "<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
";

/// The imagined capacity of every test pool (libvirt's DEFAULT_POOL_CAP).
const POOL_CAPACITY: u64 = 100 << 30;

/// The test driver's storage driver.
pub type TestStorage = PoolManager<TestPools>;

/// Storage that exists only in memory.
#[derive(Debug, Default)]
pub struct TestPools;

fn sizes(def: &mut PoolDef, vols: &BTreeMap<String, VolDef>) {
    def.allocation = vols.values().map(|v| v.allocation.unwrap_or(0)).sum();
    def.available = def.capacity.saturating_sub(def.allocation);
}

#[async_trait::async_trait]
impl PoolBackend for TestPools {
    fn wording(&self) -> Wording {
        Wording::Test
    }

    fn check_def(&self, def: &mut PoolDef) -> Result<(), VirtError> {
        def.capacity = POOL_CAPACITY;
        def.allocation = 0;
        def.available = POOL_CAPACITY;
        Ok(())
    }

    async fn build(&self, _def: &PoolDef, _flags: u32) -> Result<(), VirtError> {
        Ok(())
    }

    async fn start(&self, _def: &PoolDef) -> Result<(), VirtError> {
        Ok(())
    }

    async fn is_running(&self, _def: &PoolDef) -> bool {
        true
    }

    async fn refresh(
        &self,
        def: &PoolDef,
        known: &BTreeMap<String, VolDef>,
    ) -> Result<PoolScan, VirtError> {
        let mut d = def.clone();
        sizes(&mut d, known);
        Ok(PoolScan {
            capacity: d.capacity,
            allocation: d.allocation,
            available: d.available,
            volumes: known.values().cloned().collect(),
            target_perms: None,
        })
    }

    async fn stop(&self, _def: &PoolDef) -> Result<(), VirtError> {
        Ok(())
    }

    async fn delete(&self, _def: &PoolDef, _flags: u32) -> Result<(), VirtError> {
        Ok(())
    }

    async fn create_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        _flags: u32,
    ) -> Result<(), VirtError> {
        vol.target_path = format!("{}/{}", pool.target_path, vol.name);
        vol.key = vol.target_path.clone();
        vol.allocation = Some(vol.allocation.unwrap_or(vol.capacity));
        vol.physical = None;
        vol.format.get_or_insert_with(|| "raw".into());
        Ok(())
    }

    async fn clone_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        _source_pool: &PoolDef,
        _source: &VolDef,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.create_volume(pool, vol, flags).await
    }

    async fn delete_volume(
        &self,
        _pool: &PoolDef,
        _vol: &VolDef,
        _flags: u32,
    ) -> Result<(), VirtError> {
        Ok(())
    }

    async fn resize_volume(
        &self,
        _pool: &PoolDef,
        _vol: &mut VolDef,
        _capacity: u64,
        _flags: u32,
    ) -> Result<(), VirtError> {
        Err(VirtError::no_support(
            ErrorDomain::Storage,
            "virStorageVolResize",
        ))
    }

    async fn wipe_volume(
        &self,
        _pool: &PoolDef,
        _vol: &mut VolDef,
        algorithm: u32,
        _flags: u32,
    ) -> Result<(), VirtError> {
        let api = if algorithm == 0 {
            "virStorageVolWipe"
        } else {
            "virStorageVolWipePattern"
        };
        Err(VirtError::no_support(ErrorDomain::Storage, api))
    }

    fn sizes_after_change(&self, def: &mut PoolDef, vols: &BTreeMap<String, VolDef>) {
        sizes(def, vols);
    }
}

/// The storage of a test connection: `defs` as active persistent pools with no volumes
/// (`default-pool` for `test:///default`).
pub fn storage_for(codec: Arc<dyn StorageXmlCodec>, defs: Vec<PoolDef>) -> TestStorage {
    let pools = defs
        .into_iter()
        .map(|mut def| {
            let _ = TestPools.check_def(&mut def);
            let mut p = Pool::new(def, true);
            p.active = true;
            p
        })
        .collect();
    PoolManager::with_pools("test", codec, TestPools, pools)
}

/// `test:///default`'s pools.
pub fn default_storage(codec: Arc<dyn StorageXmlCodec>) -> Result<TestStorage, VirtError> {
    let def = codec.parse_pool(DEFAULT_POOL_XML)?;
    Ok(storage_for(codec, vec![def]))
}
