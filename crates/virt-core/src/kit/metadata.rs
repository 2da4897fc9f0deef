//! virDomainGetMetadata / virDomainSetMetadata on a definition: the title, the description and
//! the `<metadata>` elements, one per namespace URI, with libvirt's argument rules.

use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::model::xmlnode::{XmlElement, XmlNode};
use crate::model::DomainDef;
use crate::xml::DomainXmlCodec;
use crate::VirtError;

/// VIR_DOMAIN_METADATA_DESCRIPTION.
pub const DESCRIPTION: i32 = crate::proto::MetadataType::Description as i32;
/// VIR_DOMAIN_METADATA_TITLE.
pub const TITLE: i32 = crate::proto::MetadataType::Title as i32;
/// VIR_DOMAIN_METADATA_ELEMENT.
pub const ELEMENT: i32 = crate::proto::MetadataType::Element as i32;

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Domain, detail)
}

fn not_present() -> VirtError {
    VirtError::new(
        ErrorCode::NoDomainMetadata,
        ErrorDomain::Domain,
        "Requested metadata element is not present",
    )
}

/// The API layer's checks of virDomainSetMetadata, in its order: a title has no newline; a
/// title or description takes no URI nor key; an element needs a URI, and a key to be set.
pub fn check_set_args(kind: i32, metadata: Option<&str>, key: &str, uri: &str) -> DriverResult<()> {
    match kind {
        TITLE | DESCRIPTION => {
            if kind == TITLE && metadata.is_some_and(|m| m.contains('\n')) {
                return Err(invalid_arg("metadata title can't contain newlines"));
            }
            if !uri.is_empty() {
                return Err(invalid_arg("uri in virDomainSetMetadata must be NULL"));
            }
            if !key.is_empty() {
                return Err(invalid_arg("key in virDomainSetMetadata must be NULL"));
            }
        }
        ELEMENT => {
            if uri.is_empty() {
                return Err(invalid_arg("uri in virDomainSetMetadata must not be NULL"));
            }
            if metadata.is_some() && key.is_empty() {
                return Err(invalid_arg("key in virDomainSetMetadata must not be NULL"));
            }
        }
        _ => return Err(invalid_arg(format!("unknown metadata type '{kind}'"))),
    }
    Ok(())
}

/// The API layer's checks of virDomainGetMetadata.
pub fn check_get_args(kind: i32, uri: &str) -> DriverResult<()> {
    match kind {
        TITLE | DESCRIPTION if !uri.is_empty() => {
            Err(invalid_arg("uri in virDomainGetMetadata must be NULL"))
        }
        ELEMENT if uri.is_empty() => {
            Err(invalid_arg("uri in virDomainGetMetadata must not be NULL"))
        }
        TITLE | DESCRIPTION | ELEMENT => Ok(()),
        _ => Err(invalid_arg(format!("unknown metadata type '{kind}'"))),
    }
}

/// The title, description or element of `def`; NO_DOMAIN_METADATA when there is none. An
/// element comes back without the namespace it is stored in, as libvirt returns it.
pub fn get(
    def: &DomainDef,
    kind: i32,
    uri: &str,
    codec: &dyn DomainXmlCodec,
) -> DriverResult<String> {
    check_get_args(kind, uri)?;
    match kind {
        TITLE => def.title.clone().ok_or_else(not_present),
        DESCRIPTION => def.description.clone().ok_or_else(not_present),
        _ => {
            let el = def
                .metadata
                .iter()
                .find(|e| e.namespace.as_deref() == Some(uri))
                .ok_or_else(not_present)?;
            let mut bare = el.clone();
            strip_namespace(&mut bare, uri);
            Ok(codec.format_metadata_element(&bare))
        }
    }
}

/// Sets (`Some`, non-empty) or removes (`None` or empty) the title, description or the element
/// in namespace `uri`; a new element and its un-namespaced descendants are put in `uri` with
/// prefix `key`, replacing the one stored there.
pub fn set(
    def: &mut DomainDef,
    kind: i32,
    metadata: Option<&str>,
    key: &str,
    uri: &str,
    codec: &dyn DomainXmlCodec,
) -> DriverResult<()> {
    let metadata = metadata.filter(|m| !m.is_empty());
    match kind {
        TITLE => def.title = metadata.map(str::to_string),
        DESCRIPTION => def.description = metadata.map(str::to_string),
        _ => {
            let new = match metadata {
                Some(m) => {
                    let mut el = codec.parse_metadata_element(m)?;
                    if !is_ncname(key) {
                        return Err(VirtError::internal(
                            ErrorDomain::Domain,
                            "failed to validate prefix for a new XML namespace",
                        ));
                    }
                    put_in_namespace(&mut el, key, uri, true);
                    Some(el)
                }
                None => None,
            };
            def.metadata.retain(|e| e.namespace.as_deref() != Some(uri));
            def.metadata.extend(new);
        }
    }
    Ok(())
}

/// An XML NCName: a name without a colon.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn put_in_namespace(el: &mut XmlElement, key: &str, uri: &str, root: bool) {
    if root || el.namespace.is_none() {
        el.prefix = Some(key.to_string());
        el.namespace = Some(uri.to_string());
    }
    if root {
        el.namespace_decls
            .push((Some(key.to_string()), uri.to_string()));
    }
    for child in &mut el.children {
        if let XmlNode::Element(c) = child {
            put_in_namespace(c, key, uri, false);
        }
    }
}

fn strip_namespace(el: &mut XmlElement, uri: &str) {
    el.namespace_decls.retain(|(_, u)| u != uri);
    if el.namespace.as_deref() == Some(uri) {
        el.prefix = None;
        el.namespace = None;
    }
    for child in &mut el.children {
        if let XmlNode::Element(c) = child {
            strip_namespace(c, uri);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncname_rules() {
        assert!(is_ncname("e"));
        assert!(is_ncname("my-app.v1"));
        assert!(!is_ncname(""));
        assert!(!is_ncname("a b"));
        assert!(!is_ncname("a:b"));
        assert!(!is_ncname("1a"));
    }

    #[test]
    fn set_args_follow_the_api_layer() {
        assert!(check_set_args(TITLE, Some("a\nb"), "", "").is_err());
        assert!(check_set_args(ELEMENT, Some("<a/>"), "", "http://x/").is_err());
        assert!(check_set_args(ELEMENT, None, "", "http://x/").is_ok());
        assert!(check_set_args(DESCRIPTION, Some("d"), "", "").is_ok());
    }
}
