//! Host facts the QEMU driver reports without probing QEMU (probing is the next issue): node
//! info from /proc and /sys, the emulator binary and its version, KVM's vCPU limit, and the
//! minimal capabilities that say what define accepts.

use std::path::{Path, PathBuf};

use virt_core::model::caps::GuestCaps;
use virt_core::model::{Capabilities, DomainCapabilities};
use virt_core::types::NodeInfo;

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
}
