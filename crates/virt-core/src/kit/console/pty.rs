//! A console pty as a byte stream, for drivers whose guests' consoles are ptys (QEMU's pty
//! chardev, Xen's xenconsoled): the slave side opened non-blocking and driven by tokio's
//! reactor, so an idle console costs no thread; reading ends (end of file) when the session is
//! ended or the other side closes the pty.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use crate::driver::{ConsoleStream, DriverResult};
use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// Opens the pty at `path` as the stream of a console session that ends when `stop` fires
/// (see [`super::Session::begin`]). Errors are SYSTEM_ERROR from `domain` naming the path.
pub fn open_pty(
    path: &str,
    stop: oneshot::Receiver<()>,
    domain: ErrorDomain,
) -> DriverResult<ConsoleStream> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                domain,
                format!("cannot open console pty {path}: {e}"),
            )
        })?;
    // SAFETY: the File is moved into the AsyncFd and stays open (the same descriptor) until
    // the AsyncFd is dropped.
    let fd = unsafe { AsyncFd::register(file) }
        .map_err(|e| VirtError::new(ErrorCode::SystemError, domain, e.to_string()))?;
    Ok(Box::pin(Pty {
        fd,
        stop,
        stopped: false,
    }))
}

/// A pty opened non-blocking, readable and writable through tokio; reading ends (EOF) when
/// `stop` fires.
struct Pty {
    fd: AsyncFd<File>,
    stop: tokio::sync::oneshot::Receiver<()>,
    stopped: bool,
}

impl AsyncRead for Pty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = &mut *self;
        if me.stopped || Pin::new(&mut me.stop).poll(cx).is_ready() {
            me.stopped = true;
            return Poll::Ready(Ok(()));
        }
        loop {
            let mut guard = ready!(me.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|f| f.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // EIO: the other side (QEMU) closed the pty: end of stream.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.stopped {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|f| f.get_ref().write(data)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
