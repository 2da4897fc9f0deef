//! A domain snapshot definition (`<domainsnapshot>`).

/// A snapshot definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotDef {
    /// `<name>`; generated from the creation time when absent.
    pub name: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
}
