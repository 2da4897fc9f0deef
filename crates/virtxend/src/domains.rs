//! The Xen driver's record of one domain: its definition, whether it is persistent, and while
//! it runs its [`Run`] (Xen domain ID, state, live definition, console session). The table of
//! them is the driver kit's (`virt_core::kit::table`).

use std::sync::Arc;

use virt_core::kit::console::Session;
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};

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
    pub job: Arc<tokio::sync::Mutex<()>>,
}

/// A running domain as the daemon tracks it.
#[derive(Debug)]
pub(crate) struct Run {
    /// Xen's domain ID (a reboot through xl's monitor gives the domain a new one).
    pub id: u32,
    /// Which start of this daemon's this is: a stop reported for an older run is ignored.
    pub generation: u64,
    pub state: StateReason,
    /// The live definition.
    pub live: DomainDef,
    /// How the domain is being stopped by us, so the Xen Store's report of its end gets the
    /// right reason: `Some(DESTROYED)` while a destroy runs.
    pub stopping: Option<i32>,
    /// The console session.
    pub console: Session,
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
            job: Arc::default(),
        }
    }

    /// The running state, or the state it stopped in.
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

    fn facts(&self) -> virt_core::kit::DomainFacts<'_> {
        virt_core::kit::DomainFacts {
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

/// Every domain of the driver: the driver kit's table of [`Dom`]s.
pub(crate) type Domains = virt_core::kit::table::DomainTable<Dom>;
