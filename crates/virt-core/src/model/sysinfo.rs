//! `<sysinfo>`: what a guest is told about the machine it runs on. Two kinds exist:
//! `type='smbios'` (the firmware's SMBIOS tables: BIOS, system, base boards, chassis, OEM
//! strings) and `type='fwcfg'` (named blobs in QEMU's firmware configuration device).
//!
//! SMBIOS blocks keep their entries as `(name, value)` pairs in libvirt's fixed order, which is
//! also the order QEMU's `-smbios type=N,...` takes them; [`SmbiosBlockKind::entry_names`] lists
//! the names libvirt knows for each block. Whether the tables reach the guest is decided by
//! `<os><smbios mode=...>` ([`super::domain::OsDef::smbios_mode`]), not here.

/// One `<sysinfo>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sysinfo {
    /// `type='smbios'`.
    Smbios(SmbiosInfo),
    /// `type='fwcfg'`: the entries in document order.
    FwCfg(Vec<FwCfgEntry>),
}

/// The SMBIOS blocks of a `<sysinfo type='smbios'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmbiosInfo {
    /// `<bios>` (SMBIOS type 0).
    pub bios: Option<SmbiosBlock>,
    /// `<system>` (type 1).
    pub system: Option<SmbiosBlock>,
    /// `<baseBoard>` elements (type 2), in document order.
    pub base_boards: Vec<SmbiosBlock>,
    /// `<chassis>` (type 3).
    pub chassis: Option<SmbiosBlock>,
    /// `<oemStrings><entry>` texts (type 11), in document order; empty strings are kept.
    pub oem_strings: Vec<String>,
}

impl SmbiosInfo {
    /// The block of `kind` (the first base board for [`SmbiosBlockKind::BaseBoard`]).
    pub fn block(&self, kind: SmbiosBlockKind) -> Option<&SmbiosBlock> {
        match kind {
            SmbiosBlockKind::Bios => self.bios.as_ref(),
            SmbiosBlockKind::System => self.system.as_ref(),
            SmbiosBlockKind::BaseBoard => self.base_boards.first(),
            SmbiosBlockKind::Chassis => self.chassis.as_ref(),
        }
    }

    /// Whether no block says anything.
    pub fn is_empty(&self) -> bool {
        self.bios.is_none()
            && self.system.is_none()
            && self.base_boards.is_empty()
            && self.chassis.is_none()
            && self.oem_strings.is_empty()
    }
}

/// The entry blocks of SMBIOS, as libvirt names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmbiosBlockKind {
    /// `<bios>`: SMBIOS type 0.
    Bios,
    /// `<system>`: type 1.
    System,
    /// `<baseBoard>`: type 2.
    BaseBoard,
    /// `<chassis>`: type 3.
    Chassis,
}

impl SmbiosBlockKind {
    /// Every block, in libvirt's print order.
    pub const ALL: [SmbiosBlockKind; 4] = [
        SmbiosBlockKind::Bios,
        SmbiosBlockKind::System,
        SmbiosBlockKind::BaseBoard,
        SmbiosBlockKind::Chassis,
    ];

    /// The XML element.
    pub fn element(self) -> &'static str {
        match self {
            SmbiosBlockKind::Bios => "bios",
            SmbiosBlockKind::System => "system",
            SmbiosBlockKind::BaseBoard => "baseBoard",
            SmbiosBlockKind::Chassis => "chassis",
        }
    }

    /// The SMBIOS structure type.
    pub fn smbios_type(self) -> u8 {
        match self {
            SmbiosBlockKind::Bios => 0,
            SmbiosBlockKind::System => 1,
            SmbiosBlockKind::BaseBoard => 2,
            SmbiosBlockKind::Chassis => 3,
        }
    }

    /// The `<entry name=...>` names libvirt knows in this block, in its print order.
    pub fn entry_names(self) -> &'static [&'static str] {
        match self {
            SmbiosBlockKind::Bios => &["vendor", "version", "date", "release"],
            SmbiosBlockKind::System => &[
                "manufacturer",
                "product",
                "version",
                "serial",
                "uuid",
                "sku",
                "family",
            ],
            SmbiosBlockKind::BaseBoard => &[
                "manufacturer",
                "product",
                "version",
                "serial",
                "asset",
                "location",
            ],
            SmbiosBlockKind::Chassis => &["manufacturer", "version", "serial", "asset", "sku"],
        }
    }
}

/// The entries of one SMBIOS block: `(name, value)` in [`SmbiosBlockKind::entry_names`]
/// order, each name at most once, values never empty (libvirt drops empty ones).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmbiosBlock {
    /// The entries.
    pub entries: Vec<(String, String)>,
}

impl SmbiosBlock {
    /// The value of entry `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One `<sysinfo type='fwcfg'><entry>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCfgEntry {
    /// `name=...`: the fw_cfg file name (`opt/...`).
    pub name: String,
    /// What the entry holds.
    pub value: FwCfgValue,
}

/// The content of a fw_cfg entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FwCfgValue {
    /// The element's text.
    Text(String),
    /// `file=...`: a host file QEMU reads.
    File(String),
}
