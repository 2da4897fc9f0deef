//! Host facts: node info from /proc and /sys, the emulator binary and its version, KVM's vCPU
//! limit, the minimal capabilities that say what define accepts without probing QEMU
//! ([`capabilities`], [`domain_capabilities`]), and the full ones built from probed emulators
//! ([`capabilities_from`], [`domain_capabilities_from`], see [`crate::probe`]).

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::caps::{DomainCapsBlock, GuestCaps, GuestFeature, GuestMachine};
use virt_core::model::{Capabilities, DomainCapabilities};
use virt_core::types::NodeInfo;
use virt_core::VirtError;

use crate::probe::{Machine, QemuCaps};

/// The domain types the driver accepts.
pub const VIRT_TYPES: [&str; 2] = ["qemu", "kvm"];

/// vCPUs libvirt allows a `qemu` (TCG) domain: qemuConnectGetMaxVcpus answers 16.
pub const TCG_MAX_VCPUS: u32 = 16;

/// The host architecture as libvirt names it (`x86_64`, `aarch64`, ...).
pub fn host_arch() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string())
}

/// `qemu-system-ARCH` on `PATH`, if installed.
pub fn find_emulator(arch: &str) -> Option<PathBuf> {
    let name = format!("qemu-system-{arch}");
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// Whether KVM is usable: `/dev/kvm` opens read-write.
pub fn kvm_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// KVM's vCPU limit as libvirt's virHostCPUGetKVMMaxVCPUs: KVM_CAP_MAX_VCPUS, else
/// KVM_CAP_NR_VCPUS, else 4; `None` when /dev/kvm cannot be opened.
pub fn kvm_max_vcpus() -> Option<u32> {
    use std::os::fd::AsRawFd;
    const KVM_CHECK_EXTENSION: u64 = 0xAE03;
    const KVM_CAP_NR_VCPUS: i32 = 9;
    const KVM_CAP_MAX_VCPUS: i32 = 66;
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .ok()?;
    for cap in [KVM_CAP_MAX_VCPUS, KVM_CAP_NR_VCPUS] {
        // SAFETY: KVM_CHECK_EXTENSION takes an integer argument and touches no memory of ours;
        // the descriptor is open for the duration of the call.
        let n = unsafe { nix::libc::ioctl(kvm.as_raw_fd(), KVM_CHECK_EXTENSION as _, cap) };
        if n > 0 {
            return u32::try_from(n).ok();
        }
    }
    Some(4)
}

/// The emulator's version as `major * 1_000_000 + minor * 1_000 + micro`, from
/// `EMULATOR --version` ("QEMU emulator version 7.2.22 (...)"); 0 when unknown.
pub fn emulator_version(emulator: &Path) -> u64 {
    std::process::Command::new(emulator)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or(0)
}

/// The number of "QEMU emulator version X.Y.Z" text.
pub fn parse_version(text: &str) -> Option<u64> {
    let rest = text.split("version ").nth(1)?;
    let word = rest.split_whitespace().next()?;
    let mut parts = word.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(major * 1_000_000 + minor * 1_000 + micro)
}

/// Node facts as virNodeGetInfo: the architecture as the model, memory from /proc/meminfo,
/// online CPUs, the first CPU's MHz and the topology from /proc/cpuinfo, NUMA nodes from /sys.
pub fn node_info() -> NodeInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let nodes = std::fs::read_dir("/sys/devices/system/node")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix("node")
                        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
                })
                .count()
        })
        .unwrap_or(0);
    node_info_from(&host_arch(), &cpuinfo, &meminfo, nodes)
}

/// [`node_info`] from the texts it reads.
pub fn node_info_from(arch: &str, cpuinfo: &str, meminfo: &str, nodes: usize) -> NodeInfo {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count()
        .max(1) as u32;
    let mut sockets: Vec<&str> = cpuinfo
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "physical id").then(|| v.trim())
        })
        .collect();
    sockets.sort_unstable();
    sockets.dedup();
    let nodes = (nodes.max(1)) as u32;
    let sockets = (sockets.len().max(1) as u32).div_ceil(nodes).max(1);
    let cores = field("cpu cores")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(cpus / sockets / nodes)
        .max(1);
    let threads = (cpus / (nodes * sockets * cores)).max(1);
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    NodeInfo {
        model: arch.to_string(),
        memory_kib,
        cpus,
        mhz: field("cpu MHz")
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |m| m as u32),
        nodes,
        sockets,
        cores,
        threads,
    }
}

/// `<capabilities>`: the host architecture and one hvm guest per installed emulator of that
/// architecture, with the domain types define accepts (`qemu`, and `kvm` when /dev/kvm is
/// usable). No machine types, CPU model or NUMA topology yet: those come from probing.
pub fn capabilities() -> Capabilities {
    let arch = host_arch();
    let mut types = vec!["qemu".to_string()];
    if kvm_available() {
        types.push("kvm".into());
    }
    let guests = find_emulator(&arch)
        .map(|emulator| GuestCaps {
            os_type: "hvm".into(),
            wordsize: if arch.contains("64") || arch == "s390x" {
                64
            } else {
                32
            },
            arch: arch.clone(),
            emulator: emulator.display().to_string(),
            domain_types: types,
            ..GuestCaps::default()
        })
        .into_iter()
        .collect();
    Capabilities {
        host_arch: arch,
        guests,
        ..Capabilities::default()
    }
}

/// `<domainCapabilities>` for one emulator, architecture and type: identity and the vCPU limit
/// only, honestly: devices, CPU modes and firmware are published once QEMU is probed.
pub fn domain_capabilities(
    emulator: &Path,
    arch: &str,
    machine: Option<&str>,
    virt_type: &str,
) -> DomainCapabilities {
    let vcpu_max = if virt_type == "kvm" {
        kvm_max_vcpus().unwrap_or(TCG_MAX_VCPUS)
    } else {
        TCG_MAX_VCPUS
    };
    DomainCapabilities {
        path: emulator.display().to_string(),
        domain: virt_type.to_string(),
        machine: machine.map(str::to_string),
        arch: arch.to_string(),
        vcpu_max,
        ..DomainCapabilities::default()
    }
}

/// Every `qemu-system-*` on `PATH`, first of each name.
pub fn installed_emulators() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("qemu-system-"))
            .collect();
        names.sort();
        for name in names {
            let p = dir.join(&name);
            if p.is_file() && seen.insert(name) {
                found.push(p);
            }
        }
    }
    found
}

/// Probes (or reads from the cache in `cache_dir`, `STATE/qemu/capabilities`) every
/// installed emulator; one that fails to probe is logged and left out.
pub async fn probe_installed(cache_dir: &Path) -> Vec<QemuCaps> {
    let mut all = Vec::new();
    for bin in installed_emulators() {
        match crate::probe::probe(&bin, cache_dir).await {
            Ok(c) => all.push(c),
            Err(e) => {
                tracing::warn!(binary = %bin.display(), error = %e.message(), "skipping emulator")
            }
        }
    }
    all
}

fn wordsize(arch: &str) -> u32 {
    if arch.contains("64") || arch == "s390x" {
        64
    } else {
        32
    }
}

/// `<capabilities>` from probed emulators: the host part as [`capabilities`], and one hvm
/// guest per emulator with its machines (the default first, each alias after its machine with
/// `canonical=`, deprecated ones marked) and its domain types: `qemu` when TCG runs, `kvm`
/// when KVM is usable. Guest features list only what the driver honours: CPU selection and
/// per-device boot order.
pub fn capabilities_from(probed: &[QemuCaps]) -> Capabilities {
    let guests = probed
        .iter()
        .filter(|c| c.tcg_usable() || c.kvm_usable())
        .map(guest_caps)
        .collect();
    Capabilities {
        guests,
        ..capabilities()
    }
}

fn guest_caps(caps: &QemuCaps) -> GuestCaps {
    let mut machines: Vec<&Machine> = caps.machines().iter().collect();
    // Stable: the default first, the rest in QEMU's order.
    machines.sort_by_key(|m| !m.is_default);
    let mut entries = Vec::new();
    for m in machines {
        entries.push(GuestMachine {
            name: m.name.clone(),
            canonical: None,
            max_cpus: Some(m.cpu_max),
            deprecated: m.deprecated,
        });
        if let Some(alias) = &m.alias {
            entries.push(GuestMachine {
                name: alias.clone(),
                canonical: Some(m.name.clone()),
                max_cpus: Some(m.cpu_max),
                deprecated: m.deprecated,
            });
        }
    }
    let mut types = Vec::new();
    if caps.tcg_usable() {
        types.push("qemu".to_string());
    }
    if caps.kvm_usable() {
        types.push("kvm".to_string());
    }
    let feature = |name: &str| GuestFeature {
        name: name.into(),
        ..GuestFeature::default()
    };
    GuestCaps {
        os_type: "hvm".into(),
        arch: caps.arch().to_string(),
        wordsize: wordsize(caps.arch()),
        emulator: caps.binary.display().to_string(),
        machines: Vec::new(),
        domain_types: types,
        machine_entries: entries,
        features: vec![feature("cpuselection"), feature("deviceboot")],
    }
}

/// `<domainCapabilities>` of a probed emulator for `machine` (its default when `None`; an
/// alias is reported by its canonical name) and domain type `virt_type` (`qemu` or `kvm`).
///
/// It publishes what the driver honours and QEMU can do, nothing more: the machine's vCPU
/// limit (capped by KVM's for `kvm`); CPU modes host-passthrough (KVM only), maximum,
/// host-model (when QEMU expanded it) and custom (when a model is usable); disks as disk or
/// cdrom on the buses whose controllers this binary has (IDE only on i440fx / isapc machines,
/// which have one built in); VNC graphics when built in; VGA / virtio video; rng on virtio with
/// the random and builtin backends; no host device assignment, no iothreads.
pub fn domain_capabilities_from(
    caps: &QemuCaps,
    machine: Option<&str>,
    virt_type: &str,
) -> Result<DomainCapabilities, VirtError> {
    let invalid = |detail: String| VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail);
    let emulator = caps.binary.display().to_string();
    let usable = match virt_type {
        "kvm" => caps.kvm_usable(),
        "qemu" => caps.tcg_usable(),
        other => return Err(invalid(format!("unknown virttype: {other}"))),
    };
    if !usable {
        return Err(invalid(format!(
            "virttype '{virt_type}' is not supported by emulator '{emulator}'"
        )));
    }
    let wanted = machine.or_else(|| caps.default_machine());
    let m = match wanted {
        Some(name) => caps.machine(name).ok_or_else(|| {
            invalid(format!(
                "the machine '{name}' is not supported by emulator '{emulator}'"
            ))
        })?,
        None => {
            return Err(invalid(format!(
                "emulator '{emulator}' has no machine types"
            )))
        }
    };
    let mut vcpu_max = m.cpu_max;
    if virt_type == "kvm" {
        vcpu_max = vcpu_max.min(kvm_max_vcpus().unwrap_or(vcpu_max));
    }
    let cpu_modes = vec![
        ("host-passthrough".to_string(), virt_type == "kvm"),
        ("maximum".to_string(), true),
        (
            "host-model".to_string(),
            caps.host_model(virt_type).is_some(),
        ),
        (
            "custom".to_string(),
            caps.cpu_models(virt_type).iter().any(|c| c.usable()),
        ),
    ];
    Ok(DomainCapabilities {
        path: emulator,
        domain: virt_type.to_string(),
        machine: Some(m.name.clone()),
        arch: caps.arch().to_string(),
        vcpu_max,
        iothreads: Some(false),
        os: Some(DomainCapsBlock {
            name: "os".into(),
            supported: true,
            enums: Vec::new(),
        }),
        cpu_modes,
        devices: device_blocks(caps, m),
        features: Vec::new(),
    })
}

fn device_blocks(caps: &QemuCaps, m: &Machine) -> Vec<DomainCapsBlock> {
    let list = |pairs: &[(&str, bool)]| -> Vec<String> {
        pairs
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(v, _)| v.to_string())
            .collect()
    };
    let block = |name: &str, enums: Vec<(&str, Vec<String>)>| {
        let supported = enums.iter().all(|(_, v)| !v.is_empty());
        DomainCapsBlock {
            name: name.into(),
            supported,
            enums: enums.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
        }
    };
    let builtin_ide = m.name.starts_with("pc-i440fx") || m.name == "isapc";
    let buses = list(&[
        ("ide", builtin_ide && caps.has_device("ide-hd")),
        (
            "scsi",
            caps.has_device("virtio-scsi-pci") && caps.has_device("scsi-hd"),
        ),
        ("virtio", caps.has_device("virtio-blk-pci")),
        (
            "sata",
            caps.has_device("ich9-ahci") && caps.has_device("ide-hd"),
        ),
    ]);
    let disk_devices = list(&[
        ("disk", !buses.is_empty()),
        (
            "cdrom",
            caps.has_device("ide-cd") || caps.has_device("scsi-cd"),
        ),
    ]);
    vec![
        block("disk", vec![("diskDevice", disk_devices), ("bus", buses)]),
        block("graphics", vec![("type", list(&[("vnc", caps.vnc)]))]),
        block(
            "video",
            vec![(
                "modelType",
                list(&[
                    ("vga", caps.has_device("VGA")),
                    (
                        "virtio",
                        caps.has_device("virtio-vga") || caps.has_device("virtio-gpu-pci"),
                    ),
                    ("none", true),
                ]),
            )],
        ),
        DomainCapsBlock {
            name: "hostdev".into(),
            supported: false,
            enums: Vec::new(),
        },
        block(
            "rng",
            vec![
                (
                    "model",
                    list(&[("virtio", caps.has_device("virtio-rng-pci"))]),
                ),
                (
                    "backendModel",
                    list(&[
                        ("random", caps.has_type("rng-random")),
                        ("builtin", caps.has_type("rng-builtin")),
                    ]),
                ),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_version_text_becomes_libvirts_number() {
        assert_eq!(
            parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright"),
            Some(7_002_022)
        );
        assert_eq!(
            parse_version("QEMU emulator version 8.1\n"),
            Some(8_001_000)
        );
        assert_eq!(parse_version("nothing here"), None);
    }

    #[test]
    fn node_info_reads_topology_memory_and_speed() {
        let mut cpuinfo = String::new();
        for i in 0..8 {
            cpuinfo.push_str(&format!(
                "processor\t: {i}\ncpu MHz\t\t: 2445.404\nphysical id\t: {}\nsiblings\t: 4\ncpu cores\t: 2\n\n",
                i / 4
            ));
        }
        let info = node_info_from("x86_64", &cpuinfo, "MemTotal:       16318412 kB\n", 1);
        assert_eq!(
            info,
            NodeInfo {
                model: "x86_64".into(),
                memory_kib: 16_318_412,
                cpus: 8,
                mhz: 2445,
                nodes: 1,
                sockets: 2,
                cores: 2,
                threads: 2,
            }
        );
    }

    #[test]
    fn node_info_without_topology_fields_still_counts_cpus() {
        let info = node_info_from("aarch64", "processor : 0\n\nprocessor : 1\n", "", 0);
        assert_eq!(
            (info.cpus, info.sockets, info.cores, info.threads),
            (2, 1, 2, 1)
        );
        assert_eq!(info.nodes, 1);
    }

    fn probed_fixture() -> QemuCaps {
        use crate::probe::{AccelCaps, CpuExpansion, CpuModel};
        let machine = |name: &str, alias: Option<&str>, default: bool, max: u32| Machine {
            name: name.into(),
            alias: alias.map(str::to_string),
            is_default: default,
            cpu_max: max,
            deprecated: false,
            hotpluggable_cpus: true,
            default_cpu_type: None,
        };
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        QemuCaps {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            version: (7, 2, 22),
            package: String::new(),
            arch: "x86_64".into(),
            machines: vec![
                machine("pc-q35-7.2", Some("q35"), false, 288),
                machine("pc-i440fx-7.2", Some("pc"), true, 255),
            ],
            devices: names(&[
                "virtio-blk-pci",
                "ide-hd",
                "ide-cd",
                "ich9-ahci",
                "VGA",
                "virtio-rng-pci",
            ]),
            types: names(&["rng-random", "rng-builtin"]),
            vnc: true,
            kvm: None,
            tcg: Some(AccelCaps {
                cpu_models: vec![CpuModel {
                    name: "qemu64".into(),
                    unavailable_features: Vec::new(),
                    deprecated: false,
                    alias_of: None,
                }],
                host_model: Some(CpuExpansion {
                    model: "max".into(),
                    base: "base".into(),
                    features: vec![("sse2".into(), true)],
                }),
            }),
        }
    }

    #[test]
    fn probed_guest_lists_default_machine_first_with_aliases_and_tcg_only() {
        let caps = capabilities_from(&[probed_fixture()]);
        let g = &caps.guests[0];
        assert_eq!(g.domain_types, ["qemu"], "no kvm when KVM was not usable");
        let names: Vec<(&str, Option<&str>)> = g
            .machine_entries
            .iter()
            .map(|m| (m.name.as_str(), m.canonical.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("pc-i440fx-7.2", None),
                ("pc", Some("pc-i440fx-7.2")),
                ("pc-q35-7.2", None),
                ("q35", Some("pc-q35-7.2")),
            ]
        );
        assert_eq!(g.machine_entries[2].max_cpus, Some(288));
    }

    #[test]
    fn probed_domain_caps_follow_machine_type_and_accelerator() {
        let caps = probed_fixture();
        let dc = domain_capabilities_from(&caps, None, "qemu").expect("default machine");
        assert_eq!(dc.machine.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(dc.vcpu_max, 255);
        let modes: Vec<(&str, bool)> = dc.cpu_modes.iter().map(|(m, s)| (m.as_str(), *s)).collect();
        assert_eq!(
            modes,
            [
                ("host-passthrough", false),
                ("maximum", true),
                ("host-model", true),
                ("custom", true)
            ]
        );
        let enums = |dc: &DomainCapabilities, block: &str, name: &str| -> Vec<String> {
            dc.devices
                .iter()
                .find(|b| b.name == block)
                .and_then(|b| b.enums.iter().find(|(n, _)| n == name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(enums(&dc, "disk", "bus"), ["ide", "virtio", "sata"]);
        assert_eq!(enums(&dc, "disk", "diskDevice"), ["disk", "cdrom"]);
        assert_eq!(enums(&dc, "rng", "backendModel"), ["random", "builtin"]);
        assert_eq!(enums(&dc, "graphics", "type"), ["vnc"]);
        // q35 has no IDE controller: the alias resolves and ide is gone.
        let q35 = domain_capabilities_from(&caps, Some("q35"), "qemu").expect("q35");
        assert_eq!(q35.machine.as_deref(), Some("pc-q35-7.2"));
        assert_eq!(q35.vcpu_max, 288);
        assert_eq!(enums(&q35, "disk", "bus"), ["virtio", "sata"]);
        let err = domain_capabilities_from(&caps, Some("virt"), "qemu").expect_err("machine");
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message().contains("'virt'"), "{}", err.message());
        let err = domain_capabilities_from(&caps, None, "kvm").expect_err("kvm");
        assert_eq!(err.code, ErrorCode::InvalidArg);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn probed_capabilities_format_as_libvirt_xml() {
        use virt_core::xml::DomainXmlCodec;
        let dir = tempfile::tempdir().expect("dir");
        let probed = probe_installed(dir.path()).await;
        let x86 = probed
            .iter()
            .find(|c| c.arch() == "x86_64")
            .expect("qemu-system-x86_64 probed");
        let xml = virt_xml::LibvirtXml.format_capabilities(&capabilities_from(&probed));
        assert!(xml.contains("<domain type='qemu'/>"), "{xml}");
        assert_eq!(
            xml.contains("<domain type='kvm'/>"),
            x86.kvm_usable(),
            "{xml}"
        );
        let pc = x86.machine("pc").expect("pc alias");
        let entry = format!(
            "<machine canonical='{}' maxCpus='{}'>pc</machine>",
            pc.name, pc.cpu_max
        );
        assert!(xml.contains(&entry), "{entry} in {xml}");
        let dc = domain_capabilities_from(x86, Some("q35"), "qemu").expect("domcaps");
        let xml = virt_xml::LibvirtXml.format_domain_capabilities(&dc);
        assert!(xml.contains("<machine>pc-q35-"), "{xml}");
        assert!(
            xml.contains("<mode name='maximum' supported='yes'/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<mode name='host-passthrough' supported='no'/>"),
            "{xml}"
        );
        assert!(xml.contains("<value>virtio</value>"), "{xml}");
        assert!(xml.contains("<value>vnc</value>"), "{xml}");
    }
}
