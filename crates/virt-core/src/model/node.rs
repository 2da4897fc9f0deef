//! A host description for the test driver (`test:///ABSOLUTE/PATH.xml`, root `<node>`).

use super::domain::DomainDef;
use crate::state::StateReason;

/// A `<node>` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeDef {
    /// `<cpu>` facts; defaults as libvirt's test driver when absent.
    pub cpu: NodeCpu,
    /// `<memory>` in KiB.
    pub memory_kib: u64,
    /// Inline domains, in file order.
    pub domains: Vec<NodeDomain>,
}

/// The `<cpu>` element of a node file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCpu {
    /// NUMA cells.
    pub nodes: u32,
    /// Sockets per cell.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Active CPUs.
    pub active: u32,
    /// MHz.
    pub mhz: u32,
    /// Model name.
    pub model: String,
}

impl Default for NodeCpu {
    fn default() -> NodeCpu {
        NodeCpu {
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
            active: 16,
            mhz: 1400,
            model: "i686".into(),
        }
    }
}

/// A domain listed in a node file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDomain {
    /// The definition.
    pub def: DomainDef,
    /// `<test:runstate>`: the initial state; running when absent, as in libvirt.
    pub runstate: Option<StateReason>,
}
