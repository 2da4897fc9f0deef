//! Output in libvirt's style: two-space indentation, single-quoted attributes, one element per
//! line, self-closing elements when nothing is inside, and libvirt's escaping (all of
//! `< > & ' "` in text and attributes, as `virBufferEscapeString` does).

use std::fmt::Display;

/// An indented XML writer.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    depth: usize,
    /// Whether device aliases the driver generated are printed (live XML); user aliases
    /// (`ua-...`) are printed either way, as libvirt does.
    pub live_aliases: bool,
}

impl Writer {
    /// A writer starting at indentation level `depth`.
    pub fn at_depth(depth: usize) -> Writer {
        Writer {
            out: String::new(),
            depth,
            live_aliases: false,
        }
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Starts element `name`.
    pub fn tag(&mut self, name: &str) -> Tag<'_> {
        Tag {
            w: self,
            name: name.to_string(),
            attrs: String::new(),
        }
    }

    /// Writes `line` at the current indentation.
    pub fn line(&mut self, line: &str) {
        self.indent();
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// Writes an empty line (libvirt's capabilities have some).
    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    /// Writes `</name>` one level out.
    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line(&format!("</{name}>"));
    }

    /// `<name>text</name>` when `text` is set.
    pub fn text_elem(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.tag(name).text(t);
        }
    }

    /// Appends pre-formatted, already indented output.
    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// The current indentation level.
    pub fn depth(&self) -> usize {
        self.depth
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
}

/// An element being written: attributes first, then one of the finishing calls.
pub struct Tag<'w> {
    w: &'w mut Writer,
    name: String,
    attrs: String,
}

impl Tag<'_> {
    /// Adds `key='value'`.
    pub fn attr(mut self, key: &str, value: impl Display) -> Self {
        self.attrs.push(' ');
        self.attrs.push_str(key);
        self.attrs.push_str("='");
        self.attrs.push_str(&escape_attr(&value.to_string()));
        self.attrs.push('\'');
        self
    }

    /// Adds `key='value'` when `value` is set.
    pub fn attr_opt(self, key: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    /// Adds `key='yes|no'` when set.
    pub fn yes_no(self, key: &str, value: Option<bool>) -> Self {
        self.attr_opt(key, value.map(|b| if b { "yes" } else { "no" }))
    }

    /// Adds `key='on|off'` when set.
    pub fn on_off(self, key: &str, value: Option<bool>) -> Self {
        self.attr_opt(key, value.map(|b| if b { "on" } else { "off" }))
    }

    /// Writes `<name attrs/>`.
    pub fn empty(self) {
        let line = format!("<{}{}/>", self.name, self.attrs);
        self.w.line(&line);
    }

    /// Writes `<name attrs>text</name>`.
    pub fn text(self, text: &str) {
        let line = format!(
            "<{}{}>{}</{}>",
            self.name,
            self.attrs,
            escape_text(text),
            self.name
        );
        self.w.line(&line);
    }

    /// Writes `<name attrs>` and indents; close with [`Writer::close`].
    pub fn open(self) {
        let line = format!("<{}{}>", self.name, self.attrs);
        self.w.line(&line);
        self.w.depth += 1;
    }

    /// Writes the element with the children `body` writes, or `<name attrs/>` when it writes
    /// nothing (libvirt's `virXMLFormatElement`).
    pub fn children(self, body: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::at_depth(self.w.depth + 1);
        inner.live_aliases = self.w.live_aliases;
        body(&mut inner);
        if inner.is_empty() {
            self.empty();
        } else {
            let open = format!("<{}{}>", self.name, self.attrs);
            self.w.line(&open);
            self.w.out.push_str(&inner.out);
            self.w.line(&format!("</{}>", self.name));
        }
    }
}

/// Escapes text content: `< > & ' "` as libvirt does, and carriage returns so that they
/// survive a re-parse.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value: as text, plus tabs and line ends, which a parser would otherwise
/// turn into spaces.
pub fn escape_attr(s: &str) -> String {
    escape_text(s).replace('\n', "&#10;").replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_libvirt_style_elements() {
        let mut w = Writer::default();
        w.tag("devices").open();
        w.tag("disk").attr("type", "file").children(|w| {
            w.tag("source").attr("file", "/a'b&c").empty();
        });
        w.tag("memballoon").attr("model", "none").children(|_| {});
        w.tag("name").text("x<y");
        w.close("devices");
        assert_eq!(
            w.finish(),
            "<devices>\n  <disk type='file'>\n    <source file='/a&apos;b&amp;c'/>\n  </disk>\n  \
             <memballoon model='none'/>\n  <name>x&lt;y</name>\n</devices>\n"
        );
        assert_eq!(escape_attr("a\nb\tc"), "a&#10;b&#9;c");
        assert_eq!(escape_text("\"q\""), "&quot;q&quot;");
    }
}
