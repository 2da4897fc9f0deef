//! A small owned element tree built from quick-xml's event stream, with the checks a
//! hand-written event loop would otherwise forget: one root, matched tags, no DTD (so no entity
//! expansion attacks), only the five predefined entities and character references, only legal
//! XML characters, resolved namespace prefixes, and limits on size, depth and element count.
//!
//! Whitespace-only text between child elements is dropped here, as libvirt's parser does
//! (blank removal); text in an element that has no child elements is kept verbatim.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::XmlError;

/// Largest document accepted (libvirt's own limit for XML files is 10 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 200_000;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An element with its attributes and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Prefix as written.
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Namespace URI in scope for the element (`None`: no namespace).
    pub ns: Option<String>,
    /// Namespace declarations written on this element, `(prefix, uri)`.
    pub ns_decls: Vec<(Option<String>, String)>,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attr>,
    /// Children in document order.
    pub children: Vec<Node>,
    /// 1-based line of the start tag.
    pub line: usize,
}

/// An attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Qualified name as written.
    pub qname: String,
    /// Whether the name carries a prefix (`xml:lang`, `foo:bar`).
    pub prefixed: bool,
    /// Value after normalisation and entity expansion.
    pub value: String,
}

/// A child node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (adjacent text, CDATA and references merged).
    Text(String),
}

impl Element {
    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The concatenated text children.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The qualified name as written.
    pub fn qname(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Parses `input` into its root element. `document` labels positions in error messages.
pub fn parse(input: &str, document: &'static str) -> Result<Element, XmlError> {
    if input.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    // A UTF-8 byte order mark is allowed before the prolog, as libxml2 allows it.
    Builder::new(input.strip_prefix('\u{FEFF}').unwrap_or(input), document).run()
}

struct Builder<'a> {
    input: &'a str,
    document: &'static str,
    reader: Reader<&'a [u8]>,
    stack: Vec<Element>,
    scopes: Vec<Vec<(Option<String>, String)>>,
    root: Option<Element>,
    count: usize,
    /// Byte offset up to which newlines have been counted, and their count.
    lines_scanned_to: usize,
    lines_before: usize,
}

impl<'a> Builder<'a> {
    fn new(input: &'a str, document: &'static str) -> Builder<'a> {
        let mut reader = Reader::from_str(input);
        let cfg = reader.config_mut();
        cfg.check_comments = true;
        cfg.check_end_names = true;
        cfg.expand_empty_elements = false;
        cfg.trim_text(false);
        Builder {
            input,
            document,
            reader,
            stack: Vec::new(),
            scopes: Vec::new(),
            root: None,
            count: 0,
            lines_scanned_to: 0,
            lines_before: 0,
        }
    }

    fn malformed_at(&self, pos: usize, message: impl Into<String>) -> XmlError {
        let pos = pos.min(self.input.len());
        let mut cut = pos;
        while !self.input.is_char_boundary(cut) {
            cut -= 1;
        }
        let before = &self.input[..cut];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        XmlError::Malformed {
            document: self.document,
            line,
            column,
            message: message.into(),
        }
    }

    fn malformed(&self, message: impl Into<String>) -> XmlError {
        self.malformed_at(self.reader.buffer_position() as usize, message)
    }

    fn run(mut self) -> Result<Element, XmlError> {
        if let Some(off) = self.input.find(|c: char| !is_xml_char(c)) {
            return Err(self.malformed_at(off, "character not allowed in XML"));
        }
        let mut seen_event = false;
        loop {
            let ev = match self.reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let pos = self.reader.error_position() as usize;
                    return Err(self.malformed_at(pos, e.to_string()));
                }
            };
            let first = !seen_event;
            seen_event = true;
            match ev {
                Event::Decl(d) => {
                    if !first {
                        return Err(self.malformed("XML declaration allowed only at the start"));
                    }
                    self.check_decl(&d)?;
                }
                Event::DocType(_) => {
                    return Err(self.malformed("DTDs and entity declarations are not accepted"));
                }
                Event::Start(s) => self.open(&s)?,
                Event::Empty(s) => {
                    self.open(&s)?;
                    self.close()?;
                }
                Event::End(_) => self.close()?,
                Event::Text(t) => {
                    let text = t
                        .xml10_content()
                        .map_err(|e| self.malformed(e.to_string()))?;
                    self.text(&text)?;
                }
                Event::CData(c) => {
                    let text = c
                        .xml10_content()
                        .map_err(|e| self.malformed(e.to_string()))?;
                    self.text(&text)?;
                }
                Event::GeneralRef(r) => {
                    let name = r
                        .decode()
                        .map_err(|e| self.malformed(e.to_string()))?
                        .into_owned();
                    let resolved = self.reference(&name, r.resolve_char_ref())?;
                    self.text(&resolved)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = self.stack.last() {
            let msg = format!(
                "premature end of data in tag {} line {}",
                open.qname(),
                open.line
            );
            return Err(self.malformed_at(self.input.len(), msg));
        }
        self.root
            .take()
            .ok_or_else(|| self.malformed("document has no root element"))
    }

    fn check_decl(&self, d: &quick_xml::events::BytesDecl<'_>) -> Result<(), XmlError> {
        let version = d.version().map_err(|e| self.malformed(e.to_string()))?;
        if version.as_ref() != b"1.0" {
            return Err(self.malformed("only XML version 1.0 is accepted"));
        }
        if let Some(enc) = d.encoding() {
            let enc = enc.map_err(|e| self.malformed(e.to_string()))?;
            let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
            if enc != "utf-8" && enc != "utf8" && enc != "us-ascii" && enc != "ascii" {
                return Err(
                    self.malformed(format!("unsupported encoding '{enc}': documents are UTF-8"))
                );
            }
        }
        Ok(())
    }

    fn reference(
        &self,
        name: &str,
        char_ref: Result<Option<char>, quick_xml::Error>,
    ) -> Result<String, XmlError> {
        match char_ref {
            Ok(Some(c)) if is_xml_char(c) => return Ok(c.to_string()),
            Ok(Some(_)) => {
                return Err(self.malformed(format!(
                    "character reference &{name}; is not a legal XML character"
                )))
            }
            Err(e) => return Err(self.malformed(format!("bad character reference &{name};: {e}"))),
            Ok(None) => {}
        }
        match name {
            "lt" => Ok("<".into()),
            "gt" => Ok(">".into()),
            "amp" => Ok("&".into()),
            "apos" => Ok("'".into()),
            "quot" => Ok("\"".into()),
            _ => Err(self.malformed(format!("entity '{name}' not defined"))),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(el) => {
                if let Some(Node::Text(t)) = el.children.last_mut() {
                    t.push_str(text);
                } else {
                    el.children.push(Node::Text(text.to_string()));
                }
                Ok(())
            }
            None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) => Ok(()),
            None if self.root.is_some() => {
                Err(self.malformed("extra content at the end of the document"))
            }
            None => Err(self.malformed("start tag expected, '<' not found")),
        }
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), XmlError> {
        let line = self.line_here();
        if self.root.is_some() {
            return Err(self.malformed("extra content at the end of the document"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(XmlError::TooComplex {
                what: "element nesting",
                limit: MAX_DEPTH,
                line,
            });
        }
        self.count += 1;
        if self.count > MAX_ELEMENTS {
            return Err(XmlError::TooComplex {
                what: "element count",
                limit: MAX_ELEMENTS,
                line,
            });
        }
        let qname = std::str::from_utf8(start.name().as_ref())
            .map_err(|e| self.malformed(e.to_string()))?
            .to_string();
        let mut decls = Vec::new();
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.malformed(format!("in tag {qname}: {e}")))?;
            let key = std::str::from_utf8(attr.key.as_ref())
                .map_err(|e| self.malformed(e.to_string()))?
                .to_string();
            let value = self.attr_value(&qname, &key, &attr.value)?;
            if key == "xmlns" {
                decls.push((None, value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(self.malformed(format!(
                        "empty namespace name for prefix '{p}' in tag {qname}"
                    )));
                }
                decls.push((Some(p.to_string()), value));
            } else {
                attrs.push(Attr {
                    prefixed: key.contains(':'),
                    qname: key,
                    value,
                });
            }
        }
        self.scopes.push(decls.clone());
        let (prefix, name) = match qname.split_once(':') {
            Some((p, n)) => (Some(p.to_string()), n.to_string()),
            None => (None, qname.clone()),
        };
        let ns = self.resolve(prefix.as_deref(), &qname)?;
        for a in attrs.iter().filter(|a| a.prefixed) {
            let p = a.qname.split(':').next().unwrap_or_default();
            self.resolve(Some(p), &a.qname)?;
        }
        self.stack.push(Element {
            prefix,
            name,
            ns,
            ns_decls: decls,
            attrs,
            children: Vec::new(),
            line,
        });
        Ok(())
    }

    fn resolve(&self, prefix: Option<&str>, qname: &str) -> Result<Option<String>, XmlError> {
        if prefix == Some("xml") {
            return Ok(Some(XML_NS.to_string()));
        }
        for scope in self.scopes.iter().rev() {
            if let Some((_, uri)) = scope.iter().find(|(p, _)| p.as_deref() == prefix) {
                return Ok((!uri.is_empty()).then(|| uri.clone()));
            }
        }
        match prefix {
            None => Ok(None),
            Some(p) => {
                Err(self.malformed(format!("namespace prefix {p} on {qname} is not defined")))
            }
        }
    }

    fn attr_value(&self, tag: &str, key: &str, raw: &[u8]) -> Result<String, XmlError> {
        let raw = std::str::from_utf8(raw).map_err(|e| self.malformed(e.to_string()))?;
        if raw.contains('<') {
            return Err(self.malformed(format!(
                "unescaped '<' not allowed in attribute {key} of {tag}"
            )));
        }
        let normalised = raw.replace("\r\n", " ").replace(['\r', '\n', '\t'], " ");
        let value = quick_xml::escape::unescape(&normalised)
            .map_err(|e| self.malformed(format!("attribute {key} of {tag}: {e}")))?;
        if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
            return Err(self.malformed(format!(
                "attribute {key} of {tag}: character U+{:04X} not allowed",
                c as u32
            )));
        }
        Ok(value.into_owned())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        let mut el = self
            .stack
            .pop()
            .ok_or_else(|| self.malformed("unexpected end tag"))?;
        self.scopes.pop();
        if el.children.iter().any(|n| matches!(n, Node::Element(_))) {
            el.children.retain(|n| match n {
                Node::Text(t) => !t.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')),
                Node::Element(_) => true,
            });
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => self.root = Some(el),
        }
        Ok(())
    }

    /// Line of the reader's position. The reader only moves forward, so the
    /// count advances from where it stood last time: linear over the document
    /// rather than one scan from the start per element.
    fn line_here(&mut self) -> usize {
        let pos = (self.reader.buffer_position() as usize).min(self.input.len());
        let mut cut = pos;
        while !self.input.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut > self.lines_scanned_to {
            self.lines_before += self.input.as_bytes()[self.lines_scanned_to..cut]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.lines_scanned_to = cut;
        }
        self.lines_before + 1
    }
}

/// Whether `c` may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        parse(input, "(test)")
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn builds_a_tree_with_entities_namespaces_and_blank_removal() {
        let root = parse(
            "<?xml version='1.0'?>\n<a xmlns:t='urn:t' x='1&amp;2'>\n  <t:b>&lt;&#65;<![CDATA[<c>]]></t:b>\n  <!-- c --><d/>\n</a>",
            "(test)",
        )
        .expect("well-formed");
        assert_eq!(root.name, "a");
        assert_eq!(root.attrs[0].value, "1&2");
        assert_eq!(root.children.len(), 2);
        let b = root.elements().next().expect("b");
        assert_eq!(b.ns.as_deref(), Some("urn:t"));
        assert_eq!(b.text(), "<A<c>");
        assert_eq!(b.line, 3);
        let bom = parse("\u{FEFF}<a/>", "(test)").expect("a byte order mark is allowed");
        assert_eq!(bom.name, "a");
    }

    #[test]
    fn refuses_what_is_not_well_formed_with_a_position() {
        assert!(err("<a><b></a>").contains("(test):1:"));
        assert!(err("<a>\n<b>\n").contains("premature end of data"));
        assert!(err("<a/><b/>").contains("extra content"));
        assert!(err("junk").contains("'<' not found"));
        assert!(err("<a>&foo;</a>").contains("entity 'foo' not defined"));
        assert!(err("<a x='<'/>").contains("unescaped '<'"));
        assert!(err("<a>\u{1}</a>").contains("not allowed"));
        assert!(err("<a>&#0;</a>").contains("character"));
        assert!(err("<q:a/>").contains("prefix q"));
        assert!(err("<a x='1' x='2'/>").contains("(test):1:"));
        assert!(err("").contains("no root"));
    }

    #[test]
    fn refuses_dtds_and_oversized_or_deep_documents() {
        let bomb = "<!DOCTYPE a [<!ENTITY x 'xx'>]><a>&x;</a>";
        assert!(err(bomb).contains("DTD"));
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).contains("element nesting exceeds the limit of 64"));
        let big = format!("<a>{}</a>", " ".repeat(MAX_DOCUMENT_BYTES));
        assert!(matches!(
            parse(&big, "(test)"),
            Err(XmlError::TooLarge { .. })
        ));
    }
}
