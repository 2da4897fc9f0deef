//! virtstoraged: the storage daemon. It serves [`virt_core::storage::StorageDriver`] for every
//! local URI (qemu:///system, qemu:///session, lxc:///system, xen:///system, storage:///system,
//! storage:///session, and no URI) through the shared pool state machine
//! ([`virt_core::storage::manager::PoolManager`]) over [`backend::HostPools`]; domain calls
//! answer NO_SUPPORT.
//!
//! At start it loads persistent definitions (CONFIG/storage/*.xml) and live status
//! (RUN/storage/*.xml): a pool recorded active whose storage is still there (directory present,
//! file system mounted, volume group present) stays active and is refreshed; then autostart
//! pools start.

pub mod backend;
pub mod qcow2;

use std::path::Path;
use std::sync::Arc;

use virt_core::driver::Driver;
use virt_core::paths::Paths;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::storage::manager::{Pool, PoolBackend, PoolManager};
use virt_core::storage::model::StorageXmlCodec;
use virt_core::storage::StorageDriver;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use backend::{HostPools, Store};

/// The daemon's name (sockets `virtstoraged-sock`, `virtstoraged-sock-ro`).
pub const DAEMON_NAME: &str = "virtstoraged";

/// The storage driver of one daemon.
pub type HostStorage = PoolManager<HostPools>;

/// Opens the driver over `paths`: loads definitions and status, reattaches active pools.
/// Autostart is separate ([`PoolManager::autostart`]).
pub async fn open(
    paths: &Paths,
    codec: Arc<dyn StorageXmlCodec>,
) -> Result<Arc<HostStorage>, VirtError> {
    let store = Store {
        config: paths.config_dir.join("storage"),
        run: paths.run_dir.join("storage"),
    };
    for d in [&store.config, &store.run] {
        std::fs::create_dir_all(d).map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Storage,
                format!("cannot create '{}': {e}", d.display()),
            )
        })?;
    }
    let backend = HostPools::new(store.clone(), codec.clone());
    let mut pools: Vec<Pool> = Vec::new();
    for (path, name) in xml_files(&store.config) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match codec.parse_pool(&text) {
            Ok(def) => {
                let mut p = Pool::new(def, true);
                p.autostart = store
                    .config
                    .join("autostart")
                    .join(format!("{name}.xml"))
                    .exists();
                pools.push(p);
            }
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipping pool config"),
        }
    }
    // Live status: active pools, persistent or transient.
    for (path, name) in xml_files(&store.run) {
        let Ok(def) = std::fs::read_to_string(&path)
            .map_err(|_| ())
            .and_then(|t| codec.parse_pool(&t).map_err(|_| ()))
        else {
            continue;
        };
        if !backend.is_running(&def).await {
            tracing::info!(pool = %name, "pool storage is gone; marking inactive");
            let _ = std::fs::remove_file(&path);
            continue;
        }
        match pools.iter_mut().find(|p| p.def.name == name) {
            Some(p) => {
                if p.def != def {
                    p.next = Some(p.def.clone());
                }
                p.def = def;
                p.active = true;
            }
            None => {
                let mut p = Pool::new(def, false);
                p.active = true;
                pools.push(p);
            }
        }
    }
    let manager = Arc::new(PoolManager::new("storage", codec, backend));
    for p in pools {
        let name = p.def.name.clone();
        let active = p.active;
        if let Err(e) = manager.insert_loaded(p.clone(), None).await {
            tracing::warn!(pool = %name, error = %e, "refresh failed at reattach; pool inactive");
            let mut p = p;
            p.active = false;
            let _ = manager.backend().save_status(&name, None);
            if p.persistent {
                manager.insert_loaded(p, Some(Vec::new())).await?;
            }
        } else if active {
            tracing::info!(pool = %name, "reattached active pool");
        }
    }
    Ok(manager)
}

fn xml_files(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".xml")?.to_string();
            Some((e.path(), stem))
        })
        .collect();
    out.sort();
    out
}

/// Which URIs this daemon serves storage for.
pub struct StorageRegistry {
    storage: Arc<HostStorage>,
}

impl StorageRegistry {
    /// A registry over `storage`.
    pub fn new(storage: Arc<HostStorage>) -> StorageRegistry {
        StorageRegistry { storage }
    }
}

/// Whether `uri` is a local hypervisor or storage URI.
fn local(uri: &str) -> bool {
    virt_core::uri::probe::serves_secondary(virt_core::uri::probe::Secondary::Storage, uri)
}

impl DriverRegistry for StorageRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        let _ = uri;
        Err(VirtError::no_support(
            ErrorDomain::Storage,
            "domain calls are served by the hypervisor daemons, not virtstoraged",
        ))
    }

    fn daemon_info(&self) -> DaemonInfo {
        DaemonInfo {
            driver: "storage".into(),
            schemes: vec!["storage".into(), "qemu".into(), "lxc".into(), "xen".into()],
            features: Vec::new(),
        }
    }

    fn storage_driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn StorageDriver>, VirtError> {
        match uri {
            None | Some("") => Ok(self.storage.clone()),
            Some(u) if local(u) => Ok(self.storage.clone()),
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Storage,
                format!("{u}: virtstoraged serves local URIs only"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_uris_are_served_and_remote_ones_refused() {
        for u in [
            "qemu:///system",
            "qemu:///session",
            "lxc:///system",
            "xen:///system",
            "storage:///system",
        ] {
            assert!(local(u), "{u}");
        }
        assert!(!local("qemu+ssh://host/system"));
        assert!(!local("test:///default"));
    }
}
