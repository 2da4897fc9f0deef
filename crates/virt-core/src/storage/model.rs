//! The storage vocabulary: pool and volume definitions as libvirt's `<pool>` and `<volume>`
//! XML carry them (virt-xml parses and formats them through [`StorageXmlCodec`]), and the
//! identities and facts the [`super::StorageDriver`] calls answer with.

use crate::error::VirtError;
use crate::uuid::Uuid;

/// Pool types this project serves; every other libvirt type is refused by name.
pub const POOL_TYPES: &[&str] = &["dir", "fs", "logical"];

/// libvirt's virConnectListAllStoragePoolsFlags bit of each pool type, by name.
pub const POOL_TYPE_FLAGS: &[(&str, u32)] = &[
    ("dir", 1 << 6),
    ("fs", 1 << 7),
    ("netfs", 1 << 8),
    ("logical", 1 << 9),
    ("disk", 1 << 10),
    ("iscsi", 1 << 11),
    ("scsi", 1 << 12),
    ("mpath", 1 << 13),
    ("rbd", 1 << 14),
    ("sheepdog", 1 << 15),
    ("gluster", 1 << 16),
    ("zfs", 1 << 17),
    ("vstorage", 1 << 18),
    ("iscsi-direct", 1 << 19),
];

/// `<permissions>` of a pool's or volume's target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// `<mode>`, octal in XML.
    pub mode: Option<u32>,
    /// `<owner>` uid; -1 in XML means "unset".
    pub owner: Option<i64>,
    /// `<group>` gid.
    pub group: Option<i64>,
    /// `<label>`.
    pub label: Option<String>,
}

impl Permissions {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none() && self.label.is_none()
    }
}

/// `<source>` of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSource {
    /// `<device path=...>`, in order.
    pub devices: Vec<String>,
    /// `<dir path=...>`.
    pub dir: Option<String>,
    /// `<name>`: the volume group of a logical pool.
    pub name: Option<String>,
    /// `<format type=...>`: a file system type (fs) or `lvm2` (logical).
    pub format: Option<String>,
}

/// A `<pool>` definition with its runtime sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolDef {
    /// `type=` attribute: `dir`, `fs`, `logical`.
    pub pool_type: String,
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when absent.
    pub uuid: Uuid,
    /// `<capacity>` in bytes.
    pub capacity: u64,
    /// `<allocation>` in bytes.
    pub allocation: u64,
    /// `<available>` in bytes.
    pub available: u64,
    /// `<source>`.
    pub source: PoolSource,
    /// `<target><path>`.
    pub target_path: String,
    /// `<target><permissions>`.
    pub target_perms: Permissions,
}

/// `<timestamps>` of a volume or backing file: (seconds, nanoseconds) since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamps {
    /// Last access.
    pub atime: (i64, u32),
    /// Last modification.
    pub mtime: (i64, u32),
    /// Last status change.
    pub ctime: (i64, u32),
}

/// `<backingStore>` of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackingStore {
    /// `<path>`.
    pub path: String,
    /// `<format type=...>`.
    pub format: Option<String>,
    /// `<permissions>` of the backing file, as probed.
    pub perms: Permissions,
    /// `<timestamps>` of the backing file, as probed.
    pub timestamps: Option<Timestamps>,
}

/// A `<volume>` definition with its runtime facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolDef {
    /// `type=` attribute: `file`, `block`, `dir`, ... (`file` when absent).
    pub vol_type: String,
    /// `<name>`.
    pub name: String,
    /// `<key>`: set by the driver (the path for file and LVM volumes).
    pub key: String,
    /// `<capacity>` in bytes.
    pub capacity: u64,
    /// `<allocation>` in bytes; `None` in a request means "as large as the capacity".
    pub allocation: Option<u64>,
    /// `<physical>` in bytes, when the driver knows it (a file's size).
    pub physical: Option<u64>,
    /// `<target><path>`: set by the driver.
    pub target_path: String,
    /// `<target><format type=...>`.
    pub format: Option<String>,
    /// `<target><permissions>`.
    pub target_perms: Permissions,
    /// `<backingStore>`.
    pub backing: Option<BackingStore>,
    /// `<target><timestamps>`, as probed (output only).
    pub timestamps: Option<Timestamps>,
    /// `<target><clusterSize>` in bytes (qcow2).
    pub cluster_size: Option<u64>,
}

/// Parses and formats `<pool>` and `<volume>` documents (virt-xml implements it).
///
/// Parse errors are XML_ERROR for malformed documents, CONFIG_UNSUPPORTED naming pool types
/// and elements this project does not honour, never a silent drop.
pub trait StorageXmlCodec: Send + Sync + 'static {
    /// Parses `<pool>`.
    fn parse_pool(&self, xml: &str) -> Result<PoolDef, VirtError>;
    /// Formats `<pool>` as libvirt 9.0 prints it.
    fn format_pool(&self, def: &PoolDef) -> String;
    /// Parses `<volume>`.
    fn parse_volume(&self, xml: &str) -> Result<VolDef, VirtError>;
    /// Formats `<volume>` as libvirt 9.0 prints it.
    fn format_volume(&self, def: &VolDef) -> String;
}
