//! A cursor over one element that remembers which attributes and children the parser read, so
//! that whatever it did not read becomes an error naming its XPath instead of being dropped.
//!
//! Every parse function takes a `Cursor`, asks for what it understands and ends with
//! `Cursor::finish`; an unknown element, attribute or stray text then fails the whole parse.
//! Elements and attributes with a namespace prefix never match libvirt vocabulary, so
//! `<qemu:commandline>` is reported as unsupported rather than silently taken for something.
//!
//! A cursor made with [`Cursor::collecting`] does not stop at the first unknown name: the
//! unknown elements, attributes and stray text of the whole tree are recorded in a [`Problems`]
//! list shared by every cursor descended from it, and parsing goes on (an unread child is
//! simply skipped, which is safe). [`Problems::into_result`] then turns the list, plus whatever
//! error ended the parse, into one error listing every problem.

use std::cell::RefCell;
use std::rc::Rc;

use crate::dom::{Element, Node};
use crate::XmlError;

/// The problems recorded by a collecting cursor tree, shared by all its cursors.
#[derive(Debug, Clone, Default)]
pub struct Problems(Rc<RefCell<Vec<XmlError>>>);

impl Problems {
    fn push(&self, e: XmlError) {
        self.0.borrow_mut().push(e);
    }

    /// Combines the recorded problems with the outcome of the parse: `Ok` only when nothing
    /// was recorded and the parse succeeded; one problem is returned as itself, several as
    /// [`XmlError::Several`] in the order they were found (the parse's own error last).
    pub fn into_result<T>(self, outcome: Result<T, XmlError>) -> Result<T, XmlError> {
        let mut all = std::mem::take(&mut *self.0.borrow_mut());
        match outcome {
            Ok(v) if all.is_empty() => return Ok(v),
            Ok(_) => {}
            Err(e) => all.push(e),
        }
        Err(XmlError::several(all))
    }
}

/// A cursor over one element.
pub struct Cursor<'a> {
    el: &'a Element,
    path: String,
    used_attrs: Vec<bool>,
    used_children: Vec<bool>,
    text_used: bool,
    problems: Option<Problems>,
}

impl<'a> Cursor<'a> {
    /// A cursor over `el`, whose XPath is `path`.
    pub fn new(el: &'a Element, path: impl Into<String>) -> Cursor<'a> {
        Cursor {
            el,
            path: path.into(),
            used_attrs: vec![false; el.attrs.len()],
            used_children: vec![false; el.children.len()],
            text_used: false,
            problems: None,
        }
    }

    /// A cursor over `el` that records unknown names in the returned [`Problems`] (shared by
    /// every cursor descended from it) instead of failing at the first.
    pub fn collecting(el: &'a Element, path: impl Into<String>) -> (Cursor<'a>, Problems) {
        let problems = Problems::default();
        let mut c = Cursor::new(el, path);
        c.problems = Some(problems.clone());
        (c, problems)
    }

    /// Refuses every child element for which `unknown` holds, before anything else is read:
    /// each is an `UnknownElement` error named `path/qname`, recorded (and marked read) when
    /// collecting, otherwise the first is returned.
    pub fn refuse_elements(&mut self, unknown: impl Fn(&Element) -> bool) -> Result<(), XmlError> {
        let el: &'a Element = self.el;
        for (i, node) in el.children.iter().enumerate() {
            if let Node::Element(e) = node {
                if !self.used_children[i] && unknown(e) {
                    self.report(XmlError::UnknownElement {
                        path: format!("{}/{}", self.path, e.qname()),
                    })?;
                    self.used_children[i] = true;
                }
            }
        }
        Ok(())
    }

    /// Records `e` when collecting (the caller then skips what `e` names and goes on),
    /// otherwise returns it as the error.
    pub fn report(&self, e: XmlError) -> Result<(), XmlError> {
        match &self.problems {
            Some(p) => {
                p.push(e);
                Ok(())
            }
            None => Err(e),
        }
    }

    /// The element's XPath.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The XPath of attribute `name`.
    pub fn attr_path(&self, name: &str) -> String {
        format!("{}/@{name}", self.path)
    }

    /// The element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// Attribute `name` (unprefixed), marking it read.
    pub fn attr(&mut self, name: &str) -> Option<&'a str> {
        let i = self
            .el
            .attrs
            .iter()
            .position(|a| !a.prefixed && a.qname == name)?;
        self.used_attrs[i] = true;
        Some(self.el.attrs[i].value.as_str())
    }

    /// Attribute `name`, required.
    pub fn attr_req(&mut self, name: &str) -> Result<&'a str, XmlError> {
        self.attr(name).ok_or_else(|| XmlError::Missing {
            path: self.attr_path(name),
        })
    }

    /// Attribute `name` as an owned string.
    pub fn attr_string(&mut self, name: &str) -> Option<String> {
        self.attr(name).map(str::to_string)
    }

    /// Attribute `name` parsed with `parse`; `expected` describes valid values.
    pub fn attr_with<T>(
        &mut self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, XmlError> {
        match self.attr(name) {
            None => Ok(None),
            Some(v) => parse(v)
                .map(Some)
                .ok_or_else(|| self.invalid_attr(name, v, expected)),
        }
    }

    /// Attribute `name` as a decimal unsigned integer.
    pub fn attr_u32(&mut self, name: &str) -> Result<Option<u32>, XmlError> {
        self.attr_with(name, "expected an unsigned integer", parse_u32)
    }

    /// Attribute `name` as `yes`/`no`.
    pub fn attr_yes_no(&mut self, name: &str) -> Result<Option<bool>, XmlError> {
        self.attr_with(name, "expected 'yes' or 'no'", |v| match v {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        })
    }

    /// Attribute `name` as `on`/`off`.
    pub fn attr_on_off(&mut self, name: &str) -> Result<Option<bool>, XmlError> {
        self.attr_with(name, "expected 'on' or 'off'", |v| match v {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        })
    }

    /// Attribute `name`, which must be one of `allowed`.
    pub fn attr_word(&mut self, name: &str, allowed: &[&str]) -> Result<Option<String>, XmlError> {
        let expected = format!("expected one of {}", allowed.join(", "));
        self.attr_with(name, &expected, |v| {
            allowed.contains(&v).then(|| v.to_string())
        })
    }

    /// An InvalidValue error for attribute `name`.
    pub fn invalid_attr(&self, name: &str, value: &str, expected: &str) -> XmlError {
        XmlError::InvalidValue {
            path: self.attr_path(name),
            value: value.to_string(),
            reason: expected.to_string(),
        }
    }

    /// An InvalidValue error for the element's text.
    pub fn invalid_text(&self, value: &str, expected: &str) -> XmlError {
        XmlError::InvalidValue {
            path: self.path.clone(),
            value: value.to_string(),
            reason: expected.to_string(),
        }
    }

    fn child_path(&self, index: usize) -> String {
        let el = match &self.el.children[index] {
            Node::Element(e) => e,
            Node::Text(_) => return self.path.clone(),
        };
        let qname = el.qname();
        let same: Vec<usize> = self
            .el
            .children
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Element(e) if e.qname() == qname))
            .map(|(i, _)| i)
            .collect();
        if same.len() > 1 {
            let pos = same.iter().position(|i| *i == index).unwrap_or(0) + 1;
            format!("{}/{qname}[{pos}]", self.path)
        } else {
            format!("{}/{qname}", self.path)
        }
    }

    fn matching(&self, ns: Option<&str>, name: &str) -> Vec<(usize, &'a Element)> {
        let el: &'a Element = self.el;
        el.children
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Element(e) => {
                    let hit = match ns {
                        None => e.prefix.is_none() && e.name == name,
                        Some(uri) => {
                            e.prefix.is_some() && e.ns.as_deref() == Some(uri) && e.name == name
                        }
                    };
                    hit.then_some((i, e))
                }
                Node::Text(_) => None,
            })
            .collect()
    }

    fn cursor_at(&mut self, index: usize, el: &'a Element, path: String) -> Cursor<'a> {
        self.used_children[index] = true;
        let mut c = Cursor::new(el, path);
        c.problems = self.problems.clone();
        c
    }

    /// The child element `name`, which may appear at most once.
    pub fn child(&mut self, name: &str) -> Result<Option<Cursor<'a>>, XmlError> {
        self.child_in(None, name)
    }

    /// The child element `name` in namespace `ns` (`None`: libvirt's own, unprefixed).
    pub fn child_in(
        &mut self,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<Cursor<'a>>, XmlError> {
        let found = self.matching(ns, name);
        if let Some((second, _)) = found.get(1) {
            return Err(XmlError::Duplicate {
                path: self.child_path(*second),
            });
        }
        Ok(found.first().map(|(i, e)| {
            let path = self.child_path(*i);
            self.cursor_at(*i, e, path)
        }))
    }

    /// Every child element `name`, each with an indexed XPath (`disk[2]`).
    pub fn children(&mut self, name: &str) -> Vec<Cursor<'a>> {
        self.children_in(None, name)
    }

    /// Every child element `name` in namespace `ns`, each with an indexed XPath.
    pub fn children_in(&mut self, ns: Option<&str>, name: &str) -> Vec<Cursor<'a>> {
        let found = self.matching(ns, name);
        let mut out = Vec::with_capacity(found.len());
        for (n, (i, e)) in found.into_iter().enumerate() {
            let path = format!("{}/{}[{}]", self.path, e.qname(), n + 1);
            out.push(self.cursor_at(i, e, path));
        }
        out
    }

    /// The child elements in document order, each with its XPath, marking them all read.
    pub fn all_children(&mut self) -> Vec<(String, Cursor<'a>)> {
        let mut counters: Vec<(String, usize)> = Vec::new();
        let mut out = Vec::new();
        let el: &'a Element = self.el;
        for (i, node) in el.children.iter().enumerate() {
            let Node::Element(e) = node else {
                continue;
            };
            let qname = e.qname();
            let n = match counters.iter_mut().find(|(q, _)| *q == qname) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    counters.push((qname.clone(), 1));
                    1
                }
            };
            let path = format!("{}/{qname}[{n}]", self.path);
            out.push((e.name.clone(), self.cursor_at(i, e, path)));
        }
        out
    }

    /// The element's text, for an element that must not have child elements.
    ///
    /// A collecting cursor records every child element as unknown and returns the text.
    pub fn text(&mut self) -> Result<String, XmlError> {
        for i in 0..self.el.children.len() {
            if matches!(self.el.children[i], Node::Element(_)) && !self.used_children[i] {
                self.report(XmlError::UnknownElement {
                    path: self.child_path(i),
                })?;
                self.used_children[i] = true;
            }
        }
        self.text_used = true;
        Ok(self.el.text())
    }

    /// The text of the child element `name`, checked to have no attributes or children.
    pub fn child_text(&mut self, name: &str) -> Result<Option<String>, XmlError> {
        match self.child(name)? {
            None => Ok(None),
            Some(mut c) => {
                let t = c.text()?;
                c.finish()?;
                Ok(Some(t))
            }
        }
    }

    /// Checks that every attribute, child element and non-blank text was read.
    ///
    /// A collecting cursor records each of them and returns `Ok`.
    pub fn finish(self) -> Result<(), XmlError> {
        for (i, used) in self.used_attrs.iter().enumerate() {
            if !used {
                self.report(XmlError::UnknownAttribute {
                    path: self.attr_path(&self.el.attrs[i].qname),
                })?;
            }
        }
        let mut text_reported = false;
        for (i, node) in self.el.children.iter().enumerate() {
            match node {
                Node::Element(_) if !self.used_children[i] => {
                    self.report(XmlError::UnknownElement {
                        path: self.child_path(i),
                    })?;
                }
                Node::Text(t) if !self.text_used && !text_reported && !t.trim().is_empty() => {
                    text_reported = true;
                    let mut text: String = t.trim().chars().take(40).collect();
                    if t.trim().chars().count() > 40 {
                        text.push_str("...");
                    }
                    self.report(XmlError::UnexpectedText {
                        path: self.path.clone(),
                        text,
                    })?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A decimal unsigned integer, digits only.
pub fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A decimal unsigned 64-bit integer, digits only.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A decimal signed integer.
pub fn parse_i32(s: &str) -> Option<i32> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An unsigned integer in C notation as libvirt reads address fields: `0x` hex, leading `0`
/// octal, otherwise decimal.
pub fn parse_u32_c(s: &str) -> Option<u32> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u32::from_str_radix(hex, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        if !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        return u32::from_str_radix(&s[1..], 8).ok();
    }
    parse_u32(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::parse;

    #[test]
    fn unread_attributes_children_and_text_are_errors_with_xpaths() {
        let root = parse("<r a='1' b='2'><x/><y/><y/>text</r>", "(t)").expect("xml");
        let mut c = Cursor::new(&root, "/r");
        assert_eq!(c.attr("a"), Some("1"));
        let err = Cursor::new(&root, "/r").finish().expect_err("unread");
        assert_eq!(
            err,
            XmlError::UnknownAttribute {
                path: "/r/@a".into()
            }
        );
        c.attr("b");
        c.child("x").expect("one x").expect("present");
        let err = c.finish().expect_err("y unread");
        assert_eq!(
            err,
            XmlError::UnknownElement {
                path: "/r/y[1]".into()
            }
        );
        let mut c = Cursor::new(&root, "/r");
        assert_eq!(
            c.child("y").err(),
            Some(XmlError::Duplicate {
                path: "/r/y[2]".into()
            })
        );
    }

    #[test]
    fn stray_text_and_prefixed_names_are_refused() {
        let root = parse("<r xmlns:q='urn:q'><x/>junk<q:x/></r>", "(t)").expect("xml");
        let mut c = Cursor::new(&root, "/r");
        assert!(c.child("x").expect("one").is_some());
        let err = c.finish().expect_err("text");
        assert!(matches!(err, XmlError::UnexpectedText { .. }));
        let root = parse("<r xmlns:q='urn:q'><q:x/></r>", "(t)").expect("xml");
        let mut c = Cursor::new(&root, "/r");
        assert!(c.child("x").expect("none").is_none());
        assert!(c.child_in(Some("urn:q"), "x").expect("one").is_some());
    }

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(parse_u32("12"), Some(12));
        assert_eq!(parse_u32(" 12"), None);
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_i32("-1"), Some(-1));
        assert_eq!(parse_u32_c("0x1f"), Some(31));
        assert_eq!(parse_u32_c("010"), Some(8));
        assert_eq!(parse_u32_c("0"), Some(0));
        assert_eq!(parse_u32_c("0x"), None);
        assert_eq!(parse_u32_c("09"), None);
    }
}
