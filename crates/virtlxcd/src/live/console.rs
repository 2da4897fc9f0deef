//! The console: the container's pty, relayed by its controller (which keeps the output a
//! console client has not read yet, up to 64 KiB, as a pty buffer would), reached over the
//! control socket. One session at a time: a second open fails unless FORCE, which ends the
//! first. The device is `console0` (or no name).

use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::console as rules;
use virt_core::kit::flags::console::FORCE;
use virt_core::kit::table::Entry as _;
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::plan::control::Request;
use crate::LxcDriver;

#[async_trait::async_trait]
impl Consoles for LxcDriver {
    async fn open_console(
        &self,
        lookup: &DomainLookup,
        dev_name: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, rules::ACCEPTED, "lxcDomainOpenConsole")?;
        let socket = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let Some(r) = &d.run else {
                return Err(d.facts().not_running());
            };
            let known = r
                .live
                .devices
                .consoles
                .iter()
                .any(|c| c.alias.as_deref() == Some(dev_name));
            if !(dev_name.is_empty() || known) {
                return Err(rules::no_such_device(dev_name, ErrorDomain::Lxc));
            }
            r.socket.clone()
        };
        let force = flags & FORCE != 0;
        match super::ctl::open(&socket, &Request::Console { force }).await {
            Ok((conn, _)) => Ok(Box::pin(conn)),
            Err(e) if e.detail.contains("in use") => Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Lxc,
                "Active console session exists for this domain",
            )),
            Err(e) => Err(e),
        }
    }
}
