//! The definition calls a driver makes the same way whatever it runs: define (after the
//! driver's own parse), its validation dry run, undefine, and an edit of a stored definition.
//! Each writes disk before memory and emits its lifecycle event once both agree. A driver
//! lends its table, store, codec and event bus for the call ([`Keeper`]); what it parses and
//! what undefine removes beyond the definition stay its own.

use std::sync::{Mutex, MutexGuard};

use crate::driver::ValidatedDomain;
use crate::error::ErrorCode;
use crate::events::lifecycle as ev;
use crate::events::EventBus;
use crate::model::DomainDef;
use crate::types::{DomainHandle, DomainLookup};
use crate::xml::{DomainXmlCodec, FormatOptions};
use crate::VirtError;

use super::store::ConfigStore;
use super::table::{DomainTable, Entry};

/// Inactive XML with secrets: what the store keeps and a validation returns.
pub const STORED: FormatOptions = FormatOptions {
    id: None,
    secure: true,
    inactive: true,
};

/// virDomainDefineXML's event: DEFINED, UPDATED when the definition replaced one.
pub fn defined_event(replaces: bool) -> crate::proto::domain_event::Payload {
    let detail = if replaces {
        ev::defined::UPDATED
    } else {
        ev::defined::ADDED
    };
    ev::payload(ev::DEFINED, detail)
}

/// What a driver lends for a definition call.
pub struct Keeper<'a, D> {
    /// Its domains.
    pub table: &'a Mutex<DomainTable<D>>,
    /// Its stored definitions.
    pub store: &'a ConfigStore,
    /// The XML codec the store's text is written with.
    pub codec: &'a dyn DomainXmlCodec,
    /// Its lifecycle events.
    pub bus: &'a EventBus,
}

impl<D: Entry> Keeper<'_, D> {
    fn lock(&self) -> MutexGuard<'_, DomainTable<D>> {
        self.table.lock().expect("domain table lock poisoned")
    }

    /// Stores `def` (parsed and checked by the driver) and takes it into the table: it
    /// replaces the definition of the domain with its UUID, running or not (a running one
    /// boots it next time), or `new` makes the record of a new shut-off domain. With
    /// `validate`, identity errors carry their XPath.
    pub fn define(
        &self,
        def: DomainDef,
        validate: bool,
        new: impl FnOnce(DomainDef) -> D,
    ) -> Result<DomainHandle, VirtError> {
        let text = self.codec.format_domain(&def, STORED);
        let (handle, replaces) = self.lock().define(def, validate, self.store, &text, new)?;
        self.bus.emit(handle.clone(), defined_event(replaces));
        Ok(handle)
    }

    /// What a define of `def` would store, and whether it would replace a domain.
    pub fn validated(&self, def: &DomainDef) -> Result<ValidatedDomain, VirtError> {
        let replaces_existing = self.lock().check_identity(def, true)?;
        let xml = self.codec.format_domain(def, STORED);
        Ok(ValidatedDomain::new(xml, def, replaces_existing))
    }

    /// Removes the stored definition of `lookup` (a transient domain has none:
    /// OPERATION_INVALID); a running domain becomes transient and goes when it stops.
    pub fn undefine(&self, lookup: &DomainLookup) -> Result<DomainHandle, VirtError> {
        let mut st = self.lock();
        let uuid = st.check_undefine(lookup)?;
        self.store
            .remove(&st.by_uuid[&uuid].def().name)
            .map_err(|e| {
                VirtError::new(ErrorCode::SystemError, st.error_domain(), e.to_string())
            })?;
        let (handle, _) = st.undefined(&uuid);
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::UNDEFINED, ev::undefined::REMOVED),
        );
        Ok(handle)
    }

    /// Applies `edit` to the persistent definition of `lookup` and stores it, disk before
    /// memory. For a persistent domain only (the callers' modification impact sees to it).
    pub fn edit_config(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut DomainDef) -> Result<(), VirtError>,
    ) -> Result<(), VirtError> {
        let mut st = self.lock();
        let domain = st.error_domain();
        let d = st.get_mut(lookup)?;
        let mut def = d.def().clone();
        edit(&mut def)?;
        let text = self.codec.format_domain(&def, STORED);
        self.store
            .save(&def.name, &text)
            .map_err(|e| VirtError::new(ErrorCode::SystemError, domain, e.to_string()))?;
        d.redefine(def);
        Ok(())
    }
}
