//! Foreign XML kept as written: the application data under `<metadata>`, whose vocabulary
//! belongs to other programs (libosinfo, OpenStack nova, GNOME Boxes) and which libvirt stores
//! and prints back without interpreting it.

/// A foreign element with its subtree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    /// Namespace prefix as written (`nova` in `<nova:instance>`); `None` for a default namespace.
    pub prefix: Option<String>,
    /// Namespace URI the element belongs to.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Namespace declarations printed on this element, `(prefix, uri)`; prefix `None` is
    /// `xmlns='uri'`.
    pub namespace_decls: Vec<(Option<String>, String)>,
    /// Attributes as `(qualified name, value)`, in document order.
    pub attributes: Vec<(String, String)>,
    /// Child elements and text, in document order. Whitespace-only text between child elements
    /// is not kept (libvirt parses with blank removal).
    pub children: Vec<XmlNode>,
}

/// A child of an [`XmlElement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlNode {
    /// An element.
    Element(XmlElement),
    /// Character data (already unescaped).
    Text(String),
}

impl XmlElement {
    /// The qualified name (`prefix:name` or `name`).
    pub fn qualified_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }
}
