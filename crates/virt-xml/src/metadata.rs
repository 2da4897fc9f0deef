//! `<metadata>`: application data in foreign namespaces, kept as written and printed back the
//! way libvirt's libxml2 serialiser does (double-quoted attributes, the namespace declaration
//! on the element, children indented when there is no text beside them).
//!
//! libvirt silently drops an un-namespaced child and every element after the first in one
//! namespace; both are errors here, so nothing a client stored disappears unnoticed.

use virt_core::model::xmlnode::{XmlElement, XmlNode};

use crate::dom::{Element, Node};
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// Parses the children of `<metadata>`.
pub fn parse(mut c: Cursor<'_>) -> Result<Vec<XmlElement>, XmlError> {
    let mut out: Vec<XmlElement> = Vec::new();
    for (_, child) in c.all_children() {
        let el = child.element();
        let Some(ns) = &el.ns else {
            return Err(XmlError::Unsupported {
                path: child.path().to_string(),
                message: "metadata elements must have a namespace".into(),
            });
        };
        if out
            .iter()
            .any(|o| o.namespace.as_deref() == Some(ns.as_str()))
        {
            return Err(XmlError::Duplicate {
                path: child.path().to_string(),
            });
        }
        let mut converted = convert(el);
        // Printed on its own, the subtree must declare every namespace it uses.
        let mut missing = Vec::new();
        undeclared(el, &mut Vec::new(), &mut missing);
        for (i, decl) in missing.into_iter().enumerate() {
            converted.namespace_decls.insert(i, decl);
        }
        out.push(converted);
    }
    c.finish()?;
    Ok(out)
}

/// Collects `(prefix, uri)` for element prefixes used in `el`'s subtree but declared outside it.
fn undeclared<'a>(
    el: &'a Element,
    scope: &mut Vec<&'a Option<String>>,
    out: &mut Vec<(Option<String>, String)>,
) {
    let depth = scope.len();
    scope.extend(el.ns_decls.iter().map(|(p, _)| p));
    let declared = scope.contains(&&el.prefix) || out.iter().any(|(p, _)| *p == el.prefix);
    if let (false, Some(uri)) = (declared, &el.ns) {
        out.push((el.prefix.clone(), uri.clone()));
    }
    for child in el.elements() {
        undeclared(child, scope, out);
    }
    scope.truncate(depth);
}

fn convert(el: &Element) -> XmlElement {
    XmlElement {
        prefix: el.prefix.clone(),
        namespace: el.ns.clone(),
        name: el.name.clone(),
        namespace_decls: el.ns_decls.clone(),
        attributes: el
            .attrs
            .iter()
            .map(|a| (a.qname.clone(), a.value.clone()))
            .collect(),
        children: el
            .children
            .iter()
            .map(|n| match n {
                Node::Element(e) => XmlNode::Element(convert(e)),
                Node::Text(t) => XmlNode::Text(t.clone()),
            })
            .collect(),
    }
}

/// Writes one metadata element at the writer's indentation.
pub fn format(w: &mut Writer, el: &XmlElement) {
    let mut s = String::new();
    for _ in 0..w.depth() {
        s.push_str("  ");
    }
    serialize(&mut s, el, w.depth());
    s.push('\n');
    w.raw(&s);
}

fn serialize(out: &mut String, el: &XmlElement, depth: usize) {
    let name = el.qualified_name();
    out.push('<');
    out.push_str(&name);
    for (p, uri) in &el.namespace_decls {
        match p {
            Some(p) => out.push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(uri))),
            None => out.push_str(&format!(" xmlns=\"{}\"", escape_attr(uri))),
        }
    }
    for (k, v) in &el.attributes {
        out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let indent = el.children.iter().all(|n| matches!(n, XmlNode::Element(_)));
    for child in &el.children {
        match child {
            XmlNode::Text(t) => out.push_str(&escape_text(t)),
            XmlNode::Element(e) if indent => {
                out.push('\n');
                for _ in 0..=depth {
                    out.push_str("  ");
                }
                serialize(out, e, depth + 1);
            }
            XmlNode::Element(e) => serialize(out, e, depth + 1),
        }
    }
    if indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    out.push_str(&format!("</{name}>"));
}

/// libxml2's text escaping.
fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#13;")
}

/// libxml2's attribute escaping.
fn escape_attr(s: &str) -> String {
    escape_text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

/// Parses one element given as a document of its own (the `metadata` argument of
/// virDomainSetMetadata); un-namespaced elements are allowed, the caller puts them in one.
pub fn parse_element(xml: &str) -> Result<XmlElement, XmlError> {
    let root = crate::dom::parse(xml, "metadata_xml")?;
    Ok(convert(&root))
}

/// Formats one element at the left margin, as libxml2 prints a node on its own.
pub fn format_element(el: &XmlElement) -> String {
    let mut s = String::new();
    serialize(&mut s, el, 0);
    s
}
