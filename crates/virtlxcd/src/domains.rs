//! The LXC driver's record of one domain: the driver kit's [`Record`] with, while it runs,
//! its [`Run`] (state, controller, init, cgroup, veths). The table of them (lookups,
//! identity rules, the list filter) is the driver kit's (`virt_core::kit::table`).

use std::path::PathBuf;
use virt_core::cgroup::DomainCgroup;
use virt_core::kit::record::{Record, RunState};
use virt_core::model::DomainDef;
use virt_core::state::StateReason;

/// One domain: defined (persistent) or running without a definition (transient).
pub(crate) type Dom = Record<Run>;

/// A running container as the daemon tracks it (and writes to its status file).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// The domain ID: the controller's pid, as libvirt's LXC driver numbers containers.
    pub id: u32,
    /// Which start of this daemon's this is: a stop reported for an older run is ignored.
    pub generation: u64,
    pub state: StateReason,
    /// The live definition.
    pub live: DomainDef,
    /// The controller's pid and its start time (clock ticks since boot, from /proc/PID/stat),
    /// which together name the process even after a pid is reused.
    pub controller: (i32, u64),
    /// Init's pid in the host's PID namespace.
    pub init_pid: i32,
    /// The controller's control socket.
    pub socket: PathBuf,
    /// The container's cgroup, when the daemon places containers in cgroups.
    pub cgroup: Option<DomainCgroup>,
    /// Host ends of the veth pairs, in interface order.
    pub veths: Vec<String>,
    /// Network ports taken from virtnetworkd: `(network, port UUID)`.
    pub ports: Vec<(String, String)>,
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
