//! Reading TLS material from PEM files: certificates, private keys and CA roots, each error
//! naming the file. The `qemu+tls://` client and the daemon's TLS listener
//! (`runtime::tls`, feature `server`) both load their files here; this half needs
//! rustls only, no server stack.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

/// libvirt's default TLS port for `+tls` URIs.
pub const DEFAULT_TLS_PORT: u16 = 16514;

/// Errors loading TLS material; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM object.
    #[error("cannot load {what} from {}: {reason}", path.display())]
    Load {
        /// What the file should hold ("CA certificate", "server key", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration (a key that does not match the certificate, ...).
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// Reads every certificate of a PEM file.
pub fn load_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Load {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(certs)
}

/// Reads the private key of a PEM file.
pub fn load_key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Load {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// A root store of the CA certificates in `path`.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("CA certificate", path)? {
        roots.add(cert).map_err(|e| TlsError::Load {
            what: "CA certificate",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}
