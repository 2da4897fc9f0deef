//! A host description for the test driver (`test:///ABSOLUTE/PATH.xml`, root `<node>`).

use super::domain::DomainDef;
use super::snapshot::SnapshotDef;
use crate::state::StateReason;

/// Node memory of libvirt's test driver when a file gives none (3 GiB).
pub const DEFAULT_NODE_MEMORY_KIB: u64 = 3 * 1024 * 1024;

/// A `<node>` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDef {
    /// `<cpu>` facts; defaults as libvirt's test driver when absent.
    pub cpu: NodeCpu,
    /// `<memory>` in KiB; libvirt's default 3 GiB when absent.
    pub memory_kib: u64,
    /// Inline domains, in file order.
    pub domains: Vec<NodeDomain>,
    /// Names of the top-level objects this project does not serve yet (`network`, `pool`,
    /// `interface`, `device`), in file order: read, checked to be elements, and skipped.
    pub skipped_objects: Vec<String>,
    /// Inline `<network>` definitions, in file order (also named in `skipped_objects`: the
    /// domain side skips them; the test driver's network side serves them).
    pub networks: Vec<crate::network::NetworkDef>,
    /// Inline `<pool>`s, in file order (the test driver starts them active).
    pub pools: Vec<crate::storage::model::PoolDef>,
}

impl Default for NodeDef {
    fn default() -> NodeDef {
        NodeDef {
            cpu: NodeCpu::default(),
            memory_kib: DEFAULT_NODE_MEMORY_KIB,
            domains: Vec::new(),
            skipped_objects: Vec::new(),
            networks: Vec::new(),
            pools: Vec::new(),
        }
    }
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeDomain {
    /// The definition.
    pub def: DomainDef,
    /// `<test:runstate>`: the initial state; running when absent, as in libvirt.
    pub runstate: Option<StateReason>,
    /// `<test:transient/>`: the domain has no persistent definition.
    pub transient: bool,
    /// `<test:hasmanagedsave/>`: the domain has a managed save image.
    pub has_managed_save: bool,
    /// `<test:domainsnapshot>` elements, in file order.
    pub snapshots: Vec<SnapshotDef>,
}
