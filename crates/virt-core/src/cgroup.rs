//! The cgroup a guest runs in (a QEMU process, a container's processes): `<resource><partition>`
//! (default `/machine`) on a host without systemd, placed as libvirt 9.0's drivers place it.
//! Every hypervisor daemon uses this one module; only the driver name differs.
//!
//! # Names
//!
//! The group is `PARTITION/MACHINE.libvirt-DRIVER` in every hierarchy, relative to the
//! hierarchy's root (as libvirt does without systemd; observed on this project's hosts as
//! `/machine/qemu-37-demo.libvirt-qemu`; containers get `lxc-ID-NAME.libvirt-lxc`):
//!
//! * `MACHINE` is libvirt's machine name, `DRIVER-ID-NAME`: of the domain name only letters,
//!   digits, `-` and `.` are kept, a `-` or `.` only after a kept character, the whole cut at
//!   64 characters and without trailing `-` or `.`. A daemon with its own `--root` is
//!   libvirt's embedded driver and writes `qemu-embed-HASH-ID-NAME` (HASH: 8 hex digits of a
//!   hash of the root), so test stacks side by side never share a group.
//! * Partition components other than a leading `machine`, `system` or `user` get a
//!   `.partition` suffix unless they have a dot; a component (or the group) that starts with
//!   `_`, `.`, `cgroup.` or a controller name and a dot gets a `_` prefix.
//! * `/machine` is created when missing; any other partition must exist already (libvirt
//!   refuses to start into a missing one).
//!
//! # Hierarchies
//!
//! On a cgroup v1 host (this project's: one mount per controller, plus a v2 mount without
//! controllers at `/sys/fs/cgroup/unified`) the group is made in each mounted hierarchy of the
//! controllers libvirt uses: cpu, cpuacct, cpuset, memory, devices, freezer, blkio, net_cls,
//! perf_event (libvirt leaves pids and hugetlb alone, and so do we). New cpuset groups get
//! their parent's `cpuset.cpus` and `cpuset.mems`, without which no task may join. On a
//! v2-only host the group is made in the unified hierarchy, with the parent's controllers
//! enabled for its children where the kernel lets us. The QEMU process joins by its pid in
//! `cgroup.procs` (all its threads with it).
//!
//! # Timing and life
//!
//! libvirt places the child between fork and exec; we place QEMU right after it starts,
//! before the monitor is used and long before `cont` lets its vCPUs run (memory QEMU touched
//! before the move stays charged where it was). The group is removed on the stop path, once
//! QEMU is gone (retrying while the kernel still counts the dying process), and left alone by
//! a daemon restart: the reattached guest keeps running in it.

use std::path::{Path, PathBuf};

use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// libvirt's default partition.
pub const DEFAULT_PARTITION: &str = "/machine";

/// The v1 controllers libvirt puts a guest under.
const LIBVIRT_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "net_cls",
    "perf_event",
];

/// Controller names a path component must not start with (followed by a dot): the kernel
/// reserves `NAME.` for control files.
const KERNEL_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "io",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The longest machine name libvirt makes.
const MACHINE_NAME_MAX: usize = 64;

/// A failed cgroup step.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A partition other than `/machine` does not exist.
    #[error("cgroup partition '{partition}' does not exist ({})", path.display())]
    MissingPartition {
        /// The partition as the definition names it.
        partition: String,
        /// Its directory in the hierarchy that lacks it.
        path: PathBuf,
    },
    /// A directory or control file could not be made or written.
    #[error("cannot set up the cgroup {}: {source}", path.display())]
    Setup {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// QEMU could not join the group.
    #[error("cannot move process {pid} into the cgroup {}: {source}", path.display())]
    Attach {
        /// The group's `cgroup.procs`.
        path: PathBuf,
        /// QEMU's pid.
        pid: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The group could not be removed.
    #[error("cannot remove the cgroup {}: {source}", path.display())]
    Remove {
        /// The group.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl CgroupError {
    /// SYSTEM_ERROR with this message, reported from `domain`.
    pub fn to_virt(&self, domain: ErrorDomain) -> VirtError {
        VirtError::new(ErrorCode::SystemError, domain, self.to_string())
    }
}

/// The cgroup version of the hierarchy a group lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1: `cpu.shares`, `cpu.cfs_*`, `memory.limit_in_bytes`, `freezer.state`, `tasks`.
    V1,
    /// cgroup v2: `cpu.weight`, `cpu.max`, `memory.max`, `cgroup.freeze`, `cgroup.threads`.
    V2,
}

/// The mounted cgroup hierarchies a guest can be placed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchies {
    /// v1: one directory per mount, with the controllers mounted there.
    V1(Vec<(PathBuf, Vec<String>)>),
    /// v2 only: the unified hierarchy's mount point.
    V2(PathBuf),
    /// No usable cgroup filesystem.
    None,
}

impl Hierarchies {
    /// The hierarchies of this process's mount namespace (`/proc/self/mountinfo`).
    pub fn detect() -> Hierarchies {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| Hierarchies::from_mountinfo(&t))
            .unwrap_or(Hierarchies::None)
    }

    /// The hierarchies `mountinfo` (the text of `/proc/PID/mountinfo`) describes: the v1
    /// mounts of libvirt's controllers, else a v2 mount.
    pub fn from_mountinfo(mountinfo: &str) -> Hierarchies {
        let mut v1: Vec<(PathBuf, Vec<String>)> = Vec::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount) = left.split(' ').nth(4) else {
                continue;
            };
            let mut r = right.split(' ');
            let (Some(fstype), _, Some(options)) = (r.next(), r.next(), r.next()) else {
                continue;
            };
            let mount = PathBuf::from(unescape_mount(mount));
            match fstype {
                "cgroup" => {
                    let ctls: Vec<String> = options
                        .split(',')
                        .filter(|o| LIBVIRT_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    if !ctls.is_empty() && !v1.iter().any(|(m, _)| *m == mount) {
                        v1.push((mount, ctls));
                    }
                }
                "cgroup2" if v2.is_none() => v2 = Some(mount),
                _ => {}
            }
        }
        match (v1.is_empty(), v2) {
            (false, _) => Hierarchies::V1(v1),
            (true, Some(m)) => Hierarchies::V2(m),
            (true, None) => Hierarchies::None,
        }
    }

    /// The hierarchy roots, with whether each has the cpuset controller.
    fn roots(&self) -> Vec<(&Path, bool)> {
        match self {
            Hierarchies::V1(list) => list
                .iter()
                .map(|(m, c)| (m.as_path(), c.iter().any(|c| c == "cpuset")))
                .collect(),
            Hierarchies::V2(m) => vec![(m.as_path(), false)],
            Hierarchies::None => Vec::new(),
        }
    }

    /// The guest group `cg` in the hierarchy of the CPU controller, with its cgroup version.
    pub fn cpu_group(&self, cg: &DomainCgroup) -> Option<(PathBuf, Version)> {
        self.controller_group(cg, "cpu")
    }

    /// The guest group `cg` in the hierarchy that has `controller` (v1: its own mount; v2: the
    /// unified hierarchy), with its cgroup version; `None` when no hierarchy has it.
    pub fn controller_group(
        &self,
        cg: &DomainCgroup,
        controller: &str,
    ) -> Option<(PathBuf, Version)> {
        match self {
            Hierarchies::V1(list) => list
                .iter()
                .find(|(_, c)| c.iter().any(|c| c == controller))
                .map(|(m, _)| (m.join(cg.relative()), Version::V1)),
            Hierarchies::V2(m) => Some((m.join(cg.relative()), Version::V2)),
            Hierarchies::None => None,
        }
    }

    /// The group `cg` in every hierarchy it is placed in.
    pub fn group_dirs(&self, cg: &DomainCgroup) -> Vec<PathBuf> {
        self.roots()
            .iter()
            .map(|(r, _)| r.join(cg.relative()))
            .collect()
    }

    /// Whether a guest can be placed: some hierarchy exists and its root is writable (a
    /// read-only cgroup filesystem, as in many containers, is no cgroup support).
    pub fn usable(&self) -> bool {
        let roots = self.roots();
        !roots.is_empty()
            && roots
                .iter()
                .all(|(r, _)| nix::unistd::access(*r, nix::unistd::AccessFlags::W_OK).is_ok())
    }
}

/// Undoes the octal escapes (`\040` for a space) of a mountinfo path.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libvirt's machine name `PREFIX-ID-NAME` (see the module docs).
pub fn machine_name(prefix: &str, id: u32, name: &str) -> String {
    let mut out = format!("{prefix}-{id}-");
    let mut skip = true;
    for c in name.chars() {
        if out.len() >= MACHINE_NAME_MAX {
            break;
        }
        if c == '.' || c == '-' {
            if !skip {
                out.push(c);
                skip = true;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c);
            skip = false;
        }
    }
    out.trim_end_matches(['-', '.']).to_string()
}

/// A component libvirt would prefix with `_`: one the kernel could take for a control file.
fn needs_escape(component: &str) -> bool {
    component.starts_with('_')
        || component.starts_with('.')
        || component.starts_with("cgroup.")
        || KERNEL_CONTROLLERS.iter().any(|c| {
            component
                .strip_prefix(c)
                .is_some_and(|rest| rest.starts_with('.'))
        })
}

fn escape(component: &str) -> String {
    if needs_escape(component) {
        format!("_{component}")
    } else {
        component.to_string()
    }
}

/// The partition's directory relative to a hierarchy root (`/machine/a` → `machine/a.partition`).
pub fn partition_dir(partition: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    for (i, c) in partition.split('/').filter(|c| !c.is_empty()).enumerate() {
        let fixed = i == 0 && matches!(c, "machine" | "system" | "user");
        let named = if fixed || c.contains('.') {
            c.to_string()
        } else {
            format!("{c}.partition")
        };
        dir.push(escape(&named));
    }
    dir
}

/// The machine-name prefix of a driver instance, or `None` when it places no guest in a
/// cgroup: only a privileged system instance does (a session daemon has no cgroups of its
/// own to give). `DRIVER` (`qemu`, `lxc`) for the system instance, `DRIVER-embed-HASH` under
/// a `--root`.
pub fn machine_prefix(paths: &crate::paths::Paths, driver: &str) -> Option<String> {
    if paths.mode != crate::paths::Mode::System || !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some(match &paths.root {
        None => driver.to_string(),
        Some(root) => format!(
            "{driver}-embed-{:08x}",
            fnv1a(root.as_os_str().as_encoded_bytes())
        ),
    })
}

/// FNV-1a, 32 bits: a stable short hash of a root directory for machine names.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// One guest's group: where it lives in every hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainCgroup {
    /// The partition as the definition names it (`/machine`).
    pub partition: String,
    /// The partition's directory relative to a hierarchy root.
    partition_dir: PathBuf,
    /// The group's directory name (`qemu-1-demo.libvirt-qemu`).
    group: String,
}

/// The group's directory name suffix of each driver: `.libvirt-qemu`, `.libvirt-lxc`.
fn suffix(prefix: &str) -> &str {
    prefix.split('-').next().unwrap_or(prefix)
}

impl DomainCgroup {
    /// The group of domain `name` running as `id`, for a daemon whose machine names start with
    /// `prefix` (see [`machine_prefix`]: it starts with the driver's name), in `partition`
    /// (`None`: the default).
    pub fn new(prefix: &str, id: u32, name: &str, partition: Option<&str>) -> DomainCgroup {
        let partition = partition.unwrap_or(DEFAULT_PARTITION).to_string();
        DomainCgroup {
            partition_dir: partition_dir(&partition),
            group: escape(&format!(
                "{}.libvirt-{}",
                machine_name(prefix, id, name),
                suffix(prefix)
            )),
            partition,
        }
    }

    /// The group's path relative to a hierarchy root (`machine/qemu-1-demo.libvirt-qemu`).
    pub fn relative(&self) -> PathBuf {
        self.partition_dir.join(&self.group)
    }

    /// Creates the group in every hierarchy (and `/machine` where missing) and moves `pid`
    /// into it.
    pub fn place(&self, h: &Hierarchies, pid: i32) -> Result<(), CgroupError> {
        for procs in self.create(h)? {
            std::fs::write(&procs, pid.to_string()).map_err(|source| CgroupError::Attach {
                path: procs,
                pid,
                source,
            })?;
        }
        Ok(())
    }

    /// Creates the group in every hierarchy (and `/machine` where missing); answers the
    /// `cgroup.procs` file of each, for a process to join.
    pub fn create(&self, h: &Hierarchies) -> Result<Vec<PathBuf>, CgroupError> {
        let v2 = matches!(h, Hierarchies::V2(_));
        let mut procs = Vec::new();
        for (root, cpuset) in h.roots() {
            let part = root.join(&self.partition_dir);
            if !part.is_dir() {
                if self.partition != DEFAULT_PARTITION {
                    return Err(CgroupError::MissingPartition {
                        partition: self.partition.clone(),
                        path: part,
                    });
                }
                make_dir(&part)?;
                if cpuset {
                    inherit_cpuset(&part)?;
                }
            }
            if v2 {
                enable_controllers(root);
                enable_controllers(&part);
            }
            let group = part.join(&self.group);
            if !group.is_dir() {
                make_dir(&group)?;
                if cpuset {
                    inherit_cpuset(&group)?;
                }
            }
            procs.push(group.join("cgroup.procs"));
        }
        Ok(procs)
    }

    /// Removes the group, and any sub-groups a driver made in it (QEMU's per-thread groups),
    /// from every hierarchy. `Ok(false)`: some hierarchy still counts a process in it (busy);
    /// try again shortly. A group that is gone already is fine.
    pub fn remove(&self, h: &Hierarchies) -> Result<bool, CgroupError> {
        let mut done = true;
        for (root, _) in h.roots() {
            let group = root.join(self.relative());
            if let Ok(d) = std::fs::read_dir(&group) {
                for e in d.flatten().filter(|e| e.path().is_dir()) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            match std::fs::remove_dir(&group) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => done = false,
                Err(source) => {
                    return Err(CgroupError::Remove {
                        path: group,
                        source,
                    })
                }
            }
        }
        Ok(done)
    }
}

/// Removes every group in the default partition whose machine name starts with `prefix`:
/// what a failed test left behind once its guests are killed.
pub fn sweep(prefix: &str) {
    let lead = format!("{prefix}-");
    for (root, _) in Hierarchies::detect().roots() {
        let Ok(dir) = std::fs::read_dir(root.join(partition_dir(DEFAULT_PARTITION))) else {
            continue;
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(&lead) && name.ends_with(&format!(".libvirt-{}", suffix(prefix))))
            {
                continue;
            }
            for _ in 0..40 {
                if std::fs::remove_dir(e.path()).is_ok() || !e.path().exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

fn make_dir(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Setup {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Gives a new v1 cpuset group its parent's CPUs and memory nodes where it has none (a
/// group without them takes no tasks).
fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !own.trim().is_empty() {
            continue;
        }
        let path = parent.join(file);
        let value =
            std::fs::read_to_string(&path).map_err(|source| CgroupError::Setup { path, source })?;
        let path = dir.join(file);
        std::fs::write(&path, value.trim())
            .map_err(|source| CgroupError::Setup { path, source })?;
    }
    Ok(())
}

/// Enables for `dir`'s children every controller `dir` has (v2), as far as the kernel lets
/// us: a controller another process holds back, or a root with processes, just stays off.
fn enable_controllers(dir: &Path) {
    let Ok(available) = std::fs::read_to_string(dir.join("cgroup.controllers")) else {
        return;
    };
    let control = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
    for c in available.split_whitespace() {
        if !enabled.split_whitespace().any(|e| e == c) {
            if let Err(e) = std::fs::write(&control, format!("+{c}")) {
                tracing::debug!(dir = %dir.display(), controller = c, error = %e, "cannot enable a cgroup controller");
            }
        }
    }
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
