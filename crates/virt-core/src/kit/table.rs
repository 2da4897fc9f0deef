//! The domains of one driver in memory, indexed by UUID and name: libvirt's lookups (an ID
//! matches running domains only), the identity rules of a define (virDomainObjListAdd) and the
//! list filter. A driver keeps its own per-domain record (what it runs, its job lock) and
//! describes it through [`Entry`].

use std::collections::HashMap;

use crate::error::{ErrorCode, ErrorDomain, Violation};
use crate::model::DomainDef;
use crate::types::{DomainHandle, DomainLookup, DomainSummary};
use crate::uuid::Uuid;
use crate::VirtError;

use super::DomainFacts;

/// What the table needs of a driver's per-domain record.
pub trait Entry {
    /// The persistent definition (for a transient domain, its live definition): name, UUID.
    fn def(&self) -> &DomainDef;
    /// The domain ID while it runs.
    fn running_id(&self) -> Option<u32>;
    /// What the shared rules need of the domain.
    fn facts(&self) -> DomainFacts<'_>;
    /// The live definition while the domain runs.
    fn live(&self) -> Option<&DomainDef>;
    /// Records the autostart flag (the store's link is the table's business).
    fn set_autostart_flag(&mut self, on: bool);
    /// Takes `def` as the persistent definition (a define over an existing domain, running
    /// or not: a running one keeps running and boots the new definition next time).
    fn redefine(&mut self, def: DomainDef);
    /// The persistent definition is gone while the domain runs: it becomes transient, its
    /// live definition its only one, without autostart.
    fn make_transient(&mut self);

    /// Name, UUID and (while running) ID.
    fn handle(&self) -> DomainHandle {
        DomainHandle {
            name: self.def().name.clone(),
            uuid: self.def().uuid,
            id: self.running_id(),
        }
    }

    /// One line of a domain list.
    fn summary(&self) -> DomainSummary {
        let f = self.facts();
        DomainSummary {
            handle: self.handle(),
            state: f.state,
            persistent: f.persistent,
            autostart: f.autostart,
            has_managed_save: f.managed_save,
            title: self.def().title.clone().unwrap_or_default(),
        }
    }
}

/// Every domain of a driver.
#[derive(Debug)]
pub struct DomainTable<D> {
    /// The domains by UUID.
    pub by_uuid: HashMap<Uuid, D>,
    /// UUIDs by name.
    pub by_name: HashMap<String, Uuid>,
    /// The error domain NO_DOMAIN is reported from.
    domain: ErrorDomain,
}

impl<D: Entry> DomainTable<D> {
    /// An empty table whose errors come from `domain` (QEMU, LXC, ...).
    pub fn new(domain: ErrorDomain) -> Self {
        DomainTable {
            by_uuid: HashMap::new(),
            by_name: HashMap::new(),
            domain,
        }
    }

    /// The error domain the table's errors come from.
    pub fn error_domain(&self) -> ErrorDomain {
        self.domain
    }

    /// Adds (or replaces) `dom`.
    pub fn insert(&mut self, dom: D) {
        let (name, uuid) = (dom.def().name.clone(), dom.def().uuid);
        self.by_name.insert(name, uuid);
        self.by_uuid.insert(uuid, dom);
    }

    /// Removes the domain with `uuid`.
    pub fn remove(&mut self, uuid: &Uuid) -> Option<D> {
        let dom = self.by_uuid.remove(uuid)?;
        self.by_name.remove(&dom.def().name);
        Some(dom)
    }

    /// NO_DOMAIN for `lookup`, carrying what was asked for.
    fn no_domain(&self, lookup: &DomainLookup) -> VirtError {
        VirtError::no_domain(self.domain, lookup)
    }

    /// The UUID `lookup` names; NO_DOMAIN with libvirt's "no domain with matching ..." wording
    /// when nothing matches. An ID matches running domains only.
    pub fn resolve(&self, lookup: &DomainLookup) -> Result<Uuid, VirtError> {
        let by_name = |n: &str| {
            self.by_name
                .get(n)
                .copied()
                .ok_or_else(|| self.no_domain(lookup))
        };
        match lookup {
            DomainLookup::Name(n) => by_name(n),
            DomainLookup::Uuid(u) if self.by_uuid.contains_key(u) => Ok(*u),
            DomainLookup::Uuid(_) => Err(self.no_domain(lookup)),
            DomainLookup::Id(id) => self
                .by_uuid
                .values()
                .find(|d| d.running_id() == Some(*id))
                .map(|d| d.def().uuid)
                .ok_or_else(|| self.no_domain(lookup)),
            DomainLookup::Any(s) => match Uuid::parse(s).filter(|u| self.by_uuid.contains_key(u)) {
                Some(u) => Ok(u),
                None => by_name(s),
            },
        }
    }

    /// The domain `lookup` names.
    pub fn get(&self, lookup: &DomainLookup) -> Result<&D, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(&self.by_uuid[&u])
    }

    /// The domain `lookup` names, to change.
    pub fn get_mut(&mut self, lookup: &DomainLookup) -> Result<&mut D, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(self.by_uuid.get_mut(&u).expect("resolve found it"))
    }

    /// libvirt's virDomainObjListAdd rules: the same name with another UUID, or the same UUID
    /// with another name, is OPERATION_FAILED (gRPC ALREADY_EXISTS); `true` when `def`
    /// replaces an existing domain. With `locate`, the clash is also a violation on
    /// `/domain/name` or `/domain/uuid`.
    pub fn check_identity(&self, def: &DomainDef, locate: bool) -> Result<bool, VirtError> {
        let clash = |detail: String, name: &str, uuid: &Uuid, path: &str| {
            let mut err = VirtError::new(ErrorCode::OperationFailed, ErrorDomain::Domain, detail)
                .with_object(name, uuid.to_string())
                .clash();
            if locate {
                err.violations.push(Violation {
                    path: path.into(),
                    description: err.detail.clone(),
                });
            }
            err
        };
        if let Some(existing) = self.by_uuid.get(&def.uuid) {
            let n = &existing.def().name;
            if *n != def.name {
                return Err(clash(
                    format!("domain '{n}' is already defined with uuid {}", def.uuid),
                    n,
                    &def.uuid,
                    "/domain/uuid",
                ));
            }
            return Ok(true);
        }
        if let Some(u) = self.by_name.get(&def.name) {
            return Err(clash(
                format!("domain '{}' already exists with uuid {u}", def.name),
                &def.name,
                u,
                "/domain/name",
            ));
        }
        Ok(false)
    }

    /// virDomainDefineXML after parsing: the identity rules ([`DomainTable::check_identity`]),
    /// then the definition `text` written to `store` (disk before memory), then the table:
    /// the existing domain takes `def` ([`Entry::redefine`]) or `new` makes one. Answers the
    /// handle and whether an existing domain was replaced (DEFINED UPDATED rather than ADDED).
    pub fn define(
        &mut self,
        def: DomainDef,
        locate: bool,
        store: &super::store::ConfigStore,
        text: &str,
        new: impl FnOnce(DomainDef) -> D,
    ) -> Result<(DomainHandle, bool), VirtError> {
        let replaces = self.check_identity(&def, locate)?;
        store
            .save(&def.name, text)
            .map_err(|e| VirtError::new(ErrorCode::SystemError, self.domain, e.to_string()))?;
        let uuid = def.uuid;
        match self.by_uuid.get_mut(&uuid) {
            Some(existing) => existing.redefine(def),
            None => self.insert(new(def)),
        }
        Ok((self.by_uuid[&uuid].handle(), replaces))
    }

    /// virDomainUndefine's first rule: a transient domain has nothing to undefine
    /// (OPERATION_INVALID naming it). Answers the UUID.
    pub fn check_undefine(&self, lookup: &DomainLookup) -> Result<Uuid, VirtError> {
        let d = self.get(lookup)?;
        let f = d.facts();
        if !f.persistent {
            return Err(
                VirtError::operation_invalid("cannot undefine transient domain")
                    .with_object(f.name, f.uuid.to_string()),
            );
        }
        Ok(f.uuid)
    }

    /// virDomainUndefine's last step, once the store dropped the definition: a running
    /// domain becomes transient and stays ([`Entry::make_transient`]); a shut-off one leaves
    /// the table and is answered.
    pub fn undefined(&mut self, uuid: &Uuid) -> (DomainHandle, Option<D>) {
        match self.by_uuid.get_mut(uuid) {
            Some(d) if d.facts().active => {
                d.make_transient();
                (d.handle(), None)
            }
            Some(_) => {
                let gone = self.remove(uuid).expect("present");
                (gone.handle(), Some(gone))
            }
            None => (
                DomainHandle {
                    name: String::new(),
                    uuid: *uuid,
                    id: None,
                },
                None,
            ),
        }
    }

    /// The domains passing libvirt's list filter `flags`, by name (bulk stats of all domains).
    pub fn matching(&self, flags: u32) -> Vec<&D> {
        let mut out: Vec<&D> = self
            .by_uuid
            .values()
            .filter(|d| super::list::matches(&d.facts(), flags))
            .collect();
        out.sort_by(|a, b| a.def().name.cmp(&b.def().name));
        out
    }

    /// The domains `lookups` name, in order; NO_DOMAIN for the first that names none.
    pub fn each(&self, lookups: &[DomainLookup]) -> Result<Vec<&D>, VirtError> {
        lookups.iter().map(|l| self.get(l)).collect()
    }

    /// virDomainGetXMLDesc: the live definition of a running domain (with its ID) unless
    /// INACTIVE asks for the persistent one of a persistent domain; MIGRATABLE formats the
    /// live one as inactive; SECURE includes secrets. The caller checked the flags.
    pub fn domain_xml(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        codec: &dyn crate::xml::DomainXmlCodec,
    ) -> Result<String, VirtError> {
        use super::flags::xml::{INACTIVE, MIGRATABLE, SECURE};
        let d = self.get(lookup)?;
        let secure = flags & SECURE != 0;
        let persistent = d.facts().persistent;
        let opts = |id, inactive| crate::xml::FormatOptions {
            id,
            secure,
            inactive,
        };
        Ok(match d.live() {
            Some(live) if flags & INACTIVE == 0 || !persistent => {
                codec.format_domain(live, opts(d.running_id(), flags & MIGRATABLE != 0))
            }
            _ => codec.format_domain(d.def(), opts(None, true)),
        })
    }

    /// virDomainSetAutostart: refused for a transient domain; the link in `store` (when the
    /// driver keeps one) is written before the flag changes.
    pub fn set_autostart(
        &mut self,
        lookup: &DomainLookup,
        on: bool,
        store: Option<&super::store::ConfigStore>,
    ) -> Result<(), VirtError> {
        let d = self.get_mut(lookup)?;
        let f = d.facts();
        if !f.persistent {
            return Err(
                VirtError::operation_invalid("cannot set autostart for transient domain")
                    .with_object(f.name, f.uuid.to_string()),
            );
        }
        if f.autostart != on {
            if let Some(store) = store {
                let name = f.name.to_string();
                store.set_autostart(&name, on).map_err(|e| {
                    VirtError::new(ErrorCode::SystemError, self.domain, e.to_string())
                })?;
            }
            self.get_mut(lookup)?.set_autostart_flag(on);
        }
        Ok(())
    }

    /// The definition a read of `lookup` concerns: the live one when LIVE, or CURRENT on a
    /// running domain, asks for it, else the persistent one ([`super::modify::impact_read`]'s
    /// rules; only the LIVE and CONFIG bits of `flags` count).
    pub fn read_def(&self, lookup: &DomainLookup, flags: u32) -> Result<&DomainDef, VirtError> {
        use super::flags::modify::{CONFIG, LIVE};
        let d = self.get(lookup)?;
        let live = super::modify::impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        Ok(match d.live() {
            Some(l) if live => l,
            _ => d.def(),
        })
    }

    /// virDomainGetVcpusFlags from the definitions: the live one when the flags (CURRENT
    /// resolved by state) say so, MAXIMUM for the maximum. The caller checked the flags.
    pub fn vcpus(&self, lookup: &DomainLookup, flags: u32) -> Result<u32, VirtError> {
        let def = self.read_def(lookup, flags)?;
        Ok(if flags & super::flags::modify::MAXIMUM != 0 {
            def.vcpus
        } else {
            def.current_vcpus
        })
    }

    /// Domains passing libvirt's list filter, by name.
    pub fn list(&self, flags: u32) -> Vec<DomainSummary> {
        let mut out: Vec<DomainSummary> = self
            .by_uuid
            .values()
            .filter(|d| super::list::matches(&d.facts(), flags))
            .map(Entry::summary)
            .collect();
        out.sort_by(|a, b| a.handle.name.cmp(&b.handle.name));
        out
    }
}
