//! TLS for the remote listener: libvirt's PKI layout, mutual authentication with rustls, and
//! the allowed-client-DN list.
//!
//! The handshake itself accepts any client certificate whose key the client proves it holds;
//! whether the certificate is trusted (issued by our CA, in its validity period) and whether
//! its subject DN is on the allowed list is decided right after, per connection, and every
//! request on a connection that fails either check is answered with a gRPC status that says
//! why: UNAUTHENTICATED (AUTH_FAILED) for a missing or untrusted certificate, PERMISSION_DENIED
//! (OPERATION_DENIED... as libvirt words it, AUTH_FAILED's sibling) for a DN not on the list.
//! Refusing inside the handshake would leave the client with a bare TLS alert and no reason;
//! libvirt likewise completes the handshake and then checks the certificate and DN.
//!
//! Reading PEM files (certificates, keys, CA roots), which clients need too, lives in
//! [`crate::tls`]; this module is the server's half.
//!
//! rustls was chosen over OpenSSL bindings: memory-safe, no system library to match, and the
//! `ring` provider keeps the build lean. DNs are read with x509-parser.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::{Layer, Service};

use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::paths::Mode;
/// Re-exported from the layer below ([`crate::tls`]), which clients use without the `server`
/// feature, so that a daemon finds every TLS item here.
pub use crate::tls::{load_certs, load_key, load_roots, TlsError, DEFAULT_TLS_PORT};

/// Where the server's certificates live and who may connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// The CA certificate(s) client certificates must chain to (PEM).
    pub ca_cert: PathBuf,
    /// The server certificate chain (PEM).
    pub server_cert: PathBuf,
    /// The server's private key (PEM).
    pub server_key: PathBuf,
    /// Allowed client subject DNs, as glob patterns (`*`, `?`) over the DN written
    /// `C=GB,O=Example,CN=client` (libvirt's `tls_allowed_dn_list`); empty allows any DN that
    /// the CA signed.
    pub allowed_dns: Vec<String>,
    /// A certificate revocation list (PEM) whose revoked client certificates are untrusted.
    pub crl: Option<PathBuf>,
}

impl TlsSettings {
    /// libvirt's layout: system `/etc/pki/CA/cacert.pem`, `/etc/pki/libvirt/servercert.pem`,
    /// `/etc/pki/libvirt/private/serverkey.pem`; session the same names under
    /// `$HOME/.pki/libvirt/`. With `root`, the system layout below it.
    pub fn libvirt_layout(mode: Mode, root: Option<&Path>) -> TlsSettings {
        let (ca, dir) = match (root, mode) {
            (Some(r), _) => (r.join("etc/pki/CA"), r.join("etc/pki/libvirt")),
            (None, Mode::System) => (
                PathBuf::from("/etc/pki/CA"),
                PathBuf::from("/etc/pki/libvirt"),
            ),
            (None, Mode::Session) => {
                let home =
                    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
                let d = home.join(".pki/libvirt");
                (d.clone(), d)
            }
        };
        let key_dir = if mode == Mode::Session && root.is_none() {
            dir.clone()
        } else {
            dir.join("private")
        };
        TlsSettings {
            ca_cert: ca.join("cacert.pem"),
            server_cert: dir.join("servercert.pem"),
            server_key: key_dir.join("serverkey.pem"),
            allowed_dns: Vec::new(),
            crl: None,
        }
    }
}

/// The subject DN of a DER certificate in libvirt's form, `C=GB,ST=London,O=Example,CN=x`
/// (attributes in certificate order, short names where there are any).
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in cert.subject().iter() {
        for attr in rdn.iter() {
            let oid = attr.attr_type();
            let key = x509_parser::objects::oid2abbrev(oid, registry)
                .map(str::to_string)
                .unwrap_or_else(|_| oid.to_id_string());
            let value = attr.as_str().map(str::to_string).unwrap_or_else(|_| {
                attr.attr_value()
                    .data
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            });
            parts.push(format!("{key}={value}"));
        }
    }
    Some(parts.join(","))
}

/// Whether the glob `pattern` (`*` any run, `?` one character) matches all of `dn`.
pub fn dn_matches(pattern: &str, dn: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = dn.chars().collect();
    go(&p, &s)
}

/// Who is on the other end of a TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerIdentity {
    /// The client sent no certificate.
    NoCertificate,
    /// The client's certificate is not trusted (another CA, expired, ...).
    Untrusted {
        /// The certificate's subject DN, when readable.
        dn: Option<String>,
        /// Why it is not trusted.
        reason: String,
    },
    /// A certificate our CA issued, with its subject DN.
    Trusted {
        /// The subject DN.
        dn: String,
    },
}

impl PeerIdentity {
    /// Whether this peer may call, given the allowed DN patterns: UNAUTHENTICATED
    /// (AUTH_FAILED) for a missing or untrusted certificate, PERMISSION_DENIED
    /// (OPERATION_DENIED) for a DN that no pattern matches.
    pub fn authorize(&self, allowed: &[String]) -> Result<(), VirtError> {
        match self {
            PeerIdentity::NoCertificate => Err(VirtError::new(
                ErrorCode::AuthFailed,
                ErrorDomain::Rpc,
                "no client certificate: this listener requires a certificate issued by its CA",
            )),
            PeerIdentity::Untrusted { dn, reason } => Err(VirtError::new(
                ErrorCode::AuthFailed,
                ErrorDomain::Rpc,
                format!(
                    "client certificate{} is not trusted: {reason}",
                    dn.as_deref().map(|d| format!(" '{d}'")).unwrap_or_default()
                ),
            )),
            PeerIdentity::Trusted { dn } => {
                if allowed.is_empty() || allowed.iter().any(|p| dn_matches(p, dn)) {
                    Ok(())
                } else {
                    Err(VirtError::new(
                        ErrorCode::OperationDenied,
                        ErrorDomain::Rpc,
                        format!(
                            "client's x509 distinguished name '{dn}' is not on the list of \
                             allowed clients (tls_allowed_dn_list)"
                        ),
                    ))
                }
            }
        }
    }
}

/// Accepts every certificate in the handshake (signatures are still verified, so the client
/// proves it holds the key); trust is judged after the handshake ([`TlsAcceptor::accept`]).
#[derive(Debug)]
struct DeferredVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for DeferredVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The server side of the TLS listener.
#[derive(Clone)]
pub struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads the CA, certificate and key of `settings`; HTTP/2 is the only ALPN protocol.
    pub fn new(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(load_roots(&settings.ca_cert)?);
        let mut builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        if let Some(path) = &settings.crl {
            let crls = CertificateRevocationListDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError::Load {
                    what: "certificate revocation list",
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            builder = builder.with_crls(crls);
        }
        let verifier = builder
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let certs = load_certs("server certificate", &settings.server_cert)?;
        let key = load_key("server key", &settings.server_key)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(Arc::new(DeferredVerifier {
                inner: verifier.clone(),
            }))
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            verifier,
        })
    }

    /// Runs the handshake on `io` and judges the client's certificate.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<TlsConn<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let stream = self.acceptor.accept(io).await?;
        let peer = match stream.get_ref().1.peer_certificates() {
            None | Some([]) => PeerIdentity::NoCertificate,
            Some([end, intermediates @ ..]) => {
                let dn = subject_dn(end);
                match self
                    .verifier
                    .verify_client_cert(end, intermediates, UnixTime::now())
                {
                    Ok(_) => PeerIdentity::Trusted {
                        dn: dn.unwrap_or_default(),
                    },
                    Err(e) => PeerIdentity::Untrusted {
                        dn,
                        reason: e.to_string(),
                    },
                }
            }
        };
        Ok(TlsConn { stream, peer })
    }
}

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The TLS connections accepted on `listener`. Handshakes run concurrently, each bounded by
/// [`HANDSHAKE_TIMEOUT`], so a slow or silent client never holds up the others; a failed
/// handshake is logged and dropped. The stream ends when the receiver is dropped.
pub fn incoming(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
) -> impl futures_util::Stream<Item = io::Result<TlsConn<tokio::net::TcpStream>>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                () = tx.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS listener accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(conn)) => {
                        tracing::debug!(%peer, identity = ?conn.peer(), "TLS client connected");
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// An accepted TLS connection and who is on the other end.
pub struct TlsConn<IO> {
    stream: tokio_rustls::server::TlsStream<IO>,
    peer: PeerIdentity,
}

impl<IO> TlsConn<IO> {
    /// The client's identity.
    pub fn peer(&self) -> &PeerIdentity {
        &self.peer
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsConn<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsConn<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl<IO> tonic::transport::server::Connected for TlsConn<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> PeerIdentity {
        self.peer.clone()
    }
}

/// Tower layer refusing every request of a TLS connection whose peer is not authorized
/// ([`PeerIdentity::authorize`]). It reads the [`PeerIdentity`] from the request's
/// extensions; a request without one is refused too, so the layer fails closed.
#[derive(Clone, Debug)]
pub struct TlsAuthLayer {
    allowed: Arc<Vec<String>>,
}

impl TlsAuthLayer {
    /// A layer admitting trusted clients whose DN matches one of `allowed` (any when empty).
    pub fn new(allowed: Vec<String>) -> TlsAuthLayer {
        TlsAuthLayer {
            allowed: Arc::new(allowed),
        }
    }
}

impl<S> Layer<S> for TlsAuthLayer {
    type Service = TlsAuthService<S>;

    fn layer(&self, inner: S) -> TlsAuthService<S> {
        TlsAuthService {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

/// The service made by [`TlsAuthLayer`].
#[derive(Clone, Debug)]
pub struct TlsAuthService<S> {
    inner: S,
    allowed: Arc<Vec<String>>,
}

impl<S, B, R> Service<http::Request<B>> for TlsAuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Either<Ready<Result<http::Response<R>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let verdict = match req.extensions().get::<PeerIdentity>() {
            Some(peer) => peer.authorize(&self.allowed),
            None => PeerIdentity::NoCertificate.authorize(&self.allowed),
        };
        match verdict {
            Ok(()) => Either::Right(self.inner.call(req)),
            Err(e) => {
                tracing::info!(path = req.uri().path(), error = %e.message(), "TLS client refused");
                let status = crate::status::to_status(&e);
                Either::Left(futures_util::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
