//! Accepted connections: counted for the idle timeout, and cut when shutdown runs out of grace.
//!
//! Every stream a listener accepts is wrapped in a [`Tracked`] stream. It holds a guard on the
//! shared [`ConnTracker`], so the tracker knows how many clients are connected and since when
//! nobody is. It also watches the tracker's kill switch: once [`ConnTracker::kill`] is called,
//! reads and writes fail with `ConnectionAborted`, which makes hyper drop the connection and
//! with it every stream still open on it. tonic runs each connection in its own task, so this
//! is how the runtime ends long-lived streams (event subscriptions) that would otherwise hold a
//! graceful shutdown forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tonic::transport::server::Connected;

/// Counts open connections, remembers when the last one closed, and can cut them all.
#[derive(Debug)]
pub struct ConnTracker {
    open: AtomicUsize,
    quiet_since: Mutex<Instant>,
    kill: watch::Sender<bool>,
}

impl ConnTracker {
    /// A tracker with no connection, quiet since now.
    pub fn new() -> Arc<ConnTracker> {
        Arc::new(ConnTracker {
            open: AtomicUsize::new(0),
            quiet_since: Mutex::new(Instant::now()),
            kill: watch::channel(false).0,
        })
    }

    /// Number of open connections.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// When the daemon last had a connection open (or was busy, see [`ConnTracker::touch`]).
    pub fn quiet_since(&self) -> Instant {
        *self
            .quiet_since
            .lock()
            .expect("quiet_since lock is never poisoned")
    }

    /// Marks the daemon as active now (restarts the idle clock).
    pub fn touch(&self) {
        *self
            .quiet_since
            .lock()
            .expect("quiet_since lock is never poisoned") = Instant::now();
    }

    /// Cuts every tracked connection: their reads and writes fail from now on.
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// Wraps an accepted stream.
    pub fn track<IO>(self: &Arc<Self>, io: IO) -> Tracked<IO> {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.touch();
        let mut rx = self.kill.subscribe();
        Tracked {
            io,
            killed: Box::pin(async move {
                let _ = rx.wait_for(|k| *k).await;
            }),
            is_killed: false,
            _guard: Guard(self.clone()),
        }
    }
}

#[derive(Debug)]
struct Guard(Arc<ConnTracker>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An accepted stream counted by a [`ConnTracker`].
pub struct Tracked<IO> {
    io: IO,
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
    is_killed: bool,
    _guard: Guard,
}

impl<IO> std::fmt::Debug for Tracked<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked")
            .field("is_killed", &self.is_killed)
            .finish_non_exhaustive()
    }
}

impl<IO> Tracked<IO> {
    /// Polls the kill switch; `Err` once the connection has been cut.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.is_killed && self.killed.as_mut().poll(cx).is_ready() {
            self.is_killed = true;
        }
        if self.is_killed {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection cut by daemon shutdown",
            ));
        }
        Ok(())
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<IO: Connected> Connected for crate::busy_poll::BusyPoll<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.get_ref().connect_info()
    }
}

impl<IO: Connected> Connected for Tracked<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tracker_counts_open_connections_and_restarts_the_idle_clock() {
        let t = ConnTracker::new();
        let before = t.quiet_since();
        let (a, _b) = tokio::io::duplex(64);
        let tracked = t.track(a);
        assert_eq!(t.open(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        drop(tracked);
        assert_eq!(t.open(), 0);
        assert!(t.quiet_since() > before);
    }

    #[tokio::test]
    async fn kill_fails_a_pending_read() {
        let t = ConnTracker::new();
        let (a, mut b) = tokio::io::duplex(64);
        let mut tracked = t.track(a);
        b.write_all(b"hi").await.expect("write");
        let mut buf = [0u8; 2];
        tracked
            .read_exact(&mut buf)
            .await
            .expect("read before kill");
        assert_eq!(&buf, b"hi");
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1];
            tracked.read(&mut buf).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        t.kill();
        let res = tokio::time::timeout(std::time::Duration::from_secs(2), reader)
            .await
            .expect("read woke up")
            .expect("task");
        assert_eq!(
            res.expect_err("cut").kind(),
            io::ErrorKind::ConnectionAborted
        );
    }
}
