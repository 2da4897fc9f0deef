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
    /// `<baselabel type=...>LABEL</baselabel>` entries `(virt type, label)` of each security
    /// model, by the index of [`Capabilities::secmodels`] (a missing entry prints none). LXC
    /// with SELinux: `[[("lxc", "system_u:system_r:svirt_lxc_net_t:s0")]]`.
    pub secmodel_baselabels: Vec<Vec<(String, String)>>,
    /// One entry per OS type and architecture.
    pub guests: Vec<GuestCaps>,
    /// Host CPU feature flags of the old form (`<features><pae/></features>`).
    pub host_features: Vec<String>,
    /// Host CPU model, vendor, topology and named features, when known.
    pub host_cpu: Option<HostCpu>,
    /// Page sizes the host offers, KiB (`<pages unit='KiB' size='N'/>`).
    pub host_page_sizes_kib: Vec<u64>,
    /// `<power_management>` children (`suspend_mem`, `suspend_disk`, `suspend_hybrid`).
    pub power_management: Vec<String>,
    /// `<iommu support=...>`.
    pub iommu: Option<bool>,
    /// `<migration_features>`: URI transports; `None` when live migration is not offered.
    pub migration_transports: Option<Vec<String>>,
    /// NUMA cells of `<topology>`; empty prints no topology.
    pub cells: Vec<NumaCell>,
}

/// The named part of the host CPU (`<model>`, `<vendor>`, `<topology>`, `<feature>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostCpu {
    /// `<model>`.
    pub model: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology sockets dies cores threads>`.
    pub topology: Option<(u32, u32, u32, u32)>,
    /// `<feature name=...>` elements.
    pub features: Vec<String>,
}

/// One `<cell>` of the host NUMA topology.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NumaCell {
    /// `id=...`.
    pub id: u32,
    /// `<memory unit='KiB'>`.
    pub memory_kib: u64,
    /// `<pages unit='KiB' size=...>count</pages>`: `(size KiB, count)`.
    pub pages: Vec<(u64, u64)>,
    /// `<distances><sibling id value>`: `(id, value)`.
    pub distances: Vec<(u32, u32)>,
    /// `<cpus>`.
    pub cpus: Vec<CellCpu>,
}

/// One `<cpu>` of a NUMA cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CellCpu {
    /// `id=...`.
    pub id: u32,
    /// `socket_id=...`.
    pub socket_id: u32,
    /// `die_id=...`.
    pub die_id: u32,
    /// `core_id=...`.
    pub core_id: u32,
    /// `siblings=...` (a cpuset such as `0,8`).
    pub siblings: String,
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
    /// Machine types, printed as plain `<machine>name</machine>`.
    pub machines: Vec<String>,
    /// Domain types (`kvm`, `qemu`, `test`).
    pub domain_types: Vec<String>,
    /// Machine types with attributes, printed after `machines`.
    pub machine_entries: Vec<GuestMachine>,
    /// `<features>` of the guest.
    pub features: Vec<GuestFeature>,
}

/// A `<machine>` with its attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuestMachine {
    /// Machine type name.
    pub name: String,
    /// `canonical=...`: the versioned machine this name is an alias of.
    pub canonical: Option<String>,
    /// `maxCpus=...`.
    pub max_cpus: Option<u32>,
    /// `deprecated='yes'`.
    pub deprecated: bool,
}

/// A guest feature (`<pae/>`, `<acpi default='on' toggle='yes'/>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuestFeature {
    /// Element name.
    pub name: String,
    /// `default='on|off'`.
    pub default_on: Option<bool>,
    /// `toggle='yes|no'`.
    pub toggle: Option<bool>,
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
    /// `<iothreads supported=...>`; `None` prints nothing.
    pub iothreads: Option<bool>,
    /// `<os supported=...>` with its firmware enum; `None` prints nothing.
    pub os: Option<DomainCapsBlock>,
    /// `<os><loader supported=...>`: the firmware images and the `<loader>` attribute
    /// values; `None` prints nothing.
    pub loader: Option<LoaderCaps>,
    /// `<cpu><mode name=... supported=...>` entries.
    pub cpu_modes: Vec<(String, bool)>,
    /// What `<mode name='host-model'>` expands to (its `<model>`, `<vendor>` and
    /// `<feature>` children); `None` prints the mode without children.
    pub host_model: Option<HostModelCpu>,
    /// The `<model>` children of `<mode name='custom'>`: every CPU model the hypervisor
    /// knows, with whether it can run here.
    pub custom_models: Vec<CustomCpuModel>,
    /// `<devices>` children (`disk`, `graphics`, `video`, ...).
    pub devices: Vec<DomainCapsBlock>,
    /// `<features>` children `(name, supported)`.
    pub features: Vec<(String, bool)>,
}

/// The CPU a `host-model` guest gets: `<model fallback=...>NAME</model>`, `<vendor>`, and
/// `<feature policy=... name=...>` entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostModelCpu {
    /// `<model>` text.
    pub model: String,
    /// `fallback=...` (`forbid` or `allow`).
    pub fallback: Option<String>,
    /// `<vendor>`, when known.
    pub vendor: Option<String>,
    /// `(policy, name)` of each `<feature>`: `require`, `disable`, ...
    pub features: Vec<(String, String)>,
}

/// One `<model usable=... deprecated=... vendor=...>NAME</model>` of the custom CPU mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomCpuModel {
    /// Model name.
    pub name: String,
    /// `usable='yes|no'`; `None` prints `unknown`.
    pub usable: Option<bool>,
    /// `deprecated='yes'` (printed only when set).
    pub deprecated: bool,
    /// `vendor=...`; `None` prints `unknown` (the schema requires the attribute).
    pub vendor: Option<String>,
}

/// `<os><loader supported=...>`: `<value>` per firmware image, then `<enum>`s (`type`,
/// `readonly`, `secure`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoaderCaps {
    /// `supported=...`.
    pub supported: bool,
    /// Firmware image paths (`<value>` children).
    pub values: Vec<String>,
    /// `<enum name=...>` children with their values.
    pub enums: Vec<(String, Vec<String>)>,
}

/// A block of the domain capabilities: `<NAME supported='yes'><enum name=...><value>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainCapsBlock {
    /// Element name.
    pub name: String,
    /// `supported=...`.
    pub supported: bool,
    /// `<enum name=...>` children with their values.
    pub enums: Vec<(String, Vec<String>)>,
}

impl GuestCaps {
    /// An LXC guest as libvirt's LXC driver publishes it: OS type `exe` on `arch`, run by
    /// `emulator` (`libvirt_lxc`), domain type `lxc`, no machines and no features.
    pub fn lxc(arch: &str, emulator: &str) -> GuestCaps {
        GuestCaps {
            os_type: "exe".into(),
            arch: arch.into(),
            wordsize: arch_wordsize(arch),
            emulator: emulator.into(),
            domain_types: vec!["lxc".into()],
            ..GuestCaps::default()
        }
    }

    /// The guests libvirt's LXC driver publishes on a host of `host_arch`: the host's
    /// architecture, then the 32-bit one its personality() offers (x86_64: i686, aarch64:
    /// armv7l, s390x: s390, ppc64: ppc, ...), if any.
    pub fn lxc_guests(host_arch: &str, emulator: &str) -> Vec<GuestCaps> {
        let mut out = vec![GuestCaps::lxc(host_arch, emulator)];
        if let Some(alt) = alt_32bit_arch(host_arch) {
            out.push(GuestCaps::lxc(alt, emulator));
        }
        out
    }
}

/// The 32-bit architecture a 64-bit Linux host runs through personality() (libvirt's
/// `lxcContainerGetAlt32bitArch`).
pub fn alt_32bit_arch(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "x86_64" => "i686",
        "s390x" => "s390",
        "ppc64" => "ppc",
        "parisc64" => "parisc",
        "sparc64" => "sparc",
        "mips64" => "mips",
        "mips64el" => "mipsel",
        "aarch64" => "armv7l",
        _ => return None,
    })
}

/// The word size in bits of a libvirt architecture name.
pub fn arch_wordsize(arch: &str) -> u32 {
    match arch {
        "x86_64" | "aarch64" | "s390x" | "ppc64" | "ppc64le" | "parisc64" | "sparc64"
        | "mips64" | "mips64el" | "riscv64" | "alpha" | "loongarch64" => 64,
        _ => 32,
    }
}

impl Capabilities {
    /// The host libvirt 9.0's test driver describes (`virsh -c test:///default capabilities`):
    /// i686, two NUMA cells of 8 CPUs with 2 GiB and 4 GiB, secmodel `testSecurity`, and hvm
    /// and xen guests run by `/usr/bin/test-hv` with domain type `test`.
    pub fn test_driver() -> Capabilities {
        let cell = |id: u32, memory_kib: u64, small_page: u64| NumaCell {
            id,
            memory_kib,
            pages: vec![(small_page, 524_288), (2048, 0), (1_048_576, 0)],
            distances: Vec::new(),
            cpus: (0..8)
                .map(|i| CellCpu {
                    id: id * 8 + i,
                    socket_id: id,
                    die_id: 0,
                    core_id: i,
                    siblings: (id * 8 + i).to_string(),
                })
                .collect(),
        };
        let flags = || {
            vec![
                GuestFeature {
                    name: "pae".into(),
                    ..GuestFeature::default()
                },
                GuestFeature {
                    name: "nonpae".into(),
                    ..GuestFeature::default()
                },
            ]
        };
        let guest = |os: &str| GuestCaps {
            os_type: os.into(),
            arch: "i686".into(),
            wordsize: 32,
            emulator: "/usr/bin/test-hv".into(),
            domain_types: vec!["test".into()],
            features: flags(),
            ..GuestCaps::default()
        };
        Capabilities {
            host_arch: "i686".into(),
            host_features: vec!["pae".into(), "nonpae".into()],
            host_page_sizes_kib: vec![4, 8, 2048, 1_048_576],
            iommu: Some(false),
            cells: vec![cell(0, 2_097_152, 4), cell(1, 4_194_304, 8)],
            secmodels: vec![("testSecurity".into(), String::new())],
            guests: vec![guest("hvm"), guest("xen")],
            ..Capabilities::default()
        }
    }
}
