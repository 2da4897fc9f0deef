//! Tests of `<features>`: expected text is libvirt 9.0's `virsh dumpxml` for the same input
//! (QEMU driver), and refusals name the XPath of what they refuse.

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;

use crate::LibvirtXml;

fn doc(features: &str) -> String {
    format!(
        "<domain type='kvm'><name>t</name><memory unit='KiB'>65536</memory>\
         <os><type>hvm</type></os><features>{features}</features></domain>"
    )
}

/// The `<features>` block `features` formats to, checked to be a fixed point (and, with
/// `schema`, valid against libvirt's schema).
fn features_of(features: &str, schema: Option<&str>) -> String {
    let def = LibvirtXml.parse_domain(&doc(features)).expect("accepted");
    let out = LibvirtXml.format_domain(&def, FormatOptions::default());
    let again = LibvirtXml.parse_domain(&out).expect("own output parses");
    assert_eq!(again, def, "not a fixed point:\n{out}");
    if let (Some(label), true) = (schema, crate::corpus_tests::validator_present()) {
        let label = format!("features-{label}");
        assert_eq!(
            crate::corpus_tests::validate(&out, "domain", &label),
            Some(Ok(()))
        );
    }
    let start = out.find("  <features>").expect("features printed");
    let end = out.find("  </features>").expect("features closed");
    out[start..end + "  </features>\n".len()].to_string()
}

fn refused(features: &str) -> (ErrorCode, String) {
    let e = LibvirtXml
        .parse_domain(&doc(features))
        .expect_err("refused");
    let path = e
        .violations
        .first()
        .map(|v| v.path.clone())
        .unwrap_or_default();
    (e.code, path)
}

#[test]
fn every_hyperv_and_kvm_feature_libvirt_9_knows_round_trips_in_its_order() {
    let input = "<msrs unknown='ignore'/><vmcoreinfo state='on'/><ioapic driver='kvm'/>\
        <smm state='on'/><vmport state='off'/><pmu state='off'/><pvspinlock state='on'/>\
        <kvm><dirty-ring state='on' size='4096'/><pv-ipi state='off'/><poll-control state='on'/>\
          <hint-dedicated state='on'/><hidden state='on'/></kvm>\
        <hyperv mode='custom'><avic state='on'/><evmcs state='on'/><ipi state='on'/>\
          <tlbflush state='on'/><reenlightenment state='on'/><frequencies state='on'/>\
          <vendor_id state='on' value='KVM Hv'/><reset state='on'/>\
          <stimer state='on'><direct state='on'/></stimer><synic state='on'/>\
          <runtime state='on'/><vpindex state='on'/><spinlocks state='on' retries='4096'/>\
          <vapic state='on'/><relaxed state='on'/></hyperv><apic/><acpi/>";
    // `virsh dumpxml` of the same features (libvirt 9.0, QEMU driver).
    let expected = "  <features>
    <acpi/>
    <apic/>
    <hyperv mode='custom'>
      <relaxed state='on'/>
      <vapic state='on'/>
      <spinlocks state='on' retries='4096'/>
      <vpindex state='on'/>
      <runtime state='on'/>
      <synic state='on'/>
      <stimer state='on'>
        <direct state='on'/>
      </stimer>
      <reset state='on'/>
      <vendor_id state='on' value='KVM Hv'/>
      <frequencies state='on'/>
      <reenlightenment state='on'/>
      <tlbflush state='on'/>
      <ipi state='on'/>
      <evmcs state='on'/>
      <avic state='on'/>
    </hyperv>
    <kvm>
      <hidden state='on'/>
      <hint-dedicated state='on'/>
      <poll-control state='on'/>
      <pv-ipi state='off'/>
      <dirty-ring state='on' size='4096'/>
    </kvm>
    <pvspinlock state='on'/>
    <pmu state='off'/>
    <vmport state='off'/>
    <smm state='on'/>
    <ioapic driver='kvm'/>
    <vmcoreinfo state='on'/>
    <msrs unknown='ignore'/>
  </features>
";
    assert_eq!(features_of(input, Some("all")), expected);
}

#[test]
fn empty_groups_keep_open_and_close_lines_and_a_bare_ioapic_vanishes() {
    assert_eq!(
        features_of("<hyperv/><kvm/><ioapic/><smm/>", Some("empty-groups")),
        "  <features>\n    <hyperv mode='custom'>\n    </hyperv>\n    <kvm>\n    </kvm>\n    \
         <smm state='on'/>\n  </features>\n"
    );
    assert_eq!(
        features_of("<hyperv mode='passthrough'/>", None),
        "  <features>\n    <hyperv mode='passthrough'>\n    </hyperv>\n  </features>\n"
    );
}

#[test]
fn what_an_off_sub_feature_carries_is_dropped_as_libvirt_does() {
    let out = features_of(
        "<hyperv><relaxed state='off'/><spinlocks state='off' retries='100'/>\
         <stimer state='off'><direct state='on'/></stimer><vendor_id state='off'/></hyperv>\
         <kvm><dirty-ring state='off' size='3'/></kvm>",
        Some("off"),
    );
    assert_eq!(
        out,
        "  <features>
    <hyperv mode='custom'>
      <relaxed state='off'/>
      <spinlocks state='off'/>
      <stimer state='off'/>
      <vendor_id state='off'/>
    </hyperv>
    <kvm>
      <dirty-ring state='off'/>
    </kvm>
  </features>
"
    );
    let out = features_of(
        "<hyperv><stimer state='on'><direct state='off'/></stimer>\
         <spinlocks state='on' retries='0x2000'/><vendor_id state='on' value=''/></hyperv>",
        None,
    );
    assert!(out.contains("      <stimer state='on'/>\n"), "{out}");
    assert!(
        out.contains("<spinlocks state='on' retries='8192'/>"),
        "{out}"
    );
    assert!(out.contains("<vendor_id state='on' value=''/>"), "{out}");
}

#[test]
fn malformed_and_later_hyperv_syntax_is_refused_naming_its_xpath() {
    let h = "/domain/features/hyperv";
    let cases: &[(&str, ErrorCode, String)] = &[
        (
            "<hyperv><spinlocks state='on'/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/spinlocks/@retries"),
        ),
        (
            "<hyperv><spinlocks state='on' retries='100'/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/spinlocks/@retries"),
        ),
        (
            "<hyperv><vendor_id state='on' value='0123456789abc'/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/vendor_id/@value"),
        ),
        (
            "<hyperv><vendor_id state='on' value='a,b'/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/vendor_id/@value"),
        ),
        (
            "<hyperv><vendor_id state='on'/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/vendor_id/@value"),
        ),
        (
            "<hyperv><relaxed/></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/relaxed/@state"),
        ),
        (
            "<hyperv><stimer><direct state='on'/></stimer></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/stimer/@state"),
        ),
        (
            "<hyperv><stimer state='on'><direct/></stimer></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/stimer/direct/@state"),
        ),
        (
            "<hyperv mode='bogus'/>",
            ErrorCode::XmlError,
            format!("{h}/@mode"),
        ),
        (
            "<hyperv><bogus state='on'/></hyperv>",
            ErrorCode::XmlDetail,
            format!("{h}/bogus"),
        ),
        // libvirt 9.1's additions are read, their children strictly.
        (
            "<hyperv><tlbflush state='on'><direct/></tlbflush></hyperv>",
            ErrorCode::XmlError,
            format!("{h}/tlbflush/direct/@state"),
        ),
        (
            "<hyperv><tlbflush state='on'><bogus state='on'/></tlbflush></hyperv>",
            ErrorCode::XmlDetail,
            format!("{h}/tlbflush/bogus"),
        ),
        (
            "<hyperv><relaxed state='on'/><relaxed state='off'/></hyperv>",
            ErrorCode::XmlDetail,
            format!("{h}/relaxed[2]"),
        ),
        (
            "<kvm><dirty-ring state='on' size='1000'/></kvm>",
            ErrorCode::XmlError,
            "/domain/features/kvm/dirty-ring/@size".into(),
        ),
        (
            "<kvm><hidden/></kvm>",
            ErrorCode::XmlError,
            "/domain/features/kvm/hidden/@state".into(),
        ),
        (
            "<msrs/>",
            ErrorCode::XmlError,
            "/domain/features/msrs/@unknown".into(),
        ),
        (
            "<msrs unknown='bogus'/>",
            ErrorCode::XmlError,
            "/domain/features/msrs/@unknown".into(),
        ),
        (
            "<ioapic driver='bogus'/>",
            ErrorCode::XmlError,
            "/domain/features/ioapic/@driver".into(),
        ),
        (
            "<pmu state='bogus'/>",
            ErrorCode::XmlError,
            "/domain/features/pmu/@state".into(),
        ),
    ];
    for (features, code, path) in cases {
        assert_eq!(refused(features), (*code, path.clone()), "{features}");
    }
}

#[test]
fn paravirtual_clocks_take_no_tick_policy_track_frequency_or_mode() {
    for (timer, attr) in [
        (
            "<timer name='hypervclock' present='yes' tickpolicy='catchup'/>",
            "tickpolicy",
        ),
        ("<timer name='hypervclock' track='guest'/>", "track"),
        ("<timer name='kvmclock' frequency='100'/>", "frequency"),
        ("<timer name='kvmclock' mode='native'/>", "mode"),
    ] {
        let xml = doc("").replace(
            "</domain>",
            &format!("<clock offset='utc'>{timer}</clock></domain>"),
        );
        let e = LibvirtXml.parse_domain(&xml).expect_err(timer);
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{timer}");
        assert_eq!(
            e.violations[0].path,
            format!("/domain/clock/timer[1]/@{attr}"),
            "{timer}"
        );
    }
    let ok = doc("").replace(
        "</domain>",
        "<clock offset='utc'><timer name='hypervclock' present='yes'/><timer name='kvmclock' present='no'/></clock></domain>",
    );
    LibvirtXml
        .parse_domain(&ok)
        .expect("plain paravirtual clocks");
}

#[test]
fn tlbflush_direct_and_extended_and_the_later_enlightenments_round_trip() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let xml = "<domain type='kvm'><name>w</name><memory>1024</memory><os><type>hvm</type></os>\
               <features><hyperv mode='custom'><tlbflush state='on'><direct state='on'/>\
               <extended state='on'/></tlbflush><emsr_bitmap state='on'/>\
               <xmm_input state='off'/></hyperv></features></domain>";
    let def = crate::LibvirtXml.parse_domain(xml).expect("parses");
    let out = crate::LibvirtXml.format_domain(&def, FormatOptions::default());
    for want in [
        "<tlbflush state='on'>",
        "<direct state='on'/>",
        "<extended state='on'/>",
        "<emsr_bitmap state='on'/>",
        "<xmm_input state='off'/>",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}

#[test]
fn xen_e820_host_and_passthrough_round_trip_after_the_other_features() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let xml = "<domain type='xen'><name>x</name><memory>1024</memory><os><type>hvm</type></os>\
               <features><xen><passthrough state='on'/><e820_host state='on'/></xen><acpi/>\
               </features></domain>";
    let def = crate::LibvirtXml.parse_domain(xml).expect("parses");
    let out = crate::LibvirtXml.format_domain(&def, FormatOptions::default());
    assert!(
        out.contains(
            "    <acpi/>\n    <xen>\n      <e820_host state='on'/>\n      \
             <passthrough state='on'/>\n    </xen>\n"
        ),
        "{out}"
    );
    let bad = xml.replace(
        "<passthrough state='on'/>",
        "<passthrough state='on' mode='sync_pt'/>",
    );
    assert!(crate::LibvirtXml.parse_domain(&bad).is_err());
}

#[test]
fn xen_commandline_arguments_round_trip_for_xen_domains_only() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let xml = "<domain type='xen' xmlns:xen='http://libvirt.org/schemas/domain/xen/1.0'>\
               <name>x</name><memory>1024</memory><os><type>hvm</type></os>\
               <xen:commandline><xen:arg value='-debugcon'/><xen:arg value='file:/tmp/d'/>\
               </xen:commandline></domain>";
    let def = crate::LibvirtXml.parse_domain(xml).expect("parses");
    assert_eq!(
        def.xen_commandline.as_deref(),
        Some(&["-debugcon".to_string(), "file:/tmp/d".to_string()][..])
    );
    let out = crate::LibvirtXml.format_domain(&def, FormatOptions::default());
    assert!(out.starts_with(
        "<domain type='xen' xmlns:xen='http://libvirt.org/schemas/domain/xen/1.0'>\n"
    ));
    assert!(
        out.ends_with(
            "  <xen:commandline>\n    <xen:arg value='-debugcon'/>\n    \
             <xen:arg value='file:/tmp/d'/>\n  </xen:commandline>\n</domain>\n"
        ),
        "{out}"
    );
    let kvm = xml.replace("type='xen'", "type='kvm'");
    assert!(crate::LibvirtXml.parse_domain(&kvm).is_err());
}

#[test]
fn numa_cells_round_trip_and_set_the_memory_size() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let xml = "<domain type='xen'><name>n</name><memory>4194304</memory><vcpu>4</vcpu>\
               <os><type>linux</type><kernel>/k</kernel></os><cpu><numa>\
               <cell id='0' cpus='0-1' memory='1' unit='GiB'><distances><sibling id='0' value='10'/>\
               <sibling id='1' value='20'/></distances></cell>\
               <cell id='1' cpus='2-3' memory='1048576'/></numa></cpu></domain>";
    let def = crate::LibvirtXml.parse_domain(xml).expect("parses");
    assert_eq!(def.memory_kib, 2_097_152);
    let cells = &def.cpu.as_ref().expect("cpu").numa;
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0].distances, vec![(0, 10), (1, 20)]);
    let out = crate::LibvirtXml.format_domain(&def, FormatOptions::default());
    assert!(
        out.contains(
            "  <cpu>\n    <numa>\n      <cell id='0' cpus='0-1' memory='1048576' unit='KiB'>\n        \
             <distances>\n          <sibling id='0' value='10'/>\n          <sibling id='1' value='20'/>\n        \
             </distances>\n      </cell>\n      <cell id='1' cpus='2-3' memory='1048576' unit='KiB'/>\n    \
             </numa>\n  </cpu>\n"
        ),
        "{out}"
    );
    for (from, to) in [("cpus='0-1'", "cpus='x'"), ("cell id='1'", "cell id='5'")] {
        let broken = xml.replacen(from, to, 1);
        assert!(crate::LibvirtXml.parse_domain(&broken).is_err(), "{to}");
    }
}
