//! The library against the embedded test driver: shared state between connections of one
//! process, typed errors, and the read-only guard.

use virt_client::{ClientError, Connection, DomainLookup};
use virt_core::ErrorCode;

fn test_dom() -> DomainLookup {
    DomainLookup::Name("test".into())
}

#[tokio::test]
async fn connections_to_test_default_share_one_state() {
    let a = Connection::open(Some("test:///default"), false)
        .await
        .expect("open a");
    let b = Connection::open(Some("test:///default"), true)
        .await
        .expect("open b");
    a.suspend(&test_dom()).await.expect("suspend");
    let state = b.domain_state(&test_dom()).await.expect("state");
    assert_eq!(
        (state.state, state.reason),
        (3, 1),
        "paused (user) seen by b"
    );
    a.resume(&test_dom()).await.expect("resume");
    assert_eq!(b.uri().await.expect("uri"), "test:///default");
}

#[tokio::test]
async fn unknown_domain_is_no_domain() {
    let c = Connection::open(Some("test:///default"), false)
        .await
        .expect("open");
    let err = c
        .lookup(&DomainLookup::Name("nope".into()))
        .await
        .expect_err("no such domain");
    assert_eq!(err.code(), ErrorCode::NoDomain);
    assert!(err.virt_error().is_some());
}

#[tokio::test]
async fn read_only_connections_cannot_change_domains() {
    let c = Connection::open(Some("test:///default"), true)
        .await
        .expect("open");
    assert!(c.is_read_only());
    let err = c.destroy(&test_dom(), 0).await.expect_err("denied");
    assert_eq!(err.code(), ErrorCode::OperationDenied);
    let info = c.domain_info(&test_dom()).await.expect("reads are allowed");
    assert_eq!(info.0.name, "test");
}

#[tokio::test]
async fn transports_without_an_implementation_are_refused_clearly() {
    let err = Connection::open(Some("qemu+libssh2://root@host/system"), false)
        .await
        .expect_err("libssh2 is not available");
    assert!(
        matches!(err, ClientError::TransportUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("'libssh2'"), "{err}");
}

#[tokio::test]
async fn unreachable_tls_host_is_a_connection_error_naming_host_and_port() {
    let err = Connection::open(
        Some("qemu+tls://127.0.0.1:1/system?no_verify=1&pkipath=/nonexistent"),
        false,
    )
    .await
    .expect_err("nothing listens on port 1");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}
