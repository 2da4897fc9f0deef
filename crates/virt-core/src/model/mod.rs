//! The domain model: what a domain definition, a host description and capabilities say,
//! independent of XML. virt-xml parses and formats these types; drivers act on them.

pub mod caps;
pub mod chardev;
pub mod devices;
pub mod display;
pub mod domain;
pub mod enums;
pub mod fs;
pub mod hostdev;
pub mod netip;
pub mod node;
pub mod smartcard;
pub mod snapshot;
pub mod sysinfo;
pub mod tpm;
pub mod tuning;
pub mod xmlnode;

pub use caps::{Capabilities, DomainCapabilities, DomainCapsBlock};
pub use domain::DomainDef;
pub use node::NodeDef;
pub use snapshot::SnapshotDef;
