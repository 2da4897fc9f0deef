//! The console: xenconsoled's pty for the domain (`/local/domain/DOMID/console/tty` in the Xen
//! Store), as a byte stream through the driver kit's pty stream. One session at a time: a
//! second open fails unless FORCE, which ends the first. The device is the first console
//! (`console0`, `serial0` or no name).

use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::console as rules;
use virt_core::kit::table::Entry as _;
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::XenDriver;

#[async_trait::async_trait]
impl Consoles for XenDriver {
    async fn open_console(
        &self,
        lookup: &DomainLookup,
        dev_name: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, rules::ACCEPTED, "libxlDomainOpenConsole")?;
        if !matches!(dev_name, "" | "console0" | "serial0") {
            return Err(rules::no_such_device(dev_name, ErrorDomain::Libxl));
        }
        let (domid, _) = self.running(lookup)?;
        let xs = self.store_ro().await?;
        let tty = xs
            .read_string(&format!("/local/domain/{domid}/console/tty"))
            .await;
        xs.close();
        let tty = tty.map_err(|e| {
            VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Libxl,
                format!("the domain's console has no pty in the Xen Store (is xenconsoled running?): {e}"),
            )
        })?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let Some(run) = d.run.as_mut() else {
            return Err(d.facts().not_running());
        };
        run.console.check_free(flags, ErrorDomain::Libxl)?;
        rules::open_pty(tty.trim(), run.console.begin(), ErrorDomain::Libxl)
    }
}
