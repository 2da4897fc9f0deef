//! A domain snapshot definition (`<domainsnapshot>`).

use super::domain::DomainDef;

/// A snapshot definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotDef {
    /// `<name>`; generated from the creation time when absent.
    pub name: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<state>`: the domain state when the snapshot was taken (`running`, `shutoff`,
    /// `disk-snapshot`, ...). Output of libvirt, accepted on input.
    pub state: Option<String>,
    /// `<parent><name>`.
    pub parent: Option<String>,
    /// `<creationTime>`: seconds since the epoch.
    pub creation_time: Option<i64>,
    /// `<memory>`.
    pub memory: Option<SnapshotMemory>,
    /// `<disks><disk>` elements.
    pub disks: Vec<SnapshotDisk>,
    /// `<domain>`: the definition at snapshot time.
    pub domain: Option<Box<DomainDef>>,
    /// `<active>`: 1 when the snapshot was taken of a running domain with memory (internal
    /// state of libvirt's snapshot files).
    pub active: Option<bool>,
}

/// `<domainsnapshot><memory>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotMemory {
    /// `snapshot='no|internal|external'`.
    pub snapshot: String,
    /// `file=...` (external).
    pub file: Option<String>,
}

/// `<domainsnapshot><disks><disk>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDisk {
    /// `name=...`: target device or source path.
    pub name: String,
    /// `snapshot='no|internal|external|manual'`.
    pub snapshot: Option<String>,
    /// `<source file=...>` (external).
    pub source_file: Option<String>,
    /// `<driver type=...>` (external).
    pub driver_type: Option<String>,
}
