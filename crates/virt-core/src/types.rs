//! Plain data the Driver trait speaks: domain handles and lookups, summaries, info, node facts,
//! typed parameters and stats records.

use crate::state::StateReason;
use crate::uuid::Uuid;

/// A domain's identity, as libvirt's virDomainPtr carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainHandle {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
    /// ID while active.
    pub id: Option<u32>,
}

/// How a call names its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainLookup {
    /// By name.
    Name(String),
    /// By UUID.
    Uuid(Uuid),
    /// By the ID of an active domain.
    Id(u32),
    /// Name, ID or UUID, resolved as virsh resolves a domain argument: an ID if the text is all
    /// digits and an active domain has it, then a UUID if it parses, then a name.
    Any(String),
}

/// A domain with the facts a listing shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSummary {
    /// Identity.
    pub handle: DomainHandle,
    /// State and reason.
    pub state: StateReason,
    /// Whether a persistent definition exists.
    pub persistent: bool,
    /// Autostart.
    pub autostart: bool,
    /// Whether a managed-save image exists.
    pub has_managed_save: bool,
    /// `<title>`, empty when none.
    pub title: String,
}

/// A domain security label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityLabel {
    /// Model.
    pub model: String,
    /// Label.
    pub label: String,
    /// Enforcing.
    pub enforcing: bool,
}

/// What `virsh dominfo` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    /// State and reason.
    pub state: StateReason,
    /// Maximum memory, KiB.
    pub max_memory_kib: u64,
    /// Current memory, KiB.
    pub memory_kib: u64,
    /// Current vCPUs.
    pub vcpus: u32,
    /// CPU time, ns.
    pub cpu_time_ns: u64,
    /// OS type as virDomainGetOSType.
    pub os_type: String,
    /// Persistent.
    pub persistent: bool,
    /// Autostart.
    pub autostart: bool,
    /// Managed-save image exists.
    pub has_managed_save: bool,
    /// Security labels (active domains).
    pub security_labels: Vec<SecurityLabel>,
    /// Running definition differs from the persistent one.
    pub updated: bool,
    /// Taint and deprecation messages.
    pub messages: Vec<String>,
}

/// virNodeInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// CPU model.
    pub model: String,
    /// Memory, KiB.
    pub memory_kib: u64,
    /// Active CPUs.
    pub cpus: u32,
    /// MHz.
    pub mhz: u32,
    /// NUMA cells.
    pub nodes: u32,
    /// Sockets per cell.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// Versions a connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Driver type name: "QEMU", "TEST", ...
    pub hypervisor_type: String,
    /// Hypervisor version, major*1e6 + minor*1e3 + micro.
    pub hypervisor_version: u64,
    /// Library (API level) version.
    pub lib_version: u64,
}

/// A typed parameter value (libvirt virTypedParameterType).
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    /// INT.
    Int(i32),
    /// UINT.
    UInt(u32),
    /// LLONG.
    LLong(i64),
    /// ULLONG.
    ULLong(u64),
    /// DOUBLE.
    Double(f64),
    /// BOOLEAN.
    Bool(bool),
    /// STRING.
    String(String),
}

impl TypedValue {
    /// virsh's rendering: decimal integers, doubles with six decimals, yes/no, raw strings.
    pub fn virsh_text(&self) -> String {
        match self {
            TypedValue::Int(v) => v.to_string(),
            TypedValue::UInt(v) => v.to_string(),
            TypedValue::LLong(v) => v.to_string(),
            TypedValue::ULLong(v) => v.to_string(),
            TypedValue::Double(v) => format!("{v:.6}"),
            TypedValue::Bool(v) => if *v { "yes" } else { "no" }.to_string(),
            TypedValue::String(v) => v.clone(),
        }
    }
}

/// A named typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedParam {
    /// Field, e.g. `state.state`.
    pub field: String,
    /// Value.
    pub value: TypedValue,
}

impl TypedParam {
    /// `field` = `value`.
    pub fn new(field: impl Into<String>, value: TypedValue) -> TypedParam {
        TypedParam {
            field: field.into(),
            value,
        }
    }
}

/// One QMP event of a running domain, as QEMU sent it (libvirt's
/// virConnectDomainQemuMonitorEventCallback arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuMonitorEvent {
    /// The domain whose QEMU sent it.
    pub domain: DomainHandle,
    /// The event name, e.g. `STOP`.
    pub event: String,
    /// QEMU's timestamp: seconds since the epoch.
    pub seconds: i64,
    /// QEMU's timestamp: microseconds within the second.
    pub micros: u32,
    /// The event's `data` member as compact JSON text; `None` for an event without data.
    pub details: Option<String>,
}

/// The state of a domain's control interface (libvirt virDomainControlInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlInfo {
    /// `proto::DomainControlState` value.
    pub state: u32,
    /// For the error state, libvirt's virDomainControlErrorReason.
    pub details: u32,
    /// Milliseconds spent in `state`.
    pub state_time: u64,
}

/// Traffic counters of one domain interface (libvirt virDomainInterfaceStatsStruct); -1 where
/// the driver does not know the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceStats {
    /// Bytes received.
    pub rx_bytes: i64,
    /// Packets received.
    pub rx_packets: i64,
    /// Receive errors.
    pub rx_errs: i64,
    /// Received packets dropped.
    pub rx_drop: i64,
    /// Bytes sent.
    pub tx_bytes: i64,
    /// Packets sent.
    pub tx_packets: i64,
    /// Send errors.
    pub tx_errs: i64,
    /// Sent packets dropped.
    pub tx_drop: i64,
}

impl Default for InterfaceStats {
    /// Every counter unknown (-1).
    fn default() -> Self {
        InterfaceStats {
            rx_bytes: -1,
            rx_packets: -1,
            rx_errs: -1,
            rx_drop: -1,
            tx_bytes: -1,
            tx_packets: -1,
            tx_errs: -1,
            tx_drop: -1,
        }
    }
}

/// Stats of one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRecord {
    /// The domain.
    pub handle: DomainHandle,
    /// Parameters in libvirt's order.
    pub params: Vec<TypedParam>,
}

/// A snapshot as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Name.
    pub name: String,
    /// Parent name, empty for roots.
    pub parent: String,
    /// Creation time, seconds since the epoch.
    pub creation_time: i64,
    /// Captured state word (`running`, `shutoff`, ...).
    pub state: String,
    /// Current snapshot.
    pub current: bool,
    /// Description.
    pub description: String,
}

/// A domain's background job (virDomainJobInfo): times in ms, sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobInfo {
    /// libvirt virDomainJobType (0 NONE .. 5 CANCELLED).
    pub kind: i32,
    /// Time since the job started.
    pub time_elapsed: u64,
    /// Estimated time left (BOUNDED jobs).
    pub time_remaining: u64,
    /// All data: total.
    pub data_total: u64,
    /// All data: processed.
    pub data_processed: u64,
    /// All data: remaining.
    pub data_remaining: u64,
    /// Guest memory: total.
    pub mem_total: u64,
    /// Guest memory: processed.
    pub mem_processed: u64,
    /// Guest memory: remaining.
    pub mem_remaining: u64,
    /// Disk data: total.
    pub file_total: u64,
    /// Disk data: processed.
    pub file_processed: u64,
    /// Disk data: remaining.
    pub file_remaining: u64,
}

/// A running block job (virDomainBlockJobInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockJobInfo {
    /// virDomainBlockJobType: PULL 1, COPY 2, COMMIT 3, ACTIVE_COMMIT 4.
    pub job_type: i32,
    /// Bandwidth limit in the unit the call asked for.
    pub bandwidth: u64,
    /// Progress so far.
    pub cur: u64,
    /// Progress total.
    pub end: u64,
}

/// One vCPU as virDomainGetVcpus reports it (libvirt virVcpuInfo and its cpumap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcpuInfo {
    /// vCPU number.
    pub number: u32,
    /// libvirt virVcpuState: 0 offline, 1 running, 2 blocked.
    pub state: i32,
    /// CPU time used, nanoseconds.
    pub cpu_time: u64,
    /// Host CPU it runs on, -1 when unknown.
    pub cpu: i32,
    /// Affinity: bit N of byte N/8 is host CPU N.
    pub cpumap: Vec<u8>,
}

/// One IOThread as virDomainGetIOThreadInfo reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoThreadInfo {
    /// Its ID.
    pub id: u32,
    /// Affinity: bit N of byte N/8 is host CPU N.
    pub cpumap: Vec<u8>,
}
