//! ValidateDomain and define's VALIDATE flag through the daemon socket, and `virt validate`
//! running as a real process: a dry run returns the effective XML and defines nothing; every
//! failure is a status carrying google.rpc.BadRequest field violations named by XPath, the
//! same for ValidateDomain and DefineDomain with VALIDATE.

use std::io::Write;
use std::process::{Command, Output};

use tonic::Code;
use tonic_types::StatusExt;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{
    domain_ref, DefineDomainRequest, DomainRef, ListAllDomainsRequest, LookupDomainRequest,
    ValidateDomainRequest,
};
use virt_tests::{domain_xml, error_info, raw_channel, with_uri, workspace_bin, DaemonUnderTest};

const URI: &str = "test:///default";

/// DefineDomainFlag VALIDATE.
const VALIDATE: u32 = 1;

type Client = DomainServiceClient<tonic::transport::Channel>;

fn by_name(n: &str) -> Option<DomainRef> {
    Some(DomainRef {
        r#ref: Some(domain_ref::Ref::Name(n.into())),
    })
}

async fn validate(c: &mut Client, xml: &str) -> Result<(String, String, bool), tonic::Status> {
    let r = c
        .validate_domain(with_uri(
            ValidateDomainRequest {
                xml: xml.into(),
                flags: VALIDATE,
            },
            URI,
        ))
        .await?
        .into_inner();
    let d = r.domain.expect("validated domain identity");
    assert_eq!(d.id, None, "a validated definition has no ID");
    Ok((r.xml, d.name, r.replaces_existing))
}

async fn define_validated(c: &mut Client, xml: &str) -> tonic::Status {
    c.define_domain(with_uri(
        DefineDomainRequest {
            xml: xml.into(),
            flags: VALIDATE,
        },
        URI,
    ))
    .await
    .expect_err("define --validate of a bad definition")
}

/// The BadRequest violations of a status as `(field, description)`.
fn violations(st: &tonic::Status) -> Vec<(String, String)> {
    st.get_details_bad_request()
        .expect("status carries google.rpc.BadRequest")
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

/// Asserts that ValidateDomain and DefineDomain with VALIDATE fail alike on `xml`; returns the
/// ValidateDomain status.
async fn fails_alike(c: &mut Client, xml: &str) -> tonic::Status {
    let v = validate(c, xml).await.expect_err("validation fails");
    let d = define_validated(c, xml).await;
    assert_eq!(v.code(), d.code());
    assert_eq!(v.message(), d.message());
    assert_eq!(error_info(&v), error_info(&d));
    assert_eq!(violations(&v), violations(&d));
    v
}

async fn count_domains(c: &mut Client) -> usize {
    c.list_all_domains(with_uri(ListAllDomainsRequest { flags: 0 }, URI))
        .await
        .expect("list")
        .into_inner()
        .domains
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_xml_gives_effective_xml_with_defaults_and_defines_nothing() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut c = DomainServiceClient::new(raw_channel(&daemon.socket).await);
    let before = count_domains(&mut c).await;

    let (xml, name, replaces) = validate(&mut c, &domain_xml("dry1"))
        .await
        .expect("valid definition");
    assert_eq!(name, "dry1");
    assert!(!replaces, "no domain dry1 exists yet");
    assert!(xml.starts_with("<domain type='test'>"), "{xml}");
    assert!(xml.contains("<name>dry1</name>"), "{xml}");
    // Defaults the input left out, filled as define would store them.
    assert!(xml.contains("<uuid>"), "generated UUID: {xml}");
    assert!(
        xml.contains("<memory unit='KiB'>131072</memory>"),
        "memory normalised to KiB: {xml}"
    );
    assert!(
        xml.contains("<currentMemory unit='KiB'>131072</currentMemory>"),
        "current memory defaults to memory: {xml}"
    );

    let st = c
        .lookup_domain(with_uri(
            LookupDomainRequest {
                domain: by_name("dry1"),
            },
            URI,
        ))
        .await
        .expect_err("validation defined nothing");
    assert_eq!(st.code(), Code::NotFound);
    assert_eq!(count_domains(&mut c).await, before);

    // The effective XML is itself a valid definition that defines the same domain.
    let (again, _, _) = validate(&mut c, &xml)
        .await
        .expect("effective XML validates");
    assert_eq!(again, xml, "the effective XML is a fixed point");

    // Read-only connections may validate: nothing is defined.
    let mut ro = DomainServiceClient::new(raw_channel(&daemon.socket_ro).await);
    validate(&mut ro, &domain_xml("dry2"))
        .await
        .expect("ValidateDomain is allowed read-only");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_xml_is_invalid_argument_with_xpath_violations() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut c = DomainServiceClient::new(raw_channel(&daemon.socket).await);

    let unknown_element = domain_xml("bad1").replace("</os>", "</os>\n  <devices><foo/></devices>");
    let st = fails_alike(&mut c, &unknown_element).await;
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(st.message(), "unsupported element /domain/devices/foo");
    assert_eq!(
        violations(&st),
        vec![(
            "/domain/devices/foo".to_string(),
            "unsupported element /domain/devices/foo".to_string()
        )]
    );

    let unknown_attribute = domain_xml("bad2").replace("<vcpu>", "<vcpu frob='1'>");
    let st = fails_alike(&mut c, &unknown_attribute).await;
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(violations(&st)[0].0, "/domain/vcpu/@frob");

    // Errors that name no place in the document are still located.
    // XML that is not well-formed: the request's `xml` field, at a line and column.
    let st = fails_alike(&mut c, "<domain type='test'><name>x</name>").await;
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(violations(&st)[0].0, "xml");
    assert!(
        violations(&st)[0].1.starts_with("line 1, column "),
        "{:?}",
        violations(&st)
    );
    let no_name = domain_xml("bad3").replace("<name>bad3</name>", "");
    let st = fails_alike(&mut c, &no_name).await;
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(error_info(&st).0, "NO_NAME");
    // The codec locates a missing child on its parent element.
    assert_eq!(violations(&st)[0].0, "/domain");

    assert_eq!(count_domains(&mut c).await, 1, "nothing was defined");

    let st = c
        .validate_domain(with_uri(
            ValidateDomainRequest {
                xml: domain_xml("bad4"),
                flags: 0x10,
            },
            URI,
        ))
        .await
        .expect_err("unknown flag");
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(error_info(&st).0, "INVALID_ARG");
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_clash_is_reported_as_a_violation() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut c = DomainServiceClient::new(raw_channel(&daemon.socket).await);
    let test = c
        .lookup_domain(with_uri(
            LookupDomainRequest {
                domain: by_name("test"),
            },
            URI,
        ))
        .await
        .expect("default domain")
        .into_inner()
        .domain
        .expect("domain");

    // The name of the default domain with another (generated) UUID.
    let st = fails_alike(&mut c, &domain_xml("test")).await;
    assert_eq!(st.code(), Code::AlreadyExists);
    assert_eq!(error_info(&st).0, "OPERATION_FAILED");
    let v = violations(&st);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].0, "/domain/name");
    assert!(
        v[0].1.contains("domain 'test' already exists with uuid"),
        "{v:?}"
    );

    // The UUID of the default domain under another name.
    let other = domain_xml("other").replace(
        "<name>other</name>",
        &format!("<name>other</name><uuid>{}</uuid>", test.uuid),
    );
    let st = fails_alike(&mut c, &other).await;
    assert_eq!(st.code(), Code::AlreadyExists);
    assert_eq!(violations(&st)[0].0, "/domain/uuid");

    // Same name and UUID: a define would replace the domain, which is no clash.
    let same = domain_xml("test").replace(
        "<name>test</name>",
        &format!("<name>test</name><uuid>{}</uuid>", test.uuid),
    );
    let (xml, name, replaces) = validate(&mut c, &same).await.expect("same identity");
    assert_eq!(name, "test");
    assert!(replaces, "define would update the existing domain");
    assert!(xml.contains(&test.uuid), "{xml}");
}

fn write_file(dir: &tempfile::TempDir, name: &str, xml: &str) -> String {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(xml.as_bytes()).expect("write");
    path.to_string_lossy().into_owned()
}

fn virt(daemon: &DaemonUnderTest, args: &[&str]) -> Output {
    Command::new(workspace_bin("virt"))
        .args(["-c", &daemon.test_uri(false)])
        .args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("run virt")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

#[test]
fn virt_validate_prints_validates_or_one_error_line_per_violation() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write_file(&dir, "good.xml", &domain_xml("cli1"));
    let bad = write_file(
        &dir,
        "bad.xml",
        &domain_xml("cli2")
            .replace("<vcpu>", "<vcpu frob='1'>")
            .replace("</os>", "</os>\n  <devices><foo/></devices>"),
    );

    let o = virt(&daemon, &["validate", &good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{good} validates\n\n"));
    assert_eq!(text(&o.stderr), "");

    let o = virt(&daemon, &["validate", "--print", &good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let xml = text(&o.stdout);
    assert!(xml.starts_with("<domain type='test'>\n"), "{xml}");
    assert!(xml.contains("<name>cli1</name>"), "{xml}");
    assert!(xml.contains("<uuid>"), "{xml}");

    let o = virt(&daemon, &["validate", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "\n");
    let err = text(&o.stderr);
    assert!(
        err.starts_with(&format!("error: Failed to validate domain from {bad}\n")),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().skip(1).collect();
    assert!(!lines.is_empty(), "{err}");
    for line in &lines {
        assert!(line.starts_with("error: /domain/"), "{err}");
    }

    // A name clash, shown with its XPath.
    let clash = write_file(&dir, "clash.xml", &domain_xml("test"));
    let o = virt(&daemon, &["validate", &clash]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("\nerror: /domain/name: domain 'test' already exists with uuid "),
        "{err}"
    );

    // Nothing was defined; `define --validate` sends VALIDATE and fails the same way.
    let o = virt(&daemon, &["define", "--validate", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with(&format!("error: Failed to define domain from {bad}\n")),
        "{}",
        text(&o.stderr)
    );
    let o = virt(&daemon, &["list", "--all", "--name"]);
    assert_eq!(text(&o.stdout), "test\n\n");
}
