//! Where a daemon keeps its files (ARCHITECTURE decision 8): one root moves the whole tree.
//!
//! | mode | config | state | run (sockets) |
//! |---|---|---|---|
//! | system (uid 0) | /etc/virt | /var/lib/virt | /run/virt |
//! | session | $XDG_CONFIG_HOME/virt (~/.config/virt) | $XDG_DATA_HOME/virt (~/.local/share/virt) | $XDG_RUNTIME_DIR/virt (~/.cache/virt/run) |
//! | `--root DIR` / `VIRT_ROOT` | DIR/etc/virt | DIR/var/lib/virt | DIR/run/virt |
//!
//! Sockets are `RUN/NAME-sock` and `RUN/NAME-sock-ro`; they never clash with libvirt's
//! `/run/libvirt`. Session mode has no read-only socket (as libvirt) unless a root is given.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A directory of the tree could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create directory {}", path.display())]
pub struct CreateDirError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// System-wide or per-user instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The system instance (`qemu:///system`).
    System,
    /// A per-user instance (`qemu:///session`).
    Session,
}

impl Mode {
    /// System when the effective uid is 0, session otherwise.
    pub fn current() -> Mode {
        if nix::unistd::geteuid().is_root() {
            Mode::System
        } else {
            Mode::Session
        }
    }
}

/// The resolved directories of one daemon instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Persistent configuration (domain definitions).
    pub config_dir: PathBuf,
    /// Persistent state (images, saved state, snapshots).
    pub state_dir: PathBuf,
    /// Runtime files: sockets, live status, pid files.
    pub run_dir: PathBuf,
    /// The instance's mode.
    pub mode: Mode,
    /// The root given with `--root` / `VIRT_ROOT`, if any.
    pub root: Option<PathBuf>,
}

impl Paths {
    /// Resolves the tree for `mode`, under `root` when given (system layout there).
    pub fn resolve(root: Option<&Path>, mode: Mode) -> Paths {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Paths::resolve_with(root, mode, env)
    }

    fn resolve_with(
        root: Option<&Path>,
        mode: Mode,
        env: impl Fn(&str) -> Option<PathBuf>,
    ) -> Paths {
        if let Some(root) = root {
            return Paths {
                config_dir: root.join("etc/virt"),
                state_dir: root.join("var/lib/virt"),
                run_dir: root.join("run/virt"),
                mode,
                root: Some(root.to_path_buf()),
            };
        }
        match mode {
            Mode::System => Paths {
                config_dir: PathBuf::from("/etc/virt"),
                state_dir: PathBuf::from("/var/lib/virt"),
                run_dir: PathBuf::from("/run/virt"),
                mode,
                root: None,
            },
            Mode::Session => {
                let home = env("HOME").unwrap_or_else(home_from_passwd);
                let config = env("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
                let data = env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"));
                let run_dir = env("XDG_RUNTIME_DIR")
                    .map(|d| d.join("virt"))
                    .unwrap_or_else(|| home.join(".cache/virt/run"));
                Paths {
                    config_dir: config.join("virt"),
                    state_dir: data.join("virt"),
                    run_dir,
                    mode,
                    root: None,
                }
            }
        }
    }

    /// The read-write socket of daemon `daemon`: `RUN/NAME-sock`.
    pub fn socket(&self, daemon: &str) -> PathBuf {
        self.run_dir.join(format!("{daemon}-sock"))
    }

    /// The read-only socket of daemon `daemon`: `RUN/NAME-sock-ro`.
    pub fn socket_ro(&self, daemon: &str) -> PathBuf {
        self.run_dir.join(format!("{daemon}-sock-ro"))
    }

    /// Whether this instance has a read-only socket: system mode, or any rooted tree.
    pub fn has_ro_socket(&self) -> bool {
        self.mode == Mode::System || self.root.is_some()
    }

    /// Creates the three directories (and parents) with mode 0755.
    pub fn create_dirs(&self) -> Result<(), CreateDirError> {
        for dir in [&self.config_dir, &self.state_dir, &self.run_dir] {
            create_dir(dir)?;
        }
        Ok(())
    }
}

fn create_dir(dir: &Path) -> Result<(), CreateDirError> {
    let err = |source| CreateDirError {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    Ok(())
}

fn home_from_passwd() -> PathBuf {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let map: HashMap<String, PathBuf> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn system_mode_uses_etc_var_lib_and_run() {
        let p = Paths::resolve(None, Mode::System);
        assert_eq!(p.config_dir, PathBuf::from("/etc/virt"));
        assert_eq!(p.state_dir, PathBuf::from("/var/lib/virt"));
        assert_eq!(
            p.socket("virtqemud"),
            PathBuf::from("/run/virt/virtqemud-sock")
        );
        assert_eq!(
            p.socket_ro("virtqemud"),
            PathBuf::from("/run/virt/virtqemud-sock-ro")
        );
        assert!(p.has_ro_socket());
    }

    #[test]
    fn session_mode_follows_xdg_dirs() {
        let env = env_of(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("XDG_DATA_HOME", "/data"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        let p = Paths::resolve_with(None, Mode::Session, env);
        assert_eq!(p.config_dir, PathBuf::from("/cfg/virt"));
        assert_eq!(p.state_dir, PathBuf::from("/data/virt"));
        assert_eq!(p.run_dir, PathBuf::from("/run/user/1000/virt"));
        assert!(!p.has_ro_socket());
    }

    #[test]
    fn session_mode_falls_back_to_home() {
        let p = Paths::resolve_with(None, Mode::Session, env_of(&[("HOME", "/home/u")]));
        assert_eq!(p.config_dir, PathBuf::from("/home/u/.config/virt"));
        assert_eq!(p.state_dir, PathBuf::from("/home/u/.local/share/virt"));
        assert_eq!(p.run_dir, PathBuf::from("/home/u/.cache/virt/run"));
    }

    #[test]
    fn root_moves_the_system_layout_and_keeps_the_ro_socket() {
        let p = Paths::resolve(Some(Path::new("/tmp/r")), Mode::Session);
        assert_eq!(p.config_dir, PathBuf::from("/tmp/r/etc/virt"));
        assert_eq!(p.state_dir, PathBuf::from("/tmp/r/var/lib/virt"));
        assert_eq!(
            p.socket("virtxend"),
            PathBuf::from("/tmp/r/run/virt/virtxend-sock")
        );
        assert!(p.has_ro_socket());
    }

    #[test]
    fn create_dirs_makes_all_three_with_mode_0755() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = Paths::resolve(Some(tmp.path()), Mode::System);
        p.create_dirs().expect("create");
        for d in [&p.config_dir, &p.state_dir, &p.run_dir] {
            let mode = std::fs::metadata(d).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o755, "{}", d.display());
        }
    }
}
