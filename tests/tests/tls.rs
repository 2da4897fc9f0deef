//! Mutual TLS end to end with certificates generated at test time: the runtime's TLS listener
//! (virt_core::runtime::tls) serving the virt.v1 services on loopback, reached with the
//! client's `qemu+tls://` transport (virt_client::remote). A valid client works; a client
//! without a certificate, with one from another CA, or with a DN not on the allowed list is
//! refused with UNAUTHENTICATED / PERMISSION_DENIED and a message that says why; a client
//! that does not trust the server's CA refuses the server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tonic::Code;
use virt_client::remote::tls_channel;
use virt_client::ClientError;
use virt_core::proto::connect_service_client::ConnectServiceClient;
use virt_core::proto::GetVersionRequest;
use virt_core::runtime::tls::{incoming, TlsAcceptor, TlsAuthLayer, TlsSettings};
use virt_core::runtime::Mode;
use virt_core::test_driver::TestRegistry;
use virt_core::uri::ConnectUri;
use virt_tests::pki::{write_client, write_server, Ca};

/// Serves the test driver over TLS on 127.0.0.1 with the PKI under `root`.
async fn serve(root: &Path, allowed: Vec<String>) -> SocketAddr {
    let settings = TlsSettings {
        allowed_dns: allowed.clone(),
        ..TlsSettings::libvirt_layout(Mode::System, Some(root))
    };
    let acceptor = TlsAcceptor::new(&settings).expect("TLS material loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let registry = Arc::new(TestRegistry::new(Arc::new(virt_xml::LibvirtXml)));
    let routes = virt_core::service::routes(registry, "tls-test");
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(TlsAuthLayer::new(allowed))
            .add_routes(routes)
            .serve_with_incoming(incoming(listener, acceptor)),
    );
    addr
}

/// GetVersion over `qemu+tls://127.0.0.1:PORT/system?pkipath=DIR`.
async fn version(addr: SocketAddr, pki: &Path) -> Result<String, ClientError> {
    let text = format!(
        "test+tls://127.0.0.1:{}/default?pkipath={}",
        addr.port(),
        pki.display()
    );
    let uri = ConnectUri::parse(&text).expect("uri");
    let ch = tls_channel(&uri, &text).await?;
    let resp = ConnectServiceClient::new(ch)
        .get_version(GetVersionRequest {})
        .await
        .map_err(|s| ClientError::Virt(virt_core::status::from_status(&s)))?;
    Ok(resp.into_inner().hypervisor_type)
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = Ca::new("virt test CA");
        write_server(&dir.path().join("server"), &ca, &ca.server());
        Pki { dir, ca }
    }

    fn server_root(&self) -> std::path::PathBuf {
        self.dir.path().join("server")
    }

    /// A client directory trusting `trust` and holding a certificate from `issuer` with
    /// `cn`, or none.
    fn client(&self, name: &str, trust: &Ca, cert: Option<(&Ca, &str)>) -> std::path::PathBuf {
        let issued = cert.map(|(issuer, cn)| issuer.client("virt tests", cn));
        write_client(&self.dir.path().join(name), trust, issued.as_ref())
    }
}

fn status_of(e: &ClientError) -> (virt_core::ErrorCode, String) {
    match e {
        ClientError::Virt(v) => (v.code, v.message()),
        other => (other.code(), other.to_string()),
    }
}

#[tokio::test]
async fn valid_client_is_served_and_others_are_refused_with_reasons() {
    let pki = Pki::new();
    let addr = serve(
        &pki.server_root(),
        vec!["C=GB,O=virt tests,CN=allowed-*".into()],
    )
    .await;

    let good = pki.client("good", &pki.ca, Some((&pki.ca, "allowed-client")));
    assert_eq!(version(addr, &good).await.expect("valid client"), "TEST");

    let none = pki.client("none", &pki.ca, None);
    let e = version(addr, &none).await.expect_err("no certificate");
    let (code, msg) = status_of(&e);
    assert_eq!(code, virt_core::ErrorCode::AuthFailed, "{msg}");
    assert!(msg.contains("no client certificate"), "{msg}");

    let rogue_ca = Ca::new("rogue CA");
    let rogue = pki.client("rogue", &pki.ca, Some((&rogue_ca, "allowed-client")));
    let e = version(addr, &rogue).await.expect_err("other CA");
    let (code, msg) = status_of(&e);
    assert_eq!(code, virt_core::ErrorCode::AuthFailed, "{msg}");
    assert!(
        msg.contains("'C=GB,O=virt tests,CN=allowed-client' is not trusted"),
        "{msg}"
    );

    let stranger = pki.client("stranger", &pki.ca, Some((&pki.ca, "stranger")));
    let e = version(addr, &stranger).await.expect_err("DN not listed");
    let (code, msg) = status_of(&e);
    assert_eq!(code, virt_core::ErrorCode::OperationDenied, "{msg}");
    assert!(
        msg.contains("'C=GB,O=virt tests,CN=stranger' is not on the list of allowed clients"),
        "{msg}"
    );
}

#[tokio::test]
async fn refusals_are_the_grpc_codes_other_languages_see() {
    let pki = Pki::new();
    let addr = serve(&pki.server_root(), vec!["CN=nobody".into()]).await;
    let stranger = pki.client("stranger", &pki.ca, Some((&pki.ca, "stranger")));
    let text = format!(
        "test+tls://127.0.0.1:{}/default?pkipath={}",
        addr.port(),
        stranger.display()
    );
    let uri = ConnectUri::parse(&text).expect("uri");
    let ch = tls_channel(&uri, &text).await.expect("handshake completes");
    let status = ConnectServiceClient::new(ch)
        .get_version(GetVersionRequest {})
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied);

    let none = pki.client("none", &pki.ca, None);
    let text = format!(
        "test+tls://127.0.0.1:{}/default?pkipath={}",
        addr.port(),
        none.display()
    );
    let uri = ConnectUri::parse(&text).expect("uri");
    let ch = tls_channel(&uri, &text).await.expect("handshake completes");
    let status = ConnectServiceClient::new(ch)
        .get_version(GetVersionRequest {})
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn client_refuses_a_server_its_ca_did_not_sign() {
    let pki = Pki::new();
    let addr = serve(&pki.server_root(), Vec::new()).await;
    let other_ca = Ca::new("someone else");
    let wary = pki.client("wary", &other_ca, Some((&pki.ca, "allowed-client")));
    let e = version(addr, &wary).await.expect_err("server not trusted");
    let (code, msg) = status_of(&e);
    assert_eq!(code, virt_core::ErrorCode::AuthFailed, "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{}", addr.port())), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}
