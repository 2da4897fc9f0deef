//! Host facts every hypervisor driver reports the same way: the architecture as libvirt names
//! it and virNodeGetInfo's answer, read from /proc and /sys.

use crate::types::NodeInfo;

/// The host architecture as libvirt names it (`x86_64`, `aarch64`, ...).
pub fn host_arch() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string())
}

/// /proc/cpuinfo's text (empty when unreadable): the one place that reads it.
pub fn cpuinfo() -> String {
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

/// Node facts as virNodeGetInfo: the architecture as the model, memory from /proc/meminfo,
/// online CPUs, the first CPU's MHz and the topology from /proc/cpuinfo, NUMA nodes from /sys.
pub fn node_info() -> NodeInfo {
    let cpuinfo = cpuinfo();
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

/// A version string's `major.minor.micro` (`7.2.22`, `6.1.0-28-cloud-amd64`, `8.1`) as
/// libvirt's number, major * 1,000,000 + minor * 1,000 + micro; each part is its leading
/// digits, a missing part 0. `None` when there is no major number.
pub fn version_number(text: &str) -> Option<u64> {
    let mut parts = text.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(major * 1_000_000 + minor * 1_000 + micro)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_become_libvirts_numbers() {
        assert_eq!(version_number("7.2.22"), Some(7_002_022));
        assert_eq!(version_number("6.1.0-28-cloud-amd64"), Some(6_001_000));
        assert_eq!(version_number("8.1"), Some(8_001_000));
        assert_eq!(version_number("x1"), None);
    }
}
