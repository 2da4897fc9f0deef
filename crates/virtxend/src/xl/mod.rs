//! xl.cfg: the file syntax ([`cfg`](mod@cfg)) and conversions to and from libvirt's domain XML.

pub mod cfg;
pub mod from_native;
pub mod to_native;

pub use from_native::from_native;
pub use to_native::to_native;

#[cfg(test)]
mod tests;
