//! One pooled HTTP/2 connection per backend socket, opened lazily and reopened when it dies.
//!
//! HTTP/2 multiplexes every call on one connection, so one per socket is the whole pool. A
//! connection found closed (the daemon restarted) is replaced by a new one before the call is
//! sent; a connection that fails its readiness check is replaced once, since no byte of the
//! call has left then. A call that fails after it was sent is not retried: it may have run.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::UnixStream;
use tonic::body::Body;

/// Why a call could not be delivered to a backend.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The socket could not be connected (daemon not running).
    #[error("{}", strerror(.0))]
    Connect(#[source] io::Error),
    /// The HTTP/2 handshake or the call failed.
    #[error("{0}")]
    Http(#[source] hyper::Error),
}

fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// One socket's connection: the current sender (read on every call), and a lock held while
/// connecting so that concurrent callers wait for one new connection instead of making many.
#[derive(Debug, Default)]
struct SlotInner {
    current: Mutex<Option<SendRequest<Body>>>,
    connecting: tokio::sync::Mutex<()>,
}

type Slot = Arc<SlotInner>;

/// The connections, by socket path.
#[derive(Debug, Default)]
pub struct Pool {
    slots: Mutex<HashMap<PathBuf, Slot>>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    fn slot(&self, path: &Path) -> Slot {
        let mut slots = self.slots.lock().expect("pool lock is never poisoned");
        if let Some(s) = slots.get(path) {
            return s.clone();
        }
        slots.entry(path.to_path_buf()).or_default().clone()
    }

    /// The slot's sender if it is open.
    fn open_sender(slot: &SlotInner) -> Option<SendRequest<Body>> {
        let current = slot.current.lock().expect("slot lock is never poisoned");
        current.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    /// A sender on the connection to `path`, connecting when there is none or it died;
    /// `fresh` replaces the current one (it failed its readiness check).
    async fn sender(&self, path: &Path, fresh: bool) -> Result<SendRequest<Body>, PoolError> {
        let slot = self.slot(path);
        if !fresh {
            if let Some(s) = Pool::open_sender(&slot) {
                return Ok(s);
            }
        }
        let _connecting = slot.connecting.lock().await;
        if !fresh {
            // Someone else may have connected while we waited.
            if let Some(s) = Pool::open_sender(&slot) {
                return Ok(s);
            }
        }
        *slot.current.lock().expect("slot lock is never poisoned") = None;
        let stream = UnixStream::connect(path)
            .await
            .map_err(PoolError::Connect)?;
        let (sender, conn) = Builder::new(TokioExecutor::new())
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Http)?;
        let label = path.display().to_string();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(backend = %label, error = %e, "backend connection ended");
            }
        });
        *slot.current.lock().expect("slot lock is never poisoned") = Some(sender.clone());
        Ok(sender)
    }

    /// Sends `req` to the daemon on `path` and returns its response head (the body streams).
    pub async fn send(
        &self,
        path: &Path,
        req: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, PoolError> {
        let mut sender = self.sender(path, false).await?;
        if sender.ready().await.is_err() {
            sender = self.sender(path, true).await?;
            sender.ready().await.map_err(PoolError::Http)?;
        }
        sender.send_request(req).await.map_err(PoolError::Http)
    }
}
