//! `<filesystem>`: a host directory, image, block device or RAM area shared with the guest
//! (9p/virtiofs in QEMU, mounts in LXC).

use super::devices::Address;

/// `<filesystem>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filesystem {
    /// `type=...`: `mount` (the default), `bind`, `file`, `block`, `ram`, `template`.
    pub fs_type: String,
    /// `accessmode=...`: `passthrough` (the default, always printed), `mapped`, `squash`.
    pub accessmode: String,
    /// `<driver type=...>`: `path`, `handle`, `loop`, `nbd`, `ploop`, `virtiofs`.
    pub driver_type: Option<String>,
    /// `<driver format=...>`: image format (`raw`, `qcow2`, ...), with a driver type.
    pub driver_format: Option<String>,
    /// `<driver wrpolicy='immediate'>`, with a driver type.
    pub driver_wrpolicy: Option<String>,
    /// The source: `dir=` (mount, bind), `file=` (file), `dev=` (block), `name=` (template).
    pub source: Option<String>,
    /// `<source usage=...>` in KiB (ram).
    pub usage_kib: Option<u64>,
    /// `<target dir=...>`: mount point (LXC) or mount tag (QEMU).
    pub target: String,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<alias name=...>` (user alias, `ua-` prefix).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Filesystem {
    /// The `<source>` attribute carrying the source for this type (`None` for `ram`).
    pub fn source_attr(&self) -> Option<&'static str> {
        match self.fs_type.as_str() {
            "file" => Some("file"),
            "block" => Some("dev"),
            "template" => Some("name"),
            "ram" => None,
            _ => Some("dir"),
        }
    }
}
