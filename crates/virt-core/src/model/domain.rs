//! A domain definition (the typed form of `<domain>` XML).
//!
//! This first version covers the core elements; virt-xml's full-fidelity work extends it.

use crate::uuid::Uuid;

/// A domain definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainDef {
    /// `<domain type=...>`: `kvm`, `qemu`, `xen`, `lxc`, `test`.
    pub virt_type: String,
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when the XML has none.
    pub uuid: Uuid,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<memory>` in KiB (maximum memory).
    pub memory_kib: u64,
    /// `<currentMemory>` in KiB; equals `memory_kib` when absent.
    pub current_memory_kib: u64,
    /// `<vcpu>`: maximum vCPUs.
    pub vcpus: u32,
    /// `<vcpu current=...>`; equals `vcpus` when absent.
    pub current_vcpus: u32,
    /// `<os>`.
    pub os: OsDef,
}

/// The `<os>` element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OsDef {
    /// `<type>` text: `hvm`, `xen`, `linux`, `exe`.
    pub os_type: String,
    /// `<type arch=...>`.
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
}
