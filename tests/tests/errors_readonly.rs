//! gRPC-level errors and read-only enforcement through the daemon socket: each failure is a
//! status with the mapped gRPC code and a google.rpc.ErrorInfo naming the libvirt error.

use tonic::Code;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{
    domain_ref, DefineDomainRequest, DomainRef, GetDomainInfoRequest, GetDomainXmlRequest,
    ListAllDomainsRequest, SuspendDomainRequest,
};
use virt_tests::{domain_xml, error_info, raw_channel, with_uri, DaemonUnderTest};

const URI: &str = "test:///default";

fn by_name(n: &str) -> Option<DomainRef> {
    Some(DomainRef {
        r#ref: Some(domain_ref::Ref::Name(n.into())),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn write_on_read_only_socket_is_permission_denied_and_reads_succeed() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut ro = DomainServiceClient::new(raw_channel(&daemon.socket_ro).await);

    let list = ro
        .list_all_domains(with_uri(ListAllDomainsRequest { flags: 0 }, URI))
        .await
        .expect("listing is allowed read-only")
        .into_inner();
    assert_eq!(list.domains.len(), 1);
    ro.get_domain_info(with_uri(
        GetDomainInfoRequest {
            domain: by_name("test"),
        },
        URI,
    ))
    .await
    .expect("info is allowed read-only");

    let st = ro
        .define_domain(with_uri(
            DefineDomainRequest {
                xml: domain_xml("ro1"),
                flags: 0,
            },
            URI,
        ))
        .await
        .expect_err("define on the read-only socket");
    assert_eq!(st.code(), Code::PermissionDenied);
    let (reason, meta) = error_info(&st);
    assert_eq!(reason, "OPERATION_DENIED");
    assert_eq!(meta.get("code").map(String::as_str), Some("29"));
    assert!(
        st.message()
            .starts_with("operation forbidden: read only access prevents"),
        "{}",
        st.message()
    );

    let st = ro
        .suspend_domain(with_uri(
            SuspendDomainRequest {
                domain: by_name("test"),
            },
            URI,
        ))
        .await
        .expect_err("suspend on the read-only socket");
    assert_eq!(st.code(), Code::PermissionDenied);

    let st = ro
        .get_domain_xml(with_uri(
            GetDomainXmlRequest {
                domain: by_name("test"),
                flags: 1,
            },
            URI,
        ))
        .await
        .expect_err("secure XML on the read-only socket");
    assert_eq!(st.code(), Code::PermissionDenied);
    assert_eq!(error_info(&st).0, "OPERATION_DENIED");
    ro.get_domain_xml(with_uri(
        GetDomainXmlRequest {
            domain: by_name("test"),
            flags: 0,
        },
        URI,
    ))
    .await
    .expect("plain XML is allowed read-only");

    // The refused define left nothing behind.
    let mut rw = DomainServiceClient::new(raw_channel(&daemon.socket).await);
    let st = rw
        .get_domain_info(with_uri(
            GetDomainInfoRequest {
                domain: by_name("ro1"),
            },
            URI,
        ))
        .await
        .expect_err("ro1 was never defined");
    assert_eq!(st.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_codes_and_reasons() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut c = DomainServiceClient::new(raw_channel(&daemon.socket).await);

    let st = c
        .get_domain_info(with_uri(
            GetDomainInfoRequest {
                domain: by_name("web1"),
            },
            URI,
        ))
        .await
        .expect_err("unknown domain");
    assert_eq!(st.code(), Code::NotFound);
    let (reason, meta) = error_info(&st);
    assert_eq!(reason, "NO_DOMAIN");
    assert_eq!(meta.get("code").map(String::as_str), Some("42"));
    assert_eq!(
        st.message(),
        "Domain not found: no domain with matching name 'web1'"
    );

    let st = c
        .define_domain(with_uri(
            DefineDomainRequest {
                xml: "<domain type='test'><name>x".into(),
                flags: 0,
            },
            URI,
        ))
        .await
        .expect_err("malformed XML");
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(error_info(&st).0, "XML_ERROR");

    let xml = "<domain type='test'><name>x</name><memory>1024</memory>\
               <os><type>hvm</type></os><frobnicate/></domain>";
    let st = c
        .define_domain(with_uri(
            DefineDomainRequest {
                xml: xml.into(),
                flags: 0,
            },
            URI,
        ))
        .await
        .expect_err("unknown element");
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(
        st.message().contains("/domain/frobnicate"),
        "{}",
        st.message()
    );

    c.define_domain(with_uri(
        DefineDomainRequest {
            xml: domain_xml("off1"),
            flags: 0,
        },
        URI,
    ))
    .await
    .expect("define off1");
    let st = c
        .suspend_domain(with_uri(
            SuspendDomainRequest {
                domain: by_name("off1"),
            },
            URI,
        ))
        .await
        .expect_err("suspend a shut-off domain");
    assert_eq!(st.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&st).0, "OPERATION_INVALID");
    assert_eq!(
        st.message(),
        "Requested operation is not valid: domain is not running"
    );

    let st = c
        .list_all_domains(with_uri(
            ListAllDomainsRequest { flags: 0 },
            "bogus:///nowhere",
        ))
        .await
        .expect_err("a URI the daemon does not serve");
    assert_eq!(st.code(), Code::Unavailable);
    assert_eq!(error_info(&st).0, "NO_CONNECT");

    let st = c
        .list_all_domains(with_uri(ListAllDomainsRequest { flags: 1 << 20 }, URI))
        .await
        .expect_err("unknown flag bits");
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(error_info(&st).0, "INVALID_ARG");
    assert!(
        st.message().contains("unsupported flags (0x100000)"),
        "{}",
        st.message()
    );
}

#[tokio::test]
async fn malformed_uris_are_clear_client_errors() {
    use virt_core::ErrorCode::{InvalidArg, NoConnect};
    for (uri, code, says) in [
        ("qemu://host:abc/system", InvalidArg, "invalid port 'abc'"),
        (
            "qemu+bogus:///system",
            InvalidArg,
            "transport in URL not recognised",
        ),
        ("://nothing", NoConnect, "the URI does not name a driver"),
        (
            "qemu+unix://host/system",
            InvalidArg,
            "using unix socket and remote server 'host'",
        ),
    ] {
        let err = virt_client::Connection::open(Some(uri), false)
            .await
            .err()
            .unwrap_or_else(|| panic!("{uri} must be refused"));
        assert_eq!(err.code(), code, "{uri}: {err}");
        assert!(err.to_string().contains(says), "{uri}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_name_is_already_exists_with_libvirts_code() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut c = DomainServiceClient::new(raw_channel(&daemon.socket).await);
    let xml = domain_xml("test"); // no UUID: a new one, but the name belongs to the default domain
    let st = c
        .define_domain(with_uri(DefineDomainRequest { xml, flags: 0 }, URI))
        .await
        .expect_err("name clash");
    assert_eq!(st.code(), Code::AlreadyExists);
    let (reason, meta) = error_info(&st);
    assert_eq!(reason, "OPERATION_FAILED");
    assert_eq!(meta.get("name").map(String::as_str), Some("test"));
    assert_eq!(
        st.message(),
        "operation failed: domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f"
    );
}
