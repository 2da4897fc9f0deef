//! The daemon's UNIX listening sockets: bound here, or adopted from systemd.
//!
//! Binding `PATH`: if something exists there, a connect is tried first. If a daemon answers, we
//! refuse to start ("daemon already running on PATH") rather than steal its socket; if nobody
//! answers the file is stale and is removed; if it is not a socket at all we refuse to touch it.
//! After `bind` the mode is set with chmod: 0600 for read-write, 0666 for read-only. Between the
//! two the socket has the umask's mode (0755 with the usual 022), which lets nobody but the
//! owner connect, so there is no window where the read-write socket is open to others.
//!
//! A socket the runtime bound is unlinked when its [`Listener`] is dropped; a socket systemd
//! passed is left alone (`RemoveOnStop=` is systemd's business).

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::net::{UnixListener, UnixStream};

use super::authority::AuthorityFix;
use super::conn::{ConnTracker, Tracked};
use super::polkit::PeerConn;
use super::RuntimeError;
use crate::busy_poll::BusyPoll;

/// Pause after a failed accept.
const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Mode of the read-write socket.
pub const RW_MODE: u32 = 0o600;
/// Mode of the read-only socket.
pub const RO_MODE: u32 = 0o666;

/// One listening socket and what it is for.
#[derive(Debug)]
pub struct Listener {
    /// What to call it in logs and errors: its path, or `fd N` for an activated socket.
    pub label: String,
    /// Whether calls arriving here are read-only.
    pub read_only: bool,
    listener: UnixListener,
    unlink: Option<PathBuf>,
}

impl Listener {
    /// Binds `path` with `mode`, after removing a stale socket there.
    pub fn bind(path: &Path, mode: u32, read_only: bool) -> Result<Listener, RuntimeError> {
        Listener::bind_with_group(path, mode, None, read_only)
    }

    /// Binds `path` with `mode` and, when given, group `gid` (`unix_sock_group`), after
    /// removing a stale socket there. The group is set before the mode, so the socket is never
    /// open to a group it was not meant for.
    pub fn bind_with_group(
        path: &Path,
        mode: u32,
        gid: Option<u32>,
        read_only: bool,
    ) -> Result<Listener, RuntimeError> {
        clear_stale(path)?;
        let listener = UnixListener::bind(path).map_err(|source| RuntimeError::Bind {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| {
                RuntimeError::Chown {
                    path: path.to_path_buf(),
                    gid,
                    source,
                }
            })?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| RuntimeError::Chmod {
                path: path.to_path_buf(),
                mode,
                source,
            },
        )?;
        Ok(Listener {
            label: path.display().to_string(),
            read_only,
            listener,
            unlink: Some(path.to_path_buf()),
        })
    }

    /// Adopts a listening socket passed by systemd.
    pub fn adopt(fd: OwnedFd, read_only: bool) -> Result<Listener, RuntimeError> {
        use std::os::fd::AsRawFd;
        let raw = fd.as_raw_fd();
        let err = |source| RuntimeError::AdoptFd { fd: raw, source };
        let std_listener = std::os::unix::net::UnixListener::from(fd);
        std_listener.set_nonblocking(true).map_err(err)?;
        let label = match std_listener.local_addr().map_err(err)?.as_pathname() {
            Some(p) => p.display().to_string(),
            None => format!("fd {raw}"),
        };
        let listener = UnixListener::from_std(std_listener).map_err(err)?;
        Ok(Listener {
            label,
            read_only,
            listener,
            unlink: None,
        })
    }

    /// The accepted connections, each counted by `tracker`, with any HTTP/2 `:authority`
    /// accepted ([`AuthorityFix`]) and polling for `busy_poll` after each answer
    /// ([`BusyPoll`]), carrying the peer's credentials and the connection's polkit verdict
    /// ([`PeerConn`]). An accept error (EMFILE, say) is logged and followed by a short pause,
    /// so that it cannot spin the accept loop.
    #[allow(clippy::type_complexity)]
    pub fn incoming(
        self,
        tracker: Arc<ConnTracker>,
        busy_poll: Duration,
    ) -> impl Stream<Item = io::Result<PeerConn<Tracked<AuthorityFix<BusyPoll<UnixStream>>>>>>
           + Send
           + 'static {
        futures_util::stream::unfold((self, tracker), move |(l, tracker)| async move {
            let item = match l.listener.accept().await {
                Ok((stream, _)) => Ok(PeerConn::new(
                    tracker.track(AuthorityFix::new(BusyPoll::new(stream, busy_poll))),
                )),
                Err(e) => {
                    tracing::warn!(listener = %l.label, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    Err(e)
                }
            };
            Some((item, (l, tracker)))
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(path) = &self.unlink {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes a stale socket at `path`; errors if a live daemon answers there or it is no socket.
pub fn clear_stale(path: &Path) -> Result<(), RuntimeError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RuntimeError::Bind {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(RuntimeError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(RuntimeError::AlreadyRunning {
            path: path.to_path_buf(),
        });
    }
    tracing::info!(path = %path.display(), "removing stale socket");
    std::fs::remove_file(path).map_err(|source| RuntimeError::RemoveStale {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn bind_sets_the_mode_and_drop_unlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d-sock");
        let l = Listener::bind(&path, RW_MODE, false).expect("bind");
        assert_eq!(mode_of(&path), 0o600);
        drop(l);
        assert!(!path.exists());
        let _ro = Listener::bind(&path, RO_MODE, true).expect("bind ro");
        assert_eq!(mode_of(&path), 0o666);
    }

    #[tokio::test]
    async fn bind_with_group_sets_group_then_mode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g-sock");
        // root can hand the socket to another group (1, "daemon" on Debian); anyone else to
        // their own.
        let gid = if nix::unistd::geteuid().is_root() {
            1
        } else {
            nix::unistd::getegid().as_raw()
        };
        let _l = Listener::bind_with_group(&path, 0o660, Some(gid), false).expect("bind");
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.gid(), gid);
        assert_eq!(mode_of(&path), 0o660);
    }

    #[tokio::test]
    async fn stale_socket_is_replaced_but_a_live_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d-sock");
        // a stale socket: bound, then its listener closed without unlinking
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        let live = Listener::bind(&path, RW_MODE, false).expect("stale replaced");
        let err = Listener::bind(&path, RW_MODE, false).expect_err("live refused");
        assert_eq!(
            err.to_string(),
            format!("daemon already running on {}", path.display())
        );
        drop(live);
    }

    #[tokio::test]
    async fn a_regular_file_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d-sock");
        std::fs::write(&path, b"keep me").expect("write");
        let err = Listener::bind(&path, RW_MODE, false).expect_err("not a socket");
        assert!(matches!(err, RuntimeError::NotASocket { .. }), "{err}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"keep me");
    }

    #[tokio::test]
    async fn bind_in_a_missing_directory_names_the_path() {
        let path = PathBuf::from("/nonexistent-virt-dir/x-sock");
        let err = Listener::bind(&path, RW_MODE, false).expect_err("no dir");
        assert_eq!(
            err.to_string(),
            "cannot bind socket /nonexistent-virt-dir/x-sock"
        );
    }

    #[tokio::test]
    async fn incoming_counts_connections() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d-sock");
        let tracker = ConnTracker::new();
        let mut incoming = Box::pin(
            Listener::bind(&path, RW_MODE, false)
                .expect("bind")
                .incoming(tracker.clone(), std::time::Duration::ZERO),
        );
        let _client = UnixStream::connect(&path).await.expect("connect");
        let server_side = incoming.next().await.expect("item").expect("accept");
        assert_eq!(tracker.open(), 1);
        drop(server_side);
        assert_eq!(tracker.open(), 0);
    }
}
