//! `<tpm>`: a Trusted Platform Module and its host backend.

use super::devices::Address;

/// `<tpm>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tpm {
    /// `model=...`: `tpm-tis`, `tpm-crb`, `tpm-spapr`, `spapr-tpm-proxy`; `None` when not
    /// written (libvirt prints nothing then).
    pub model: Option<String>,
    /// `<backend>`.
    pub backend: TpmBackend,
    /// `<alias name=...>` (user alias, `ua-` prefix).
    pub alias: Option<String>,
    /// `<address>` (`spapr-vio` for `tpm-spapr`).
    pub address: Option<Address>,
}

/// `<tpm><backend type=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmBackend {
    /// `type='passthrough'` with `<device path=...>` (`/dev/tpm0` when absent).
    Passthrough {
        /// The host TPM device.
        path: String,
    },
    /// `type='emulator'`: a swtpm process per guest.
    Emulator {
        /// `version='1.2|2.0'`.
        version: Option<String>,
        /// `persistent_state='yes|no'`.
        persistent_state: Option<bool>,
        /// `<encryption secret=...>`: UUID of the secret encrypting the state.
        encryption_secret: Option<String>,
        /// `<active_pcr_banks>` children, in libvirt's order (`sha1`, `sha256`, `sha384`,
        /// `sha512`); needs version 2.0.
        active_pcr_banks: Vec<String>,
    },
    /// `type='external'`: an externally started swtpm on a UNIX socket.
    External {
        /// `<source type='unix' path=...>`.
        path: String,
    },
}

impl Default for TpmBackend {
    fn default() -> Self {
        TpmBackend::Emulator {
            version: None,
            persistent_state: None,
            encryption_secret: None,
            active_pcr_banks: Vec::new(),
        }
    }
}
