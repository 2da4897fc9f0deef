//! libvirt's error vocabulary: error numbers (`virErrorNumber`), error domains (`virErrorDomain`)
//! and [`VirtError`], the error every driver call returns and every RPC carries.
//!
//! A message is formatted as libvirt formats it: "{generic prefix}: {detail}", or the detail
//! alone for the codes whose prefix libvirt leaves out (SYSTEM_ERROR, RPC, XML_DETAIL,
//! GNUTLS_ERROR). The mapping to gRPC lives in [`crate::status`].

use std::fmt;

macro_rules! error_codes {
    ($($variant:ident = $num:literal, $name:literal, $prefix:expr;)*) => {
        /// libvirt's `virErrorNumber`, with libvirt's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("VIR_ERR_", $name, " (", stringify!($num), ")")]
                $variant = $num,
            )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// libvirt's name without the `VIR_ERR_` prefix, e.g. `NO_DOMAIN`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// The generic text libvirt puts before the detail; `None` where it shows the
            /// detail alone.
            pub fn prefix(self) -> Option<&'static str> {
                match self { $(ErrorCode::$variant => $prefix,)* }
            }

            /// The code with libvirt's number `n`.
            pub fn from_number(n: i32) -> Option<ErrorCode> {
                match n { $($num => Some(ErrorCode::$variant),)* _ => None }
            }

            /// The code with libvirt's name (with or without `VIR_ERR_`).
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                let name = name.strip_prefix("VIR_ERR_").unwrap_or(name);
                match name { $($name => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    Ok = 0, "OK", None;
    InternalError = 1, "INTERNAL_ERROR", Some("internal error");
    NoMemory = 2, "NO_MEMORY", Some("out of memory");
    NoSupport = 3, "NO_SUPPORT", Some("this function is not supported by the connection driver");
    UnknownHost = 4, "UNKNOWN_HOST", Some("unknown host");
    NoConnect = 5, "NO_CONNECT", Some("no connection driver available for");
    InvalidConn = 6, "INVALID_CONN", Some("invalid connection pointer in");
    InvalidDomain = 7, "INVALID_DOMAIN", Some("invalid domain pointer in");
    InvalidArg = 8, "INVALID_ARG", Some("invalid argument");
    OperationFailed = 9, "OPERATION_FAILED", Some("operation failed");
    GetFailed = 10, "GET_FAILED", Some("GET operation failed");
    PostFailed = 11, "POST_FAILED", Some("POST operation failed");
    HttpError = 12, "HTTP_ERROR", Some("got unknown HTTP error code");
    SexprSerial = 13, "SEXPR_SERIAL", Some("failed to serialize S-Expr");
    NoXen = 14, "NO_XEN", Some("could not use Xen hypervisor entry");
    XenCall = 15, "XEN_CALL", Some("failed Xen syscall");
    OsType = 16, "OS_TYPE", Some("unknown OS type");
    NoKernel = 17, "NO_KERNEL", Some("missing kernel information");
    NoRoot = 18, "NO_ROOT", Some("missing root device information");
    NoSource = 19, "NO_SOURCE", Some("missing source information for device");
    NoTarget = 20, "NO_TARGET", Some("missing target information for device");
    NoName = 21, "NO_NAME", Some("missing name information");
    NoOs = 22, "NO_OS", Some("missing operating system information");
    NoDevice = 23, "NO_DEVICE", Some("missing devices information");
    NoXenstore = 24, "NO_XENSTORE", Some("could not connect to Xen Store");
    DriverFull = 25, "DRIVER_FULL", Some("too many drivers registered");
    CallFailed = 26, "CALL_FAILED", Some("library call failed");
    XmlError = 27, "XML_ERROR", Some("XML error");
    DomExist = 28, "DOM_EXIST", Some("this domain exists already");
    OperationDenied = 29, "OPERATION_DENIED", Some("operation forbidden");
    OpenFailed = 30, "OPEN_FAILED", Some("failed to open configuration file");
    ReadFailed = 31, "READ_FAILED", Some("failed to read configuration file");
    ParseFailed = 32, "PARSE_FAILED", Some("failed to parse configuration file");
    ConfSyntax = 33, "CONF_SYNTAX", Some("configuration file syntax error");
    WriteFailed = 34, "WRITE_FAILED", Some("failed to write configuration file");
    XmlDetail = 35, "XML_DETAIL", None;
    InvalidNetwork = 36, "INVALID_NETWORK", Some("invalid network pointer in");
    NetworkExist = 37, "NETWORK_EXIST", Some("this network exists already");
    SystemError = 38, "SYSTEM_ERROR", None;
    Rpc = 39, "RPC", None;
    GnutlsError = 40, "GNUTLS_ERROR", None;
    WarNoNetwork = 41, "WAR_NO_NETWORK", Some("Failed to find the network");
    NoDomain = 42, "NO_DOMAIN", Some("Domain not found");
    NoNetwork = 43, "NO_NETWORK", Some("Network not found");
    InvalidMac = 44, "INVALID_MAC", Some("invalid MAC address");
    AuthFailed = 45, "AUTH_FAILED", Some("authentication failed");
    InvalidStoragePool = 46, "INVALID_STORAGE_POOL", Some("invalid storage pool pointer in");
    InvalidStorageVol = 47, "INVALID_STORAGE_VOL", Some("invalid storage volume pointer in");
    WarNoStorage = 48, "WAR_NO_STORAGE", Some("Failed to find a storage driver");
    NoStoragePool = 49, "NO_STORAGE_POOL", Some("Storage pool not found");
    NoStorageVol = 50, "NO_STORAGE_VOL", Some("Storage volume not found");
    WarNoNode = 51, "WAR_NO_NODE", Some("Failed to find a node driver");
    InvalidNodeDevice = 52, "INVALID_NODE_DEVICE", Some("invalid node device pointer");
    NoNodeDevice = 53, "NO_NODE_DEVICE", Some("Node device not found");
    NoSecurityModel = 54, "NO_SECURITY_MODEL", Some("Security model not found");
    OperationInvalid = 55, "OPERATION_INVALID", Some("Requested operation is not valid");
    WarNoInterface = 56, "WAR_NO_INTERFACE", Some("Failed to find the interface");
    NoInterface = 57, "NO_INTERFACE", Some("Interface not found");
    InvalidInterface = 58, "INVALID_INTERFACE", Some("invalid interface pointer in");
    MultipleInterfaces = 59, "MULTIPLE_INTERFACES", Some("multiple matching interfaces found");
    WarNoNwfilter = 60, "WAR_NO_NWFILTER", Some("Failed to start the nwfilter driver");
    InvalidNwfilter = 61, "INVALID_NWFILTER", Some("Invalid network filter");
    NoNwfilter = 62, "NO_NWFILTER", Some("Network filter not found");
    BuildFirewall = 63, "BUILD_FIREWALL", Some("Error while building firewall");
    WarNoSecret = 64, "WAR_NO_SECRET", Some("Failed to find a secret storage driver");
    InvalidSecret = 65, "INVALID_SECRET", Some("Invalid secret");
    NoSecret = 66, "NO_SECRET", Some("Secret not found");
    ConfigUnsupported = 67, "CONFIG_UNSUPPORTED", Some("unsupported configuration");
    OperationTimeout = 68, "OPERATION_TIMEOUT", Some("Timed out during operation");
    MigratePersistFailed = 69, "MIGRATE_PERSIST_FAILED", Some("Failed to make domain persistent after migration");
    HookScriptFailed = 70, "HOOK_SCRIPT_FAILED", Some("Hook script execution failed");
    InvalidDomainSnapshot = 71, "INVALID_DOMAIN_SNAPSHOT", Some("Invalid domain snapshot");
    NoDomainSnapshot = 72, "NO_DOMAIN_SNAPSHOT", Some("Domain snapshot not found");
    InvalidStream = 73, "INVALID_STREAM", Some("invalid stream pointer");
    ArgumentUnsupported = 74, "ARGUMENT_UNSUPPORTED", Some("argument unsupported");
    StorageProbeFailed = 75, "STORAGE_PROBE_FAILED", Some("Storage pool probe failed");
    StoragePoolBuilt = 76, "STORAGE_POOL_BUILT", Some("Storage pool already built");
    SnapshotRevertRisky = 77, "SNAPSHOT_REVERT_RISKY", Some("revert requires force");
    OperationAborted = 78, "OPERATION_ABORTED", Some("operation aborted");
    AuthCancelled = 79, "AUTH_CANCELLED", Some("authentication cancelled");
    NoDomainMetadata = 80, "NO_DOMAIN_METADATA", Some("metadata not found");
    MigrateUnsafe = 81, "MIGRATE_UNSAFE", Some("Unsafe migration");
    Overflow = 82, "OVERFLOW", Some("numerical overflow");
    BlockCopyActive = 83, "BLOCK_COPY_ACTIVE", Some("block copy still active");
    OperationUnsupported = 84, "OPERATION_UNSUPPORTED", Some("Operation not supported");
    Ssh = 85, "SSH", Some("SSH transport error");
    AgentUnresponsive = 86, "AGENT_UNRESPONSIVE", Some("Guest agent is not responding");
    ResourceBusy = 87, "RESOURCE_BUSY", Some("resource busy");
    AccessDenied = 88, "ACCESS_DENIED", Some("access denied");
    DbusService = 89, "DBUS_SERVICE", Some("error from service");
    StorageVolExist = 90, "STORAGE_VOL_EXIST", Some("this storage volume exists already");
    CpuIncompatible = 91, "CPU_INCOMPATIBLE", Some("the CPU is incompatible with host CPU");
    XmlInvalidSchema = 92, "XML_INVALID_SCHEMA", Some("XML document failed to validate against schema");
    MigrateFinishOk = 93, "MIGRATE_FINISH_OK", Some("migration successfully aborted");
    AuthUnavailable = 94, "AUTH_UNAVAILABLE", Some("authentication unavailable");
    NoServer = 95, "NO_SERVER", Some("Server not found");
    NoClient = 96, "NO_CLIENT", Some("Client not found");
    AgentUnsynced = 97, "AGENT_UNSYNCED", Some("guest agent replied with wrong id to guest-sync command");
    Libssh = 98, "LIBSSH", Some("libssh transport error");
    DeviceMissing = 99, "DEVICE_MISSING", Some("device not found");
    InvalidNwfilterBinding = 100, "INVALID_NWFILTER_BINDING", Some("Invalid network filter binding");
    NoNwfilterBinding = 101, "NO_NWFILTER_BINDING", Some("Network filter binding not found");
    InvalidDomainCheckpoint = 102, "INVALID_DOMAIN_CHECKPOINT", Some("Invalid domain checkpoint");
    NoDomainCheckpoint = 103, "NO_DOMAIN_CHECKPOINT", Some("Domain checkpoint not found");
    NoDomainBackup = 104, "NO_DOMAIN_BACKUP", Some("Domain backup job id not found");
    InvalidNetworkPort = 105, "INVALID_NETWORK_PORT", Some("Invalid network port pointer");
    NetworkPortExist = 106, "NETWORK_PORT_EXIST", Some("this network port exists already");
    NoNetworkPort = 107, "NO_NETWORK_PORT", Some("network port not found");
    NoHostname = 108, "NO_HOSTNAME", Some("no hostname found");
    CheckpointInconsistent = 109, "CHECKPOINT_INCONSISTENT", Some("checkpoint inconsistent");
    MultipleDomains = 110, "MULTIPLE_DOMAINS", Some("multiple matching domains found");
}

macro_rules! error_domains {
    ($($variant:ident = $num:literal, $name:literal;)*) => {
        /// libvirt's `virErrorDomain`: the module that raised an error, with libvirt's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorDomain {
            $(
                #[doc = concat!("VIR_FROM_", $name, " (", stringify!($num), ")")]
                $variant = $num,
            )*
        }

        impl ErrorDomain {
            /// libvirt's name without `VIR_FROM_`, e.g. `TEST`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorDomain::$variant => $name,)* }
            }

            /// The domain with libvirt's number `n`.
            pub fn from_number(n: i32) -> Option<ErrorDomain> {
                match n { $($num => Some(ErrorDomain::$variant),)* _ => None }
            }
        }
    };
}

error_domains! {
    None = 0, "NONE"; Xen = 1, "XEN"; Xend = 2, "XEND"; Xenstore = 3, "XENSTORE";
    Sexpr = 4, "SEXPR"; Xml = 5, "XML"; Dom = 6, "DOM"; Rpc = 7, "RPC";
    Proxy = 8, "PROXY"; Conf = 9, "CONF"; Qemu = 10, "QEMU"; Net = 11, "NET";
    Test = 12, "TEST"; Remote = 13, "REMOTE"; Openvz = 14, "OPENVZ"; Xenxm = 15, "XENXM";
    StatsLinux = 16, "STATS_LINUX"; Lxc = 17, "LXC"; Storage = 18, "STORAGE"; Network = 19, "NETWORK";
    Domain = 20, "DOMAIN"; Uml = 21, "UML"; Nodedev = 22, "NODEDEV"; XenInotify = 23, "XEN_INOTIFY";
    Security = 24, "SECURITY"; Vbox = 25, "VBOX"; Interface = 26, "INTERFACE"; One = 27, "ONE";
    Esx = 28, "ESX"; Phyp = 29, "PHYP"; Secret = 30, "SECRET"; Cpu = 31, "CPU";
    Xenapi = 32, "XENAPI"; Nwfilter = 33, "NWFILTER"; Hook = 34, "HOOK"; DomainSnapshot = 35, "DOMAIN_SNAPSHOT";
    Audit = 36, "AUDIT"; Sysinfo = 37, "SYSINFO"; Streams = 38, "STREAMS"; Vmware = 39, "VMWARE";
    Event = 40, "EVENT"; Libxl = 41, "LIBXL"; Locking = 42, "LOCKING"; Hyperv = 43, "HYPERV";
    Capabilities = 44, "CAPABILITIES"; Uri = 45, "URI"; Auth = 46, "AUTH"; Dbus = 47, "DBUS";
    Parallels = 48, "PARALLELS"; Device = 49, "DEVICE"; SshDomain = 50, "SSH"; Lockspace = 51, "LOCKSPACE";
    Initctl = 52, "INITCTL"; Identity = 53, "IDENTITY"; Cgroup = 54, "CGROUP"; Access = 55, "ACCESS";
    Systemd = 56, "SYSTEMD"; Bhyve = 57, "BHYVE"; Crypto = 58, "CRYPTO"; Firewall = 59, "FIREWALL";
    Polkit = 60, "POLKIT"; Thread = 61, "THREAD"; Admin = 62, "ADMIN"; Logging = 63, "LOGGING";
    Xenxl = 64, "XENXL"; Perf = 65, "PERF"; Libssh = 66, "LIBSSH"; Resctrl = 67, "RESCTRL";
    Firewalld = 68, "FIREWALLD"; DomainCheckpoint = 69, "DOMAIN_CHECKPOINT"; Tpm = 70, "TPM"; Bpf = 71, "BPF";
    Ch = 72, "CH";
}

impl ErrorDomain {
    /// The `google.rpc.ErrorInfo` domain string earlier daemons sent: `virt.` and the
    /// lower-case libvirt name, e.g. `virt.test`, `virt.qemu`. Daemons now send the one domain
    /// [`crate::status::ERROR_INFO_DOMAIN`] and this libvirt domain in metadata; clients still
    /// read the old form ([`ErrorDomain::from_info_domain`]).
    pub fn info_domain(self) -> String {
        format!("virt.{}", self.name().to_ascii_lowercase())
    }

    /// The domain with libvirt's name (`QEMU`, with or without `VIR_FROM_`).
    pub fn from_name(name: &str) -> Option<ErrorDomain> {
        let name = name.strip_prefix("VIR_FROM_").unwrap_or(name);
        (0..=72)
            .filter_map(ErrorDomain::from_number)
            .find(|d| d.name() == name)
    }

    /// Parses [`ErrorDomain::info_domain`] back.
    pub fn from_info_domain(s: &str) -> Option<ErrorDomain> {
        let name = s.strip_prefix("virt.")?.to_ascii_uppercase();
        (0..=72)
            .filter_map(ErrorDomain::from_number)
            .find(|d| d.name() == name)
    }
}

/// A libvirt-shaped error: what failed (code), which module said so (domain), the detail, and
/// the object concerned. Every driver call returns it; [`crate::status`] turns it into a gRPC
/// status and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtError {
    /// libvirt's error number.
    pub code: ErrorCode,
    /// libvirt's error domain.
    pub domain: ErrorDomain,
    /// The detail, without libvirt's generic prefix.
    pub detail: String,
    /// Name of the object concerned, when there is one (for NO_DOMAIN: the name asked for).
    /// Boxed strings keep the error small enough to return by value.
    pub object_name: Option<Box<str>>,
    /// UUID of the object concerned, when there is one (for NO_DOMAIN: the UUID asked for).
    pub object_uuid: Option<Box<str>>,
    /// ID of the domain concerned, when it was asked for by ID (NO_DOMAIN).
    pub object_id: Option<u32>,
    /// Where a document that is not well-formed XML stops parsing (XML_ERROR).
    pub position: Option<TextPosition>,
    /// XPath-located violations, for XML validation errors (one entry per problem).
    pub violations: Vec<Violation>,
    /// The failure is a clash with an object that already exists. libvirt reports several of
    /// these under a generic code (OPERATION_FAILED "domain 'x' already exists with uuid ...");
    /// the gRPC status then says ALREADY_EXISTS while the libvirt code stays as libvirt has it.
    pub already_exists: bool,
}

/// A place in a text document: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// One problem found in a document, located by XPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, e.g. `/domain/devices/disk[2]/target/@bus`.
    pub path: String,
    /// What is wrong.
    pub description: String,
}

impl VirtError {
    /// An error with `code`, raised from `domain`, saying `detail`.
    pub fn new(code: ErrorCode, domain: ErrorDomain, detail: impl Into<String>) -> VirtError {
        VirtError {
            code,
            domain,
            detail: detail.into(),
            object_name: None,
            object_uuid: None,
            object_id: None,
            position: None,
            violations: Vec::new(),
            already_exists: false,
        }
    }

    /// Marks the error as a clash with an existing object (see [`VirtError::already_exists`]).
    pub fn clash(mut self) -> VirtError {
        self.already_exists = true;
        self
    }

    /// Adds a violation at `path` whose description is this error's message, so the error
    /// names the element it concerns.
    pub fn at(mut self, path: impl Into<String>) -> VirtError {
        let description = self.message();
        self.violations.push(Violation {
            path: path.into(),
            description,
        });
        self
    }

    /// Attaches the concerned object's name and UUID.
    pub fn with_object(mut self, name: impl Into<String>, uuid: impl Into<String>) -> VirtError {
        self.object_name = Some(name.into().into_boxed_str());
        self.object_uuid = Some(uuid.into().into_boxed_str());
        self
    }

    /// NO_DOMAIN from `domain` for a lookup that matched nothing, worded as libvirt words it
    /// ("no domain with matching name 'web1'"; an `any` lookup reads as a name, its last
    /// interpretation), carrying what was asked for: the name, UUID or ID.
    pub fn no_domain(domain: ErrorDomain, lookup: &crate::types::DomainLookup) -> VirtError {
        use crate::types::DomainLookup as L;
        let detail = match lookup {
            L::Name(n) | L::Any(n) => format!("no domain with matching name '{n}'"),
            L::Uuid(u) => format!("no domain with matching uuid '{u}'"),
            L::Id(id) => format!("no domain with matching id {id}"),
        };
        let mut err = VirtError::new(ErrorCode::NoDomain, domain, detail);
        match lookup {
            L::Name(n) | L::Any(n) => err.object_name = Some(n.as_str().into()),
            L::Uuid(u) => err.object_uuid = Some(u.to_string().into()),
            L::Id(id) => err.object_id = Some(*id),
        }
        err
    }

    /// The full message, as libvirt formats it: "{prefix}: {detail}". libvirt's virCheckFlags
    /// raises its INVALID_ARG through virReportInvalidArg, which skips the prefix: "unsupported
    /// flags (0x2) in function f" reads alone.
    pub fn message(&self) -> String {
        if self.code == ErrorCode::InvalidArg && self.is_invalid_arg_report() {
            return self.detail.clone();
        }
        match (self.code.prefix(), self.detail.is_empty()) {
            (Some(p), true) => p.to_string(),
            // "no connection driver available for qemu:///x", "invalid domain pointer in f":
            // libvirt words these prefixes to run straight into the detail.
            (Some(p), false) if p.ends_with(" for") || p.ends_with(" in") => {
                format!("{p} {}", self.detail)
            }
            (Some(p), false) => format!("{p}: {}", self.detail),
            (None, _) => self.detail.clone(),
        }
    }

    /// Whether the detail is one libvirt raises through virReportInvalidArg (virCheckFlags,
    /// VIR_EXCLUSIVE_FLAGS_*, VIR_REQUIRE_FLAG_*, virCheckPositiveArg), whose message has no "invalid argument"
    /// prefix.
    fn is_invalid_arg_report(&self) -> bool {
        let d = self.detail.as_str();
        d.starts_with("unsupported flags (0x")
            || (d.starts_with("Flags '") && d.ends_with("' are mutually exclusive"))
            || (d.starts_with("Flag '") && d.contains("' is required by flag '"))
            || (d.starts_with("nparams in ") && d.ends_with(" must be greater than zero"))
            || (d.starts_with("maxCells in ") && d.ends_with(" must be greater than zero"))
            || (d.starts_with("startCell in ") && d.ends_with(" must be zero or greater"))
            || d.starts_with("Invalid cpuNum in ")
            || d.starts_with("cellNum in virHostMemGetStats must be")
            || d == "metadata title can't contain newlines"
    }

    /// INVALID_ARG for flag bits outside `allowed`, as libvirt's virCheckFlags:
    /// "unsupported flags (0x{hex}) in function {function}".
    pub fn check_flags(
        flags: u32,
        allowed: u32,
        domain: ErrorDomain,
        function: &str,
    ) -> Result<(), VirtError> {
        let bad = flags & !allowed;
        if bad == 0 {
            return Ok(());
        }
        Err(VirtError::new(
            ErrorCode::InvalidArg,
            domain,
            format!("unsupported flags (0x{bad:x}) in function {function}"),
        ))
    }

    /// NO_SUPPORT: "this function is not supported by the connection driver: {api}".
    pub fn no_support(domain: ErrorDomain, api: &str) -> VirtError {
        VirtError::new(ErrorCode::NoSupport, domain, api)
    }

    /// OPERATION_DENIED: "operation forbidden: read only access prevents {api}".
    pub fn read_only(api: &str) -> VirtError {
        VirtError::new(
            ErrorCode::OperationDenied,
            ErrorDomain::Domain,
            format!("read only access prevents {api}"),
        )
    }

    /// OPERATION_INVALID from the domain-config layer, e.g. "domain is not running".
    pub fn operation_invalid(detail: impl Into<String>) -> VirtError {
        VirtError::new(ErrorCode::OperationInvalid, ErrorDomain::Domain, detail)
    }

    /// INTERNAL_ERROR raised from `domain`.
    pub fn internal(domain: ErrorDomain, detail: impl Into<String>) -> VirtError {
        VirtError::new(ErrorCode::InternalError, domain, detail)
    }
}

impl fmt::Display for VirtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for VirtError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_libvirt_prefix_except_for_detail_only_codes() {
        let e = VirtError::new(
            ErrorCode::NoDomain,
            ErrorDomain::Test,
            "no domain with matching name 'web1'",
        );
        assert_eq!(
            e.message(),
            "Domain not found: no domain with matching name 'web1'"
        );
        let e = VirtError::new(ErrorCode::XmlDetail, ErrorDomain::Domain, "bad thing");
        assert_eq!(e.message(), "bad thing");
        let e = VirtError::new(ErrorCode::NoDomain, ErrorDomain::Test, "");
        assert_eq!(e.message(), "Domain not found");
        let e = VirtError::new(ErrorCode::NoConnect, ErrorDomain::Remote, "bogus:///x");
        assert_eq!(e.message(), "no connection driver available for bogus:///x");
    }

    #[test]
    fn numbering_round_trips_and_matches_libvirt() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(*c as i32), Some(*c));
            assert_eq!(ErrorCode::from_name(c.name()), Some(*c));
        }
        assert_eq!(ErrorCode::NoDomain as i32, 42);
        assert_eq!(ErrorCode::OperationInvalid as i32, 55);
        assert_eq!(ErrorCode::MultipleDomains as i32, 110);
        assert_eq!(ErrorDomain::Lxc as i32, 17);
        assert_eq!(
            ErrorDomain::from_info_domain("virt.test"),
            Some(ErrorDomain::Test)
        );
    }

    #[test]
    fn check_flags_names_the_unknown_bits() {
        let e = VirtError::check_flags(0x9, 0x1, ErrorDomain::Test, "testDomainCreate")
            .expect_err("0x8 is not allowed");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        // As libvirt 9.0's `virsh -c test:///default undefine test --nvram` prints it: no
        // "invalid argument: " prefix.
        assert_eq!(
            e.message(),
            "unsupported flags (0x8) in function testDomainCreate"
        );
        let other = VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Test, "bad value");
        assert_eq!(other.message(), "invalid argument: bad value");
    }
}
