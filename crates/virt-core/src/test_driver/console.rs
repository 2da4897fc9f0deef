//! Test driver console: the guest side echoes every byte it receives, like a terminal in echo
//! mode, so clients can exercise the console stream without a hypervisor. One session at a
//! time; FORCE takes it over; the session ends when the domain stops.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::{ConsoleStream, DriverResult};
use crate::error::ErrorDomain;
use crate::kit::console::{self as rules, device_alias};
use crate::types::DomainLookup;

#[async_trait::async_trait]
impl Consoles for TestDriver {
    async fn open_console(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, rules::ACCEPTED, "testDomainOpenConsole")?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        dom.require_active()?;
        if device_alias(dev) != "serial0" {
            return Err(rules::no_such_device(dev, ErrorDomain::Test));
        }
        dom.console.check_free(flags, ErrorDomain::Test)?;
        let mut stop_rx = dom.console.begin();
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
