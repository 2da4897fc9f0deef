//! One domain as a driver keeps it, for drivers whose record holds nothing beyond the common
//! facts: the definition, autostart, persistence, the state it stopped in, the job lock, and
//! while it runs the driver's own run state `R` ([`RunState`]). The LXC and Xen drivers use it
//! as is; [`Record`] implements the table's [`Entry`](super::table::Entry), and the table
//! loads a driver's stored definitions into records ([`load`]).

use std::sync::Arc;

use crate::model::DomainDef;
use crate::state::{reason, DomainState, StateReason};
use crate::types::DomainLookup;
use crate::uuid::Uuid;

use super::store::StoredDomain;
use super::table::{DomainTable, Entry};

/// What the common rules need of a running domain.
pub trait RunState {
    /// The domain ID.
    fn id(&self) -> u32;
    /// Its state and reason.
    fn state(&self) -> StateReason;
    /// Its live definition.
    fn live(&self) -> &DomainDef;
}

/// One domain: defined (persistent) or running without a definition (transient).
#[derive(Debug)]
pub struct Record<R> {
    /// The persistent (next boot) definition; for a transient domain, its live definition.
    pub def: DomainDef,
    /// Autostart is set.
    pub autostart: bool,
    /// A definition is stored in the config dir.
    pub persistent: bool,
    /// The state it stopped in (SHUTOFF / UNKNOWN until the daemon stops it once).
    pub last: StateReason,
    /// Present while the domain is active.
    pub run: Option<R>,
    /// The per-domain job lock serialising state changes.
    pub job: Arc<tokio::sync::Mutex<()>>,
}

impl<R: RunState> Record<R> {
    /// A shut-off domain with `def`.
    pub fn new(def: DomainDef, autostart: bool, persistent: bool) -> Self {
        Record {
            def,
            autostart,
            persistent,
            last: StateReason::new(DomainState::Shutoff, reason::shutoff::UNKNOWN),
            run: None,
            job: Arc::default(),
        }
    }

    /// The running state, or the state it stopped in.
    pub fn state(&self) -> StateReason {
        self.run.as_ref().map_or(self.last, RunState::state)
    }

    /// Whether it runs.
    pub fn is_active(&self) -> bool {
        self.run.is_some()
    }

    /// virDomainGetInfo's facts the record holds, from the live definition while it runs:
    /// memory is the definition's and CPU time 0, for the driver to fill from its hypervisor.
    pub fn info(&self) -> crate::types::DomainInfo {
        let def = self.run.as_ref().map_or(&self.def, RunState::live);
        crate::types::DomainInfo {
            state: self.state(),
            max_memory_kib: def.memory_kib,
            memory_kib: def.current_memory_kib,
            vcpus: def.current_vcpus,
            cpu_time_ns: 0,
            os_type: def.os.os_type.clone(),
            persistent: self.persistent,
            autostart: self.autostart,
            has_managed_save: false,
            security_labels: Vec::new(),
            updated: false,
            messages: Vec::new(),
        }
    }
}

impl<R: RunState> Entry for Record<R> {
    fn def(&self) -> &DomainDef {
        &self.def
    }

    fn running_id(&self) -> Option<u32> {
        self.run.as_ref().map(RunState::id)
    }

    fn live(&self) -> Option<&DomainDef> {
        self.run.as_ref().map(RunState::live)
    }

    fn set_autostart_flag(&mut self, on: bool) {
        self.autostart = on;
    }

    fn redefine(&mut self, def: DomainDef) {
        self.def = def;
        self.persistent = true;
    }

    fn make_transient(&mut self) {
        self.persistent = false;
        self.autostart = false;
        if let Some(r) = &self.run {
            self.def = r.live().clone();
        }
    }

    fn facts(&self) -> super::DomainFacts<'_> {
        super::DomainFacts {
            name: &self.def.name,
            uuid: self.def.uuid,
            state: self.state(),
            active: self.is_active(),
            persistent: self.persistent,
            autostart: self.autostart,
            managed_save: false,
            has_snapshot: false,
            has_checkpoint: false,
        }
    }
}

impl<R: RunState> DomainTable<Record<R>> {
    /// The UUID of the domain `lookup` names and its job lock, to take (state changes one at
    /// a time).
    pub fn job_of(
        &self,
        lookup: &DomainLookup,
    ) -> Result<(Uuid, Arc<tokio::sync::Mutex<()>>), crate::VirtError> {
        let d = self.get(lookup)?;
        Ok((d.def.uuid, d.job.clone()))
    }
}

/// Puts the definitions a store loaded into `table` as shut-off persistent records; a second
/// definition with a UUID already there is logged and skipped. Answers how many the table
/// holds.
pub fn load<R: RunState>(table: &mut DomainTable<Record<R>>, loaded: Vec<StoredDomain>) -> usize {
    for sd in loaded {
        if table.by_uuid.contains_key(&sd.def.uuid) {
            tracing::warn!(name = %sd.def.name, uuid = %sd.def.uuid, "skipping a second definition with the same UUID");
            continue;
        }
        table.insert(Record::new(sd.def, sd.autostart, true));
    }
    table.by_uuid.len()
}
