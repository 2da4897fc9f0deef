//! The xl.cfg file syntax (xl.cfg(5), Xen's libxlu config grammar).
//!
//! `KEY = VALUE` or `KEY += VALUE` statements, ended by a newline or `;`; `#` comments to the
//! end of a line; values are strings (single or double quoted, C-style escapes in double
//! quotes), numbers (decimal, `0x` hex, leading-`0` octal) or lists `[ v, v, ]` of values
//! (newlines allowed inside, a trailing comma allowed). [`parse`] keeps statements in order
//! with their line numbers; [`format()`] writes them back canonically, as libvirt writes them:
//! `key = value`, strings in double quotes, lists on one line as `[ "a", "b" ]`.

use virt_core::{ErrorCode, ErrorDomain, VirtError};

/// One value of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A quoted string, unescaped.
    Str(String),
    /// A number.
    Num(i64),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// One statement: `key = value` (or `key += value`, `append`) at `line` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// Whether the statement was `+=`.
    pub append: bool,
    /// The line the statement starts on.
    pub line: usize,
}

fn err(line: usize, what: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::ConfSyntax,
        ErrorDomain::Xenxl,
        format!("xl.cfg line {line}: {what}"),
    )
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips blanks and comments; newlines too when `newlines`.
    fn skip(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' if newlines => {
                    self.line += 1;
                    self.pos += 1;
                }
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of file".into(),
            Some(b'\n') => "end of line".into(),
            Some(c) if c.is_ascii_graphic() => format!("'{}'", c as char),
            Some(c) => format!("byte 0x{c:02x}"),
        }
    }

    fn key(&mut self) -> Result<String, VirtError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        if start == self.pos || self.s[start].is_ascii_digit() {
            return Err(err(
                self.line,
                format!("expected a key, found {}", self.describe()),
            ));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn string(&mut self, quote: u8) -> Result<String, VirtError> {
        let line = self.line;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(err(line, "unterminated string"));
            };
            self.pos += 1;
            match c {
                b'\n' => return Err(err(line, "unterminated string (newline inside quotes)")),
                c if c == quote => break,
                b'\\' if quote == b'"' => {
                    let Some(e) = self.peek() else {
                        return Err(err(line, "unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'\\' | b'"' | b'\'' => out.push(e),
                        b'x' => {
                            let h = self.s.get(self.pos..self.pos + 2).unwrap_or_default();
                            let v = std::str::from_utf8(h)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                                .ok_or_else(|| err(line, "bad \\x escape in string"))?;
                            self.pos += 2;
                            out.push(v);
                        }
                        b'0'..=b'7' => {
                            let mut v: u32 = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            let v = u8::try_from(v).map_err(|_| err(line, "bad octal escape"))?;
                            out.push(v);
                        }
                        other => {
                            return Err(err(
                                line,
                                format!("unknown escape '\\{}' in string", other as char),
                            ))
                        }
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| err(line, "string is not UTF-8"))
    }

    fn number(&mut self) -> Result<i64, VirtError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let t = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            i64::from_str_radix(h, 16)
        } else if t.len() > 1 && t.starts_with('0') {
            i64::from_str_radix(&t[1..], 8)
        } else {
            t.parse()
        };
        parsed.map_err(|_| err(self.line, format!("bad number '{t}'")))
    }

    fn value(&mut self, depth: usize) -> Result<Value, VirtError> {
        if depth > 32 {
            return Err(err(self.line, "lists nested too deeply"));
        }
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::Str),
            Some(b'0'..=b'9') => self.number().map(Value::Num),

            Some(b'[') => {
                let line = self.line;
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::List(items));
                        }
                        None => return Err(err(line, "unterminated list")),
                        _ => {}
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip(true);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        None => return Err(err(line, "unterminated list")),
                        _ => {
                            return Err(err(
                                self.line,
                                format!("expected ',' or ']' in list, found {}", self.describe()),
                            ))
                        }
                    }
                }
            }
            _ => Err(err(
                self.line,
                format!("expected a value, found {}", self.describe()),
            )),
        }
    }
}

/// Parses an xl.cfg text into its statements, in order.
pub fn parse(text: &str) -> Result<Vec<Entry>, VirtError> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    loop {
        lx.skip(true);
        match lx.peek() {
            None => return Ok(out),
            Some(b';') => {
                lx.pos += 1;
                continue;
            }
            _ => {}
        }
        let line = lx.line;
        let key = lx.key()?;
        lx.skip(false);
        let append = match lx.peek() {
            Some(b'=') => {
                lx.pos += 1;
                false
            }
            Some(b'+') if lx.s.get(lx.pos + 1) == Some(&b'=') => {
                lx.pos += 2;
                true
            }
            _ => {
                return Err(err(
                    line,
                    format!("expected '=' after '{key}', found {}", lx.describe()),
                ))
            }
        };
        lx.skip(false);
        let value = lx.value(0)?;
        if append && matches!(value, Value::Num(_)) {
            return Err(err(line, format!("'{key} +=' with a number")));
        }
        lx.skip(false);
        match lx.peek() {
            None | Some(b'\n') | Some(b';') => {}
            _ => {
                return Err(err(
                    lx.line,
                    format!(
                        "expected end of statement after '{key}', found {}",
                        lx.describe()
                    ),
                ))
            }
        }
        out.push(Entry {
            key,
            value,
            append,
            line,
        });
    }
}

fn format_value(v: &Value, out: &mut String) {
    match v {
        Value::Num(n) => out.push_str(&n.to_string()),
        Value::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::List(items) => {
            out.push_str("[ ");
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(it, out);
            }
            out.push_str(" ]");
        }
    }
}

/// Formats statements canonically, one per line.
pub fn format(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&e.key);
        out.push_str(if e.append { " += " } else { " = " });
        format_value(&e.value, &mut out);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_numbers_lists_comments_and_semicolons() {
        let t = "# a guest\nname = \"g1\" # trailing\nmemory=0x200; vcpus = 010\n\
                 disk = [ 'phy:/dev/x,xvda,w',\n  \"file:/a\\\"b\", ]\nextra += 'x'\n";
        let es = parse(t).expect("parses");
        assert_eq!(es.len(), 5);
        assert_eq!(es[0].value, Value::Str("g1".into()));
        assert_eq!((es[1].value.clone(), es[1].line), (Value::Num(512), 3));
        assert_eq!(es[2].value, Value::Num(8));
        assert_eq!(
            es[3].value,
            Value::List(vec![
                Value::Str("phy:/dev/x,xvda,w".into()),
                Value::Str("file:/a\"b".into())
            ])
        );
        assert!(es[4].append);
        assert_eq!(es[4].line, 6);
        let f = format(&es);
        assert_eq!(
            f,
            "name = \"g1\"\nmemory = 512\nvcpus = 8\ndisk = [ \"phy:/dev/x,xvda,w\", \"file:/a\\\"b\" ]\nextra += \"x\"\n"
        );
        assert_eq!(
            parse(&f).expect("reparses"),
            es.iter()
                .cloned()
                .map(|mut e| {
                    e.line = es.iter().position(|x| x.key == e.key).expect("key") + 1;
                    e
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        for (t, want) in [
            ("name = \"x", "line 1: unterminated string"),
            ("\n\nmemory = 12x", "line 3: bad number '12x'"),
            (
                "a = [ 'x' 'y' ]",
                "line 1: expected ',' or ']' in list, found '''",
            ),
            ("a = [ 'x',\n", "line 1: unterminated list"),
            ("= 3", "line 1: expected a key, found '='"),
            ("a 3", "line 1: expected '=' after 'a', found '3'"),
            (
                "a = 3 4",
                "line 1: expected end of statement after 'a', found '4'",
            ),
            ("a += 3", "line 1: 'a +=' with a number"),
            ("a = \"\\q\"", "line 1: unknown escape '\\q' in string"),
            ("a =", "line 1: expected a value, found end of file"),
            ("a = \"\\x4\"", "line 1: bad \\x escape in string"),
        ] {
            let e = parse(t).expect_err("must fail");
            assert_eq!(e.code, ErrorCode::ConfSyntax, "{t}");
            assert!(e.message().contains(want), "{t}: {}", e.message());
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut seed: u64 = 0x1234_5678;
        let alphabet = b"ab=+[],;#'\"\\\n 0x9\xff\x00";
        for _ in 0..5000 {
            let mut v = Vec::new();
            for _ in 0..(seed % 24) {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                v.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let s = String::from_utf8_lossy(&v);
            let _ = parse(&s);
            let _ = parse(&"[".repeat(100));
        }
    }
}
