//! [`ClientError`]: everything a client call can fail with — a libvirt-style error the server
//! (or URI parsing) reported, or a failure to reach the server at all.

use std::path::PathBuf;

use virt_core::{ErrorCode, ErrorDomain, VirtError};

/// The error of every `virt_client` call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server, or local URI handling, reported a libvirt-style error. Its code, domain and
    /// detail stay reachable; the text is libvirt's message ("Domain not found: ...").
    #[error("{}", .0.message())]
    Virt(VirtError),

    /// The daemon's UNIX socket could not be connected.
    #[error("failed to connect to the daemon socket '{}': {}", .path.display(), strerror(.source))]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The URI asks for a transport or a remote host this client cannot reach yet.
    #[error("transport '{transport}' of uri '{uri}' is not available: use tls, tcp or ssh")]
    TransportUnavailable {
        /// The URI as given.
        uri: String,
        /// The transport (`tls`, `ssh`, `tcp`, or `remote host` for a bare host name).
        transport: String,
    },

    /// The in-process test driver could not be started.
    #[error("failed to start the embedded test driver: {0}")]
    Embedded(String),

    /// The connection to the daemon broke outside a call (e.g. while setting up the channel).
    #[error("failed to open a channel to the daemon: {0}")]
    Channel(#[source] tonic::transport::Error),

    /// A remote server could not be reached, or its TLS handshake failed (an untrusted server
    /// certificate, a refused client certificate).
    #[error("unable to connect to server at '{target}': {source}")]
    Remote {
        /// `host:port`, or the host and the command run to reach it.
        target: String,
        /// Why; a TLS failure carries the rustls error inside.
        #[source]
        source: std::io::Error,
    },

    /// TLS or remote-transport settings are unusable (a missing CA file, a bad server name).
    #[error("{0}")]
    Tls(String),

    /// The connection URI cannot be sent as gRPC metadata (it holds non-ASCII or control bytes).
    #[error("uri '{0}' cannot be sent in request metadata")]
    BadUriMetadata(String),

    /// No URI was given, none is configured, and no driver daemon socket exists to probe.
    #[error(
        "no connection URI given and no default: pass one (virt -c qemu:///system), or set \
         LIBVIRT_DEFAULT_URI or uri_default in {}; no driver daemon socket found to probe \
         (looked for {})",
        .config.as_ref().map_or("the client config".to_string(), |p| p.display().to_string()),
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoDefaultUri {
        /// The client config file consulted, if any.
        config: Option<PathBuf>,
        /// The sockets probed, in libvirt's order.
        tried: Vec<PathBuf>,
    },
}

impl ClientError {
    /// libvirt's error number for this failure. Connection failures are SYSTEM_ERROR as libvirt
    /// reports a socket it cannot connect; unavailable transports are NO_SUPPORT.
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Virt(e) => e.code,
            ClientError::Connect { .. } => ErrorCode::SystemError,
            ClientError::TransportUnavailable { .. } => ErrorCode::NoSupport,
            ClientError::Embedded(_) => ErrorCode::InternalError,
            ClientError::Channel(_) => ErrorCode::Rpc,
            ClientError::BadUriMetadata(_) => ErrorCode::InvalidArg,
            ClientError::NoDefaultUri { .. } => ErrorCode::NoConnect,
            ClientError::Remote { source, .. } if is_tls_failure(source) => ErrorCode::AuthFailed,
            ClientError::Remote { .. } | ClientError::Tls(_) => ErrorCode::SystemError,
        }
    }

    /// libvirt's error domain: the server's for server errors, RPC for transport failures,
    /// REMOTE for URI and transport selection.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            ClientError::Virt(e) => e.domain,
            ClientError::Connect { .. } | ClientError::Channel(_) => ErrorDomain::Rpc,
            ClientError::Remote { .. } | ClientError::Tls(_) => ErrorDomain::Rpc,
            ClientError::TransportUnavailable { .. }
            | ClientError::BadUriMetadata(_)
            | ClientError::NoDefaultUri { .. } => ErrorDomain::Remote,
            ClientError::Embedded(_) => ErrorDomain::Test,
        }
    }

    /// The server's error, when this is one.
    pub fn virt_error(&self) -> Option<&VirtError> {
        match self {
            ClientError::Virt(e) => Some(e),
            _ => None,
        }
    }
}

impl From<VirtError> for ClientError {
    fn from(e: VirtError) -> ClientError {
        ClientError::Virt(e)
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> ClientError {
        ClientError::Virt(virt_core::status::from_status(&status))
    }
}

/// The C library's text for an I/O error ("No such file or directory"), without Rust's
/// "(os error 2)" suffix, as libvirt prints it.
pub(crate) fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Whether an I/O error is a failed TLS handshake (rustls puts its error inside).
fn is_tls_failure(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_names_the_socket_and_the_c_error_text() {
        let e = ClientError::Connect {
            path: PathBuf::from("/run/virt/virt-proxy-sock"),
            source: std::io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            e.to_string(),
            "failed to connect to the daemon socket '/run/virt/virt-proxy-sock': No such file or directory"
        );
        assert_eq!(e.code(), ErrorCode::SystemError);
    }

    #[test]
    fn server_errors_keep_code_domain_and_libvirt_message() {
        let e = ClientError::from(VirtError::read_only("virDomainDestroy"));
        assert_eq!(e.code(), ErrorCode::OperationDenied);
        assert_eq!(e.domain(), ErrorDomain::Domain);
        assert_eq!(
            e.to_string(),
            "operation forbidden: read only access prevents virDomainDestroy"
        );
        assert!(e.virt_error().is_some());
    }
}
