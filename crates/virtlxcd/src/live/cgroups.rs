//! A container's cgroup: made by the daemon before the controller starts (in every mounted
//! hierarchy, named as libvirt names it: `/machine/lxc-ID-NAME.libvirt-lxc`), with the
//! definition's limits written; the freezer for suspend and resume; the accounting that
//! `dominfo` and the bulk stats read.
//!
//! cgroup v1 (one mount per controller), v2 (unified) and hybrid hosts are handled by file
//! name: on a hybrid host such as this project's (v1 controllers plus a v2 mount at
//! `/sys/fs/cgroup/unified` that offers no controller, or one whose controllers are bound to
//! v1) the v1 hierarchies are used and the v2 mount is left alone, so the start never fails
//! the way libvirt 9.0's does there ("Unable to create directory /sys/fs/cgroup/unified").

use std::path::{Path, PathBuf};

use virt_core::cgroup::{DomainCgroup, Hierarchies, Version};
use virt_core::error::ErrorDomain;
use virt_core::model::tuning::MemTune;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::driver::system_error;

/// The device nodes every container may use (libvirt's allow-list): null, zero, full,
/// random, urandom, tty, console, ptmx, the pts instance's ptys, fuse.
const DEVICES_ALLOWED: &[&str] = &[
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:229 rwm",
];

/// The group's `cgroup.procs` files (for init to join) and directories (for the controller to
/// remove when the container is gone).
pub(crate) struct Placed {
    pub procs: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

fn write(path: &Path, value: &str) -> Result<(), VirtError> {
    std::fs::write(path, value)
        .map_err(|e| system_error(format!("cannot write '{value}' to {}: {e}", path.display())))
}

/// Writes `value` to `file` when the hierarchy has it; `Ok(false)` when it does not.
fn write_if_present(path: &Path, value: &str) -> Result<bool, VirtError> {
    if !path.exists() {
        return Ok(false);
    }
    write(path, value).map(|()| true)
}

/// Makes the group of `def` and writes its limits: memory (`<memtune>` hard limit, else
/// `<memory>`), soft limit, swap limit, CPU shares and bandwidth, block I/O weight, and (v1)
/// the device allow-list with `extra_devices` (`b|c MAJ:MIN rwm` lines for host devices).
pub(crate) fn place(
    h: &Hierarchies,
    cg: &DomainCgroup,
    def: &DomainDef,
    extra_devices: &[String],
) -> Result<Placed, VirtError> {
    let procs = cg.create(h).map_err(|e| e.to_virt(ErrorDomain::Lxc))?;
    let dirs = h.group_dirs(cg);
    set_memory(h, cg, def)?;
    set_cpu(h, cg, &def.cputune)?;
    if let Some(w) = def.blkiotune.weight {
        let done = match h.controller_group(cg, "blkio") {
            Some((dir, Version::V1)) => {
                write_if_present(&dir.join("blkio.weight"), &w.to_string())?
                    || write_if_present(&dir.join("blkio.bfq.weight"), &w.to_string())?
            }
            _ => match h.controller_group(cg, "io") {
                Some((dir, Version::V2)) => {
                    write_if_present(&dir.join("io.weight"), &format!("default {w}"))?
                        || write_if_present(&dir.join("io.bfq.weight"), &format!("default {w}"))?
                }
                _ => false,
            },
        };
        if !done {
            return Err(VirtError::new(
                virt_core::ErrorCode::OperationInvalid,
                ErrorDomain::Lxc,
                "blkio weight is not supported by this host's block I/O controller (no \
                 blkio.weight or io.weight: the I/O scheduler has no weights)",
            ));
        }
    }
    if let Some((dir, Version::V1)) = h.controller_group(cg, "devices") {
        write(&dir.join("devices.deny"), "a")?;
        for line in DEVICES_ALLOWED
            .iter()
            .map(|s| s.to_string())
            .chain(extra_devices.iter().cloned())
        {
            write(&dir.join("devices.allow"), &line)?;
        }
    }
    Ok(Placed { procs, dirs })
}

/// Writes `<cputune>`'s shares, period and quota (at start and by schedinfo on a running
/// container).
pub(crate) fn set_cpu(
    h: &Hierarchies,
    cg: &DomainCgroup,
    t: &virt_core::model::tuning::CpuTune,
) -> Result<(), VirtError> {
    let Some((dir, v)) = h.controller_group(cg, "cpu") else {
        return Ok(());
    };
    match v {
        Version::V1 => {
            if let Some(s) = t.shares {
                write(&dir.join("cpu.shares"), &s.to_string())?;
            }
            if let Some(p) = t.period {
                write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = t.quota {
                write(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
        }
        Version::V2 => {
            if let Some(s) = t.shares {
                write_if_present(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
            }
            if t.quota.is_some() || t.period.is_some() {
                let quota = match t.quota {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                let period = t.period.unwrap_or(100_000);
                write_if_present(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
            }
        }
    }
    Ok(())
}

/// cgroup v2's cpu.weight for v1 shares (the kernel's own conversion).
fn shares_to_weight(shares: u64) -> u64 {
    (1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142).clamp(1, 10_000)
}

/// Writes the memory limits of `def` (used at start and by set-memory on a running container).
pub(crate) fn set_memory(
    h: &Hierarchies,
    cg: &DomainCgroup,
    def: &DomainDef,
) -> Result<(), VirtError> {
    let Some((dir, v)) = h.controller_group(cg, "memory") else {
        return Ok(());
    };
    let hard = def
        .memtune
        .hard_limit_kib
        .unwrap_or(def.current_memory_kib.max(1))
        .saturating_mul(1024);
    match v {
        Version::V1 => {
            write(&dir.join("memory.limit_in_bytes"), &hard.to_string())?;
            if let Some(s) = def.memtune.soft_limit_kib {
                write(
                    &dir.join("memory.soft_limit_in_bytes"),
                    &(s * 1024).to_string(),
                )?;
            }
            if let Some(s) = def.memtune.swap_hard_limit_kib {
                if !write_if_present(
                    &dir.join("memory.memsw.limit_in_bytes"),
                    &(s * 1024).to_string(),
                )? {
                    return Err(VirtError::new(
                        virt_core::ErrorCode::OperationInvalid,
                        ErrorDomain::Lxc,
                        "swap_hard_limit is not supported: the host's memory controller has no \
                         swap accounting (memory.memsw.limit_in_bytes)",
                    ));
                }
            }
        }
        Version::V2 => {
            write(&dir.join("memory.max"), &hard.to_string())?;
            if let Some(s) = def.memtune.soft_limit_kib {
                write(&dir.join("memory.high"), &(s * 1024).to_string())?;
            }
            if let Some(s) = def.memtune.swap_hard_limit_kib {
                write_if_present(&dir.join("memory.swap.max"), &(s * 1024).to_string())?;
            }
        }
    }
    Ok(())
}

/// The memory limits in force in the container's group, KiB (`None`: unlimited): hard, soft,
/// swap (memory plus swap), as libvirt's LXC driver reads them for a running container.
pub(crate) fn memory_limits(h: &Hierarchies, cg: &DomainCgroup) -> Option<MemTune> {
    let (dir, v) = h.controller_group(cg, "memory")?;
    // v1 reports "no limit" as the page counter's maximum (PAGE_COUNTER_MAX pages, 2^63 - 4096
    // bytes with 4 KiB pages); v2 as `max`, which does not parse.
    const V1_UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;
    let kib = |file: &str| -> Option<u64> {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        let bytes: u64 = text.trim().parse().ok()?;
        (bytes < V1_UNLIMITED).then_some(bytes / 1024)
    };
    Some(match v {
        Version::V1 => MemTune {
            hard_limit_kib: kib("memory.limit_in_bytes"),
            soft_limit_kib: kib("memory.soft_limit_in_bytes"),
            swap_hard_limit_kib: kib("memory.memsw.limit_in_bytes"),
            ..MemTune::default()
        },
        Version::V2 => MemTune {
            hard_limit_kib: kib("memory.max"),
            soft_limit_kib: kib("memory.high"),
            swap_hard_limit_kib: kib("memory.swap.max"),
            ..MemTune::default()
        },
    })
}

/// Freezes (`true`) or thaws the container's group, returning once the kernel reports it done.
pub(crate) async fn freeze(
    h: &Hierarchies,
    cg: &DomainCgroup,
    frozen: bool,
) -> Result<(), VirtError> {
    let not_here = || {
        VirtError::new(
            virt_core::ErrorCode::OperationInvalid,
            ErrorDomain::Lxc,
            "Unable to freeze the container: no freezer cgroup controller on this host",
        )
    };
    let (dir, v) = h.controller_group(cg, "freezer").ok_or_else(not_here)?;
    let (file, value, done) = match v {
        Version::V1 => (
            dir.join("freezer.state"),
            if frozen { "FROZEN" } else { "THAWED" },
            if frozen { "FROZEN" } else { "THAWED" },
        ),
        Version::V2 => (
            dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
            if frozen { "frozen 1" } else { "frozen 0" },
        ),
    };
    if !file.exists() {
        return Err(not_here());
    }
    write(&file, value)?;
    // v1 reports FREEZING until every task stopped; v2 has `frozen` in cgroup.events.
    let check = match v {
        Version::V1 => file.clone(),
        Version::V2 => dir.join("cgroup.events"),
    };
    for i in 0..500u32 {
        let now = std::fs::read_to_string(&check).unwrap_or_default();
        let reached = match v {
            Version::V1 => now.trim() == done,
            Version::V2 => now.lines().any(|l| l.trim() == done),
        };
        if reached {
            return Ok(());
        }
        if i % 20 == 19 {
            // Nudge v1's freezer, which can stall on a task that was busy.
            write(&file, value)?;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    Err(VirtError::new(
        virt_core::ErrorCode::OperationTimeout,
        ErrorDomain::Lxc,
        format!(
            "the container's cgroup did not reach {done} ({})",
            file.display()
        ),
    ))
}

/// Whether the group is frozen now.
pub(crate) fn is_frozen(h: &Hierarchies, cg: &DomainCgroup) -> bool {
    match h.controller_group(cg, "freezer") {
        Some((dir, Version::V1)) => {
            std::fs::read_to_string(dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
        }
        Some((dir, Version::V2)) => std::fs::read_to_string(dir.join("cgroup.events"))
            .is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1")),
        None => false,
    }
}

/// What the group's accounting says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Usage {
    /// CPU time of every task, ns.
    pub cpu_ns: Option<u64>,
    /// User and system time, ns.
    pub user_ns: Option<u64>,
    pub system_ns: Option<u64>,
    /// Memory in use (bytes).
    pub memory_bytes: Option<u64>,
    /// The memory limit in force (bytes).
    pub memory_limit: Option<u64>,
    /// Block I/O per device `(major, minor) -> (read bytes, write bytes, read ops, write ops)`.
    pub blkio: Vec<((u32, u32), [u64; 4])>,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// Reads the group's accounting (what is missing stays `None`).
pub(crate) fn usage(h: &Hierarchies, cg: &DomainCgroup) -> Usage {
    let mut u = Usage::default();
    // USER_HZ is 100 on Linux: cpuacct.stat counts in ticks of 10 ms.
    const TICK_NS: u64 = 10_000_000;
    match h.controller_group(cg, "cpuacct") {
        Some((dir, Version::V1)) => {
            u.cpu_ns = read_u64(&dir.join("cpuacct.usage"));
            if let Ok(s) = std::fs::read_to_string(dir.join("cpuacct.stat")) {
                u.user_ns = keyed(&s, "user").map(|t| t * TICK_NS);
                u.system_ns = keyed(&s, "system").map(|t| t * TICK_NS);
            }
        }
        _ => {
            if let Some((dir, Version::V2)) = h.controller_group(cg, "cpu") {
                if let Ok(s) = std::fs::read_to_string(dir.join("cpu.stat")) {
                    u.cpu_ns = keyed(&s, "usage_usec").map(|v| v * 1000);
                    u.user_ns = keyed(&s, "user_usec").map(|v| v * 1000);
                    u.system_ns = keyed(&s, "system_usec").map(|v| v * 1000);
                }
            }
        }
    }
    match h.controller_group(cg, "memory") {
        Some((dir, Version::V1)) => {
            u.memory_bytes = read_u64(&dir.join("memory.usage_in_bytes"));
            u.memory_limit = read_u64(&dir.join("memory.limit_in_bytes"));
        }
        Some((dir, Version::V2)) => {
            u.memory_bytes = read_u64(&dir.join("memory.current"));
            u.memory_limit = read_u64(&dir.join("memory.max"));
        }
        None => {}
    }
    match h.controller_group(cg, "blkio") {
        Some((dir, Version::V1)) => {
            let bytes = std::fs::read_to_string(dir.join("blkio.throttle.io_service_bytes"))
                .unwrap_or_default();
            let ops =
                std::fs::read_to_string(dir.join("blkio.throttle.io_serviced")).unwrap_or_default();
            let mut map: std::collections::BTreeMap<(u32, u32), [u64; 4]> = Default::default();
            for (text, base) in [(&bytes, 0usize), (&ops, 2usize)] {
                for l in text.lines() {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let [dev, op, n] = f[..] else { continue };
                    let Some((ma, mi)) = dev.split_once(':') else {
                        continue;
                    };
                    let (Ok(ma), Ok(mi), Ok(n)) = (ma.parse(), mi.parse(), n.parse::<u64>()) else {
                        continue;
                    };
                    let e = map.entry((ma, mi)).or_default();
                    match op {
                        "Read" => e[base] += n,
                        "Write" => e[base + 1] += n,
                        _ => {}
                    }
                }
            }
            u.blkio = map.into_iter().collect();
        }
        _ => {
            if let Some((dir, Version::V2)) = h.controller_group(cg, "io") {
                for l in std::fs::read_to_string(dir.join("io.stat"))
                    .unwrap_or_default()
                    .lines()
                {
                    let mut f = l.split_whitespace();
                    let Some((ma, mi)) = f.next().and_then(|d| d.split_once(':')) else {
                        continue;
                    };
                    let (Ok(ma), Ok(mi)) = (ma.parse(), mi.parse()) else {
                        continue;
                    };
                    let mut e = [0u64; 4];
                    for kv in f {
                        let Some((k, v)) = kv.split_once('=') else {
                            continue;
                        };
                        let v = v.parse().unwrap_or(0);
                        match k {
                            "rbytes" => e[0] = v,
                            "wbytes" => e[1] = v,
                            "rios" => e[2] = v,
                            "wios" => e[3] = v,
                            _ => {}
                        }
                    }
                    u.blkio.push(((ma, mi), e));
                }
            }
        }
    }
    u
}

/// Removes the group (retrying while the kernel still counts the last tasks).
pub(crate) async fn remove(h: &Hierarchies, cg: &DomainCgroup) {
    for _ in 0..100 {
        match cg.remove(h) {
            Ok(true) => return,
            Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove the container's cgroup");
                return;
            }
        }
    }
    tracing::warn!(group = %cg.relative().display(), "the container's cgroup stayed busy; left in place");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_as_the_kernel_does() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn keyed_values_are_read_by_name() {
        assert_eq!(keyed("user 12\nsystem 3\n", "system"), Some(3));
        assert_eq!(keyed("usage_usec 10\n", "user_usec"), None);
    }
}
