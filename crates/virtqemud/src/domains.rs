//! The QEMU driver's record of one domain: the definition, whether it is persistent, and
//! while it runs its [`Run`] (state, QEMU process, monitor). The table of them (lookups,
//! identity rules, the list filter) is the driver kit's (`virt_core::kit::table`).

use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};

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
    /// Snapshot metadata (`live/snapshot.rs`), stored under `STATE/qemu/snapshot/NAME`.
    pub snapshots: Vec<crate::live::snapshot::Snap>,
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
            snapshots: Vec::new(),
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
}

impl virt_core::kit::table::Entry for Dom {
    fn def(&self) -> &DomainDef {
        &self.def
    }

    fn running_id(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.id)
    }

    fn live(&self) -> Option<&DomainDef> {
        self.run.as_ref().map(|r| &r.live)
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
            self.def = r.live.clone();
        }
    }

    /// What the driver kit's shared rules need of this domain.
    fn facts(&self) -> virt_core::kit::DomainFacts<'_> {
        virt_core::kit::DomainFacts {
            name: &self.def.name,
            uuid: self.def.uuid,
            state: self.state(),
            active: self.is_active(),
            persistent: self.persistent,
            autostart: self.autostart,
            managed_save: self.managed_save,
            has_snapshot: !self.snapshots.is_empty(),
            has_checkpoint: false,
        }
    }
}

/// Every domain of the driver: the driver kit's table of [`Dom`]s.
pub(crate) type Domains = virt_core::kit::table::DomainTable<Dom>;
