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

// Host and Hypervisor group (issue 15): what virNodeGetCPUStats, virNodeGetCPUMap,
// virNodeGetFreeMemory, virNodeGetCellsFreeMemory and virConnectGetSysinfo read on Linux.

fn invalid_arg(detail: String) -> crate::error::VirtError {
    crate::error::VirtError::new(
        crate::error::ErrorCode::InvalidArg,
        crate::error::ErrorDomain::None,
        detail,
    )
}

fn internal(detail: String) -> crate::error::VirtError {
    crate::error::VirtError::new(
        crate::error::ErrorCode::InternalError,
        crate::error::ErrorDomain::None,
        detail,
    )
}

/// The CPU time counters of /proc/stat's `cpu` line (`cpu` -1) or `cpuN` line, in
/// nanoseconds, as libvirt's virHostCPUGetStatsLinux: kernel (system + irq + softirq), user
/// (user + nice), idle, iowait. `tick_ns`: nanoseconds per clock tick.
pub fn cpu_stats_from(
    stat: &str,
    cpu: i32,
    tick_ns: u64,
) -> Result<Vec<(String, u64)>, crate::error::VirtError> {
    let header = if cpu == -1 {
        "cpu ".to_string()
    } else {
        format!("cpu{cpu} ")
    };
    for line in stat.lines() {
        let Some(rest) = line.strip_prefix(&header) else {
            continue;
        };
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        return Ok(vec![
            ("kernel".into(), (at(2) + at(5) + at(6)) * tick_ns),
            ("user".into(), (at(0) + at(1)) * tick_ns),
            ("idle".into(), at(3) * tick_ns),
            ("iowait".into(), at(4) * tick_ns),
        ]);
    }
    Err(invalid_arg(
        "Invalid cpuNum in virHostCPUGetStatsLinux".to_string(),
    ))
}

/// [`cpu_stats_from`] of this host's /proc/stat.
pub fn cpu_stats(cpu: i32) -> Result<Vec<(String, u64)>, crate::error::VirtError> {
    let stat = std::fs::read_to_string("/proc/stat")
        .map_err(|e| internal(format!("cannot open /proc/stat: {e}")))?;
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    cpu_stats_from(&stat, cpu, 1_000_000_000 / tck)
}

/// The members of a kernel CPU/node list (`0-3,5`).
pub fn parse_list(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

/// The online flag of each present CPU (the highest present CPU + 1 of them), from the
/// kernel's `present` and `online` lists, as libvirt's virHostCPUGetMap.
pub fn cpu_map_from(present: &str, online: &str) -> Vec<bool> {
    let n = parse_list(present).into_iter().max().map_or(0, |m| m + 1);
    let mut map = vec![false; n];
    for c in parse_list(online) {
        if c < n {
            map[c] = true;
        }
    }
    map
}

/// [`cpu_map_from`] of this host's /sys/devices/system/cpu.
pub fn cpu_map() -> Result<Vec<bool>, crate::error::VirtError> {
    let read = |f: &str| {
        let p = format!("/sys/devices/system/cpu/{f}");
        std::fs::read_to_string(&p).map_err(|e| internal(format!("cannot read {p}: {e}")))
    };
    Ok(cpu_map_from(&read("present")?, &read("online")?))
}

/// A `Node N MemFree: X kB` (per-node meminfo) or `MemFree: X kB` (/proc/meminfo) value,
/// in bytes.
pub fn mem_free_bytes(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if !(k == "MemFree" || k.ends_with(" MemFree")) {
            return None;
        }
        let kib: u64 = v.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

const NODE_DIR: &str = "/sys/devices/system/node";

/// The NUMA nodes the kernel lists online; empty without NUMA support.
fn online_nodes() -> Vec<usize> {
    std::fs::read_to_string(format!("{NODE_DIR}/online"))
        .map(|t| parse_list(&t))
        .unwrap_or_default()
}

fn node_free(n: usize) -> Option<u64> {
    std::fs::read_to_string(format!("{NODE_DIR}/node{n}/meminfo"))
        .ok()
        .and_then(|t| mem_free_bytes(&t))
}

/// Free bytes of the host as libvirt's virHostMemGetFreeMemory: the nodes' sum, or
/// /proc/meminfo's MemFree without NUMA.
pub fn free_memory() -> Result<u64, crate::error::VirtError> {
    let nodes = online_nodes();
    if !nodes.is_empty() {
        return Ok(nodes.into_iter().filter_map(node_free).sum());
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_free_bytes(&t))
        .ok_or_else(|| internal("cannot read MemFree of /proc/meminfo".into()))
}

/// Free bytes of nodes `start`.. (at most `max`) as libvirt's virHostMemGetCellsFree: a node
/// whose size cannot be read counts 0; a start beyond the highest node is refused.
pub fn cells_free_memory(start: i32, max: i32) -> Result<Vec<u64>, crate::error::VirtError> {
    let Some(last) = online_nodes().into_iter().max() else {
        return Ok(Vec::new());
    };
    let start = usize::try_from(start).unwrap_or(0);
    if start > last {
        return Err(internal(format!(
            "start cell {start} out of range (0-{last})"
        )));
    }
    let end = last.min(start + usize::try_from(max).unwrap_or(1).max(1) - 1);
    Ok((start..=end).map(|n| node_free(n).unwrap_or(0)).collect())
}

/// The `<sysinfo type='smbios'>` of the SMBIOS facts in `dir` (the kernel's
/// /sys/class/dmi/id files): bios, system, baseBoard and chassis entries, each present one.
pub fn sysinfo_from(dir: &std::path::Path) -> Result<String, crate::error::VirtError> {
    if !dir.is_dir() {
        return Err(internal(format!(
            "SMBIOS data is not available: {} does not exist",
            dir.display()
        )));
    }
    let groups: [(&str, &[(&str, &str)]); 4] = [
        (
            "bios",
            &[
                ("vendor", "bios_vendor"),
                ("version", "bios_version"),
                ("date", "bios_date"),
                ("release", "bios_release"),
            ],
        ),
        (
            "system",
            &[
                ("manufacturer", "sys_vendor"),
                ("product", "product_name"),
                ("version", "product_version"),
                ("serial", "product_serial"),
                ("uuid", "product_uuid"),
                ("sku", "product_sku"),
                ("family", "product_family"),
            ],
        ),
        (
            "baseBoard",
            &[
                ("manufacturer", "board_vendor"),
                ("product", "board_name"),
                ("version", "board_version"),
                ("serial", "board_serial"),
                ("asset", "board_asset_tag"),
            ],
        ),
        (
            "chassis",
            &[
                ("manufacturer", "chassis_vendor"),
                ("version", "chassis_version"),
                ("serial", "chassis_serial"),
                ("asset", "chassis_asset_tag"),
            ],
        ),
    ];
    let mut xml = String::from("<sysinfo type='smbios'>\n");
    for (group, entries) in groups {
        let mut body = String::new();
        for (name, file) in entries {
            let Ok(v) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            let v = v.trim_end_matches('\n');
            if v.is_empty() {
                continue;
            }
            body += &format!("    <entry name='{name}'>{}</entry>\n", escape(v));
        }
        if !body.is_empty() {
            xml += &format!("  <{group}>\n{body}  </{group}>\n");
        }
    }
    xml += "</sysinfo>\n";
    Ok(xml)
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The memory counters (KiB) of a meminfo text, as libvirt's virHostMemGetStats names them:
/// total, free, buffers, cached, each the text has (per-node texts prefix `Node N `).
pub fn memory_stats_from(meminfo: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (key, field) in [
        ("MemTotal", "total"),
        ("MemFree", "free"),
        ("Buffers", "buffers"),
        ("Cached", "cached"),
    ] {
        let v = meminfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            let k = k.rsplit(' ').next().unwrap_or(k);
            (k == key).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        });
        if let Some(v) = v {
            out.push((field.to_string(), v));
        }
    }
    out
}

/// [`memory_stats_from`] of /proc/meminfo (`cell` -1) or of a node's meminfo; a cell beyond
/// the highest node is refused as libvirt refuses it.
pub fn memory_stats(cell: i32) -> Result<Vec<(String, u64)>, crate::error::VirtError> {
    let path = if cell == -1 {
        "/proc/meminfo".to_string()
    } else {
        let last = online_nodes().into_iter().max().unwrap_or(0);
        match usize::try_from(cell) {
            Ok(c) if c <= last => format!("{NODE_DIR}/node{c}/meminfo"),
            _ => {
                return Err(invalid_arg(format!(
                    "cellNum in virHostMemGetStats must be less than or equal to {last}"
                )))
            }
        }
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| internal(format!("cannot open {path}: {e}")))?;
    Ok(memory_stats_from(&text))
}

/// [`sysinfo_from`] of /sys/class/dmi/id.
pub fn sysinfo() -> Result<String, crate::error::VirtError> {
    sysinfo_from(std::path::Path::new("/sys/class/dmi/id"))
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

    #[test]
    fn cpu_stats_of_proc_stat() {
        let stat = "cpu  10 1 20 300 4 5 6 7 0 0\ncpu0 1 0 2 30 0 0 0 0 0 0\nintr 5\n";
        let all = cpu_stats_from(stat, -1, 10).expect("test step");
        assert_eq!(
            all,
            [
                ("kernel".to_string(), 310),
                ("user".to_string(), 110),
                ("idle".to_string(), 3000),
                ("iowait".to_string(), 40)
            ]
        );
        assert_eq!(cpu_stats_from(stat, 0, 1).expect("test step")[2].1, 30);
        let e = cpu_stats_from(stat, 1, 1).expect_err("refused");
        assert_eq!(e.message(), "Invalid cpuNum in virHostCPUGetStatsLinux");
    }

    #[test]
    fn cpu_map_and_lists() {
        assert_eq!(parse_list("0-2,5\n"), [0, 1, 2, 5]);
        assert_eq!(cpu_map_from("0-3", "0,2-3"), [true, false, true, true]);
    }

    #[test]
    fn mem_free_of_both_meminfo_forms() {
        assert_eq!(
            mem_free_bytes("MemTotal: 9 kB\nMemFree:   3 kB\n"),
            Some(3072)
        );
        assert_eq!(
            mem_free_bytes("Node 0 MemTotal: 9 kB\nNode 0 MemFree: 2 kB\n"),
            Some(2048)
        );
    }

    #[test]
    fn sysinfo_of_a_dmi_directory() {
        let d = std::env::temp_dir().join(format!("virt-dmi-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("test step");
        std::fs::write(d.join("bios_vendor"), "ACME & Co\n").expect("test step");
        std::fs::write(d.join("product_name"), "Box\n").expect("test step");
        std::fs::write(d.join("board_name"), "\n").expect("test step");
        let xml = sysinfo_from(&d).expect("test step");
        std::fs::remove_dir_all(&d).expect("test step");
        assert_eq!(
            xml,
            "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>ACME &amp; Co</entry>\n  </bios>\n  <system>\n    <entry name='product'>Box</entry>\n  </system>\n</sysinfo>\n"
        );
        assert!(sysinfo_from(std::path::Path::new("/nonexistent/dmi")).is_err());
    }
}
