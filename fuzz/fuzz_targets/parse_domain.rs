//! cargo-fuzz target: arbitrary bytes as UTF-8 domain XML. Nothing may panic, and whatever
//! parses must format to XML that parses again and formats identically.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_xml::LibvirtXml;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(def) = LibvirtXml.parse_domain(xml) else {
        return;
    };
    let opts = FormatOptions {
        id: None,
        secure: false,
        inactive: true,
    };
    let once = LibvirtXml.format_domain(&def, opts);
    let again = LibvirtXml
        .parse_domain(&once)
        .expect("formatted output parses again");
    // A bus-less disk or index-less controller may move once (libvirt sorts before filling
    // defaults), so compare the second and third formatting.
    let twice = LibvirtXml.format_domain(&again, opts);
    let third = LibvirtXml.format_domain(
        &LibvirtXml.parse_domain(&twice).expect("parses a third time"),
        opts,
    );
    assert_eq!(twice, third, "format(parse(x)) is not a fixed point");
});
