//! The console: the guest's serial pty as a byte stream (libvirt: virDomainOpenConsole).
//!
//! The pty's slave side (`/dev/pts/N` from `query-chardev`, in raw mode: QEMU sets it so) is
//! opened non-blocking and driven by tokio's reactor, so an idle console costs no thread.
//! One session at a time: a second open fails unless FORCE, which ends the first. The session
//! ends when the domain stops.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::console::{self as rules, device_alias};
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::QemuDriver;

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

use std::future::Future;

impl QemuDriver {}

#[async_trait::async_trait]
impl Consoles for QemuDriver {
    /// libvirt: virDomainOpenConsole. `dev` is empty (the first console), `serialN` or
    /// `console0`.
    async fn open_console(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, rules::ACCEPTED, "qemuDomainOpenConsole")?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let Some(run) = d.run.as_mut() else {
            return Err(super::not_running(d));
        };
        let alias = device_alias(dev);
        let Some((_, path)) = run.ptys.iter().find(|(a, _)| a == alias) else {
            return Err(if dev.is_empty() {
                VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Qemu,
                    "cannot find default console device: the domain has no pty serial port",
                )
            } else {
                rules::no_such_device(dev, ErrorDomain::Qemu)
            });
        };
        run.console.check_free(flags, ErrorDomain::Qemu)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    format!("cannot open console pty {path}: {e}"),
                )
            })?;
        // SAFETY: the File is moved into the AsyncFd and stays open (the same descriptor)
        // until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(file) }.map_err(|e| {
            VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, e.to_string())
        })?;
        Ok(Box::pin(Pty {
            fd,
            stop: run.console.begin(),
            stopped: false,
        }))
    }
}
