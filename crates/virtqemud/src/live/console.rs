//! The console: the guest's serial pty as a byte stream (libvirt: virDomainOpenConsole).
//!
//! The pty's slave side (`/dev/pts/N` from `query-chardev`, in raw mode: QEMU sets it so) is
//! the driver kit's pty stream (`kit::console::open_pty`).
//! One session at a time: a second open fails unless FORCE, which ends the first. The session
//! ends when the domain stops.

use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::console::{self as rules, device_alias};
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::QemuDriver;

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
        virt_core::kit::console::open_pty(path, run.console.begin(), ErrorDomain::Qemu)
    }
}
