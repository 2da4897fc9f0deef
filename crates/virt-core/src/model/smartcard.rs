//! `<smartcard>`: a smartcard reader in the guest, behind a CCID controller on the guest's USB.

use super::chardev::CharSource;
use super::devices::Address;

/// `<smartcard mode=...>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Smartcard {
    /// `mode=...`: `host` (the host's readers through NSS), `host-certificates` (three
    /// certificates from an NSS database) or `passthrough` (a character device, usually SPICE's).
    pub mode: String,
    /// `<certificate>` texts (host-certificates: exactly three).
    pub certificates: Vec<String>,
    /// `<database>` (host-certificates): the NSS database directory.
    pub database: Option<String>,
    /// The character device of a `passthrough` card (`type=...` and its `<source>`).
    pub source: Option<CharSource>,
    /// `<alias name=...>`: a user alias, or the name the driver gave it for this run.
    pub alias: Option<String>,
    /// `<address type='ccid' controller= slot=>`.
    pub address: Option<Address>,
}
