//! Test driver console: the guest side echoes every byte it receives, like a terminal in echo
//! mode, so clients can exercise the console stream without a hypervisor. One session at a
//! time; FORCE takes it over; the session ends when the domain stops.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TestDriver;
use crate::driver::{ConsoleStream, DriverResult};
use crate::error::{ErrorCode, ErrorDomain};
use crate::types::DomainLookup;
use crate::VirtError;

const FORCE: u32 = 1;
const SAFE: u32 = 2;

impl TestDriver {
    pub(crate) fn console(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, FORCE | SAFE, "testDomainOpenConsole")?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        dom.require_active()?;
        if !matches!(dev, "" | "serial0" | "console0") {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Test,
                format!("cannot find character device {dev}"),
            ));
        }
        let busy = dom.console_stop.as_ref().is_some_and(|tx| !tx.is_closed());
        if busy && flags & FORCE == 0 {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Test,
                "Active console session exists for this domain",
            ));
        }
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel();
        dom.console_stop = Some(stop_tx);
        let (client, mut guest) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    n = guest.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if guest.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    },
                }
            }
        });
        Ok(Box::pin(client))
    }
}
