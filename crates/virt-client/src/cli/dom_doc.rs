//! The domain XML as virsh's `virshDomainGetXML` gives it to the commands that read it
//! client-side (`domblklist`, `domiflist`, `domif-getlink`), and the few XPath idioms they use.

use virt_client::Connection;
use virt_xml::dom::Element;

use super::dom::{resolve, DomArg, ANY};
use super::report::CliError;

/// Resolves the domain argument and parses its XML (GetDomainXml with `flags`).
pub async fn domain_doc(conn: &Connection, dom: &DomArg, flags: u32) -> Result<Element, CliError> {
    let target = resolve(conn, dom.get(), ANY).await?;
    let xml = conn.domain_xml(&target.lookup, flags).await?;
    virt_xml::dom::parse(&xml, "domain").map_err(|e| CliError::msg(e.to_string()))
}

/// The `<devices>` children of the root named `name` (XPath `./devices/NAME`).
pub fn devices<'a>(root: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    root.elements()
        .filter(|e| e.name == "devices")
        .flat_map(move |d| d.elements().filter(move |e| e.name == name))
}

/// The attribute `attr` of the element.
pub fn attr<'a>(e: &'a Element, attr: &str) -> Option<&'a str> {
    e.attrs
        .iter()
        .find(|a| a.qname == attr)
        .map(|a| a.value.as_str())
}

/// XPath `string(./CHILD/@A | ./CHILD/@B ...)` as libvirt's `virXPathString` answers it: the
/// first matching attribute in document order, `None` when there is none or it is empty.
pub fn child_attr(e: &Element, child: &str, attrs: &[&str]) -> Option<String> {
    e.elements()
        .filter(|c| c.name == child)
        .flat_map(|c| c.attrs.iter())
        .find(|a| attrs.contains(&a.qname.as_str()))
        .map(|a| a.value.clone())
        .filter(|v| !v.is_empty())
}

/// XPath `string(@A)` as `virXPathString`: `None` when missing or empty.
pub fn own_attr(e: &Element, name: &str) -> Option<String> {
    attr(e, name).filter(|v| !v.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_attribute_in_document_order() {
        let root = virt_xml::dom::parse(
            "<domain><devices><disk type='file'><source dev='/b' file='/a'/>\
             <target dev=''/></disk></devices></domain>",
            "t",
        )
        .expect("test input");
        let disk = devices(&root, "disk").next().expect("test input");
        assert_eq!(
            child_attr(disk, "source", &["file", "dev"]).as_deref(),
            Some("/b")
        );
        assert_eq!(child_attr(disk, "target", &["dev"]), None);
        assert_eq!(own_attr(disk, "type").as_deref(), Some("file"));
        assert_eq!(own_attr(disk, "device"), None);
    }
}
