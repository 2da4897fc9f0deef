//! [`XmlError`], the one error of this crate, and its mapping onto libvirt's error numbers.
//!
//! Each variant names what was wrong and where (an XPath such as
//! `/domain/devices/disk[2]/target/@bus`), so a person can find the offending spot. The codes
//! follow libvirt's classification: documents that are not XML at all and values that do not
//! parse are XML_ERROR, vocabulary this project does not know is XML_DETAIL, values it knows
//! but cannot honour are CONFIG_UNSUPPORTED, a domain without a name is NO_NAME.

use virt_core::error::{ErrorCode, ErrorDomain, TextPosition, Violation, VirtError};

/// The BadRequest field of a document that is not well-formed: the request's XML field.
pub const MALFORMED_FIELD: &str = "xml";

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("{document}:{line}: {message} (column {column})")]
    Malformed {
        /// Document label, e.g. `(domain_definition)`.
        document: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What the XML reader found.
        message: String,
    },
    /// A document above the size limit.
    #[error("document of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the document.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A document nested deeper, or with more elements, than the limits allow.
    #[error("{what} exceeds the limit of {limit} at line {line}")]
    TooComplex {
        /// `element nesting` or `element count`.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// Where the limit was crossed.
        line: usize,
    },
    /// The root element is not the expected one.
    #[error("expecting root element of '{expected}', not '{found}'")]
    WrongRoot {
        /// Expected root element name.
        expected: &'static str,
        /// Root element found.
        found: String,
    },
    /// An element this parser does not know at that place.
    #[error("unsupported element {path}")]
    UnknownElement {
        /// XPath of the element.
        path: String,
    },
    /// An attribute this parser does not know on that element.
    #[error("unsupported attribute {path}")]
    UnknownAttribute {
        /// XPath of the attribute.
        path: String,
    },
    /// Character data where only elements may appear.
    #[error("unexpected text '{text}' in {path}")]
    UnexpectedText {
        /// XPath of the element holding the text.
        path: String,
        /// The text (shortened).
        text: String,
    },
    /// A second copy of an element that may appear once.
    #[error("duplicate element {path}")]
    Duplicate {
        /// XPath of the second copy.
        path: String,
    },
    /// A required element or attribute is absent.
    #[error("missing {path}")]
    Missing {
        /// XPath of what is missing.
        path: String,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid value '{value}' for {path}: {reason}")]
    InvalidValue {
        /// XPath of the element or attribute.
        path: String,
        /// The value as written.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A memory unit libvirt does not know.
    #[error("unknown suffix '{unit}' for {path}")]
    UnknownUnit {
        /// XPath of the unit attribute.
        path: String,
        /// The unit as written.
        unit: String,
    },
    /// A scaled value that does not fit.
    #[error("value too large: {value} {unit} for {path}")]
    Overflow {
        /// XPath of the element.
        path: String,
        /// The value as written.
        value: String,
        /// The unit as written.
        unit: String,
    },
    /// A `<uuid>` that does not parse.
    #[error("malformed uuid element {path}: '{value}'")]
    BadUuid {
        /// XPath of the element.
        path: String,
        /// The text as written.
        value: String,
    },
    /// A domain without `<name>`.
    #[error("missing name information in {path}")]
    MissingName {
        /// XPath of the domain element.
        path: String,
    },
    /// A known value or combination this project cannot honour.
    #[error("{message} ({path})")]
    Unsupported {
        /// XPath of the element or attribute.
        path: String,
        /// What cannot be honoured.
        message: String,
    },
    /// Several problems found in one document, in the order they were found; the message is
    /// the first one's, with the count of the others.
    #[error("{first} (and {} more)", more.len())]
    Several {
        /// The first problem.
        first: Box<XmlError>,
        /// The others (at least one).
        more: Vec<XmlError>,
    },
    /// A definition that is well-formed but inconsistent.
    #[error("{message} ({path})")]
    Invalid {
        /// XPath of the element or attribute.
        path: String,
        /// What is inconsistent.
        message: String,
    },
}

impl XmlError {
    /// One error for `problems`: the problem itself when there is one, [`XmlError::Several`]
    /// when there are more (nested lists are flattened). An empty list, which callers do not
    /// pass, gives an `Invalid` error on `/`.
    pub fn several(problems: Vec<XmlError>) -> XmlError {
        let mut flat = Vec::with_capacity(problems.len());
        for p in problems {
            flat.extend(p.problems().into_iter().cloned());
        }
        let mut it = flat.into_iter();
        match it.next() {
            None => XmlError::Invalid {
                path: "/".into(),
                message: "no problem recorded".into(),
            },
            Some(first) => {
                let more: Vec<XmlError> = it.collect();
                if more.is_empty() {
                    first
                } else {
                    XmlError::Several {
                        first: Box::new(first),
                        more,
                    }
                }
            }
        }
    }

    /// Every problem this error stands for: itself, or each entry of [`XmlError::Several`].
    pub fn problems(&self) -> Vec<&XmlError> {
        match self {
            XmlError::Several { first, more } => {
                let mut all = vec![first.as_ref()];
                all.extend(more.iter());
                all
            }
            other => vec![other],
        }
    }

    /// libvirt's error number for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            XmlError::Several { first, .. } => first.code(),
            XmlError::Malformed { .. }
            | XmlError::TooLarge { .. }
            | XmlError::TooComplex { .. }
            | XmlError::WrongRoot { .. }
            | XmlError::Missing { .. }
            | XmlError::InvalidValue { .. }
            | XmlError::BadUuid { .. }
            | XmlError::Invalid { .. } => ErrorCode::XmlError,
            XmlError::UnknownElement { .. }
            | XmlError::UnknownAttribute { .. }
            | XmlError::UnexpectedText { .. }
            | XmlError::Duplicate { .. } => ErrorCode::XmlDetail,
            XmlError::UnknownUnit { .. } => ErrorCode::InvalidArg,
            XmlError::Overflow { .. } => ErrorCode::Overflow,
            XmlError::MissingName { .. } => ErrorCode::NoName,
            XmlError::Unsupported { .. } => ErrorCode::ConfigUnsupported,
        }
    }

    /// The XPath the error points at, when it has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            XmlError::UnknownElement { path }
            | XmlError::UnknownAttribute { path }
            | XmlError::UnexpectedText { path, .. }
            | XmlError::Duplicate { path }
            | XmlError::Missing { path }
            | XmlError::InvalidValue { path, .. }
            | XmlError::UnknownUnit { path, .. }
            | XmlError::Overflow { path, .. }
            | XmlError::BadUuid { path, .. }
            | XmlError::MissingName { path }
            | XmlError::Unsupported { path, .. }
            | XmlError::Invalid { path, .. } => Some(path),
            XmlError::Several { first, .. } => first.path(),
            _ => None,
        }
    }

    /// The libvirt-shaped error raised from `domain` (DOMAIN for definitions, DOMAIN_SNAPSHOT
    /// for snapshots). NO_NAME keeps libvirt's bare "missing name information".
    pub fn into_virt(self, domain: ErrorDomain) -> VirtError {
        let detail = match &self {
            XmlError::MissingName { .. } => String::new(),
            other => other.to_string(),
        };
        let mut err = VirtError::new(self.code(), domain, detail);
        if let XmlError::Malformed {
            line,
            column,
            message,
            ..
        } = &self
        {
            // No XPath for a document that does not parse: the violation names the request's
            // `xml` field and the position where reading stopped (also ErrorInfo metadata
            // `line` / `column`, proto/README.md "Errors").
            let (line, column) = (
                u32::try_from(*line).unwrap_or(u32::MAX),
                u32::try_from(*column).unwrap_or(u32::MAX),
            );
            err.position = Some(TextPosition { line, column });
            err.violations.push(Violation {
                path: MALFORMED_FIELD.to_string(),
                description: format!("line {line}, column {column}: {message}"),
            });
        }
        for problem in self.problems() {
            if let Some(path) = problem.path() {
                err.violations.push(Violation {
                    path: path.to_string(),
                    description: problem.to_string(),
                });
            }
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_libvirt_classes_and_messages_name_the_path() {
        let e = XmlError::UnknownElement {
            path: "/domain/devices/foo".into(),
        };
        assert_eq!(e.code(), ErrorCode::XmlDetail);
        let v = e.into_virt(ErrorDomain::Domain);
        assert_eq!(v.message(), "unsupported element /domain/devices/foo");
        assert_eq!(v.violations[0].path, "/domain/devices/foo");
        let v = XmlError::MissingName {
            path: "/domain".into(),
        }
        .into_virt(ErrorDomain::Domain);
        assert_eq!(v.code, ErrorCode::NoName);
        assert_eq!(v.message(), "missing name information");
        let e = XmlError::UnknownUnit {
            path: "/domain/memory/@unit".into(),
            unit: "Z".into(),
        };
        assert_eq!(e.code(), ErrorCode::InvalidArg);
    }
}
