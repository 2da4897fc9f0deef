//! The driver's domains in memory, indexed by UUID and name: the definition, whether it is
//! persistent, and while it runs its [`Run`] (state, QEMU process, monitor); libvirt's
//! lookups (by ID for running domains), identity rules and list filter.

use std::collections::HashMap;

use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup, DomainSummary};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::live::{Job, Run};

/// One domain: defined (persistent) or running without a definition (transient).
#[derive(Debug)]
pub(crate) struct Dom {
    /// The persistent (next boot) definition; for a transient domain, its live definition.
    pub def: DomainDef,
    pub autostart: bool,
    /// Whether a definition is stored in the config dir.
    pub persistent: bool,
    /// The state it stopped in (SHUTOFF / UNKNOWN until this daemon stops it once).
    pub last: StateReason,
    /// Present while the domain is active.
    pub run: Option<Run>,
    /// The per-domain job lock serialising state changes.
    pub job: Job,
    /// A managed-save image exists (`STATE/qemu/save/NAME.save`).
    pub managed_save: bool,
    /// How long guest agent calls wait (virDomainAgentSetResponseTimeout); kept across runs
    /// while the daemon lives, and in the status file of a running domain.
    pub agent_timeout: virt_core::guest::AgentTimeout,
    /// The flags a running domain was undefined with: its stop finishes the undefine (TPM
    /// state) with them.
    pub undefine_flags: u32,
}

impl Dom {
    /// A shut-off domain with `def`.
    pub fn new(def: DomainDef, autostart: bool, persistent: bool) -> Dom {
        Dom {
            def,
            autostart,
            persistent,
            last: StateReason::new(DomainState::Shutoff, reason::shutoff::UNKNOWN),
            run: None,
            job: Job::default(),
            managed_save: false,
            agent_timeout: virt_core::guest::AgentTimeout::default(),
            undefine_flags: 0,
        }
    }

    pub fn handle(&self) -> DomainHandle {
        DomainHandle {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            id: self.run.as_ref().map(|r| r.id),
        }
    }

    /// The running state, or the state it stopped in (SHUTOFF / UNKNOWN when never started
    /// by this daemon, as libvirt reports a domain that was defined and not started).
    pub fn state(&self) -> StateReason {
        self.run.as_ref().map_or(self.last, |r| r.state)
    }

    pub fn is_active(&self) -> bool {
        self.run.is_some()
    }

    /// What the driver kit's shared rules need of this domain.
    pub fn facts(&self) -> virt_core::kit::DomainFacts<'_> {
        virt_core::kit::DomainFacts {
            name: &self.def.name,
            uuid: self.def.uuid,
            state: self.state(),
            active: self.is_active(),
            persistent: self.persistent,
            autostart: self.autostart,
            managed_save: self.managed_save,
            has_snapshot: false,
            has_checkpoint: false,
        }
    }

    pub fn summary(&self) -> DomainSummary {
        DomainSummary {
            handle: self.handle(),
            state: self.state(),
            persistent: self.persistent,
            autostart: self.autostart,
            has_managed_save: self.managed_save,
            title: self.def.title.clone().unwrap_or_default(),
        }
    }
}

/// Every domain of the driver.
#[derive(Debug, Default)]
pub(crate) struct Domains {
    pub by_uuid: HashMap<Uuid, Dom>,
    pub by_name: HashMap<String, Uuid>,
}

/// NO_DOMAIN for `lookup`, carrying what was asked for.
fn no_domain(lookup: &DomainLookup) -> VirtError {
    VirtError::no_domain(ErrorDomain::Qemu, lookup)
}

impl Domains {
    pub fn insert(&mut self, dom: Dom) {
        self.by_name.insert(dom.def.name.clone(), dom.def.uuid);
        self.by_uuid.insert(dom.def.uuid, dom);
    }

    pub fn remove(&mut self, uuid: &Uuid) -> Option<Dom> {
        let dom = self.by_uuid.remove(uuid)?;
        self.by_name.remove(&dom.def.name);
        Some(dom)
    }

    /// NO_DOMAIN with libvirt's "no domain with matching ..." wording when nothing matches.
    /// An ID matches running domains only.
    pub fn resolve(&self, lookup: &DomainLookup) -> Result<Uuid, VirtError> {
        let by_name = |n: &str| {
            self.by_name
                .get(n)
                .copied()
                .ok_or_else(|| no_domain(lookup))
        };
        match lookup {
            DomainLookup::Name(n) => by_name(n),
            DomainLookup::Uuid(u) if self.by_uuid.contains_key(u) => Ok(*u),
            DomainLookup::Uuid(_) => Err(no_domain(lookup)),
            DomainLookup::Id(id) => self
                .by_uuid
                .values()
                .find(|d| d.run.as_ref().is_some_and(|r| r.id == *id))
                .map(|d| d.def.uuid)
                .ok_or_else(|| no_domain(lookup)),
            DomainLookup::Any(s) => match Uuid::parse(s).filter(|u| self.by_uuid.contains_key(u)) {
                Some(u) => Ok(u),
                None => by_name(s),
            },
        }
    }

    pub fn get(&self, lookup: &DomainLookup) -> Result<&Dom, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(&self.by_uuid[&u])
    }

    pub fn get_mut(&mut self, lookup: &DomainLookup) -> Result<&mut Dom, VirtError> {
        let u = self.resolve(lookup)?;
        Ok(self.by_uuid.get_mut(&u).expect("resolve found it"))
    }

    /// libvirt's virDomainObjListAdd rules: the same name with another UUID, or the same UUID
    /// with another name, is OPERATION_FAILED (gRPC ALREADY_EXISTS); `Some` when `def`
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
            if existing.def.name != def.name {
                let n = &existing.def.name;
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

    /// Domains passing libvirt's list filter, by name.
    pub fn list(&self, flags: u32) -> Vec<DomainSummary> {
        let mut out: Vec<DomainSummary> = self
            .by_uuid
            .values()
            .filter(|d| virt_core::kit::list::matches(&d.facts(), flags))
            .map(Dom::summary)
            .collect();
        out.sort_by(|a, b| a.handle.name.cmp(&b.handle.name));
        out
    }
}
