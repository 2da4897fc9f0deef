//! Throwaway: formats a domain file.
fn main() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let p = std::env::args().nth(1).expect("file");
    let s = std::fs::read_to_string(p).expect("read");
    match virt_xml::LibvirtXml.parse_domain(&s) {
        Ok(d) => print!(
            "{}",
            virt_xml::LibvirtXml.format_domain(&d, FormatOptions::default())
        ),
        Err(e) => eprintln!("ERR {}", e.message()),
    }
}
