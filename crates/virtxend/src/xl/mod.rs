//! xl.cfg: the file syntax ([`cfg`]) and conversions to and from libvirt's domain XML.

pub mod cfg;
pub mod from_native;

pub use from_native::from_native;

/// Placeholder until the domain XML -> xl.cfg direction lands.
pub fn to_native(_def: &virt_core::model::domain::DomainDef) -> Result<String, virt_core::VirtError> {
    Err(virt_core::VirtError::new(
        virt_core::ErrorCode::ConfigUnsupported,
        virt_core::ErrorDomain::Xenxl,
        "xl.cfg output is not implemented yet",
    ))
}
