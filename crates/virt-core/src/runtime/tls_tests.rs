//! Tests of the TLS policy pieces that need no handshake; handshakes with generated
//! certificates are tested end to end in `tests/tests/tls.rs`.

use super::*;

#[test]
fn dn_globs_match_the_whole_dn() {
    let dn = "C=GB,O=Example,CN=client1.example.com";
    assert!(dn_matches(dn, dn));
    assert!(dn_matches("C=GB,O=Example,CN=*", dn));
    assert!(dn_matches("*CN=client?.example.com", dn));
    assert!(!dn_matches("C=GB,O=Example,CN=client", dn));
    assert!(!dn_matches("C=US,*", dn));
    assert!(dn_matches("*", ""));
    assert!(!dn_matches("?", ""));
}

#[test]
fn authorization_names_why_a_client_is_refused() {
    let allowed = vec!["C=GB,O=Example,CN=*".to_string()];
    let ok = PeerIdentity::Trusted {
        dn: "C=GB,O=Example,CN=a".into(),
    };
    assert!(ok.authorize(&allowed).is_ok());
    assert!(
        ok.authorize(&[]).is_ok(),
        "an empty list admits any trusted DN"
    );

    let other = PeerIdentity::Trusted {
        dn: "C=US,O=Other,CN=b".into(),
    };
    let e = other.authorize(&allowed).expect_err("DN not listed");
    assert_eq!(e.code, ErrorCode::OperationDenied);
    assert!(
        e.message()
            .contains("'C=US,O=Other,CN=b' is not on the list"),
        "{}",
        e.message()
    );
    assert_eq!(
        crate::status::to_status(&e).code(),
        tonic::Code::PermissionDenied
    );

    let e = PeerIdentity::NoCertificate
        .authorize(&allowed)
        .expect_err("no cert");
    assert_eq!(e.code, ErrorCode::AuthFailed);
    assert!(e.message().contains("no client certificate"));
    assert_eq!(
        crate::status::to_status(&e).code(),
        tonic::Code::Unauthenticated
    );

    let e = PeerIdentity::Untrusted {
        dn: Some("CN=x".into()),
        reason: "invalid peer certificate: UnknownIssuer".into(),
    }
    .authorize(&[])
    .expect_err("untrusted");
    assert_eq!(e.code, ErrorCode::AuthFailed);
    assert!(e
        .message()
        .contains("'CN=x' is not trusted: invalid peer certificate: UnknownIssuer"));
}

#[test]
fn libvirt_pki_layout() {
    let s = TlsSettings::libvirt_layout(Mode::System, None);
    assert_eq!(s.ca_cert, Path::new("/etc/pki/CA/cacert.pem"));
    assert_eq!(s.server_cert, Path::new("/etc/pki/libvirt/servercert.pem"));
    assert_eq!(
        s.server_key,
        Path::new("/etc/pki/libvirt/private/serverkey.pem")
    );
    let r = TlsSettings::libvirt_layout(Mode::Session, Some(Path::new("/r")));
    assert_eq!(r.ca_cert, Path::new("/r/etc/pki/CA/cacert.pem"));
    assert_eq!(
        r.server_key,
        Path::new("/r/etc/pki/libvirt/private/serverkey.pem")
    );
}

#[test]
fn missing_files_are_named() {
    let s = TlsSettings {
        ca_cert: "/nonexistent/ca.pem".into(),
        server_cert: "/nonexistent/cert.pem".into(),
        server_key: "/nonexistent/key.pem".into(),
        allowed_dns: Vec::new(),
        crl: None,
    };
    let e = TlsAcceptor::new(&s).expect_err("missing CA");
    assert!(
        e.to_string()
            .starts_with("cannot load CA certificate from /nonexistent/ca.pem"),
        "{e}"
    );
}
