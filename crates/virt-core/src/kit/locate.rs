//! Where an error without a location is reported: a validation answer always names the
//! element it concerns, so a client can point at it (a missing name at `/domain/name`,
//! anything else at `/domain`; malformed XML arrives from the codec already located on the
//! request's `xml` field with its line and column, and `/` stands for it only when it does not).

use crate::error::{ErrorCode, Violation};
use crate::VirtError;

/// `err`, with a violation at the place it concerns when it names none.
pub fn located(mut err: VirtError) -> VirtError {
    if err.violations.is_empty() {
        let path = match err.code {
            ErrorCode::XmlError => "/",
            ErrorCode::NoName => "/domain/name",
            _ => "/domain",
        };
        err.violations.push(Violation {
            path: path.to_string(),
            description: err.message(),
        });
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorDomain;

    #[test]
    fn unlocated_errors_get_the_element_they_concern() {
        let e = located(VirtError::new(ErrorCode::NoName, ErrorDomain::Domain, "x"));
        assert_eq!(e.violations[0].path, "/domain/name");
        let e = located(VirtError::new(ErrorCode::XmlError, ErrorDomain::Xml, "x"));
        assert_eq!(e.violations[0].path, "/");
        let e = located(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Qemu,
            "x",
        ));
        assert_eq!(e.violations[0].path, "/domain");
        let placed = VirtError::new(ErrorCode::XmlError, ErrorDomain::Xml, "x").at("/domain/os");
        assert_eq!(located(placed).violations.len(), 1);
    }
}
