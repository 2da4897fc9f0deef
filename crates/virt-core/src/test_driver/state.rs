//! The test driver's in-memory state: domains indexed by UUID, name and ID, and the lookups
//! and wrong-state checks every operation shares.

use std::collections::{BTreeMap, HashMap};

use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::model::DomainDef;
use crate::state::{DomainState, StateReason};
use crate::types::{DomainHandle, DomainLookup, SnapshotInfo};
use crate::uuid::Uuid;

/// One domain of the test driver.
#[derive(Debug)]
pub(crate) struct Dom {
    /// The running definition when active, the persistent one when inactive.
    pub def: DomainDef,
    /// The persistent definition to use at next boot, when it differs from a running `def`.
    pub next_def: Option<DomainDef>,
    pub persistent: bool,
    pub state: StateReason,
    pub id: Option<u32>,
    pub autostart: bool,
    /// Managed-save image: the definition and whether the guest was paused.
    pub managed_save: Option<(DomainDef, bool)>,
    pub snapshots: Vec<Snapshot>,
    /// The open console session, ended by stop and by a forced takeover.
    pub console: crate::kit::console::Session,
    /// Guest-side state the guest calls read and change (see `guest.rs`).
    pub guest: super::guest::GuestState,
}

/// A snapshot of a test domain.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub info: SnapshotInfo,
    pub def: DomainDef,
    pub state: StateReason,
}

impl Dom {
    pub fn new(def: DomainDef, persistent: bool) -> Dom {
        Dom {
            def,
            next_def: None,
            persistent,
            state: StateReason::new(DomainState::Shutoff, crate::state::reason::shutoff::UNKNOWN),
            id: None,
            autostart: false,
            managed_save: None,
            snapshots: Vec::new(),
            console: Default::default(),
            guest: super::guest::GuestState::default(),
        }
    }

    pub fn handle(&self) -> DomainHandle {
        DomainHandle {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            id: self.id,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state.state.is_active()
    }

    /// The persistent (next boot) definition.
    pub fn persistent_def(&self) -> &DomainDef {
        self.next_def.as_ref().unwrap_or(&self.def)
    }

    /// OPERATION_INVALID "domain is not running" unless active.
    pub fn require_active(&self) -> Result<(), VirtError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(self.facts().not_running())
        }
    }

    /// What the driver kit's shared rules need of this domain.
    pub fn facts(&self) -> crate::kit::DomainFacts<'_> {
        crate::kit::DomainFacts {
            name: &self.def.name,
            uuid: self.def.uuid,
            state: self.state,
            active: self.is_active(),
            persistent: self.persistent,
            autostart: self.autostart,
            managed_save: self.managed_save.is_some(),
            has_snapshot: !self.snapshots.is_empty(),
            has_checkpoint: false,
        }
    }
}

/// All domains of one test connection.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub domains: HashMap<Uuid, Dom>,
    pub by_name: HashMap<String, Uuid>,
    pub by_id: BTreeMap<u32, Uuid>,
    pub next_id: u32,
}

/// NO_DOMAIN for `lookup`, carrying what was asked for.
fn not_found(lookup: &DomainLookup) -> VirtError {
    VirtError::no_domain(ErrorDomain::Test, lookup)
}

impl State {
    pub fn new() -> State {
        State {
            next_id: 1,
            ..State::default()
        }
    }

    /// Resolves a lookup to a UUID; NO_DOMAIN with libvirt's "no domain with matching ..."
    /// wording otherwise.
    pub fn resolve(&self, lookup: &DomainLookup) -> Result<Uuid, VirtError> {
        match lookup {
            DomainLookup::Name(n) => self
                .by_name
                .get(n)
                .copied()
                .ok_or_else(|| not_found(lookup)),
            DomainLookup::Uuid(u) => {
                if self.domains.contains_key(u) {
                    Ok(*u)
                } else {
                    Err(not_found(lookup))
                }
            }
            DomainLookup::Id(id) => self.by_id.get(id).copied().ok_or_else(|| not_found(lookup)),
            DomainLookup::Any(s) => {
                if let Ok(id) = s.parse::<u32>() {
                    if let Some(u) = self.by_id.get(&id) {
                        return Ok(*u);
                    }
                }
                if let Some(u) = Uuid::parse(s).filter(|u| self.domains.contains_key(u)) {
                    return Ok(u);
                }
                self.by_name
                    .get(s)
                    .copied()
                    .ok_or_else(|| not_found(lookup))
            }
        }
    }

    pub fn get(&self, lookup: &DomainLookup) -> Result<&Dom, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(&self.domains[&u])
    }

    pub fn get_mut(&mut self, lookup: &DomainLookup) -> Result<&mut Dom, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(self
            .domains
            .get_mut(&u)
            .expect("resolve returned a uuid present in the map"))
    }

    /// Adds a new domain (indexes name).
    pub fn insert(&mut self, dom: Dom) {
        self.by_name.insert(dom.def.name.clone(), dom.def.uuid);
        if let Some(id) = dom.id {
            self.by_id.insert(id, dom.def.uuid);
        }
        self.domains.insert(dom.def.uuid, dom);
    }

    /// Removes a domain and its indexes.
    pub fn remove(&mut self, uuid: &Uuid) -> Option<Dom> {
        let dom = self.domains.remove(uuid)?;
        self.by_name.remove(&dom.def.name);
        if let Some(id) = dom.id {
            self.by_id.remove(&id);
        }
        Some(dom)
    }

    /// Marks a domain active with a fresh ID and the given state.
    pub fn activate(&mut self, uuid: &Uuid, state: StateReason) {
        let id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(id, *uuid);
        let dom = self
            .domains
            .get_mut(uuid)
            .expect("activate on a known domain");
        dom.id = Some(id);
        dom.state = state;
    }

    /// Marks a domain shut off. A transient domain disappears; a persistent one picks up its
    /// next-boot definition. Returns the handle as it was while running.
    pub fn deactivate(&mut self, uuid: &Uuid, reason: i32) -> DomainHandle {
        let dom = self
            .domains
            .get_mut(uuid)
            .expect("deactivate on a known domain");
        let handle = dom.handle();
        if let Some(id) = dom.id.take() {
            self.by_id.remove(&id);
        }
        dom.state = StateReason::new(DomainState::Shutoff, reason);
        dom.console.end();
        if let Some(next) = dom.next_def.take() {
            dom.def = next;
        }
        if !dom.persistent {
            self.remove(uuid);
        }
        handle
    }

    /// Checks a new definition against existing domains as libvirt's virDomainObjListAdd does:
    /// the same name with another UUID, or the same UUID with another name, is refused.
    pub fn check_identity(&self, def: &DomainDef) -> Result<Option<Uuid>, VirtError> {
        if let Some(existing) = self.domains.get(&def.uuid) {
            if existing.def.name != def.name {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Test,
                    format!(
                        "domain '{}' is already defined with uuid {}",
                        existing.def.name, def.uuid
                    ),
                )
                .with_object(&existing.def.name, def.uuid.to_string())
                .clash());
            }
            return Ok(Some(def.uuid));
        }
        if let Some(u) = self.by_name.get(&def.name) {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Test,
                format!("domain '{}' already exists with uuid {}", def.name, u),
            )
            .with_object(&def.name, u.to_string())
            .clash());
        }
        Ok(None)
    }

    /// Takes a definition that is about to start (create-from-XML, restore): an inactive
    /// domain with the same name and UUID starts with it and keeps its stored definition for
    /// its next boot; an active one is OPERATION_INVALID "domain 'x' is already active"; a new
    /// one is added as transient. Name or UUID clashes are refused as in [`State::check_identity`].
    pub fn admit_for_start(&mut self, def: DomainDef) -> Result<Uuid, VirtError> {
        let Some(uuid) = self.check_identity(&def)? else {
            let uuid = def.uuid;
            self.insert(Dom::new(def, false));
            return Ok(uuid);
        };
        let dom = self
            .domains
            .get_mut(&uuid)
            .expect("identity check found it");
        if dom.is_active() {
            return Err(VirtError::operation_invalid(format!(
                "domain '{}' is already active",
                dom.def.name
            ))
            .with_object(&dom.def.name, uuid.to_string()));
        }
        let stored = std::mem::replace(&mut dom.def, def);
        dom.next_def = Some(stored);
        Ok(uuid)
    }
}
