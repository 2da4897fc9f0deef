//! JSON text as libvirt prints it: [`compact`] is how virDomainQemuAgentCommand returns an
//! agent's reply (no insignificant whitespace), [`pretty`] is how `virsh qemu-agent-command
//! --pretty` shows it (libvirt 9.0's yajl generator with beautify on: two-space indent, `": "`
//! between key and value, an empty object or array printed as an open line, a blank line and
//! the closing bracket).
//!
//! Both keep member order and number text exactly as received (libvirt stores numbers as the
//! text it parsed), which a round trip through `serde_json::Value` would not. Strings are
//! decoded and re-encoded as yajl encodes them: `"`, `\`, `\b`, `\f`, `\n`, `\r`, `\t` and other
//! control characters escaped, everything else (non-ASCII included) written as UTF-8.

/// Text that is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {at}: {what}")]
pub struct JsonTextError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// A parsed value that remembers what printing needs.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Obj(Vec<(String, Node)>),
    Arr(Vec<Node>),
    Str(String),
    /// A number, as written.
    Num(String),
    /// `true`, `false` or `null`.
    Lit(&'static str),
}

/// `text` without insignificant whitespace, strings re-encoded as yajl does.
pub fn compact(text: &str) -> Result<String, JsonTextError> {
    let node = parse(text)?;
    let mut out = String::new();
    write(&node, None, 0, &mut out);
    Ok(out)
}

/// `text` pretty-printed as libvirt 9.0 (yajl beautify, two-space indent), without the final
/// newline (virsh trims it before printing its own).
pub fn pretty(text: &str) -> Result<String, JsonTextError> {
    let node = parse(text)?;
    let mut out = String::new();
    write(&node, Some("  "), 0, &mut out);
    Ok(out)
}

/// Whether `text` is one JSON object.
pub fn is_object(text: &str) -> bool {
    matches!(parse(text), Ok(Node::Obj(_)))
}

/// The member `key` of the JSON object `text`, compact (first one of that name); `Ok(None)`
/// when `text` is not an object or has no such member. `pretty` indents it as [`pretty`].
pub fn member(text: &str, key: &str, pretty: bool) -> Result<Option<String>, JsonTextError> {
    let Node::Obj(members) = parse(text)? else {
        return Ok(None);
    };
    Ok(members.into_iter().find(|(k, _)| k == key).map(|(_, v)| {
        let mut out = String::new();
        write(&v, pretty.then_some("  "), 0, &mut out);
        out
    }))
}

/// Parses `text` as one JSON value (surrounding whitespace allowed).
fn parse(text: &str) -> Result<Node, JsonTextError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let node = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters after the value"));
    }
    Ok(node)
}

/// Deeper nesting than this is refused (a hostile reply must not blow the stack).
const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> JsonTextError {
        JsonTextError { at: self.i, what }
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsonTextError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of text")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, JsonTextError> {
        self.i += 1;
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Ok(Node::Obj(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a member name"));
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return Err(self.err("expected ':'"));
            }
            members.push((key, self.value(depth + 1)?));
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                return Ok(Node::Obj(members));
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, JsonTextError> {
        self.i += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Node::Arr(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(b']') {
                return Ok(Node::Arr(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<Node, JsonTextError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(Node::Lit(word))
        } else {
            Err(self.err("expected true, false or null"))
        }
    }

    fn number(&mut self) -> Result<Node, JsonTextError> {
        let start = self.i;
        let digits = |p: &mut Parser<'_>| {
            let from = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i > from
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if !digits(self) {
            return Err(self.err("expected digits"));
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("expected exponent digits"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits and signs");
        Ok(Node::Num(text.to_string()))
    }

    fn hex4(&mut self) -> Result<u32, JsonTextError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("expected four hex digits after \\u"))?;
        self.i += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, JsonTextError> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.err("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err("control character in a string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    /// The character of a `\uXXXX` escape (the `\u` already read), joining surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char, JsonTextError> {
        let hi = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&hi) {
            if !self.s[self.i..].starts_with(b"\\u") {
                return Err(self.err("lone high surrogate"));
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xdc00..0xe000).contains(&lo) {
                return Err(self.err("bad low surrogate"));
            }
            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("escape is not a character"))
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent(unit: Option<&str>, depth: usize, out: &mut String) {
    if let Some(u) = unit {
        for _ in 0..depth {
            out.push_str(u);
        }
    }
}

/// Writes `node` at nesting `depth`; `unit` is the indent string when pretty.
fn write(node: &Node, unit: Option<&str>, depth: usize, out: &mut String) {
    let nl = |out: &mut String| {
        if unit.is_some() {
            out.push('\n');
        }
    };
    match node {
        Node::Obj(members) => {
            out.push('{');
            nl(out);
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    nl(out);
                }
                indent(unit, depth + 1, out);
                write_string(k, out);
                out.push(':');
                if unit.is_some() {
                    out.push(' ');
                }
                write(v, unit, depth + 1, out);
            }
            nl(out);
            indent(unit, depth, out);
            out.push('}');
        }
        Node::Arr(items) => {
            out.push('[');
            nl(out);
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    nl(out);
                }
                indent(unit, depth + 1, out);
                write(v, unit, depth + 1, out);
            }
            nl(out);
            indent(unit, depth, out);
            out.push(']');
        }
        Node::Str(s) => write_string(s, out),
        Node::Num(n) => out.push_str(n),
        Node::Lit(l) => out.push_str(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"{"return": {"version": "7.2.22", "n": 1.50e3, "ok": true, "none": null, "list": [1, {"a": "x\u00e9\/\n"}], "e": {}, "z": []}}"#;

    #[test]
    fn members_come_out_compact_or_pretty_and_objects_are_told_apart() {
        let reply = r#"{"return": {"b": 1, "a": [true]}, "id": "libvirt-7"}"#;
        assert_eq!(
            member(reply, "return", false).expect("valid").as_deref(),
            Some(r#"{"b":1,"a":[true]}"#)
        );
        assert_eq!(
            member(reply, "id", true).expect("valid").as_deref(),
            Some("\"libvirt-7\"")
        );
        assert_eq!(member(reply, "error", false).expect("valid"), None);
        assert_eq!(member("[1]", "return", false).expect("valid"), None);
        assert!(member("{", "return", false).is_err());
        assert!(is_object(reply));
        assert!(!is_object("\"x\""));
        assert!(!is_object("{status}"));
    }

    #[test]
    fn compact_drops_whitespace_and_keeps_order_and_number_text() {
        assert_eq!(
            compact(REPLY).expect("valid"),
            "{\"return\":{\"version\":\"7.2.22\",\"n\":1.50e3,\"ok\":true,\"none\":null,\
             \"list\":[1,{\"a\":\"xé/\\n\"}],\"e\":{},\"z\":[]}}"
        );
    }

    #[test]
    fn pretty_is_yajls_beautify_with_two_spaces() {
        let want = "{\n  \"return\": {\n    \"version\": \"7.2.22\",\n    \"n\": 1.50e3,\n    \
             \"ok\": true,\n    \"none\": null,\n    \"list\": [\n      1,\n      {\n        \
             \"a\": \"xé/\\n\"\n      }\n    ],\n    \"e\": {\n\n    },\n    \"z\": [\n\n    ]\n  }\n}";
        assert_eq!(pretty(REPLY).expect("valid"), want);
        assert_eq!(pretty("{}").expect("valid"), "{\n\n}");
    }

    #[test]
    fn malformed_text_is_an_error_naming_the_offset() {
        for (text, at) in [("{\"a\" 1}", 5), ("[1,]", 3), ("{} x", 3), ("\"\\q\"", 3)] {
            let e = compact(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {e}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert_eq!(compact(&deep).expect_err("deep").what, "nested too deeply");
    }

    #[test]
    fn surrogate_pairs_decode_and_control_characters_are_escaped() {
        assert_eq!(
            compact(r#""\ud83d\ude00\u0001""#).expect("valid"),
            "\"😀\\u0001\""
        );
    }
}
