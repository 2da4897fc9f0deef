//! Domain codec tests: the test driver's default domain byte for byte, error codes and XPaths,
//! units, robustness, and idempotent formatting of the shared corpus.

use std::path::PathBuf;

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::{ErrorCode, VirtError};

use super::LibvirtXml;

/// `virsh -c test:///default dumpxml test` on libvirt 9.0.
pub(crate) const TEST_DOMAIN: &str = virt_core::test_driver::DEFAULT_DOMAIN_XML;

pub(crate) const LIVE: FormatOptions = FormatOptions {
    id: Some(1),
    secure: false,
    inactive: false,
};
const INACTIVE: FormatOptions = FormatOptions {
    id: None,
    secure: false,
    inactive: true,
};

pub(crate) fn corpus(dir: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
    .join(dir)
}

fn parse_err(xml: &str) -> VirtError {
    LibvirtXml.parse_domain(xml).expect_err("must be refused")
}

fn minimal(body: &str) -> String {
    format!("<domain type='test'><name>m</name><memory>1024</memory><os><type>hvm</type></os>{body}</domain>")
}

#[test]
fn default_test_domain_formats_byte_for_byte() {
    let def = LibvirtXml
        .parse_domain(TEST_DOMAIN)
        .expect("the test domain parses");
    assert_eq!(def.name, "test");
    assert_eq!(def.memory_kib, 8_388_608);
    assert_eq!(def.current_memory_kib, 2_097_152);
    assert_eq!((def.vcpus, def.current_vcpus), (2, 2));
    assert_eq!(def.os.arch.as_deref(), Some("i686"));
    assert_eq!(LibvirtXml.format_domain(&def, LIVE), TEST_DOMAIN);
    let inactive = LibvirtXml.format_domain(&def, INACTIVE);
    assert_eq!(inactive, TEST_DOMAIN.replace(" id='1'", ""));
}

#[test]
fn unknown_element_is_xml_detail_naming_its_xpath() {
    let e = parse_err(&minimal("<devices><foo/></devices>"));
    assert_eq!(e.code, ErrorCode::XmlDetail);
    assert_eq!(e.message(), "unsupported element /domain/devices/foo");
    let e = parse_err(&minimal("<bogus/>"));
    assert_eq!(e.message(), "unsupported element /domain/bogus");
    let e = parse_err(&minimal(
        "<devices><disk><target dev='vda'/><wibble/></disk></devices>",
    ));
    assert_eq!(
        e.message(),
        "unsupported element /domain/devices/disk[1]/wibble"
    );
}

#[test]
fn unknown_attribute_is_xml_detail_naming_its_xpath() {
    let e = parse_err(&minimal(
        "<devices><disk><target dev='vda' frob='1'/></disk></devices>",
    ));
    assert_eq!(e.code, ErrorCode::XmlDetail);
    assert_eq!(
        e.message(),
        "unsupported attribute /domain/devices/disk[1]/target/@frob"
    );
    assert_eq!(e.violations[0].path, "/domain/devices/disk[1]/target/@frob");
    let e = parse_err("<domain type='test' frob='x'><name>m</name><memory>1</memory><os><type>hvm</type></os></domain>");
    assert_eq!(e.message(), "unsupported attribute /domain/@frob");
}

#[test]
fn bad_values_name_the_value_and_the_xpath() {
    let e = parse_err(&minimal("<memory unit='Z'>1</memory>").replace("<memory>1024</memory>", ""));
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(
        e.message().contains("unknown suffix 'Z'"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("/domain/memory/@unit"),
        "{}",
        e.message()
    );
    let e = parse_err(&minimal(
        "<devices><disk><target dev='vda' bus='virtoi'/></disk></devices>",
    ));
    assert_eq!(e.code, ErrorCode::XmlError);
    assert!(
        e.message().contains("'virtoi'")
            && e.message().contains("/domain/devices/disk[1]/target/@bus")
    );
    let e = parse_err(&minimal("<on_crash>boom</on_crash>"));
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.message().contains("unknown on_crash action: boom"));
    let e = parse_err(&minimal("<uuid>6695eb01-f6a4-8304</uuid>"));
    assert_eq!(e.code, ErrorCode::XmlError);
    assert!(e
        .message()
        .contains("malformed uuid element /domain/uuid: '6695eb01-f6a4-8304'"));
    let e = parse_err("<domain type='warp'><name>m</name></domain>");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
}

#[test]
fn missing_name_is_no_name() {
    let e =
        parse_err("<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>");
    assert_eq!(e.code, ErrorCode::NoName);
    assert_eq!(e.domain, virt_core::ErrorDomain::Domain);
    assert_eq!(e.message(), "missing name information");
    assert_eq!(
        parse_err(&minimal("").replace("<name>m</name>", "<name></name>")).code,
        ErrorCode::NoName
    );
}

#[test]
fn malformed_documents_are_xml_errors_with_a_position() {
    let e = parse_err("<domain type='test'>\n  <name>m</name>\n  <memory>1</memory\n</domain>");
    assert_eq!(e.code, ErrorCode::XmlError);
    // The position travels as data too (ErrorInfo line/column, a BadRequest on field `xml`).
    let pos = e.position.expect("a position");
    assert_eq!(pos.line, 3, "{e:?}");
    assert!(pos.column > 0, "{e:?}");
    assert_eq!(e.violations.len(), 1, "{e:?}");
    assert_eq!(e.violations[0].path, "xml");
    assert!(
        e.violations[0]
            .description
            .starts_with(&format!("line 3, column {}: ", pos.column)),
        "{e:?}"
    );
    assert!(
        e.message().starts_with("XML error: (domain_definition):3:"),
        "{}",
        e.message()
    );
    let e = parse_err("<dom type='test'/>");
    assert_eq!(e.code, ErrorCode::XmlError);
    assert_eq!(
        e.message(),
        "XML error: expecting root element of 'domain', not 'dom'"
    );
    let e = parse_err(
        "<!DOCTYPE domain [<!ENTITY n 'x'>]><domain type='test'><name>&n;</name></domain>",
    );
    assert_eq!(e.code, ErrorCode::XmlError);
    assert!(e.message().contains("DTD"), "{}", e.message());
}

#[test]
fn memory_units_normalise_to_kib() {
    let def = LibvirtXml
        .parse_domain(
            &minimal("<currentMemory unit='MB'>500</currentMemory>")
                .replace("<memory>1024</memory>", "<memory unit='GiB'>1</memory>"),
        )
        .expect("valid");
    assert_eq!(def.memory_kib, 1_048_576);
    assert_eq!(def.current_memory_kib, 488_282);
    let out = LibvirtXml.format_domain(&def, INACTIVE);
    assert!(out.contains(
        "<memory unit='KiB'>1048576</memory>\n  <currentMemory unit='KiB'>488282</currentMemory>"
    ));
}

#[test]
fn no_input_prefix_panics() {
    // Every truncation of a valid document is refused cleanly (or parses), never a panic.
    for end in 0..TEST_DOMAIN.len() {
        let _ = LibvirtXml.parse_domain(&TEST_DOMAIN[..end]);
    }
    for junk in [
        "",
        "<",
        "<domain",
        "<?xml?>",
        "<domain type='test'><name>\u{0}</name></domain>",
        "&",
        "<a:b/>",
    ] {
        assert!(LibvirtXml.parse_domain(junk).is_err());
    }
}

#[test]
fn mutated_corpus_documents_never_panic() {
    // A deterministic mutation sweep: characters that change XML structure, put at many
    // positions of every corpus document. Each result must be Ok or Err, never a panic.
    let mut entries: Vec<_> = std::fs::read_dir(corpus("domain-xml"))
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("readable");
        let bytes: Vec<char> = text.chars().collect();
        for (n, pos) in (0..bytes.len()).step_by(37).enumerate() {
            let mut m = bytes.clone();
            match n % 5 {
                0 => m[pos] = '<',
                1 => m[pos] = '&',
                2 => m[pos] = '\'',
                3 => {
                    m.remove(pos);
                }
                _ => m.insert(pos, '>'),
            }
            let doc: String = m.into_iter().collect();
            if let Ok(def) = LibvirtXml.parse_domain(&doc) {
                let _ = LibvirtXml.format_domain(&def, LIVE);
            }
        }
    }
}

#[test]
fn corpus_domains_format_idempotently_or_name_what_they_refuse() {
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(corpus("domain-xml"))
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("readable");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match LibvirtXml.parse_domain(&text) {
            Ok(def) => {
                let once = LibvirtXml.format_domain(&def, INACTIVE);
                let again = LibvirtXml
                    .parse_domain(&once)
                    .unwrap_or_else(|e| panic!("{name}: own output refused: {e}"));
                assert_eq!(
                    LibvirtXml.format_domain(&again, INACTIVE),
                    once,
                    "{name} is not idempotent"
                );
                // With secrets included nothing at all is lost.
                let secure = FormatOptions {
                    secure: true,
                    ..INACTIVE
                };
                let full = LibvirtXml
                    .parse_domain(&LibvirtXml.format_domain(&def, secure))
                    .expect("own output");
                assert_eq!(full, def, "{name}: the model changed through a round trip");
                accepted.push(name);
            }
            Err(e) => {
                let named = !e.violations.is_empty() || e.code == ErrorCode::NoName;
                assert!(
                    named,
                    "{name}: rejection does not name what it refuses: {e}"
                );
                rejected.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "corpus: {} accepted, {} rejected",
        accepted.len(),
        rejected.len()
    );
    for r in &rejected {
        eprintln!("  {r}");
    }
    assert!(accepted.len() >= 26, "accepted only {accepted:?}");
}

#[test]
fn every_unknown_name_of_a_document_is_one_violation_each() {
    let xml = minimal(
        "<devices><disk type='file' device='disk' frob='1'><source file='/a.img'/>\
         <target dev='vda' bus='virtio'/></disk><foo/></devices>",
    );
    let e = parse_err(&xml);
    assert_eq!(e.code, ErrorCode::XmlDetail);
    let paths: Vec<&str> = e.violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/domain/devices/disk[1]/@frob", "/domain/devices/foo"]
    );
    assert_eq!(
        e.message(),
        "unsupported attribute /domain/devices/disk[1]/@frob (and 1 more)"
    );
    assert_eq!(
        e.violations[1].description,
        "unsupported element /domain/devices/foo"
    );
}

#[test]
fn problems_found_before_a_fatal_error_are_kept_with_it() {
    let e = parse_err(&minimal("<vcpu>two</vcpu><bar/>"));
    let paths: Vec<&str> = e.violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, ["/domain/bar", "/domain/vcpu"], "{}", e.message());
    // Malformed XML stays one error.
    let e = parse_err("<domain><name>x</name><bad frob='1'></domain>");
    assert_eq!(e.code, ErrorCode::XmlError);
    assert!(e.violations.len() <= 1);
}

#[test]
fn a_huge_drive_controller_index_is_refused_not_filled_in() {
    let xml = "<domain type='test'><name>b</name><memory>1024</memory><os><type>hvm</type></os>\
        <devices><disk type='file'><source file='/a'/><target dev='sda' bus='scsi'/>\
        <address type='drive' controller='200000' bus='0' target='0' unit='0'/></disk>\
        </devices></domain>";
    let e = crate::LibvirtXml.parse_domain(xml).expect_err("bounded");
    assert!(
        e.message()
            .contains("/domain/devices/disk[1]/address/@controller"),
        "{}",
        e.message()
    );
    let ok = xml.replace("200000", "1023");
    let def = crate::LibvirtXml.parse_domain(&ok).expect("at the bound");
    assert_eq!(def.devices.controllers.len(), 1024);
    // A disk name far down the alphabet implies a controller index just as well.
    let named = xml.replace(
        "<address type='drive' controller='200000' bus='0' target='0' unit='0'/>",
        "",
    );
    let named = named.replace("'sda'", "'sdzzzzzz'");
    let e = crate::LibvirtXml.parse_domain(&named).expect_err("bounded");
    assert!(e.message().contains("sdzzzzzz"), "{}", e.message());
}

/// SPICE's channel modes and stream settings print in libvirt 9.0's order (its `dumpxml`
/// of the same display), whatever order they were written in.
#[test]
fn spice_settings_print_in_libvirts_order() {
    let graphics = "<graphics type='spice'>\
        <listen type='socket' socket='/tmp/s.sock'/><filetransfer enable='no'/>\
        <clipboard copypaste='no'/><mouse mode='client'/><streaming mode='filter'/>\
        <playback compression='on'/><zlib compression='auto'/><jpeg compression='auto'/>\
        <image compression='auto_glz'/><channel name='main' mode='insecure'/></graphics>";
    let def = LibvirtXml
        .parse_domain(&minimal(&format!("<devices>{graphics}</devices>")))
        .expect("parses");
    let xml = LibvirtXml.format_domain(&def, INACTIVE);
    let start = xml.find("<graphics").expect("graphics");
    let end = xml.find("</graphics>").expect("end") + "</graphics>".len();
    let want = "<graphics type='spice'>
      <listen type='socket' socket='/tmp/s.sock'/>
      <channel name='main' mode='insecure'/>
      <image compression='auto_glz'/>
      <jpeg compression='auto'/>
      <zlib compression='auto'/>
      <playback compression='on'/>
      <streaming mode='filter'/>
      <mouse mode='client'/>
      <clipboard copypaste='no'/>
      <filetransfer enable='no'/>
    </graphics>";
    assert_eq!(&xml[start..end], want);
}
