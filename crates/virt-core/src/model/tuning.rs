//! Resource tuning of a domain: `<memoryBacking>`, `<memtune>`, `<blkiotune>`, `<cputune>`
//! and the container `<idmap>`.
//!
//! Sizes are in KiB (the XML layer normalises units); `None` means "not written", which is
//! what libvirt prints nothing for.

/// `<memoryBacking>`: how guest memory is backed on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBacking {
    /// `<hugepages>` present (with or without `<page>` children).
    pub hugepages: bool,
    /// `<hugepages><page>` elements; at most one without a nodeset.
    pub pages: Vec<HugePage>,
    /// `<nosharepages/>`: no KSM merging.
    pub nosharepages: bool,
    /// `<locked/>`: memory locked in host RAM.
    pub locked: bool,
    /// `<source type=...>`: `file`, `anonymous`, `memfd`.
    pub source_type: Option<String>,
    /// `<access mode=...>`: `shared`, `private`.
    pub access_mode: Option<String>,
    /// `<allocation mode=...>`: `immediate`, `ondemand`.
    pub allocation_mode: Option<String>,
    /// `<allocation threads=...>`: threads preallocating memory (0 = unset).
    pub allocation_threads: Option<u32>,
    /// `<discard/>`: discard memory on shutdown.
    pub discard: bool,
}

impl MemoryBacking {
    /// Whether nothing is set (libvirt then prints no `<memoryBacking>`).
    pub fn is_empty(&self) -> bool {
        *self == MemoryBacking::default()
    }
}

/// `<hugepages><page size= unit= nodeset=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HugePage {
    /// Page size in KiB (non-zero).
    pub size_kib: u64,
    /// `nodeset=...`: guest NUMA nodes this size backs, canonical (`0-1,3`).
    pub nodeset: Option<String>,
}

/// `<memtune>`: memory limits, each in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemTune {
    /// `<hard_limit>`.
    pub hard_limit_kib: Option<u64>,
    /// `<soft_limit>`.
    pub soft_limit_kib: Option<u64>,
    /// `<min_guarantee>` (ESX/OpenVZ).
    pub min_guarantee_kib: Option<u64>,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit_kib: Option<u64>,
}

impl MemTune {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == MemTune::default()
    }
}

/// `<blkiotune>`: block I/O weights and throttles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlkioTune {
    /// `<weight>` (0 = unset).
    pub weight: Option<u32>,
    /// `<device>` elements, in document order.
    pub devices: Vec<BlkioDevice>,
}

impl BlkioTune {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.weight.is_none() && self.devices.is_empty()
    }
}

/// `<blkiotune><device>`: per host device tuning; zero values are unset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlkioDevice {
    /// `<path>`: the host block device.
    pub path: String,
    /// `<weight>`.
    pub weight: Option<u32>,
    /// `<read_iops_sec>`.
    pub read_iops_sec: Option<u64>,
    /// `<write_iops_sec>`.
    pub write_iops_sec: Option<u64>,
    /// `<read_bytes_sec>`.
    pub read_bytes_sec: Option<u64>,
    /// `<write_bytes_sec>`.
    pub write_bytes_sec: Option<u64>,
}

/// `<cputune>`: CPU shares, bandwidth and pinning (periods and quotas in microseconds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuTune {
    /// `<shares>` (0 or 2..=262144).
    pub shares: Option<u64>,
    /// `<period>`.
    pub period: Option<u64>,
    /// `<quota>` (negative = unlimited).
    pub quota: Option<i64>,
    /// `<global_period>`.
    pub global_period: Option<u64>,
    /// `<global_quota>`.
    pub global_quota: Option<i64>,
    /// `<emulator_period>`.
    pub emulator_period: Option<u64>,
    /// `<emulator_quota>`.
    pub emulator_quota: Option<i64>,
    /// `<iothread_period>`.
    pub iothread_period: Option<u64>,
    /// `<iothread_quota>`.
    pub iothread_quota: Option<i64>,
    /// `<vcpupin>` elements, sorted by vCPU.
    pub vcpupins: Vec<CpuPin>,
    /// `<emulatorpin cpuset=...>`, canonical.
    pub emulatorpin: Option<String>,
    /// `<iothreadpin>` elements, in document order (`id` is the IOThread).
    pub iothreadpins: Vec<CpuPin>,
}

impl CpuTune {
    /// Whether nothing is set (libvirt then prints no `<cputune>`).
    pub fn is_empty(&self) -> bool {
        *self == CpuTune::default()
    }
}

/// A `<vcpupin vcpu= cpuset=>` or `<iothreadpin iothread= cpuset=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuPin {
    /// The vCPU or IOThread number.
    pub id: u32,
    /// Host CPUs, canonical (`1-3,5`).
    pub cpuset: String,
}

/// `<idmap>`: user namespace ID maps of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdMap {
    /// `<uid>` entries, in document order.
    pub uids: Vec<IdMapEntry>,
    /// `<gid>` entries, in document order.
    pub gids: Vec<IdMapEntry>,
}

impl IdMap {
    /// Whether no map is set.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }
}

/// One `<uid>`/`<gid>` range: container IDs `start..start+count` map to host IDs from
/// `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdMapEntry {
    /// `start=...`: first ID inside the container.
    pub start: u32,
    /// `target=...`: first ID on the host.
    pub target: u32,
    /// `count=...`: number of IDs.
    pub count: u32,
}
