//! Host capabilities (`<capabilities>`) and domain capabilities (`<domainCapabilities>`).

/// `<capabilities>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capabilities {
    /// Host UUID, if known.
    pub host_uuid: Option<String>,
    /// Host CPU architecture.
    pub host_arch: String,
    /// Security models, `(model, doi)`.
    pub secmodels: Vec<(String, String)>,
    /// One entry per OS type and architecture.
    pub guests: Vec<GuestCaps>,
}

/// One `<guest>` of the capabilities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuestCaps {
    /// `hvm`, `xen`, `exe`.
    pub os_type: String,
    /// Architecture.
    pub arch: String,
    /// Word size in bits.
    pub wordsize: u32,
    /// Emulator path.
    pub emulator: String,
    /// Machine types.
    pub machines: Vec<String>,
    /// Domain types (`kvm`, `qemu`, `test`).
    pub domain_types: Vec<String>,
}

/// `<domainCapabilities>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainCapabilities {
    /// Emulator path.
    pub path: String,
    /// Domain type.
    pub domain: String,
    /// Machine type.
    pub machine: Option<String>,
    /// Architecture.
    pub arch: String,
    /// Maximum vCPUs.
    pub vcpu_max: u32,
}
