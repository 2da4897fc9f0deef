//! SMBIOS and fw_cfg arguments against libvirt 9.0's `virsh domxml-to-native` output for the
//! same XML, and the host's tables read from a fake `/sys` tree.

use std::path::Path;

use virt_core::error::ErrorCode;
use virt_core::model::sysinfo::SmbiosInfo;

use super::super::build;
use super::super::tests::ctx;
use super::{fw_cfg_args, host_smbios, smbios_args, structure_strings};

const UUID: &str = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

fn domain(mode: Option<&str>, sysinfo: &str) -> String {
    let smbios = mode
        .map(|m| format!("<smbios mode='{m}'/>"))
        .unwrap_or_default();
    format!(
        "<domain type='qemu'><name>demo</name><uuid>{UUID}</uuid>\
         <memory unit='MiB'>128</memory>{sysinfo}<os><type arch='x86_64' machine='pc'>hvm</type>\
         {smbios}</os><devices><memballoon model='none'/></devices></domain>"
    )
}

fn def(xml: &str) -> virt_core::model::DomainDef {
    virt_xml::parse_domain(xml).expect("test XML parses")
}

/// virt-manager's example, with commas to escape.
const SYSINFO: &str = "<sysinfo type='smbios'>\
    <bios><entry name='vendor'>LENOVO, Inc</entry><entry name='version'>6FET82WW (3.12 )</entry>\
      <entry name='date'>01/01/2012</entry><entry name='release'>1.2</entry></bios>\
    <system><entry name='manufacturer'>Fedora</entry><entry name='product'>Virt-Manager</entry>\
      <entry name='version'>0.9.4</entry><entry name='serial'>123,456</entry>\
      <entry name='uuid'>c7a5fdbd-cdaf-9455-926a-d65c16db1809</entry>\
      <entry name='sku'>1234567890</entry><entry name='family'>Red Hat</entry></system>\
    <baseBoard><entry name='manufacturer'>LENOVO</entry><entry name='product'>20BE0061MC</entry>\
      <entry name='version'>0B98401 Pro</entry><entry name='serial'>W1KS427111E</entry>\
      <entry name='asset'>asset1</entry><entry name='location'>loc</entry></baseBoard>\
    <chassis><entry name='manufacturer'>Dell Inc.</entry><entry name='version'>2.12</entry>\
      <entry name='serial'>65X0XF2</entry><entry name='asset'>40000101</entry>\
      <entry name='sku'>Type3Sku1</entry></chassis>\
    <oemStrings><entry>myappname:some arbitrary data</entry>\
      <entry>otherappname:more, arbitrary data</entry></oemStrings></sysinfo>";

#[test]
fn sysinfo_mode_writes_libvirts_smbios_arguments_right_after_uuid() {
    let args = build(&def(&domain(Some("sysinfo"), SYSINFO)), &ctx())
        .expect("builds")
        .args;
    let at = args.iter().position(|a| a == "-uuid").expect("uuid");
    // libvirt 9.0 `virsh domxml-to-native qemu-argv` for the same domain.
    let expected = [
        "-uuid",
        UUID,
        "-smbios",
        "type=0,vendor=LENOVO,, Inc,version=6FET82WW (3.12 ),date=01/01/2012,release=1.2",
        "-smbios",
        "type=1,manufacturer=Fedora,product=Virt-Manager,version=0.9.4,serial=123,,456,\
         uuid=c7a5fdbd-cdaf-9455-926a-d65c16db1809,sku=1234567890,family=Red Hat",
        "-smbios",
        "type=2,manufacturer=LENOVO,product=20BE0061MC,version=0B98401 Pro,\
         serial=W1KS427111E,asset=asset1,location=loc",
        "-smbios",
        "type=3,manufacturer=Dell Inc.,version=2.12,serial=65X0XF2,asset=40000101,sku=Type3Sku1",
        "-smbios",
        "type=11,value=myappname:some arbitrary data,value=otherappname:more,, arbitrary data",
        "-no-user-config",
    ];
    assert_eq!(args[at..at + expected.len()], expected);
}

#[test]
fn partial_blocks_name_a_manufacturer_for_types_2_and_3_only() {
    let sysinfo = "<sysinfo type='smbios'><bios><entry name='release'>r</entry></bios>\
        <system><entry name='family'>f</entry></system>\
        <baseBoard><entry name='asset'>z</entry></baseBoard>\
        <chassis><entry name='sku'>s</entry></chassis>\
        <oemStrings><entry></entry><entry>a,b</entry></oemStrings></sysinfo>\
        <sysinfo type='fwcfg'><entry name='opt/a'>v</entry></sysinfo>";
    let d = def(&domain(Some("sysinfo"), sysinfo));
    // libvirt 9.0 for the same XML.
    assert_eq!(
        smbios_args(&d, None).expect("builds"),
        [
            "type=0,release=r",
            "type=1,family=f",
            "type=2,manufacturer=,asset=z",
            "type=3,manufacturer=,sku=s",
            "type=11,value=,value=a,,b",
        ]
    );
    assert_eq!(fw_cfg_args(&d), ["name=opt/a,string=v"]);
    assert!(smbios_args(
        &def(&domain(Some("sysinfo"), "<sysinfo type='smbios'/>")),
        None
    )
    .expect("empty is fine")
    .is_empty());
}

#[test]
fn emulate_or_no_mode_passes_no_tables_but_fw_cfg_always_goes() {
    let fw = "<sysinfo type='fwcfg'><entry name='opt/com.example/name'>example value</entry>\
        <entry name='opt/com.coreos/config' file='/var/lib/ign,1.json'/></sysinfo>";
    for mode in [None, Some("emulate")] {
        let args = build(&def(&domain(mode, &format!("{SYSINFO}{fw}"))), &ctx())
            .expect("builds")
            .args;
        assert!(!args.iter().any(|a| a == "-smbios"), "{mode:?}");
        let at = args.iter().position(|a| a == "-uuid").expect("uuid");
        assert_eq!(
            args[at + 2..at + 6],
            [
                "-fw_cfg",
                "name=opt/com.example/name,string=example value",
                "-fw_cfg",
                // libvirt leaves the comma single, which QEMU would split at.
                "name=opt/com.coreos/config,file=/var/lib/ign,,1.json",
            ]
        );
    }
}

#[test]
fn missing_sources_and_a_second_base_board_fail_the_start() {
    let e = build(&def(&domain(Some("sysinfo"), "")), &ctx()).expect_err("no sysinfo");
    assert_eq!(e.code, ErrorCode::XmlError);
    let e = build(&def(&domain(Some("host"), "")), &ctx());
    if !Path::new("/sys/class/dmi/id").exists() {
        let e = e.expect_err("no host tables here");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        assert_eq!(e.detail, "Host SMBIOS information is not available");
    }
    let two = "<sysinfo type='smbios'><baseBoard><entry name='product'>a</entry></baseBoard>\
        <baseBoard><entry name='product'>b</entry></baseBoard></sysinfo>";
    let e = build(&def(&domain(Some("sysinfo"), two)), &ctx()).expect_err("two boards");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.detail.contains("more than one entry to Type 2"),
        "{}",
        e.detail
    );
}

fn fake_dmi(dir: &Path) {
    let id = dir.join("id");
    std::fs::create_dir_all(&id).expect("dmi dir");
    for (file, value) in [
        ("bios_vendor", "SeaBIOS\n"),
        ("bios_version", "1.16.0-debian\n"),
        ("bios_date", "04/01/2014\n"),
        ("sys_vendor", "QEMU, Inc\n"),
        ("product_name", "Standard PC (i440FX + PIIX, 1996)\n"),
        ("product_uuid", "00000000-0000-0000-0000-000000000042\n"),
        ("product_serial", "\n"),
        ("board_vendor", "ACME\n"),
        ("chassis_vendor", "QEMU\n"),
        ("chassis_asset_tag", "tag-1\n"),
    ] {
        std::fs::write(id.join(file), value).expect("dmi file");
    }
    // One OEM-strings structure: type 11, length 5, handle, count 2, then the strings.
    let raw = dir.join("entries/11-0");
    std::fs::create_dir_all(&raw).expect("entries dir");
    let mut bytes = vec![11u8, 5, 0x00, 0x0b, 2];
    bytes.extend_from_slice(b"first\0second, with comma\0\0");
    std::fs::write(raw.join("raw"), bytes).expect("raw");
}

#[test]
fn host_mode_copies_the_hosts_tables_without_its_uuid() {
    let dir = tempfile::tempdir().expect("tmp");
    fake_dmi(dir.path());
    let host: SmbiosInfo =
        host_smbios(&dir.path().join("id"), &dir.path().join("entries")).expect("readable");
    assert_eq!(
        host.system.as_ref().and_then(|s| s.get("uuid")),
        Some("00000000-0000-0000-0000-000000000042")
    );
    // Unreadable or empty fields are left out (product_serial is empty here).
    assert_eq!(host.system.as_ref().and_then(|s| s.get("serial")), None);
    let d = def(&domain(Some("host"), SYSINFO));
    assert_eq!(
        smbios_args(&d, Some(&host)).expect("builds"),
        [
            "type=0,vendor=SeaBIOS,version=1.16.0-debian,date=04/01/2014",
            "type=1,manufacturer=QEMU,, Inc,product=Standard PC (i440FX + PIIX,, 1996)",
            "type=2,manufacturer=ACME",
            "type=3,manufacturer=QEMU,asset=tag-1",
            "type=11,value=first,value=second,, with comma",
        ]
    );
    let empty = tempfile::tempdir().expect("tmp");
    assert_eq!(host_smbios(empty.path(), empty.path()), None);
}

#[test]
fn raw_structures_yield_their_string_sets_and_survive_truncation() {
    assert_eq!(structure_strings(&[11, 5, 0, 0, 1, b'a', 0, 0]), ["a"]);
    assert!(structure_strings(&[11, 5, 0, 0, 0, 0, 0]).is_empty());
    assert!(structure_strings(&[11]).is_empty());
    assert!(structure_strings(&[11, 200, 0]).is_empty());
    assert_eq!(structure_strings(&[11, 2, b'x']), ["x"]);
}
