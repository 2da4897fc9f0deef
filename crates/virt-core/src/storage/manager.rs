//! The pool and volume state machine every storage driver shares: pools indexed by name and
//! UUID, define / create / build / start / refresh / destroy / delete / undefine with libvirt's
//! wrong-state errors, duplicate checks, listing filters, volume bookkeeping and events. The
//! storage itself is a [`PoolBackend`]'s business: the test driver imagines it in memory,
//! virtstoraged makes directories, mounts, volume groups and image files.
//!
//! One async lock serialises the calls that change state; uploads and downloads take it only
//! to find their volume, then move bytes without it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::events::{PoolEventBus, PoolEventType, PoolSubscription};
use super::flags::{create as cflags, list as lflags, resize as rflags};
use super::model::{PoolDef, StorageXmlCodec, VolDef, POOL_TYPE_FLAGS};
use super::{
    pool_state, vol_type_number, ByteStream, PoolHandle, PoolInfo, PoolRef, PoolSummary,
    StorageDriver, VolHandle, VolInfo, VolRef,
};
use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// Sizes and volumes found by a refresh.
#[derive(Debug, Clone, Default)]
pub struct PoolScan {
    /// Pool capacity in bytes.
    pub capacity: u64,
    /// Pool allocation in bytes.
    pub allocation: u64,
    /// Pool free space in bytes.
    pub available: u64,
    /// The volumes.
    pub volumes: Vec<VolDef>,
    /// The target's permissions as found (libvirt reports a directory's mode and owner).
    pub target_perms: Option<super::model::Permissions>,
}

/// Which driver's error wording to use where libvirt's test driver and storage driver differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// libvirt's test driver (`storage pool 'p' is active`, `storage pool is not active`).
    Test,
    /// libvirt's storage driver (`storage pool 'p' is already active`, `... is still active`).
    Storage,
}

/// The storage under one driver's pools.
#[async_trait::async_trait]
pub trait PoolBackend: Send + Sync + 'static {
    /// Error wording.
    fn wording(&self) -> Wording;
    /// Fills in defaults of a new definition and refuses what this backend cannot serve.
    fn check_def(&self, def: &mut PoolDef) -> Result<(), VirtError>;
    /// Builds the pool's storage (libvirt's build flags).
    async fn build(&self, def: &PoolDef, flags: u32) -> Result<(), VirtError>;
    /// Makes the storage usable (mount, vgchange -ay, check the directory).
    async fn start(&self, def: &PoolDef) -> Result<(), VirtError>;
    /// Whether a pool recorded as active is still usable (a daemon restart's reattach).
    async fn is_running(&self, def: &PoolDef) -> bool;
    /// Sizes and volumes now; `known` is what the pool holds so far.
    async fn refresh(
        &self,
        def: &PoolDef,
        known: &BTreeMap<String, VolDef>,
    ) -> Result<PoolScan, VirtError>;
    /// Makes the storage unusable (umount, vgchange -an).
    async fn stop(&self, def: &PoolDef) -> Result<(), VirtError>;
    /// Removes the storage (rmdir, vgremove + pvremove).
    async fn delete(&self, def: &PoolDef, flags: u32) -> Result<(), VirtError>;
    /// Creates a volume, filling in its key, path, allocation and format; leaves nothing on
    /// failure. `free` is the pool's available space.
    async fn create_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        flags: u32,
    ) -> Result<(), VirtError>;
    /// Creates `vol` as a copy of `source` (in `source_pool`).
    async fn clone_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        source_pool: &PoolDef,
        source: &VolDef,
        flags: u32,
    ) -> Result<(), VirtError>;
    /// Deletes a volume.
    async fn delete_volume(
        &self,
        pool: &PoolDef,
        vol: &VolDef,
        flags: u32,
    ) -> Result<(), VirtError>;
    /// Resizes to `capacity` bytes (already checked against the flags), updating `vol`.
    async fn resize_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        capacity: u64,
        flags: u32,
    ) -> Result<(), VirtError>;
    /// Overwrites a volume's data.
    async fn wipe_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        algorithm: u32,
        flags: u32,
    ) -> Result<(), VirtError>;
    /// Writes bytes into a volume.
    async fn upload(
        &self,
        vol: &VolDef,
        offset: u64,
        length: u64,
        data: ByteStream,
    ) -> Result<u64, VirtError> {
        let _ = (vol, offset, length, data);
        Err(VirtError::no_support(
            ErrorDomain::Storage,
            "virStorageVolUpload",
        ))
    }
    /// Reads bytes out of a volume.
    async fn download(
        &self,
        vol: &VolDef,
        offset: u64,
        length: u64,
    ) -> Result<(u64, ByteStream), VirtError> {
        let _ = (vol, offset, length);
        Err(VirtError::no_support(
            ErrorDomain::Storage,
            "virStorageVolDownload",
        ))
    }
    /// Re-reads one volume's facts after its data changed.
    async fn probe_volume(&self, pool: &PoolDef, vol: &mut VolDef) -> Result<(), VirtError> {
        let _ = (pool, vol);
        Ok(())
    }
    /// Pool sizes after a volume change, when the backend does not rescan.
    fn sizes_after_change(&self, def: &mut PoolDef, vols: &BTreeMap<String, VolDef>) {
        let _ = (def, vols);
    }
    /// Records a persistent definition (CONFIG/storage/NAME.xml).
    fn save_config(&self, def: &PoolDef) -> Result<(), VirtError> {
        let _ = def;
        Ok(())
    }
    /// Forgets a persistent definition and its autostart mark.
    fn remove_config(&self, name: &str) -> Result<(), VirtError> {
        let _ = name;
        Ok(())
    }
    /// Records the autostart mark.
    fn save_autostart(&self, name: &str, on: bool) -> Result<(), VirtError> {
        let _ = (name, on);
        Ok(())
    }
    /// Records (Some) or forgets (None) the live status of pool `name`.
    fn save_status(&self, name: &str, live: Option<&PoolDef>) -> Result<(), VirtError> {
        let _ = (name, live);
        Ok(())
    }
}

/// One pool.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The definition in use (live sizes included).
    pub def: PoolDef,
    /// A persistent definition waiting for the next start, after a define on an active pool.
    pub next: Option<PoolDef>,
    /// Running.
    pub active: bool,
    /// Has a persistent definition.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
    /// Volumes by name.
    pub volumes: BTreeMap<String, VolDef>,
}

impl Pool {
    /// A new inactive pool.
    pub fn new(def: PoolDef, persistent: bool) -> Pool {
        Pool {
            def,
            next: None,
            active: false,
            persistent,
            autostart: false,
            volumes: BTreeMap::new(),
        }
    }

    fn handle(&self) -> PoolHandle {
        PoolHandle {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    fn summary(&self) -> PoolSummary {
        PoolSummary {
            pool: self.handle(),
            active: self.active,
            persistent: self.persistent,
            autostart: self.autostart,
            pool_type: self.def.pool_type.clone(),
        }
    }
}

/// Pools by name.
type Pools = BTreeMap<String, Pool>;

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Storage, detail)
}

fn invalid(detail: impl Into<String>) -> VirtError {
    err(ErrorCode::OperationInvalid, detail)
}

/// The name of the pool `r` names: NO_STORAGE_POOL when none.
fn find(pools: &Pools, r: &PoolRef) -> Result<String, VirtError> {
    match r {
        PoolRef::Name(n) if pools.contains_key(n) => Ok(n.clone()),
        PoolRef::Name(n) => Err(err(
            ErrorCode::NoStoragePool,
            format!("no storage pool with matching name '{n}'"),
        )),
        PoolRef::Uuid(u) => pools
            .values()
            .find(|p| p.def.uuid == *u)
            .map(|p| p.def.name.clone())
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching uuid '{u}'"),
                )
            }),
    }
}

fn vol_info(pool: &str, v: &VolDef) -> VolInfo {
    VolInfo {
        volume: vol_handle(pool, v),
        vol_type: vol_type_number(&v.vol_type),
        capacity: v.capacity,
        allocation: v.allocation.unwrap_or(0),
        path: v.target_path.clone(),
        format: v.format.clone().unwrap_or_default(),
    }
}

fn vol_handle(pool: &str, v: &VolDef) -> VolHandle {
    VolHandle {
        pool: pool.to_string(),
        name: v.name.clone(),
        key: v.key.clone(),
    }
}

/// The storage driver over a backend.
pub struct PoolManager<B: PoolBackend> {
    name: String,
    codec: Arc<dyn StorageXmlCodec>,
    backend: B,
    pools: Mutex<Pools>,
    bus: PoolEventBus,
}

impl<B: PoolBackend> PoolManager<B> {
    /// A driver called `name` with no pools.
    pub fn new(name: &str, codec: Arc<dyn StorageXmlCodec>, backend: B) -> PoolManager<B> {
        PoolManager {
            name: name.to_string(),
            codec,
            backend,
            pools: Mutex::new(BTreeMap::new()),
            bus: PoolEventBus::default(),
        }
    }

    /// A driver holding `pools` from the start (their volumes as given, no backend call).
    pub fn with_pools(
        name: &str,
        codec: Arc<dyn StorageXmlCodec>,
        backend: B,
        pools: Vec<Pool>,
    ) -> PoolManager<B> {
        let m = PoolManager::new(name, codec, backend);
        *m.pools.try_lock().expect("a new manager's lock is free") =
            pools.into_iter().map(|p| (p.def.name.clone(), p)).collect();
        m
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The XML codec.
    pub fn codec(&self) -> &Arc<dyn StorageXmlCodec> {
        &self.codec
    }

    /// Adds a pool as loaded at start (a test node file, a daemon's config dir); an active
    /// one gets its volumes from `volumes` or, when `None`, a backend refresh.
    pub async fn insert_loaded(
        &self,
        mut pool: Pool,
        volumes: Option<Vec<VolDef>>,
    ) -> Result<(), VirtError> {
        if pool.active {
            match volumes {
                Some(v) => {
                    pool.volumes = v.into_iter().map(|v| (v.name.clone(), v)).collect();
                }
                None => {
                    let scan = self.backend.refresh(&pool.def, &pool.volumes).await?;
                    apply_scan(&mut pool, scan);
                }
            }
        }
        self.pools.lock().await.insert(pool.def.name.clone(), pool);
        Ok(())
    }

    /// Starts every inactive autostart pool; failures are returned by pool name, not raised.
    pub async fn autostart(&self) -> Vec<(String, VirtError)> {
        let names: Vec<PoolRef> = {
            let g = self.pools.lock().await;
            g.values()
                .filter(|p| p.autostart && !p.active)
                .map(|p| PoolRef::Name(p.def.name.clone()))
                .collect()
        };
        let mut failed = Vec::new();
        for r in names {
            if let Err(e) = self.start_storage_pool(&r, 0).await {
                if let PoolRef::Name(n) = r {
                    failed.push((n, e));
                }
            }
        }
        failed
    }

    fn emit(&self, p: &Pool, ty: PoolEventType) {
        self.bus.emit(p.handle(), ty);
    }

    fn still_active(&self, name: &str, op: &str) -> VirtError {
        match self.backend.wording() {
            Wording::Test => invalid(format!("storage pool '{name}' is active")),
            Wording::Storage => invalid(format!("storage pool '{name}' is {op} active")),
        }
    }

    fn not_active(&self, name: &str) -> VirtError {
        invalid(format!("storage pool '{name}' is not active"))
    }

    /// Checks a new definition against existing pools, as virStoragePoolObjIsDuplicate and the
    /// source conflict check do; `Some(name)` when it replaces that pool's definition.
    fn check_duplicate(
        &self,
        pools: &Pools,
        def: &PoolDef,
        check_active: bool,
    ) -> Result<Option<String>, VirtError> {
        if let Some(p) = pools.values().find(|p| p.def.uuid == def.uuid) {
            if p.def.name != def.name {
                return Err(err(
                    ErrorCode::OperationFailed,
                    format!(
                        "pool '{}' is already defined with uuid {}",
                        p.def.name, def.uuid
                    ),
                ));
            }
            if check_active && p.active {
                return Err(invalid(format!(
                    "storage pool '{}' is already active",
                    p.def.name
                )));
            }
            return Ok(Some(p.def.name.clone()));
        }
        if let Some(p) = pools.get(&def.name) {
            return Err(err(
                ErrorCode::OperationFailed,
                format!(
                    "pool '{}' already exists with uuid {}",
                    def.name, p.def.uuid
                ),
            ));
        }
        for p in pools.values() {
            if p.def.pool_type != def.pool_type {
                continue;
            }
            let clash = match def.pool_type.as_str() {
                "dir" => p.def.target_path == def.target_path,
                "fs" => {
                    !def.source.devices.is_empty() && p.def.source.devices == def.source.devices
                }
                "logical" => p.def.source.name.is_some() && p.def.source.name == def.source.name,
                _ => false,
            };
            if clash {
                return Err(err(
                    ErrorCode::OperationFailed,
                    format!("Storage source conflict with pool: '{}'", p.def.name),
                ));
            }
        }
        Ok(None)
    }

    fn parse_pool(&self, xml: &str) -> Result<PoolDef, VirtError> {
        let mut def = self.codec.parse_pool(xml)?;
        self.backend.check_def(&mut def)?;
        Ok(def)
    }

    async fn refresh_locked(&self, p: &mut Pool) -> Result<(), VirtError> {
        let scan = self.backend.refresh(&p.def, &p.volumes).await?;
        apply_scan(p, scan);
        self.backend.save_status(&p.def.name, Some(&p.def))?;
        Ok(())
    }

    async fn start_locked(&self, p: &mut Pool, flags: u32) -> Result<(), VirtError> {
        if flags & (cflags::BUILD | cflags::BUILD_OVERWRITE | cflags::BUILD_NO_OVERWRITE) != 0 {
            let bflags = if flags & cflags::BUILD_OVERWRITE != 0 {
                super::flags::build::OVERWRITE
            } else if flags & cflags::BUILD_NO_OVERWRITE != 0 {
                super::flags::build::NO_OVERWRITE
            } else {
                0
            };
            self.backend.build(&p.def, bflags).await?;
        }
        self.backend.start(&p.def).await?;
        if let Err(e) = self.refresh_locked(p).await {
            let _ = self.backend.stop(&p.def).await;
            return Err(e);
        }
        p.active = true;
        self.backend.save_status(&p.def.name, Some(&p.def))?;
        Ok(())
    }

    /// The pool and volume a reference names, cloned, with the pool's name.
    async fn resolve_vol(&self, r: &VolRef) -> Result<(PoolDef, VolDef), VirtError> {
        let g = self.pools.lock().await;
        let (pname, vname) = locate(&g, r, self.backend.wording())?;
        let p = &g[&pname];
        Ok((p.def.clone(), p.volumes[&vname].clone()))
    }
}

fn apply_scan(p: &mut Pool, scan: PoolScan) {
    p.def.capacity = scan.capacity;
    p.def.allocation = scan.allocation;
    p.def.available = scan.available;
    if let Some(perms) = scan.target_perms {
        p.def.target_perms = perms;
    }
    p.volumes = scan
        .volumes
        .into_iter()
        .map(|v| (v.name.clone(), v))
        .collect();
}

/// The pool and volume names a volume reference names.
fn locate(pools: &Pools, r: &VolRef, wording: Wording) -> Result<(String, String), VirtError> {
    match r {
        VolRef::Name { pool, name } => {
            let pn = find(pools, pool)?;
            let p = &pools[&pn];
            if !p.active {
                return Err(match wording {
                    Wording::Test => invalid("storage pool is not active"),
                    Wording::Storage => invalid(format!("storage pool '{pn}' is not active")),
                });
            }
            if p.volumes.contains_key(name) {
                Ok((pn, name.clone()))
            } else {
                Err(err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching name '{name}'"),
                ))
            }
        }
        VolRef::Key(k) | VolRef::Path(k) => {
            for p in pools.values().filter(|p| p.active) {
                if let Some(v) = p.volumes.values().find(|v| match r {
                    VolRef::Key(_) => v.key == *k,
                    _ => v.target_path == *k,
                }) {
                    return Ok((p.def.name.clone(), v.name.clone()));
                }
            }
            Err(match r {
                VolRef::Key(_) => err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching key {k}"),
                ),
                _ => err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching path '{k}'"),
                ),
            })
        }
    }
}

fn matches_list_flags(p: &Pool, flags: u32) -> bool {
    let pick = |a: u32, b: u32, is_a: bool| {
        let both = flags & (a | b);
        both == 0 || both == (a | b) || (flags & a != 0) == is_a
    };
    if !pick(lflags::ACTIVE, lflags::INACTIVE, p.active) {
        return false;
    }
    if !pick(lflags::PERSISTENT, lflags::TRANSIENT, p.persistent) {
        return false;
    }
    if !pick(lflags::AUTOSTART, lflags::NO_AUTOSTART, p.autostart) {
        return false;
    }
    let type_bits: u32 = POOL_TYPE_FLAGS.iter().map(|(_, b)| b).sum();
    if flags & type_bits != 0 {
        let mine = POOL_TYPE_FLAGS
            .iter()
            .find(|(t, _)| *t == p.def.pool_type)
            .map(|(_, b)| *b)
            .unwrap_or(0);
        if flags & mine == 0 {
            return false;
        }
    }
    true
}

#[async_trait::async_trait]
impl<B: PoolBackend> StorageDriver for PoolManager<B> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn lookup_storage_pool(&self, pool: &PoolRef) -> Result<PoolHandle, VirtError> {
        let g = self.pools.lock().await;
        Ok(g[&find(&g, pool)?].handle())
    }

    async fn lookup_storage_pool_by_volume(&self, vol: &VolRef) -> Result<PoolHandle, VirtError> {
        let g = self.pools.lock().await;
        let (p, _) = locate(&g, vol, self.backend.wording())?;
        Ok(g[&p].handle())
    }

    async fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolSummary>, VirtError> {
        let all: u32 = 63 | POOL_TYPE_FLAGS.iter().map(|(_, b)| b).sum::<u32>();
        VirtError::check_flags(
            flags,
            all,
            ErrorDomain::Storage,
            "virConnectListAllStoragePools",
        )?;
        let g = self.pools.lock().await;
        Ok(g.values()
            .filter(|p| matches_list_flags(p, flags))
            .map(Pool::summary)
            .collect())
    }

    async fn define_storage_pool(&self, xml: &str, flags: u32) -> Result<PoolHandle, VirtError> {
        VirtError::check_flags(flags, 1, ErrorDomain::Storage, "virStoragePoolDefineXML")?;
        let def = self.parse_pool(xml)?;
        let mut g = self.pools.lock().await;
        let existing = self.check_duplicate(&g, &def, false)?;
        self.backend.save_config(&def)?;
        let p = match existing {
            Some(name) => {
                let p = g.get_mut(&name).expect("duplicate check found it");
                if p.active {
                    p.next = Some(def);
                } else {
                    let sizes = (p.def.capacity, p.def.allocation, p.def.available);
                    p.def = def;
                    (p.def.capacity, p.def.allocation, p.def.available) = sizes;
                }
                p.persistent = true;
                p
            }
            None => g.entry(def.name.clone()).or_insert(Pool::new(def, true)),
        };
        self.emit(p, PoolEventType::Defined);
        Ok(p.handle())
    }

    async fn create_storage_pool_xml(
        &self,
        xml: &str,
        flags: u32,
    ) -> Result<PoolHandle, VirtError> {
        VirtError::check_flags(flags, 7, ErrorDomain::Storage, "virStoragePoolCreateXML")?;
        let def = self.parse_pool(xml)?;
        let mut g = self.pools.lock().await;
        if self.check_duplicate(&g, &def, true)?.is_some() {
            return Err(invalid(format!(
                "storage pool '{}' is already defined",
                def.name
            )));
        }
        let mut p = Pool::new(def, false);
        self.start_locked(&mut p, flags).await?;
        self.emit(&p, PoolEventType::Started);
        let h = p.handle();
        g.insert(p.def.name.clone(), p);
        Ok(h)
    }

    async fn build_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 12, ErrorDomain::Storage, "virStoragePoolBuild")?;
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if p.active {
            return Err(self.still_active(&name, "already"));
        }
        self.backend.build(&p.def, flags).await?;
        self.emit(p, PoolEventType::Created);
        Ok(())
    }

    async fn start_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 7, ErrorDomain::Storage, "virStoragePoolCreate")?;
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if p.active {
            return Err(self.still_active(&name, "already"));
        }
        if let Some(next) = p.next.take() {
            p.def = next;
        }
        self.start_locked(p, flags).await?;
        self.emit(p, PoolEventType::Started);
        Ok(())
    }

    async fn refresh_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if !p.active {
            return Err(self.not_active(&name));
        }
        self.refresh_locked(p).await
    }

    async fn destroy_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if !p.active {
            return Err(self.not_active(&name));
        }
        self.backend.stop(&p.def).await?;
        p.active = false;
        if self.backend.wording() == Wording::Storage {
            p.volumes.clear();
        }
        self.backend.save_status(&name, None)?;
        self.emit(p, PoolEventType::Stopped);
        if let Some(next) = p.next.take() {
            p.def = next;
        }
        if !p.persistent {
            g.remove(&name);
        }
        Ok(())
    }

    async fn delete_storage_pool(&self, pool: &PoolRef, flags: u32) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 1, ErrorDomain::Storage, "virStoragePoolDelete")?;
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if p.active {
            return Err(self.still_active(&name, "still"));
        }
        self.backend.delete(&p.def, flags).await?;
        self.emit(p, PoolEventType::Deleted);
        Ok(())
    }

    async fn undefine_storage_pool(&self, pool: &PoolRef) -> Result<(), VirtError> {
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if p.active {
            return Err(self.still_active(&name, "still"));
        }
        self.backend.remove_config(&name)?;
        self.emit(p, PoolEventType::Undefined);
        g.remove(&name);
        Ok(())
    }

    async fn get_storage_pool_info(&self, pool: &PoolRef) -> Result<PoolInfo, VirtError> {
        let g = self.pools.lock().await;
        let p = &g[&find(&g, pool)?];
        Ok(PoolInfo {
            summary: p.summary(),
            state: if p.active {
                pool_state::RUNNING
            } else {
                pool_state::INACTIVE
            },
            capacity: p.def.capacity,
            allocation: p.def.allocation,
            available: p.def.available,
        })
    }

    async fn get_storage_pool_xml(&self, pool: &PoolRef, flags: u32) -> Result<String, VirtError> {
        // libvirt's test driver refuses INACTIVE; the storage driver honours it.
        match self.backend.wording() {
            Wording::Test => {
                VirtError::check_flags(flags, 0, ErrorDomain::Storage, "testStoragePoolGetXMLDesc")?
            }
            Wording::Storage => {
                VirtError::check_flags(flags, 1, ErrorDomain::Storage, "virStoragePoolGetXMLDesc")?
            }
        }
        let g = self.pools.lock().await;
        let p = &g[&find(&g, pool)?];
        let def = match (&p.next, flags & 1 != 0) {
            (Some(next), true) => next,
            _ => &p.def,
        };
        Ok(self.codec.format_pool(def))
    }

    async fn set_storage_pool_autostart(
        &self,
        pool: &PoolRef,
        autostart: bool,
    ) -> Result<(), VirtError> {
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if !p.persistent {
            return Err(err(ErrorCode::InvalidArg, "pool has no config file"));
        }
        if p.autostart != autostart {
            self.backend.save_autostart(&name, autostart)?;
            p.autostart = autostart;
        }
        Ok(())
    }

    async fn list_storage_volumes(
        &self,
        pool: &PoolRef,
        flags: u32,
    ) -> Result<Vec<VolInfo>, VirtError> {
        VirtError::check_flags(
            flags,
            0,
            ErrorDomain::Storage,
            "virStoragePoolListAllVolumes",
        )?;
        let g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = &g[&name];
        if !p.active {
            return Err(match self.backend.wording() {
                Wording::Test => invalid("storage pool is not active"),
                Wording::Storage => self.not_active(&name),
            });
        }
        Ok(p.volumes.values().map(|v| vol_info(&name, v)).collect())
    }

    async fn lookup_storage_volume(&self, vol: &VolRef) -> Result<VolHandle, VirtError> {
        let g = self.pools.lock().await;
        let (p, v) = locate(&g, vol, self.backend.wording())?;
        Ok(vol_handle(&p, &g[&p].volumes[&v]))
    }

    async fn create_storage_volume(
        &self,
        pool: &PoolRef,
        xml: &str,
        flags: u32,
    ) -> Result<VolHandle, VirtError> {
        VirtError::check_flags(flags, 5, ErrorDomain::Storage, "virStorageVolCreateXML")?;
        let mut vol = self.codec.parse_volume(xml)?;
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        let p = g.get_mut(&name).expect("found");
        if !p.active {
            return Err(self.not_active(&name));
        }
        self.check_new_volume(p, &vol)?;
        self.backend.create_volume(&p.def, &mut vol, flags).await?;
        self.add_volume(p, vol)
    }

    async fn clone_storage_volume(
        &self,
        pool: &PoolRef,
        xml: &str,
        source: &VolRef,
        flags: u32,
    ) -> Result<VolHandle, VirtError> {
        VirtError::check_flags(flags, 7, ErrorDomain::Storage, "virStorageVolCreateXMLFrom")?;
        let mut vol = self.codec.parse_volume(xml)?;
        let mut g = self.pools.lock().await;
        let name = find(&g, pool)?;
        if !g[&name].active {
            return Err(self.not_active(&name));
        }
        let (spool, sname) = locate(&g, source, self.backend.wording())?;
        let source_pool = g[&spool].def.clone();
        let source_vol = g[&spool].volumes[&sname].clone();
        let p = g.get_mut(&name).expect("found");
        if vol.capacity < source_vol.capacity {
            vol.capacity = source_vol.capacity;
        }
        if vol.format.is_none() {
            vol.format = source_vol.format.clone();
        }
        self.check_new_volume(p, &vol)?;
        self.backend
            .clone_volume(&p.def, &mut vol, &source_pool, &source_vol, flags)
            .await?;
        self.add_volume(p, vol)
    }

    async fn delete_storage_volume(&self, vol: &VolRef, flags: u32) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 3, ErrorDomain::Storage, "virStorageVolDelete")?;
        let mut g = self.pools.lock().await;
        let (pn, vn) = locate(&g, vol, self.backend.wording())?;
        let p = g.get_mut(&pn).expect("found");
        self.backend
            .delete_volume(&p.def, &p.volumes[&vn], flags)
            .await?;
        p.volumes.remove(&vn);
        self.backend.sizes_after_change(&mut p.def, &p.volumes);
        Ok(())
    }

    async fn resize_storage_volume(
        &self,
        vol: &VolRef,
        capacity: u64,
        flags: u32,
    ) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 7, ErrorDomain::Storage, "virStorageVolResize")?;
        let mut g = self.pools.lock().await;
        let (pn, vn) = locate(&g, vol, self.backend.wording())?;
        let p = g.get_mut(&pn).expect("found");
        let v = p.volumes.get_mut(&vn).expect("found");
        let target = if flags & rflags::DELTA != 0 {
            if flags & rflags::SHRINK != 0 {
                v.capacity.checked_sub(capacity).ok_or_else(|| {
                    err(
                        ErrorCode::InvalidArg,
                        "can't shrink capacity below current capacity",
                    )
                })?
            } else {
                v.capacity.saturating_add(capacity)
            }
        } else {
            capacity
        };
        if target < v.capacity && flags & rflags::SHRINK == 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            ));
        }
        if flags & rflags::ALLOCATE != 0 {
            let grow = target.saturating_sub(v.allocation.unwrap_or(0));
            if grow > p.def.available {
                return Err(err(
                    ErrorCode::OperationFailed,
                    "Not enough space left in storage pool",
                ));
            }
        }
        self.backend.resize_volume(&p.def, v, target, flags).await?;
        self.backend.sizes_after_change(&mut p.def, &p.volumes);
        Ok(())
    }

    async fn wipe_storage_volume(
        &self,
        vol: &VolRef,
        algorithm: u32,
        flags: u32,
    ) -> Result<(), VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Storage, "virStorageVolWipePattern")?;
        let mut g = self.pools.lock().await;
        let (pn, vn) = locate(&g, vol, self.backend.wording())?;
        let p = g.get_mut(&pn).expect("found");
        let v = p.volumes.get_mut(&vn).expect("found");
        self.backend
            .wipe_volume(&p.def, v, algorithm, flags)
            .await?;
        self.backend.sizes_after_change(&mut p.def, &p.volumes);
        Ok(())
    }

    async fn get_storage_volume_info(
        &self,
        vol: &VolRef,
        flags: u32,
    ) -> Result<VolInfo, VirtError> {
        VirtError::check_flags(flags, 1, ErrorDomain::Storage, "virStorageVolGetInfoFlags")?;
        let g = self.pools.lock().await;
        let (p, v) = locate(&g, vol, self.backend.wording())?;
        Ok(vol_info(&p, &g[&p].volumes[&v]))
    }

    async fn get_storage_volume_xml(&self, vol: &VolRef, flags: u32) -> Result<String, VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Storage, "virStorageVolGetXMLDesc")?;
        let g = self.pools.lock().await;
        let (p, v) = locate(&g, vol, self.backend.wording())?;
        Ok(self.codec.format_volume(&g[&p].volumes[&v]))
    }

    async fn upload_storage_volume(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
        data: ByteStream,
    ) -> Result<u64, VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Storage, "virStorageVolUpload")?;
        let (_, v) = self.resolve_vol(vol).await?;
        let written = self.backend.upload(&v, offset, length, data).await?;
        // The data changed under the volume: re-read its facts.
        let mut g = self.pools.lock().await;
        if let Ok((pn, vn)) = locate(&g, vol, self.backend.wording()) {
            let p = g.get_mut(&pn).expect("found");
            let def = p.def.clone();
            if let Some(v) = p.volumes.get_mut(&vn) {
                let _ = self.backend.probe_volume(&def, v).await;
            }
            self.backend.sizes_after_change(&mut p.def, &p.volumes);
        }
        Ok(written)
    }

    async fn download_storage_volume(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<(u64, ByteStream), VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Storage, "virStorageVolDownload")?;
        let (_, v) = self.resolve_vol(vol).await?;
        self.backend.download(&v, offset, length).await
    }

    async fn subscribe_storage_pool_events(
        &self,
        from: Option<u64>,
    ) -> Result<PoolSubscription, VirtError> {
        Ok(self.bus.subscribe(from))
    }
}

impl<B: PoolBackend> PoolManager<B> {
    /// STORAGE_VOL_EXIST for a taken name; INTERNAL_ERROR when the allocation does not fit.
    fn check_new_volume(&self, p: &Pool, vol: &VolDef) -> Result<(), VirtError> {
        if p.volumes.contains_key(&vol.name) {
            return Err(match self.backend.wording() {
                Wording::Test => err(ErrorCode::OperationFailed, "storage vol already exists"),
                Wording::Storage => err(ErrorCode::StorageVolExist, format!("'{}'", vol.name)),
            });
        }
        let alloc = vol.allocation.unwrap_or(vol.capacity);
        let too_big = match self.backend.wording() {
            Wording::Test => p.def.allocation.saturating_add(alloc) > p.def.capacity,
            Wording::Storage => alloc > p.def.available || vol.capacity > p.def.capacity,
        };
        if too_big {
            return Err(err(
                ErrorCode::InternalError,
                format!("Not enough free space in pool for volume '{}'", vol.name),
            ));
        }
        Ok(())
    }

    fn add_volume(&self, p: &mut Pool, vol: VolDef) -> Result<VolHandle, VirtError> {
        let h = vol_handle(&p.def.name, &vol);
        p.volumes.insert(vol.name.clone(), vol);
        self.backend.sizes_after_change(&mut p.def, &p.volumes);
        Ok(h)
    }
}
