//! Tests of `<sysinfo>`: expected text is libvirt 9.0's `virsh dumpxml` for the same input
//! (QEMU driver), and refusals name the XPath of what they refuse.

use virt_core::model::sysinfo::{FwCfgValue, Sysinfo};
use virt_core::uuid::Uuid;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;

use crate::LibvirtXml;

const UUID: &str = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

fn doc(uuid: Option<&str>, sysinfo: &str) -> String {
    let uuid = uuid
        .map(|u| format!("<uuid>{u}</uuid>"))
        .unwrap_or_default();
    format!(
        "<domain type='test'><name>t</name>{uuid}<memory unit='KiB'>65536</memory>\
         <resource><partition>/machine</partition></resource>{sysinfo}\
         <os><type>hvm</type><smbios mode='sysinfo'/></os></domain>"
    )
}

/// Parses and formats `xml`, checking the output is a fixed point that libvirt's schema
/// accepts; returns the `<sysinfo>` lines through the line before `<os>`.
fn sysinfo_of(xml: &str, label: &str) -> String {
    let def = LibvirtXml.parse_domain(xml).expect("accepted");
    let out = LibvirtXml.format_domain(&def, FormatOptions::default());
    let again = LibvirtXml.parse_domain(&out).expect("own output parses");
    assert_eq!(again, def, "not a fixed point:\n{out}");
    if crate::corpus_tests::validator_present() {
        let label = format!("sysinfo-{label}");
        assert_eq!(
            crate::corpus_tests::validate(&out, "domain", &label),
            Some(Ok(()))
        );
    }
    let start = out.find("  <resource>").expect("resource printed");
    let end = out.find("  <os>").expect("os printed");
    out[start..end].to_string()
}

fn refused(xml: &str) -> (ErrorCode, String) {
    let e = LibvirtXml.parse_domain(xml).expect_err("refused");
    let path = e
        .violations
        .first()
        .map(|v| v.path.clone())
        .unwrap_or_default();
    (e.code, path)
}

#[test]
fn smbios_blocks_print_in_libvirts_order_after_resource() {
    // Entries out of order, an empty one, and blocks out of order: libvirt prints its own
    // fixed order and drops the empty value, as `virsh dumpxml` showed for this input.
    let input = doc(
        Some(UUID),
        "<sysinfo type='smbios'>\
           <oemStrings><entry>myappname:some arbitrary data</entry><entry></entry></oemStrings>\
           <chassis><entry name='sku'>Type3Sku1</entry><entry name='manufacturer'>Dell Inc.</entry></chassis>\
           <system><entry name='family'>Red Hat</entry><entry name='uuid'>C7A5FDBDCDAF9455926AD65C16DB1809</entry>\
             <entry name='manufacturer'>Fedora</entry><entry name='product'></entry></system>\
           <baseBoard><entry name='location'>loc</entry><entry name='manufacturer'>LENOVO</entry></baseBoard>\
           <baseBoard><entry name='product'>second</entry></baseBoard>\
           <bios><entry name='release'>1.2</entry><entry name='vendor'>LENOVO, Inc</entry>\
             <entry name='date'>01/01/2012</entry><entry name='version'>6FET82WW (3.12 )</entry></bios>\
         </sysinfo>",
    );
    let expected = "  <resource>
    <partition>/machine</partition>
  </resource>
  <sysinfo type='smbios'>
    <bios>
      <entry name='vendor'>LENOVO, Inc</entry>
      <entry name='version'>6FET82WW (3.12 )</entry>
      <entry name='date'>01/01/2012</entry>
      <entry name='release'>1.2</entry>
    </bios>
    <system>
      <entry name='manufacturer'>Fedora</entry>
      <entry name='uuid'>c7a5fdbd-cdaf-9455-926a-d65c16db1809</entry>
      <entry name='family'>Red Hat</entry>
    </system>
    <baseBoard>
      <entry name='manufacturer'>LENOVO</entry>
      <entry name='location'>loc</entry>
    </baseBoard>
    <baseBoard>
      <entry name='product'>second</entry>
    </baseBoard>
    <chassis>
      <entry name='manufacturer'>Dell Inc.</entry>
      <entry name='sku'>Type3Sku1</entry>
    </chassis>
    <oemStrings>
      <entry>myappname:some arbitrary data</entry>
      <entry></entry>
    </oemStrings>
  </sysinfo>
";
    assert_eq!(sysinfo_of(&input, "smbios"), expected);
}

#[test]
fn empty_blocks_vanish_and_an_empty_sysinfo_is_one_line() {
    let input = doc(
        None,
        "<sysinfo type='smbios'><bios/><system/><chassis/><baseBoard/><oemStrings/></sysinfo>",
    );
    assert_eq!(
        sysinfo_of(&input, "empty"),
        "  <resource>\n    <partition>/machine</partition>\n  </resource>\n  <sysinfo type='smbios'/>\n"
    );
}

#[test]
fn fwcfg_entries_keep_document_order_beside_smbios() {
    let input = doc(
        None,
        "<sysinfo type='fwcfg'><entry name='opt/com.example/name'>example value</entry>\
           <entry name='opt/com.coreos/config' file='/var/lib/ign.json'/></sysinfo>\
         <sysinfo type='smbios'><bios><entry name='vendor'>v</entry></bios></sysinfo>",
    );
    let out = sysinfo_of(&input, "fwcfg");
    assert!(out.ends_with(
        "  <sysinfo type='fwcfg'>
    <entry name='opt/com.example/name'>example value</entry>
    <entry name='opt/com.coreos/config' file='/var/lib/ign.json'/>
  </sysinfo>
  <sysinfo type='smbios'>
    <bios>
      <entry name='vendor'>v</entry>
    </bios>
  </sysinfo>
"
    ));
    let def = LibvirtXml.parse_domain(&input).expect("accepted");
    match &def.sysinfo[0] {
        Sysinfo::FwCfg(e) => {
            assert_eq!(e[1].value, FwCfgValue::File("/var/lib/ign.json".into()))
        }
        other => panic!("fw_cfg first: {other:?}"),
    }
}

#[test]
fn the_system_uuid_supplies_a_missing_domain_uuid_and_must_match_a_given_one() {
    let sys = |u: &str| {
        format!("<sysinfo type='smbios'><system><entry name='uuid'>{u}</entry></system></sysinfo>")
    };
    let def = LibvirtXml
        .parse_domain(&doc(None, &sys("00000000-0000-0000-0000-000000000001")))
        .expect("accepted");
    assert_eq!(
        def.uuid,
        Uuid::parse("00000000-0000-0000-0000-000000000001").expect("uuid")
    );
    let e = LibvirtXml
        .parse_domain(&doc(
            Some(UUID),
            &sys("00000000-0000-0000-0000-000000000001"),
        ))
        .expect_err("mismatch");
    assert_eq!(e.code, ErrorCode::XmlError);
    assert!(e.message().contains("UUID mismatch"), "{}", e.message());
    let (code, path) = refused(&doc(Some(UUID), &sys("nonsense")));
    assert_eq!(code, ErrorCode::XmlError);
    assert_eq!(path, "/domain/sysinfo[1]/system/entry[1]");
}

#[test]
fn unknown_duplicate_and_malformed_entries_are_refused_naming_their_xpath() {
    let smbios = |body: &str| doc(None, &format!("<sysinfo type='smbios'>{body}</sysinfo>"));
    let cases: &[(String, ErrorCode, &str)] = &[
        (
            smbios("<bios><entry name='vendor'>a</entry><entry name='bogus'>x</entry></bios>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/bios/entry[2]/@name",
        ),
        (
            smbios("<chassis><entry name='product'>x</entry></chassis>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/chassis/entry[1]/@name",
        ),
        (
            smbios("<system><entry name='sku'>a</entry><entry name='sku'>b</entry></system>"),
            ErrorCode::XmlDetail,
            "/domain/sysinfo[1]/system/entry[2]",
        ),
        (
            smbios("<bios><entry name='date'>2012-01-01</entry></bios>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/bios/entry[1]",
        ),
        (
            smbios("<bios><entry>nameless</entry></bios>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/bios/entry[1]/@name",
        ),
        (
            smbios("<bios/><bios/>"),
            ErrorCode::XmlDetail,
            "/domain/sysinfo[1]/bios[2]",
        ),
        (
            smbios("<processor/>"),
            ErrorCode::XmlDetail,
            "/domain/sysinfo[1]/processor",
        ),
        (
            doc(None, "<sysinfo type='smbios'/><sysinfo type='smbios'/>"),
            ErrorCode::ConfigUnsupported,
            "/domain/sysinfo[2]",
        ),
        (
            doc(None, "<sysinfo type='bogus'/>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/@type",
        ),
        (
            doc(None, "<sysinfo/>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/@type",
        ),
    ];
    for (xml, code, path) in cases {
        assert_eq!(refused(xml), (*code, path.to_string()), "{xml}");
    }
    for date in ["1/1/12", "12/31/1999", "01/01/2012"] {
        let xml = smbios(&format!("<bios><entry name='date'>{date}</entry></bios>"));
        LibvirtXml.parse_domain(&xml).expect(date);
    }
    for date in ["13/01/2012", "01/32/12", "01/01/1899", "01/01", "a/b/c"] {
        let xml = smbios(&format!("<bios><entry name='date'>{date}</entry></bios>"));
        assert!(LibvirtXml.parse_domain(&xml).is_err(), "{date} accepted");
    }
}

#[test]
fn fwcfg_names_follow_qemus_rules() {
    let fw = |entry: &str| doc(None, &format!("<sysinfo type='fwcfg'>{entry}</sysinfo>"));
    let long = format!("opt/{}", "a".repeat(52));
    let cases: &[(String, ErrorCode, &str)] = &[
        (
            fw("<entry name='etc/x'>v</entry>"),
            ErrorCode::ConfigUnsupported,
            "/domain/sysinfo[1]/entry[1]/@name",
        ),
        (
            fw("<entry name='opt/ovmf/x'>v</entry>"),
            ErrorCode::ConfigUnsupported,
            "/domain/sysinfo[1]/entry[1]/@name",
        ),
        (
            fw("<entry name='opt/org.qemu/x'>v</entry>"),
            ErrorCode::ConfigUnsupported,
            "/domain/sysinfo[1]/entry[1]/@name",
        ),
        (
            fw(&format!("<entry name='{long}'>v</entry>")),
            ErrorCode::ConfigUnsupported,
            "/domain/sysinfo[1]/entry[1]/@name",
        ),
        (
            fw("<entry>v</entry>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/entry[1]/@name",
        ),
        (
            fw("<entry name='opt/a'/>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/entry[1]",
        ),
        (
            fw("<entry name='opt/a' file='/x'>v</entry>"),
            ErrorCode::XmlError,
            "/domain/sysinfo[1]/entry[1]",
        ),
        (
            fw("<entry name='opt/a'>v</entry><entry name='opt/a'>w</entry>"),
            ErrorCode::XmlDetail,
            "/domain/sysinfo[1]/entry[2]",
        ),
    ];
    for (xml, code, path) in cases {
        assert_eq!(refused(xml), (*code, path.to_string()), "{xml}");
    }
    let longest = format!("opt/{}", "a".repeat(51));
    LibvirtXml
        .parse_domain(&fw(&format!("<entry name='{longest}'>v</entry>")))
        .expect("55 bytes is QEMU's limit");
}
