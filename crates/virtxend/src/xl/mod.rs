//! xl.cfg: the file syntax ([`cfg`]) and conversions to and from libvirt's domain XML.

pub mod cfg;
