//! Remote transports: `+tls` (mutual TLS, libvirt's PKI layout), `+tcp` (plain TCP, which the
//! server refuses unless its administrator enabled it) and `+ssh` (ssh runs a stdio bridge,
//! `virt-proxy --stdio`, on the remote host and the gRPC connection runs over ssh's stdin and
//! stdout, as libvirt's ssh transport runs `virt-ssh-helper`).
//!
//! URI parameters, as libvirt's: `pkipath=DIR` (a directory holding `cacert.pem`,
//! `clientcert.pem`, `clientkey.pem`), `no_verify=1` (do not check the server certificate),
//! `command=SSH` (the ssh binary), `keyfile=PATH`, `no_tty=1` (ssh BatchMode), `socket=PATH`
//! (the remote proxy socket for ssh).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tonic::transport::{Channel, Endpoint};
use tower::service_fn;

use virt_core::tls::{load_certs, load_key, load_roots, DEFAULT_TLS_PORT};
use virt_core::uri::ConnectUri;

use crate::error::ClientError;

/// libvirt's default port for `+tcp`.
pub const DEFAULT_TCP_PORT: u16 = 16509;

/// Where the client's certificates are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// CA certificate(s) the server certificate must chain to.
    pub ca_cert: PathBuf,
    /// The client certificate, sent when present.
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
    /// Skip verifying the server's certificate (`no_verify=1`).
    pub no_verify: bool,
}

impl ClientTlsFiles {
    /// The files for `uri`: `pkipath=DIR` when given; else, for a non-root user whose
    /// `~/.pki/libvirt/clientcert.pem` exists, that directory (CA included); else the system
    /// layout (`/etc/pki/CA/cacert.pem`, `/etc/pki/libvirt/clientcert.pem`,
    /// `/etc/pki/libvirt/private/clientkey.pem`), as libvirt looks them up.
    pub fn for_uri(uri: &ConnectUri) -> ClientTlsFiles {
        let no_verify = uri.param("no_verify").is_some_and(|v| v != "0");
        let in_dir = |d: &Path| ClientTlsFiles {
            ca_cert: d.join("cacert.pem"),
            client_cert: d.join("clientcert.pem"),
            client_key: d.join("clientkey.pem"),
            no_verify,
        };
        if let Some(dir) = uri.param("pkipath") {
            return in_dir(Path::new(dir));
        }
        if !nix::unistd::geteuid().is_root() {
            if let Some(home) = std::env::var_os("HOME") {
                let dir = PathBuf::from(home).join(".pki/libvirt");
                if dir.join("clientcert.pem").exists() {
                    return in_dir(&dir);
                }
            }
        }
        ClientTlsFiles {
            ca_cert: "/etc/pki/CA/cacert.pem".into(),
            client_cert: "/etc/pki/libvirt/clientcert.pem".into(),
            client_key: "/etc/pki/libvirt/private/clientkey.pem".into(),
            no_verify,
        }
    }

    /// The rustls configuration: our CA, our certificate when its file exists, HTTP/2 ALPN.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        let tls_err = |e: &dyn std::fmt::Display| ClientError::Tls(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(&e))?;
        let builder = if self.no_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let roots = load_roots(&self.ca_cert).map_err(|e| tls_err(&e))?;
            builder.with_root_certificates(roots)
        };
        let mut config = if self.client_cert.exists() {
            let certs =
                load_certs("client certificate", &self.client_cert).map_err(|e| tls_err(&e))?;
            let key = load_key("client key", &self.client_key).map_err(|e| tls_err(&e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls_err(&e))?
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Accepts any server certificate (`no_verify=1`); handshake signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The host of a remote URI, or the error naming the URI.
fn host_of(uri: &ConnectUri, text: &str) -> Result<String, ClientError> {
    uri.host
        .clone()
        .ok_or_else(|| ClientError::Tls(format!("uri '{text}' names no host")))
}

/// A channel over mutual TLS to `host:port` (16514 by default). The handshake runs up front
/// so that an untrusted server or a refused certificate is reported with its reason.
pub async fn tls_channel(uri: &ConnectUri, text: &str) -> Result<Channel, ClientError> {
    let host = host_of(uri, text)?;
    let port = uri.port.unwrap_or(DEFAULT_TLS_PORT);
    let files = ClientTlsFiles::for_uri(uri);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(files.client_config()?));
    let name = ServerName::try_from(host.clone())
        .map_err(|e| ClientError::Tls(format!("'{host}' is not a valid server name: {e}")))?;
    let dial = move || {
        let (host, name, connector) = (host.clone(), name.clone(), connector.clone());
        async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            connector.connect(name, tcp).await
        }
    };
    let first = dial().await.map_err(|e| ClientError::Remote {
        target: format!("{}:{port}", uri.host.as_deref().unwrap_or_default()),
        source: e,
    })?;
    channel_over(first, dial).await
}

/// A channel over plain TCP to `host:port` (16509 by default).
pub async fn tcp_channel(uri: &ConnectUri, text: &str) -> Result<Channel, ClientError> {
    let host = host_of(uri, text)?;
    let port = uri.port.unwrap_or(DEFAULT_TCP_PORT);
    let target = format!("{host}:{port}");
    let dial = move || {
        let host = host.clone();
        async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            Ok(tcp)
        }
    };
    let first = dial()
        .await
        .map_err(|source| ClientError::Remote { target, source })?;
    channel_over(first, dial).await
}

/// The ssh command line for `uri`: `SSH [-p PORT] [-l USER] [-i KEY] [-o BatchMode=yes]
/// [-o StrictHostKeyChecking=no] -T -e none HOST virt-proxy --stdio [--socket PATH]`.
pub fn ssh_command(
    uri: &ConnectUri,
    text: &str,
    read_only: bool,
) -> Result<Vec<String>, ClientError> {
    let host = host_of(uri, text)?;
    let mut argv = vec![uri.param("command").unwrap_or("ssh").to_string()];
    if let Some(port) = uri.port {
        argv.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = &uri.user {
        argv.extend(["-l".into(), user.clone()]);
    }
    if let Some(key) = uri.param("keyfile") {
        argv.extend(["-i".into(), key.to_string()]);
    }
    if uri.param("no_tty").is_some_and(|v| v != "0") {
        argv.extend(["-o".into(), "BatchMode=yes".into()]);
    }
    if uri.param("no_verify").is_some_and(|v| v != "0") {
        argv.extend(["-o".into(), "StrictHostKeyChecking=no".into()]);
    }
    argv.extend(["-T".into(), "-e".into(), "none".into(), "--".into(), host]);
    argv.extend(["virt-proxy".into(), "--stdio".into()]);
    argv.push(uri.daemon_uri());
    if let Some(socket) = uri.param("socket") {
        argv.extend(["--socket".into(), socket.to_string()]);
    }
    if read_only {
        argv.push("--readonly".into());
    }
    Ok(argv)
}

/// A channel over ssh's stdin and stdout to the remote host's stdio bridge. The channel does
/// not redial: when ssh exits, calls fail with the connection error. One GetVersion call
/// proves the path up front, so that a refused key or a missing bridge is reported at open
/// with what ssh said (its stderr is also passed through, for host-key and login messages).
pub async fn ssh_channel(
    uri: &ConnectUri,
    text: &str,
    read_only: bool,
) -> Result<Channel, ClientError> {
    let argv = ssh_command(uri, text, read_only)?;
    let target = uri.host.clone().unwrap_or_default();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ClientError::Remote {
            target: format!("{target} (running {})", argv[0]),
            source,
        })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ClientError::Tls("ssh started without pipes".into()));
    };
    let said = tokio::spawn(relay_stderr(stderr));
    let pipe = ChildPipe {
        stdout,
        stdin,
        _child: child,
    };
    let channel = channel_over(pipe, || async {
        Err::<ChildPipe, _>(io::Error::new(
            io::ErrorKind::NotConnected,
            "the ssh connection ended",
        ))
    })
    .await?;
    // The probe names the connection's URI as every call does: a proxy without a default URI
    // refuses a call that names none.
    let mut req = tonic::Request::new(virt_core::proto::GetVersionRequest {});
    if let Ok(v) = tonic::metadata::AsciiMetadataValue::try_from(uri.daemon_uri().as_str()) {
        req.metadata_mut().insert("virt-uri", v);
    }
    let probe =
        virt_core::proto::connect_service_client::ConnectServiceClient::new(channel.clone())
            .get_version(req)
            .await;
    match probe {
        Err(status)
            if status.code() == tonic::Code::Unknown
                || status.code() == tonic::Code::Unavailable =>
        {
            let stderr = tokio::time::timeout(std::time::Duration::from_secs(2), said)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let reason = match stderr.trim() {
                "" => format!("ssh connection ended: {}", status.message()),
                s => format!("ssh: {s}"),
            };
            Err(ClientError::Remote {
                target,
                source: io::Error::new(io::ErrorKind::ConnectionRefused, reason),
            })
        }
        _ => Ok(channel),
    }
}

/// Copies ssh's stderr to ours line by line and returns the last few KiB of it once ssh closes
/// it.
async fn relay_stderr(stderr: tokio::process::ChildStderr) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut kept = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        kept.push_str(&line);
        kept.push('\n');
        if kept.len() > 4096 {
            let cut = kept.len() - 4096;
            let cut = (cut..kept.len())
                .find(|i| kept.is_char_boundary(*i))
                .unwrap_or(0);
            kept.drain(..cut);
        }
    }
    kept
}

/// A channel whose first connection is `first` and whose reconnections call `dial`.
async fn channel_over<IO, F, Fut>(first: IO, dial: F) -> Result<Channel, ClientError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = io::Result<IO>> + Send + 'static,
{
    let first = Arc::new(std::sync::Mutex::new(Some(first)));
    let dial = Arc::new(dial);
    Endpoint::from_static("http://localhost")
        .connect_with_connector(service_fn(move |_| {
            let reuse = first.lock().ok().and_then(|mut s| s.take());
            let dial = dial.clone();
            async move {
                let io = match reuse {
                    Some(io) => io,
                    None => dial().await?,
                };
                Ok::<_, io::Error>(TokioIo::new(io))
            }
        }))
        .await
        .map_err(ClientError::Channel)
}

/// ssh's stdout and stdin as one stream; the child dies with it.
struct ChildPipe {
    stdout: ChildStdout,
    stdin: ChildStdin,
    _child: Child,
}

impl AsyncRead for ChildPipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> ConnectUri {
        ConnectUri::parse(s).expect("uri")
    }

    #[test]
    fn ssh_command_follows_the_uri() {
        let u = "qemu+ssh://admin@host.example:2222/system?keyfile=/k&no_tty=1&no_verify=1";
        assert_eq!(
            ssh_command(&uri(u), u, false).expect("argv"),
            [
                "ssh",
                "-p",
                "2222",
                "-l",
                "admin",
                "-i",
                "/k",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-T",
                "-e",
                "none",
                "--",
                "host.example",
                "virt-proxy",
                "--stdio",
                "qemu:///system"
            ]
        );
        let u = "qemu+ssh://h/session?command=/usr/bin/myssh&socket=/run/x";
        let argv = ssh_command(&uri(u), u, true).expect("argv");
        assert_eq!(argv[0], "/usr/bin/myssh");
        assert_eq!(
            argv[argv.len() - 5..],
            [
                "--stdio",
                "qemu:///session",
                "--socket",
                "/run/x",
                "--readonly"
            ]
        );
    }

    #[test]
    fn pkipath_names_all_three_files() {
        let f = ClientTlsFiles::for_uri(&uri("qemu+tls://h/system?pkipath=/p&no_verify=1"));
        assert_eq!(f.ca_cert, Path::new("/p/cacert.pem"));
        assert_eq!(f.client_cert, Path::new("/p/clientcert.pem"));
        assert_eq!(f.client_key, Path::new("/p/clientkey.pem"));
        assert!(f.no_verify);
    }

    #[tokio::test]
    async fn unreachable_tls_host_names_host_and_port() {
        let dir = tempfile::tempdir().expect("tmp");
        let u = format!(
            "qemu+tls://127.0.0.1:1/system?pkipath={}&no_verify=1",
            dir.path().display()
        );
        let e = tls_channel(&uri(&u), &u)
            .await
            .expect_err("nothing listens");
        let msg = e.to_string();
        assert!(msg.contains("127.0.0.1:1"), "{msg}");
    }
}
