//! The Xen driver's record of one domain: the driver kit's [`Record`] with, while it runs,
//! its [`Run`] (Xen domain ID, state, live definition, console session). The table of them is
//! the driver kit's (`virt_core::kit::table`).

use virt_core::kit::console::Session;
use virt_core::kit::record::{Record, RunState};
use virt_core::model::DomainDef;
use virt_core::state::StateReason;

/// One domain: defined (persistent) or running without a definition (transient).
pub(crate) type Dom = Record<Run>;

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

impl RunState for Run {
    fn id(&self) -> u32 {
        self.id
    }

    fn state(&self) -> StateReason {
        self.state
    }

    fn live(&self) -> &DomainDef {
        &self.live
    }
}

/// Every domain of the driver: the driver kit's table of [`Dom`]s.
pub(crate) type Domains = virt_core::kit::table::DomainTable<Dom>;
