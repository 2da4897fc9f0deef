//! Persistent definitions on disk, as libvirt's drivers keep them: `DIR/NAME.xml` (inactive
//! XML, mode 0600, written atomically), autostart as the symlink `DIR/autostart/NAME.xml`
//! pointing at it. `DIR` is `CONFIG/DRIVER` (`/etc/virt/qemu`, `/etc/virt/lxc` for the system
//! instances).

use std::path::{Path, PathBuf};

use crate::model::DomainDef;
use crate::VirtError;

/// A failed file operation, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct StoreError {
    /// What was being done ("write", "remove", ...).
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// A definition read back from disk.
#[derive(Debug, Clone)]
pub struct StoredDomain {
    /// The parsed definition.
    pub def: DomainDef,
    /// Whether its autostart link exists.
    pub autostart: bool,
}

/// The definitions directory of one driver instance.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> ConfigStore {
        ConfigStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/NAME.xml`.
    pub fn config_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.xml"))
    }

    /// `DIR/autostart/NAME.xml`.
    pub fn autostart_path(&self, name: &str) -> PathBuf {
        self.dir.join("autostart").join(format!("{name}.xml"))
    }

    /// Writes `xml` as the definition of `name`, atomically.
    pub fn save(&self, name: &str, xml: &str) -> Result<(), StoreError> {
        let path = self.config_path(name);
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError {
            action: "create directory",
            path: self.dir.clone(),
            source,
        })?;
        crate::fsutil::write_atomic(&path, xml.as_bytes(), 0o600).map_err(|source| StoreError {
            action: "write",
            path,
            source,
        })
    }

    /// Removes the definition of `name` and its autostart link; missing files are fine.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.set_autostart(name, false)?;
        remove_if_present(&self.config_path(name))
    }

    /// Whether `name` is marked for autostart.
    pub fn is_autostart(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.autostart_path(name)).is_ok()
    }

    /// Creates or removes the autostart link of `name`.
    pub fn set_autostart(&self, name: &str, on: bool) -> Result<(), StoreError> {
        let link = self.autostart_path(name);
        if !on {
            return remove_if_present(&link);
        }
        let dir = self.dir.join("autostart");
        std::fs::create_dir_all(&dir).map_err(|source| StoreError {
            action: "create directory",
            path: dir,
            source,
        })?;
        remove_if_present(&link)?;
        let target =
            std::path::absolute(self.config_path(name)).unwrap_or_else(|_| self.config_path(name));
        std::os::unix::fs::symlink(&target, &link).map_err(|source| StoreError {
            action: "create autostart link",
            path: link,
            source,
        })
    }

    /// Reads every `DIR/*.xml` with `parse`. A file that cannot be read or parsed, or whose
    /// name is not its domain's name, is logged and skipped; temporary files left by a crash
    /// during a write are removed.
    pub fn load_all(
        &self,
        parse: impl Fn(&str) -> Result<DomainDef, VirtError>,
    ) -> Vec<StoredDomain> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot read definitions");
                return Vec::new();
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let mut out = Vec::new();
        for path in paths {
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if file.starts_with('.') && file.contains(".xml.tmp.") {
                tracing::info!(file = %path.display(), "removing a temporary file left by a crash");
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(stem) = file.strip_suffix(".xml") else {
                continue;
            };
            if !path.is_file() {
                continue;
            }
            let def = match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(&text).map_err(|e| e.message()))
            {
                Ok(def) => def,
                Err(why) => {
                    tracing::warn!(file = %path.display(), error = %why, "skipping unusable domain definition");
                    continue;
                }
            };
            if def.name != stem {
                tracing::warn!(
                    file = %path.display(),
                    name = %def.name,
                    "skipping domain definition: the file name does not match the domain name"
                );
                continue;
            }
            let autostart = self.is_autostart(stem);
            out.push(StoredDomain { def, autostart });
        }
        out
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError {
            action: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}
