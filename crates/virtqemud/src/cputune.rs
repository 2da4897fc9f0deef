//! `<cputune>` on the host: CPU affinity of QEMU's threads and the CPU controller's files of
//! the guest's cgroup, as libvirt 9.0 applies them (qemu_process.c `qemuProcessSetupPid`,
//! qemu_cgroup.c).
//!
//! # Threads and pins
//!
//! vCPU threads come from `query-cpus-fast`, IOThreads from `query-iothreads`; every other
//! thread of QEMU is an emulator thread. `<emulatorpin>` pins the emulator threads,
//! `<vcpupin>` and `<iothreadpin>` their threads (`sched_setaffinity` on each thread id).
//! libvirt pins the emulator before QEMU makes its other threads, so they inherit it; we pin
//! after the monitor answers, every thread once. A pin naming a CPU the host does not have
//! refuses the start before QEMU runs.
//!
//! # Bandwidth
//!
//! On cgroup v1 (this project's hosts) `<shares>` is `cpu.shares` of the guest's group and
//! `<global_period>`/`<global_quota>` its `cpu.cfs_period_us`/`cpu.cfs_quota_us`.
//! `<period>`/`<quota>` (per vCPU), `<emulator_*>` and `<iothread_*>` go to per-thread child
//! groups `vcpuN`, `emulator` and `iothreadN` of the CPU hierarchy, which libvirt makes and
//! moves the threads into (`tasks`). On v2 the same values are `cpu.weight` (shares as
//! written) and `cpu.max` (`QUOTA PERIOD`, `max` for unlimited) in threaded children.

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::DomainDef;
use virt_core::VirtError;

/// A canonical cpuset (`0-3,6`) as CPU numbers.
pub(crate) fn parse_cpuset(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 8192 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// The host's online CPUs (`/sys/devices/system/cpu/online`).
pub(crate) fn host_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse_cpuset(t.trim()))
        .unwrap_or_default()
}

fn invalid(path: &str, detail: String) -> VirtError {
    let mut e = VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail);
    e.violations.push(virt_core::error::Violation {
        path: path.to_string(),
        description: e.message(),
    });
    e
}

/// Every pin of `def` with the XPath of its element.
fn pins(def: &DomainDef) -> Vec<(String, &str)> {
    let t = &def.cputune;
    let mut out: Vec<(String, &str)> = t
        .vcpupins
        .iter()
        .map(|p| {
            (
                format!("/domain/cputune/vcpupin[@vcpu='{}']", p.id),
                p.cpuset.as_str(),
            )
        })
        .collect();
    if let Some(e) = &t.emulatorpin {
        out.push(("/domain/cputune/emulatorpin".into(), e.as_str()));
    }
    out.extend(t.iothreadpins.iter().map(|p| {
        (
            format!("/domain/cputune/iothreadpin[@iothread='{}']", p.id),
            p.cpuset.as_str(),
        )
    }));
    out
}

/// Refuses a start whose pins name CPUs `online` does not have (libvirt's start fails
/// setting the affinity).
pub(crate) fn check_pins(def: &DomainDef, online: &[usize]) -> Result<(), VirtError> {
    for (path, set) in pins(def) {
        let cpus = parse_cpuset(set).unwrap_or_default();
        if let Some(missing) = cpus.iter().find(|c| !online.contains(c)) {
            return Err(invalid(
                &path,
                format!(
                    "cannot set CPU affinity: {path} names CPU {missing}, which this host \
                     does not have (online: {})",
                    format_list(online)
                ),
            ));
        }
    }
    Ok(())
}

fn format_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Pins thread `tid` to `cpuset`.
pub(crate) fn set_affinity(tid: i32, cpuset: &str) -> Result<(), VirtError> {
    let cpus = parse_cpuset(cpuset).unwrap_or_default();
    let mut set = nix::sched::CpuSet::new();
    for c in cpus {
        set.set(c)
            .map_err(|e| sys(format!("CPU {c} of '{cpuset}': {e}")))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(tid), &set).map_err(|e| {
        sys(format!(
            "cannot set CPU affinity of thread {tid} to {cpuset}: {e}"
        ))
    })
}

fn sys(detail: String) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, detail)
}

/// The thread ids of process `pid`.
pub(crate) fn threads(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// QEMU's threads by role: vCPUs (index, tid), IOThreads (id, tid).
#[derive(Debug, Clone, Default)]
pub(crate) struct Threads {
    /// QEMU's pid (its main thread).
    pub pid: i32,
    /// vCPU index and thread id.
    pub vcpus: Vec<(u32, i32)>,
    /// IOThread id and thread id.
    pub iothreads: Vec<(u32, i32)>,
}

impl Threads {
    /// The emulator threads: every thread that is neither a vCPU nor an IOThread.
    pub(crate) fn emulator(&self) -> Vec<i32> {
        threads(self.pid)
            .into_iter()
            .filter(|t| {
                !self.vcpus.iter().any(|(_, v)| v == t)
                    && !self.iothreads.iter().any(|(_, i)| i == t)
            })
            .collect()
    }
}

/// Applies the pins of `def` to QEMU's threads.
pub(crate) fn apply_pins(def: &DomainDef, t: &Threads) -> Result<(), VirtError> {
    let tune = &def.cputune;
    if let Some(set) = &tune.emulatorpin {
        for tid in t.emulator() {
            set_affinity(tid, set)?;
        }
    }
    for p in &tune.vcpupins {
        if let Some((_, tid)) = t.vcpus.iter().find(|(i, _)| *i == p.id) {
            set_affinity(*tid, &p.cpuset)?;
        }
    }
    for p in &tune.iothreadpins {
        if let Some((_, tid)) = t.iothreads.iter().find(|(i, _)| *i == p.id) {
            set_affinity(*tid, &p.cpuset)?;
        }
    }
    Ok(())
}

/// The cgroup version of the CPU hierarchy a guest group lives in.
pub(crate) use virt_core::cgroup::Version;

fn write(path: PathBuf, value: &str) -> Result<(), VirtError> {
    std::fs::write(&path, value)
        .map_err(|e| sys(format!("cannot write '{value}' to {}: {e}", path.display())))
}

/// Writes a period and quota into `group`.
fn bandwidth(
    group: &Path,
    v: Version,
    period: Option<u64>,
    quota: Option<i64>,
) -> Result<(), VirtError> {
    match v {
        Version::V1 => {
            if let Some(p) = period {
                write(group.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = quota {
                write(group.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
        }
        Version::V2 if period.is_some() || quota.is_some() => {
            let cur = std::fs::read_to_string(group.join("cpu.max")).unwrap_or_default();
            let mut it = cur.split_whitespace();
            let (cq, cp) = (
                it.next().unwrap_or("max").to_string(),
                it.next().unwrap_or("100000").to_string(),
            );
            let q = match quota {
                Some(q) if q < 0 => "max".to_string(),
                Some(q) => q.to_string(),
                None => cq,
            };
            let p = period.map_or(cp, |p| p.to_string());
            write(group.join("cpu.max"), &format!("{q} {p}"))?;
        }
        Version::V2 => {}
    }
    Ok(())
}

/// Makes the thread group `name` under `group` and moves `tids` into it.
fn thread_group(group: &Path, v: Version, name: &str, tids: &[i32]) -> Result<PathBuf, VirtError> {
    let dir = group.join(name);
    if !dir.is_dir() {
        std::fs::create_dir(&dir)
            .map_err(|e| sys(format!("cannot create the cgroup {}: {e}", dir.display())))?;
    }
    let file = match v {
        Version::V1 => "tasks",
        Version::V2 => {
            let _ = std::fs::write(dir.join("cgroup.type"), "threaded");
            "cgroup.threads"
        }
    };
    for tid in tids {
        // A thread that ended meanwhile is no error.
        if let Err(e) = std::fs::write(dir.join(file), tid.to_string()) {
            if e.raw_os_error() != Some(nix::libc::ESRCH) {
                return Err(sys(format!(
                    "cannot move thread {tid} into {}: {e}",
                    dir.display()
                )));
            }
        }
    }
    Ok(dir)
}

/// Applies shares and bandwidth of `def` to the guest's group `group` in the CPU hierarchy.
pub(crate) fn apply_cgroup(
    def: &DomainDef,
    t: &Threads,
    group: &Path,
    v: Version,
) -> Result<(), VirtError> {
    let tune = &def.cputune;
    if let Some(s) = tune.shares {
        match v {
            Version::V1 => write(group.join("cpu.shares"), &s.to_string())?,
            Version::V2 => write(group.join("cpu.weight"), &s.clamp(1, 10_000).to_string())?,
        }
    }
    bandwidth(group, v, tune.global_period, tune.global_quota)?;
    let per_thread = tune.period.is_some()
        || tune.quota.is_some()
        || tune.emulator_period.is_some()
        || tune.emulator_quota.is_some()
        || tune.iothread_period.is_some()
        || tune.iothread_quota.is_some();
    if !per_thread {
        return Ok(());
    }
    let em = thread_group(group, v, "emulator", &t.emulator())?;
    bandwidth(&em, v, tune.emulator_period, tune.emulator_quota)?;
    for (i, tid) in &t.vcpus {
        let g = thread_group(group, v, &format!("vcpu{i}"), &[*tid])?;
        bandwidth(&g, v, tune.period, tune.quota)?;
    }
    for (i, tid) in &t.iothreads {
        let g = thread_group(group, v, &format!("iothread{i}"), &[*tid])?;
        bandwidth(&g, v, tune.iothread_period, tune.iothread_quota)?;
    }
    Ok(())
}

/// `query-iothreads` → (IOThread id, thread id) for `iothreadN` ids.
pub(crate) fn iothreads_of(v: &serde_json::Value) -> Vec<(u32, i32)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let id = t
                .get("id")?
                .as_str()?
                .strip_prefix("iothread")?
                .parse()
                .ok()?;
            let tid = i32::try_from(t.get("thread-id")?.as_i64()?).ok()?;
            Some((id, tid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(tune: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>g</name><memory>65536</memory><vcpu>2</vcpu>\
             <iothreads>1</iothreads>{tune}<os><type>hvm</type></os></domain>"
        ))
        .expect("parses")
    }

    #[test]
    fn cpusets_and_pins_are_checked_against_the_host() {
        assert_eq!(parse_cpuset("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpuset("3-1"), None);
        let d = def("<cputune><vcpupin vcpu='1' cpuset='7'/></cputune>");
        let e = check_pins(&d, &[0, 1]).expect_err("no CPU 7");
        assert!(e.detail.contains("names CPU 7"), "{}", e.detail);
        assert_eq!(e.violations[0].path, "/domain/cputune/vcpupin[@vcpu='1']");
        check_pins(&d, &[0, 1, 2, 3, 4, 5, 6, 7]).expect("eight CPUs");
    }

    #[test]
    fn v1_files_get_libvirts_values_in_a_fake_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let g = dir.path();
        let d = def(
            "<cputune><shares>2048</shares><period>100000</period><quota>50000</quota>\
             <global_period>200000</global_period><global_quota>-1</global_quota>\
             <emulator_period>10000</emulator_period><emulator_quota>5000</emulator_quota>\
             </cputune>",
        );
        let t = Threads {
            pid: std::process::id() as i32,
            vcpus: vec![(0, 1_999_990), (1, 1_999_991)],
            iothreads: vec![],
        };
        // Thread moves into a plain directory just write files; the ids need not exist.
        apply_cgroup(&d, &t, g, Version::V1).expect("applies");
        let read = |p: &str| std::fs::read_to_string(g.join(p)).expect(p);
        assert_eq!(read("cpu.shares"), "2048");
        assert_eq!(read("cpu.cfs_period_us"), "200000");
        assert_eq!(read("cpu.cfs_quota_us"), "-1");
        assert_eq!(read("vcpu1/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("vcpu0/cpu.cfs_period_us"), "100000");
        assert_eq!(read("vcpu1/tasks"), "1999991");
        assert_eq!(read("emulator/cpu.cfs_quota_us"), "5000");
        assert!(!g.join("iothread1").exists());
    }

    #[test]
    fn query_iothreads_names_the_threads() {
        let v = serde_json::json!([{"id": "iothread2", "thread-id": 77}, {"id": "other", "thread-id": 1}]);
        assert_eq!(iothreads_of(&v), [(2, 77)]);
    }
}
