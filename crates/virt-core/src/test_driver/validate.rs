//! Test driver validation: the dry run behind ValidateDomain and define's VALIDATE flag.
//!
//! A failure carries its problems as [`Violation`]s located by XPath, so that a client can show
//! every one: the codec's parse errors name theirs; an error that names no place (a document
//! that is not XML, a missing name) gets one on what it concerns (`/`, `/domain/name`,
//! `/domain`); a name or UUID that belongs to another domain is a violation on `/domain/name`
//! or `/domain/uuid`, keeping its OPERATION_FAILED / ALREADY_EXISTS error as define has it.

use super::state::State;
use super::TestDriver;
use crate::driver::DriverResult;
use crate::error::Violation;
use crate::kit::locate::located;
use crate::model::DomainDef;
use crate::uuid::Uuid;
use crate::VirtError;

pub(crate) use crate::kit::flags::define::VALIDATE;

impl TestDriver {
    /// Parses `xml` as define does; a failure names at least one XPath.
    pub(crate) fn parse_validated(&self, xml: &str) -> DriverResult<DomainDef> {
        self.codec.parse_domain(xml).map_err(located)
    }
}

/// [`State::check_identity`], with a clash located on `/domain/uuid` (the UUID belongs to a
/// domain of another name) or `/domain/name` (the name belongs to another UUID).
pub(crate) fn check_identity_located(
    st: &State,
    def: &DomainDef,
) -> Result<Option<Uuid>, VirtError> {
    st.check_identity(def).map_err(|mut err| {
        let path = if st.domains.contains_key(&def.uuid) {
            "/domain/uuid"
        } else {
            "/domain/name"
        };
        err.violations.push(Violation {
            path: path.to_string(),
            description: err.detail.clone(),
        });
        err
    })
}
