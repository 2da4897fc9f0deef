//! virDomainOpenConsole's rules for every driver: the flags (FORCE, SAFE), the device names
//! (empty and `console0` mean the first serial port, `serial0`), and one session per domain at
//! a time: a second open fails with OPERATION_FAILED unless FORCE, which ends the first.

use tokio::sync::oneshot;

#[cfg(feature = "server")]
mod pty;
#[cfg(feature = "server")]
pub use pty::open_pty;

use super::flags::console::{FORCE, SAFE};
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// The flags virDomainOpenConsole accepts.
pub const ACCEPTED: u32 = FORCE | SAFE;

/// The alias a console device name stands for: the first serial port for an empty name and
/// for `console0` (on x86 the console is that port), the name itself otherwise.
pub fn device_alias(dev: &str) -> &str {
    match dev {
        "" | "console0" => "serial0",
        other => other,
    }
}

/// INVALID_ARG "cannot find character device DEV" (the schema's documented answer).
pub fn no_such_device(dev: &str, domain: ErrorDomain) -> VirtError {
    VirtError::new(
        ErrorCode::InvalidArg,
        domain,
        format!("cannot find character device {dev}"),
    )
}

/// A domain's console session: at most one; it ends when a FORCE open replaces it, when the
/// domain stops ([`Session::end`]) or when its stream is dropped.
#[derive(Debug, Default)]
pub struct Session(Option<oneshot::Sender<()>>);

impl Session {
    /// A client holds the console.
    pub fn is_open(&self) -> bool {
        self.0.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Refuses an open without FORCE while a session is open.
    pub fn check_free(&self, flags: u32, domain: ErrorDomain) -> DriverResult<()> {
        if self.is_open() && flags & FORCE == 0 {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                domain,
                "Active console session exists for this domain",
            ));
        }
        Ok(())
    }

    /// Starts a new session, ending the previous one; the receiver fires when this session
    /// is ended (the stream then reads end of file).
    pub fn begin(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Some(old) = self.0.replace(tx) {
            let _ = old.send(());
        }
        rx
    }

    /// Ends the session, if any (the domain stopped).
    pub fn end(&mut self) {
        if let Some(old) = self.0.take() {
            let _ = old.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_session_at_a_time_and_force_takes_over() {
        let mut s = Session::default();
        assert!(!s.is_open());
        s.check_free(0, ErrorDomain::Test).expect("accepted");
        let mut first = s.begin();
        assert!(s.is_open());
        let e = s.check_free(SAFE, ErrorDomain::Test).expect_err("refused");
        assert_eq!(e.code, ErrorCode::OperationFailed);
        assert_eq!(
            e.message(),
            "operation failed: Active console session exists for this domain"
        );
        s.check_free(FORCE, ErrorDomain::Test).expect("accepted");
        let mut second = s.begin();
        assert!(first.try_recv().is_ok(), "FORCE ends the first session");
        assert!(second.try_recv().is_err());
        s.end();
        assert!(second.try_recv().is_ok());
        assert!(!s.is_open());
        // A session whose stream went away does not block the next open.
        let dropped = s.begin();
        drop(dropped);
        s.check_free(0, ErrorDomain::Test).expect("accepted");
    }

    #[test]
    fn empty_and_console0_mean_the_first_serial_port() {
        assert_eq!(device_alias(""), "serial0");
        assert_eq!(device_alias("console0"), "serial0");
        assert_eq!(device_alias("serial1"), "serial1");
    }
}
