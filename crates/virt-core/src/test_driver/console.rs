//! Test driver console: the guest side echoes every byte it receives, like a terminal in echo
//! mode, so clients can exercise the console stream without a hypervisor. One session at a
//! time; FORCE takes it over; the session ends when the domain stops.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::{ConsoleStream, DriverResult, Screenshot};
use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::kit::console::{self as rules, device_alias};
use crate::kit::keycodes;
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

    /// libvirt's test driver streams a fixed PNG, running or not.
    async fn screenshot(
        &self,
        lookup: &DomainLookup,
        _screen: u32,
        flags: u32,
    ) -> DriverResult<Screenshot> {
        self.check_flags(flags, 0, "testDomainScreenshot")?;
        self.lock().get(lookup)?;
        Ok(Screenshot {
            mime_type: "image/png".into(),
            data: SCREENSHOT.to_vec(),
        })
    }

    async fn send_key(
        &self,
        lookup: &DomainLookup,
        codeset: u32,
        _holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "testDomainSendKey")?;
        keycodes::check_arguments(codeset, keys)?;
        let st = self.lock();
        st.get(lookup)?.require_active()?;
        if let Some(bad) = keys.iter().find(|k| !keycodes::valid(codeset, **k)) {
            return Err(VirtError::internal(
                ErrorDomain::Test,
                format!(
                    "invalid keycode {bad} of {} codeset",
                    keycodes::codeset_name(codeset)
                ),
            ));
        }
        Ok(())
    }

    async fn inject_nmi(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.check_flags(flags, 0, "testDomainInjectNMI")?;
        self.lock().get(lookup)?.require_active()
    }

    /// As libvirt's: only pid 1 (the container's init) and the signals libvirt names, running
    /// or not.
    async fn send_process_signal(
        &self,
        lookup: &DomainLookup,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "testDomainSendProcessSignal")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let invalid = |m: String| VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Test, m);
        if pid != 1 {
            return Err(invalid(
                "only sending a signal to pid 1 is supported".into(),
            ));
        }
        if signum > MAX_SIGNUM {
            return Err(invalid(format!("signum value {signum} is out of range")));
        }
        // libvirt's test driver does not look at the domain's state here.
        let _ = dom;
        Ok(())
    }
}

/// The image the test driver's screenshot returns (a grey gradient).
const SCREENSHOT: &[u8] = include_bytes!("screenshot.png");

/// The last of libvirt's virDomainProcessSignal values (SIGRT32 = 64).
const MAX_SIGNUM: u32 = 64;
