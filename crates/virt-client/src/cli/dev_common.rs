//! What the device and console commands (attach-disk, detach-interface, change-media, ...)
//! share: virsh's `--persistent --config --live --current` options, the API name virsh calls
//! without flags, a device element written back as virsh's `virXMLNodeToString` writes it
//! (libxml2's node dump), and virsh's numeric option parsing.

use virt_client::Connection;
use virt_core::proto::{DomainXmlFlag, ModificationFlag as F};
use virt_core::ErrorCode;
use virt_xml::dom::{Element, Node};

use super::dom::Target;
use super::impact::exclusive;
use super::report::CliError;

/// `--persistent --config --live --current`.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Affect {
    /// Make live change persistent.
    #[arg(long)]
    pub persistent: bool,
    /// Affect next boot.
    #[arg(long)]
    pub config: bool,
    /// Affect running domain.
    #[arg(long)]
    pub live: bool,
    /// Affect current domain.
    #[arg(long)]
    pub current: bool,
}

impl Affect {
    /// virsh's exclusivity checks: `--persistent`, `--live` and `--config` each refused with
    /// `--current`.
    pub fn check(&self) -> Result<(), CliError> {
        if self.persistent && self.current {
            return Err(exclusive("persistent", "current"));
        }
        if self.current && self.live {
            return Err(exclusive("current", "live"));
        }
        if self.current && self.config {
            return Err(exclusive("current", "config"));
        }
        Ok(())
    }

    /// The bits known before the domain is looked up: CONFIG for `--config` or
    /// `--persistent`, LIVE for `--live`.
    pub fn base_flags(&self) -> u32 {
        let mut flags = 0;
        if self.config || self.persistent {
            flags |= F::Config as u32;
        }
        if self.live {
            flags |= F::Live as u32;
        }
        flags
    }

    /// The flags of the call: `--persistent` adds LIVE when the domain runs.
    pub fn flags(&self, running: bool) -> u32 {
        let mut flags = self.base_flags();
        if self.persistent && running {
            flags |= F::Live as u32;
        }
        flags
    }

    /// Whether virsh calls the `...Flags` API: with any flag set or `--current`; otherwise it
    /// calls the flagless one (virDomainAttachDevice, virDomainDetachDevice).
    pub fn uses_flags_api(&self, flags: u32) -> bool {
        flags != 0 || self.current
    }
}

/// The domain XML flags virsh reads a device from: the inactive definition for `--config`.
pub fn xml_flags(config: bool) -> u32 {
    if config {
        DomainXmlFlag::Inactive as u32
    } else {
        0
    }
}

/// The domain's XML, parsed, with the indentation libvirt writes it with put back as text
/// (the parser drops whitespace between elements), so that a device element dumps as virsh
/// dumps it from the document it read.
pub async fn domain_root(conn: &Connection, t: &Target, flags: u32) -> Result<Element, CliError> {
    let xml = conn.domain_xml(&t.lookup, flags).await?;
    let mut root =
        virt_xml::dom::parse(&xml, "domain").map_err(|e| CliError::msg(e.to_string()))?;
    relayout(&mut root, 0);
    Ok(root)
}

/// Puts libvirt's two-space indentation back into `e` (at nesting `depth`) and below:
/// before each child element a newline and the child's indentation, before the end tag a
/// newline and `e`'s own. Elements holding text are left alone.
pub fn relayout(e: &mut Element, depth: usize) {
    let has_text = e
        .children
        .iter()
        .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()));
    if has_text || !e.children.iter().any(|n| matches!(n, Node::Element(_))) {
        return;
    }
    let inner = format!("\n{}", " ".repeat(2 * (depth + 1)));
    let mut children = Vec::with_capacity(e.children.len() * 2 + 1);
    for n in std::mem::take(&mut e.children) {
        if let Node::Element(mut c) = n {
            relayout(&mut c, depth + 1);
            children.push(Node::Text(inner.clone()));
            children.push(Node::Element(c));
        }
    }
    children.push(Node::Text(format!("\n{}", " ".repeat(2 * depth))));
    e.children = children;
}

/// A failed device call as virsh reports it. One rpc serves both libvirt APIs; when virsh
/// would have called the flagless API (`plain`), a driver that lacks the call is reported
/// under that name, as libvirt reports the call virsh made.
pub fn device_error(
    e: virt_client::ClientError,
    flags_api: bool,
    flagged: &str,
    plain: &str,
    context: &str,
) -> CliError {
    if !flags_api && e.code() == ErrorCode::NoSupport {
        let msg = e.to_string().replace(flagged, plain);
        return CliError::Lines(vec![context.to_string(), msg]);
    }
    CliError::Call {
        context: Some(context.to_string()),
        source: Box::new(e),
    }
}

/// Escapes an attribute value as libxml2's serializer does (inside double quotes).
fn escape_attr(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// Escapes character data as libxml2's serializer does.
fn escape_text(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// `e` as libxml2's xmlNodeDump writes it without formatting: the whitespace inside as it
/// was read, attributes in double quotes, empty elements as `<name/>`.
pub fn node_dump(e: &Element) -> String {
    let mut out = String::new();
    dump(e, &mut out);
    out
}

fn dump(e: &Element, out: &mut String) {
    let name = e.qname();
    out.push('<');
    out.push_str(&name);
    for (prefix, uri) in &e.ns_decls {
        match prefix {
            Some(p) => out.push_str(&format!(" xmlns:{p}=\"")),
            None => out.push_str(" xmlns=\""),
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for a in &e.attrs {
        out.push(' ');
        out.push_str(&a.qname);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(child) => dump(child, out),
            Node::Text(t) => escape_text(t, out),
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

/// Escapes a value as libvirt's virBufferEscapeString does for XML built by virsh.
pub fn escape_xml(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// C's strtoul prefix: leading blanks, an optional sign, digits of `radix` (a `0x` prefix
/// allowed for 16 and for radix 0, which also takes octal). Returns the value (None on
/// overflow or no digits) and the rest.
pub fn strtoul(s: &str, radix: u32) -> Option<(u64, bool, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let hex_prefix = |t: &str| {
        (t.starts_with("0x") || t.starts_with("0X"))
            && t[2..].chars().next().is_some_and(|c| c.is_ascii_hexdigit())
    };
    let (radix, t) = match radix {
        16 if hex_prefix(t) => (16, &t[2..]),
        0 if hex_prefix(t) => (16, &t[2..]),
        0 if t.starts_with('0') => (8, t),
        0 => (10, t),
        r => (r, t),
    };
    let n = t.chars().take_while(|c| c.is_digit(radix)).count();
    if n == 0 {
        return None;
    }
    let v = u64::from_str_radix(&t[..n], radix).ok()?;
    Some((v, neg, &t[n..]))
}

/// libvirt's virStrToLong_uip with no trailing text allowed (vshCommandOptUInt): a
/// non-negative number that fits 32 bits.
pub fn parse_uint_full(s: &str, radix: u32) -> Option<u32> {
    match strtoul(s, radix)? {
        (v, false, "") => u32::try_from(v).ok(),
        (0, true, "") => Some(0),
        _ => None,
    }
}

/// virsh's message for a malformed numeric option.
pub fn numeric_error(value: &str, option: &str) -> CliError {
    CliError::msg(format!(
        "Numeric value '{value}' for <{option}> option is malformed or out of range"
    ))
}

/// virsh's message for an option given as an empty string.
pub fn empty_error(option: &str) -> CliError {
    CliError::msg(format!(
        "Failed to get option '{option}': Option argument is empty"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_dump_uses_double_quotes_and_escapes() {
        let root = virt_xml::dom::parse(
            "<domain><devices><disk type='file'><source file='/a&amp;b&quot;'/></disk></devices></domain>",
            "t",
        )
        .expect("test input");
        let devices = root.elements().next().expect("devices");
        let disk = devices.elements().next().expect("disk");
        assert_eq!(
            node_dump(disk),
            "<disk type=\"file\"><source file=\"/a&amp;b&quot;\"/></disk>"
        );
    }

    #[test]
    fn relayout_restores_libvirt_indentation() {
        let mut root = virt_xml::dom::parse(
            "<domain>\n  <devices>\n    <disk type='file'>\n      <source file='/a'/>\n    </disk>\n  </devices>\n</domain>",
            "t",
        )
        .expect("test input");
        relayout(&mut root, 0);
        let devices = root.elements().next().expect("devices");
        let disk = devices.elements().next().expect("disk");
        assert_eq!(
            node_dump(disk),
            "<disk type=\"file\">\n      <source file=\"/a\"/>\n    </disk>"
        );
    }

    #[test]
    fn strtoul_as_c() {
        assert_eq!(strtoul(" 5x", 10), Some((5, false, "x")));
        assert_eq!(strtoul("0x1e", 0), Some((0x1e, false, "")));
        assert_eq!(strtoul("010", 0), Some((8, false, "")));
        assert_eq!(strtoul("-1", 10), Some((1, true, "")));
        assert_eq!(strtoul("x", 10), None);
        assert_eq!(parse_uint_full("12", 10), Some(12));
        assert_eq!(parse_uint_full("-1", 10), None);
        assert_eq!(parse_uint_full("4294967296", 10), None);
    }

    #[test]
    fn affect_rules() {
        let a = Affect {
            persistent: true,
            ..Default::default()
        };
        assert_eq!(a.flags(true), 3);
        assert_eq!(a.flags(false), 2);
        assert!(!Affect::default().uses_flags_api(0));
        let c = Affect {
            current: true,
            ..Default::default()
        };
        assert!(c.uses_flags_api(0));
        let bad = Affect {
            current: true,
            live: true,
            ..Default::default()
        };
        assert_eq!(
            bad.check().expect_err("exclusive").lines(),
            vec!["Options --current and --live are mutually exclusive"]
        );
    }
}
