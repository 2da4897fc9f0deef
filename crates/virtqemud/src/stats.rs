//! Bulk stats of one running guest (virConnectGetAllDomainStats), under libvirt's keys and
//! types (api.md section 4): cpu-total, balloon, vcpu, interface and block groups.
//!
//! What needs no monitor comes from the kernel: CPU time from the guest's own cgroup when it
//! has one (v2 `cpu.stat`, v1 `cpuacct`), else from `/proc/PID/stat`; per-vCPU time, wait and
//! delay from `/proc/PID/task/TID/{stat,sched,schedstat}`; tap counters from
//! `/sys/class/net/TAP/statistics`, swapped to the guest's point of view as libvirt does (what
//! the host transmits on a tap, the guest receives).
//!
//! What the driver already knows is not asked ([`Guest`]): as libvirt does, the balloon size
//! is the one the start and the BALLOON_CHANGE events recorded (QEMU throttles that event to
//! one a second, so a size may lag a change by up to a second, as libvirt's does), and a guest
//! whose definition has no disk reports `block.count` 0 without a block query. What is left
//! for the monitor (guest memory stats, block counters and sizes; the memory size and vCPU
//! slots once per connection) is asked in one round trip only for the groups requested: every
//! command is written at once, pipelined, and the kernel files are read while QEMU answers. A
//! diskless guest with a balloon costs one monitor command (`qom-get` of its guest stats);
//! without a balloon, none.
//!
//! With `nowait`, a guest whose monitor has a command in flight (a lifecycle job, a hung QEMU)
//! is not asked at all: its record holds what the kernel and the driver say and the other
//! monitor keys are absent, as libvirt answers when it cannot take the QUERY job with NOWAIT.
//! Without it the monitor is given [`MONITOR_WAIT`], the 30 s libvirt waits for a job.
//!
//! Keys that need the domain definition (`state.*`, the disk targets' names) are the caller's:
//! `gather` names a disk by its QEMU device id (`virtio-disk0`), and [`gather_disks`] takes the
//! targets and source paths for libvirt's `vda`-style names.
//!
//! [`MONITOR_WAIT`]: crate::stats::MONITOR_WAIT
//! [`gather_disks`]: crate::stats::gather_disks
//! [`Guest`]: crate::stats::Guest

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use virt_core::types::TypedValue;

use crate::qmp::Qmp;

pub use virt_core::kit::flags::stats::{BALLOON, BLOCK, CPU_TOTAL, INTERFACE, VCPU};
/// The groups [`gather`] fills.
pub const SUPPORTED: u32 = CPU_TOTAL | BALLOON | VCPU | INTERFACE | BLOCK;

/// How long a monitor query may take without `nowait` (libvirt's job wait).
pub const MONITOR_WAIT: Duration = Duration::from_secs(30);

/// The QOM path of the balloon device, under the id libvirt gives it (`balloon0`).
pub const BALLOON_QOM_PATH: &str = "/machine/peripheral/balloon0";

/// One disk as the definition names it, for [`gather_disks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDisk {
    /// The QEMU device id of the disk's frontend (`-device ...,id=ALIAS`).
    pub alias: String,
    /// The target name (`vda`), reported as `block.N.name`.
    pub target: String,
}

/// The balloon as the driver tracks it (start, BALLOON_CHANGE events, the status file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalloonState {
    /// Whether the guest has a balloon device (`<memballoon>` other than `none`).
    pub present: bool,
    /// The balloon's size in KiB, as last reported (ignored without a device: libvirt then
    /// reports the whole memory).
    pub current_kib: u64,
    /// The definition's memory size in KiB (libvirt's `balloon.maximum`).
    pub maximum_kib: u64,
}

/// One running guest as the driver knows it: what the stats need besides the monitor.
#[derive(Debug, Clone, Copy)]
pub struct Guest<'a> {
    /// QEMU's process id.
    pub pid: u32,
    /// The vCPU threads, in vCPU order.
    pub vcpu_tids: &'a [u32],
    /// Host tap devices in interface order; an empty name is an interface without a host
    /// device, counted in `net.count` only.
    pub taps: &'a [String],
    /// The definition's disks, to name frontends by target.
    pub disks: &'a [BlockDisk],
    /// The tracked balloon; `None`: ask the monitor (`query-balloon`,
    /// `query-memory-size-summary`).
    pub balloon: Option<BalloonState>,
    /// The definition's vCPU count (libvirt's `vcpu.maximum`); `None`: ask the monitor
    /// (`query-hotpluggable-cpus`, once per connection).
    pub vcpu_max: Option<u32>,
    /// The definition has no disk at all (no cdrom, no floppy): with `-nodefaults` QEMU has
    /// no block frontend, so `block.count` is 0 without asking.
    pub diskless: bool,
}

/// A list of stats keys and values, in libvirt's order.
pub type Stats = Vec<(String, TypedValue)>;

/// Stats of the groups in `groups` for the guest running as `pid`, with vCPU threads
/// `vcpu_tids` (in vCPU order) and host tap devices `taps` (in interface order; an empty name is
/// an interface without a host device, counted in `net.count` only). Everything the monitor
/// knows is asked of it.
pub async fn gather(
    qmp: Option<&Qmp>,
    pid: u32,
    vcpu_tids: &[u32],
    taps: &[String],
    groups: u32,
    nowait: bool,
) -> Vec<(String, TypedValue)> {
    gather_disks(qmp, pid, vcpu_tids, taps, &[], groups, nowait).await
}

/// [`gather`] with the definition's disks: a frontend whose device id is a disk's alias is
/// named by its target; the others keep their device id.
pub async fn gather_disks(
    qmp: Option<&Qmp>,
    pid: u32,
    vcpu_tids: &[u32],
    taps: &[String],
    disks: &[BlockDisk],
    groups: u32,
    nowait: bool,
) -> Vec<(String, TypedValue)> {
    let guest = Guest {
        pid,
        vcpu_tids,
        taps,
        disks,
        balloon: None,
        vcpu_max: None,
        diskless: false,
    };
    gather_guest(qmp, &guest, groups, nowait).await
}

/// The CPU time of the QEMU process `pid` in ns, from the same source as the `cpu.time` stat
/// (its own cgroup's accounting when it has one, else `/proc/PID/stat`), so that `dominfo`
/// and `domstats` agree.
pub fn cpu_time_ns(pid: u32) -> Option<u64> {
    Host::system().cpu_of(pid).map(|(time, _, _)| time)
}

/// Stats of the groups in `groups` for `guest`, asking the monitor only what the driver does
/// not track and the groups need.
pub async fn gather_guest(
    qmp: Option<&Qmp>,
    guest: &Guest<'_>,
    groups: u32,
    nowait: bool,
) -> Vec<(String, TypedValue)> {
    let groups = if groups == 0 { SUPPORTED } else { groups };
    let qmp = qmp.filter(|q| !(q.is_closed() || nowait && q.busy()));
    let needs = Needs::of(guest, groups);
    let host = Host::system();
    // The commands go out on the first poll of `ask`; the kernel is read while QEMU answers.
    let (mon, kernel) = match qmp {
        Some(q) if needs.any() => {
            tokio::join!(Monitor::ask(q, needs), async { host.kernel(guest, groups) })
        }
        _ => (Monitor::default(), host.kernel(guest, groups)),
    };
    let mut out = Vec::with_capacity(16 + 6 * guest.vcpu_tids.len() + 9 * guest.taps.len());
    if groups & CPU_TOTAL != 0 {
        if let Some((time, user, system)) = kernel.cpu {
            ull(&mut out, "cpu.time".into(), time);
            ull(&mut out, "cpu.user".into(), user);
            ull(&mut out, "cpu.system".into(), system);
        }
    }
    if groups & BALLOON != 0 {
        balloon(guest.balloon, &mon, kernel.rss_kib, &mut out);
    }
    if groups & VCPU != 0 {
        vcpus(&kernel.vcpus, guest.vcpu_max, &mon, &mut out);
    }
    if groups & INTERFACE != 0 {
        host.interfaces(guest.taps, &mut out);
    }
    if groups & BLOCK != 0 {
        if guest.diskless {
            out.push(("block.count".into(), TypedValue::UInt(0)));
        } else {
            block(&mon, guest.disks, &mut out);
        }
    }
    out
}

/// Queries whose answers hold for the guest's life (vCPU slots; the memory size, which
/// changes only with DIMM hotplug, which the driver does not offer): asked once per connection
/// with [`Qmp::execute_cached`].
///
/// What a command costs is QEMU's CPU time, not ours: QEMU 7.2's monitor reads its input one
/// byte per poll cycle (its `can_read` allows one byte), about 2.7 µs of QEMU CPU a byte on
/// this machine on top of some 100 µs a command. Measured per command (`stats_bench`):
/// `query-status` 155-180 µs, `query-balloon` 220 µs, `query-blockstats` 230 µs,
/// `query-named-block-nodes` with `flat` 335 µs, `qom-get` of the guest stats 425-445 µs
/// (106 bytes; a relative path saves bytes but QEMU's search of the tree costs as much).
/// Every command not sent is worth its length.
const STATIC: [&str; 2] = ["query-hotpluggable-cpus", "query-memory-size-summary"];

/// Which monitor queries a call needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Needs {
    balloon: bool,
    memory: bool,
    guest_stats: bool,
    cpu_slots: bool,
    block: bool,
}

impl Needs {
    fn of(guest: &Guest<'_>, groups: u32) -> Needs {
        let b = groups & BALLOON != 0;
        Needs {
            balloon: b && guest.balloon.is_none(),
            memory: b && guest.balloon.is_none(),
            guest_stats: b && guest.balloon.is_none_or(|s| s.present),
            cpu_slots: groups & VCPU != 0 && guest.vcpu_max.is_none(),
            block: groups & BLOCK != 0 && !guest.diskless,
        }
    }

    fn any(&self) -> bool {
        *self != Needs::default()
    }
}

/// The monitor's answers; `None` where not asked or refused.
#[derive(Default)]
struct Monitor {
    balloon: Option<Value>,
    memory: Option<Value>,
    guest_stats: Option<Value>,
    cpu_slots: Option<Value>,
    blockstats: Option<Value>,
    nodes: Option<Value>,
}

impl Monitor {
    async fn ask(qmp: &Qmp, needs: Needs) -> Monitor {
        let ask = |wanted: bool, cmd: &'static str, args: Option<Value>| async move {
            if !wanted {
                return None;
            }
            let answer = if STATIC.contains(&cmd) {
                // Facts fixed for the guest's life are asked once per connection.
                tokio::time::timeout(MONITOR_WAIT, qmp.execute_cached(cmd))
                    .await
                    .map_err(|_| crate::qmp::QmpError::Timeout)
                    .and_then(|r| r)
            } else {
                qmp.execute_timeout(cmd, args, MONITOR_WAIT).await
            };
            match answer {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::debug!(command = cmd, error = %e, "stats: monitor query failed");
                    None
                }
            }
        };
        let guest_stats = needs
            .guest_stats
            .then(|| json!({"path": BALLOON_QOM_PATH, "property": "guest-stats"}));
        let nodes = needs.block.then(|| json!({"flat": true}));
        // One round trip: join polls every future once before waiting, and each first poll
        // queues its command, so all are on the wire before the first answer is awaited.
        let (balloon, memory, guest_stats, cpu_slots, blockstats, nodes) = tokio::join!(
            ask(needs.balloon, "query-balloon", None),
            ask(needs.memory, "query-memory-size-summary", None),
            ask(needs.guest_stats, "qom-get", guest_stats),
            ask(needs.cpu_slots, "query-hotpluggable-cpus", None),
            ask(needs.block, "query-blockstats", None),
            ask(needs.block, "query-named-block-nodes", nodes),
        );
        Monitor {
            balloon,
            memory,
            guest_stats,
            cpu_slots,
            blockstats,
            nodes,
        }
    }
}

fn ull(out: &mut Stats, key: String, v: u64) {
    out.push((key, TypedValue::ULLong(v)));
}

/// Where the kernel's files are (a temp tree in tests).
struct Host {
    proc: PathBuf,
    sys: PathBuf,
}

/// The resident set of process `pid` in KiB, from `/proc/PID/stat` (libvirt's `rss` memory
/// statistic).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text).map(|(_, _, pages)| pages * page_kib())
}

/// utime and stime (ticks) and rss (pages) of a `/proc/.../stat` line.
fn parse_stat(text: &str) -> Option<(u64, u64, u64)> {
    // The command name is in parentheses and may hold spaces or ')': fields start after the
    // last ')'. Counting from field 3 (state): utime is field 14, stime 15, rss 24.
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
    let utime = num(f.nth(11))?;
    let stime = num(f.next())?;
    Some((utime, stime, num(f.nth(8)).unwrap_or(0)))
}

fn ticks_to_ns(ticks: u64) -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    let hz = *HZ.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(100)
    });
    ticks.saturating_mul(1_000_000_000 / hz)
}

fn page_kib() -> u64 {
    static KIB: OnceLock<u64> = OnceLock::new();
    *KIB.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .map_or(4, |b| b / 1024)
    })
}

/// Cgroup files (`/proc/PID/cgroup`, by path) whose content was found to name cgroups
/// shared with other processes: their CPU figures are not the guest's, and telling so means
/// listing every process of the cgroup (the machine's root cgroup: hundreds). A guest stays
/// where it is placed; when the file's content changes (the process moved, or the pid is
/// another process's) the check is made again.
fn shared_cgroups() -> &'static Mutex<HashMap<PathBuf, String>> {
    static SHARED: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    SHARED.get_or_init(Default::default)
}

/// What the kernel says of one guest, read in one pass.
#[derive(Default)]
struct Kernel {
    /// (time, user, system) in ns.
    cpu: Option<(u64, u64, u64)>,
    rss_kib: Option<u64>,
    /// Per vCPU: (time, wait, delay) in ns.
    vcpus: Vec<VcpuTimes>,
}

/// Reads small kernel files into one reused buffer.
struct Reader {
    buf: String,
    path: String,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            buf: String::with_capacity(4096),
            path: String::with_capacity(64),
        }
    }

    /// The content of the file at `self.path`, or `None` when it cannot be read.
    fn read(&mut self) -> Option<&str> {
        self.buf.clear();
        let mut f = std::fs::File::open(&self.path).ok()?;
        f.read_to_string(&mut self.buf).ok()?;
        Some(&self.buf)
    }
}

impl Host {
    /// This host's /proc and /sys.
    fn system() -> Host {
        Host {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
        }
    }

    /// (time, user, system) in ns of process `pid`: its own cgroup's accounting when it has
    /// one, else utime and stime of `/proc/PID/stat`.
    fn cpu_of(&self, pid: u32) -> Option<(u64, u64, u64)> {
        self.cgroup_cpu(pid).or_else(|| {
            let text = self.read(&self.proc.join(format!("{pid}/stat")))?;
            let (u, s, _) = parse_stat(&text)?;
            let (u, s) = (ticks_to_ns(u), ticks_to_ns(s));
            Some((u + s, u, s))
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    /// Every kernel figure `groups` needs: `/proc/PID/stat` once (CPU time and RSS), each vCPU
    /// thread's files once.
    fn kernel(&self, guest: &Guest<'_>, groups: u32) -> Kernel {
        let mut k = Kernel::default();
        let mut r = Reader::new();
        let pid = guest.pid;
        let want_cpu = groups & CPU_TOTAL != 0;
        let cgroup = if want_cpu { self.cgroup_cpu(pid) } else { None };
        if want_cpu && cgroup.is_some() {
            k.cpu = cgroup;
        }
        if (want_cpu && k.cpu.is_none()) || groups & BALLOON != 0 {
            r.path.clear();
            let _ = write!(r.path, "{}/{pid}/stat", self.proc.display());
            if let Some((u, s, pages)) = r.read().and_then(parse_stat) {
                if want_cpu && k.cpu.is_none() {
                    let (u, s) = (ticks_to_ns(u), ticks_to_ns(s));
                    k.cpu = Some((u + s, u, s));
                }
                k.rss_kib = Some(pages * page_kib());
            }
        }
        if groups & VCPU != 0 {
            // Without scheduler statistics (CONFIG_SCHEDSTATS off, or kernel.sched_schedstats
            // 0) the sched file has no wait sum: it is not read for nothing.
            r.path.clear();
            let _ = write!(
                r.path,
                "{}/sys/kernel/sched_schedstats",
                self.proc.display()
            );
            let schedstats = r.read().is_some_and(|s| s.trim() != "0");
            for tid in guest.vcpu_tids {
                let base = |r: &mut Reader, file: &str| {
                    r.path.clear();
                    let _ = write!(r.path, "{}/{pid}/task/{tid}/{file}", self.proc.display());
                };
                base(&mut r, "stat");
                let time = r
                    .read()
                    .and_then(parse_stat)
                    .map(|(u, s, _)| ticks_to_ns(u + s));
                let wait = if schedstats {
                    base(&mut r, "sched");
                    r.read().and_then(wait_sum)
                } else {
                    None
                };
                base(&mut r, "schedstat");
                let delay = r.read().and_then(|s| {
                    s.split_whitespace()
                        .nth(1)
                        .and_then(|d| d.parse::<u64>().ok())
                });
                k.vcpus.push((time, wait, delay));
            }
        }
        k
    }

    /// cpu.time/user/system: the guest's own cgroup when it has one, else /proc.
    #[cfg(test)]
    fn cpu_total(&self, pid: u32, out: &mut Stats) {
        let guest = Guest {
            pid,
            vcpu_tids: &[],
            taps: &[],
            disks: &[],
            balloon: None,
            vcpu_max: None,
            diskless: true,
        };
        if let Some((time, user, system)) = self.kernel(&guest, CPU_TOTAL).cpu {
            ull(out, "cpu.time".into(), time);
            ull(out, "cpu.user".into(), user);
            ull(out, "cpu.system".into(), system);
        }
    }

    /// (usage, user, system) in ns from the process's cgroup, if that cgroup holds this
    /// process alone: a shared one (the daemon's, the container's root) counts others too.
    fn cgroup_cpu(&self, pid: u32) -> Option<(u64, u64, u64)> {
        let file = self.proc.join(format!("{pid}/cgroup"));
        let cg = self.read(&file)?;
        {
            let shared = shared_cgroups().lock().unwrap_or_else(|e| e.into_inner());
            if shared.get(&file).is_some_and(|known| *known == cg) {
                return None;
            }
        }
        let found = self.cgroup_cpu_of(pid, &cg);
        if found.is_none() {
            let mut shared = shared_cgroups().lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: pids come and go over a daemon's life.
            if shared.len() >= 4096 {
                shared.clear();
            }
            shared.insert(file, cg);
        }
        found
    }

    fn cgroup_cpu_of(&self, pid: u32, cg: &str) -> Option<(u64, u64, u64)> {
        let root = self.sys.join("fs/cgroup");
        let own = |dir: &Path| {
            self.read(&dir.join("cgroup.procs"))
                .is_some_and(|p| p.split_whitespace().eq([pid.to_string().as_str()]))
        };
        for line in cg.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let rel = path.trim_start_matches('/');
            if ctrls.is_empty() {
                let dir = root.join(rel);
                if !own(&dir) {
                    continue;
                }
                let stat = self.read(&dir.join("cpu.stat"))?;
                let field = |k: &str| {
                    stat.lines().find_map(|l| {
                        let (name, v) = l.split_once(' ')?;
                        (name == k).then(|| v.trim().parse::<u64>().ok()).flatten()
                    })
                };
                return Some((
                    field("usage_usec")? * 1000,
                    field("user_usec").unwrap_or(0) * 1000,
                    field("system_usec").unwrap_or(0) * 1000,
                ));
            }
            if ctrls.split(',').any(|c| c == "cpuacct") {
                let dir = root.join(ctrls).join(rel);
                let dir = if dir.exists() {
                    dir
                } else {
                    root.join("cpuacct").join(rel)
                };
                if !own(&dir) {
                    continue;
                }
                let usage = self.read(&dir.join("cpuacct.usage"))?.trim().parse().ok()?;
                let stat = self.read(&dir.join("cpuacct.stat")).unwrap_or_default();
                let field = |k: &str| {
                    stat.lines()
                        .find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok())
                        .map_or(0, ticks_to_ns)
                };
                return Some((usage, field("user "), field("system ")));
            }
        }
        None
    }

    fn interfaces(&self, taps: &[String], out: &mut Stats) {
        let count = u32::try_from(taps.len()).unwrap_or(u32::MAX);
        out.push(("net.count".into(), TypedValue::UInt(count)));
        for (n, tap) in taps.iter().enumerate() {
            // A name that could climb out of /sys/class/net is not a device of ours.
            if tap.is_empty() || tap.contains('/') || tap.starts_with('.') {
                continue;
            }
            out.push((format!("net.{n}.name"), TypedValue::String(tap.clone())));
            let dir = self.sys.join("class/net").join(tap).join("statistics");
            let read = |f: &str| {
                self.read(&dir.join(f))
                    .and_then(|s| s.trim().parse::<u64>().ok())
            };
            // The guest receives what the host sends on the tap, and the other way round.
            let fields = [
                ("rx.bytes", "tx_bytes"),
                ("rx.pkts", "tx_packets"),
                ("rx.errs", "tx_errors"),
                ("rx.drop", "tx_dropped"),
                ("tx.bytes", "rx_bytes"),
                ("tx.pkts", "rx_packets"),
                ("tx.errs", "rx_errors"),
                ("tx.drop", "rx_dropped"),
            ];
            for (key, file) in fields {
                if let Some(v) = read(file) {
                    ull(out, format!("net.{n}.{key}"), v);
                }
            }
        }
    }
}

/// The balloon group: the size as tracked (or asked, when not tracked), the memory size, the
/// guest's own figures, the RSS from the kernel.
fn balloon(tracked: Option<BalloonState>, mon: &Monitor, rss_kib: Option<u64>, out: &mut Stats) {
    let maximum = match tracked {
        Some(b) => Some(b.maximum_kib),
        None => mon.memory.as_ref().and_then(|m| {
            let base = m.get("base-memory").and_then(Value::as_u64)?;
            let plugged = m.get("plugged-memory").and_then(Value::as_u64).unwrap_or(0);
            Some((base + plugged) / 1024)
        }),
    };
    // No balloon device: libvirt reports the whole memory as current.
    let current = match tracked {
        Some(b) if b.present => Some(b.current_kib),
        Some(_) => maximum,
        None => match &mon.balloon {
            Some(b) => b.get("actual").and_then(Value::as_u64).map(|b| b / 1024),
            None => maximum,
        },
    };
    if let Some(c) = current {
        ull(out, "balloon.current".into(), c);
    }
    if let Some(m) = maximum {
        ull(out, "balloon.maximum".into(), m);
    }
    let gs = mon.guest_stats.as_ref();
    let stat = |name: &str| {
        gs.and_then(|g| g.get("stats")?.get(name)?.as_u64())
            .filter(|v| *v != u64::MAX)
    };
    // libvirt's order: virDomainMemoryStatTags, skipping the balloon size itself.
    let guest: [(&str, &str, bool); 6] = [
        ("swap_in", "stat-swap-in", true),
        ("swap_out", "stat-swap-out", true),
        ("major_fault", "stat-major-faults", false),
        ("minor_fault", "stat-minor-faults", false),
        ("unused", "stat-free-memory", true),
        ("available", "stat-total-memory", true),
    ];
    for (key, name, bytes) in guest {
        if let Some(v) = stat(name) {
            ull(
                out,
                format!("balloon.{key}"),
                if bytes { v / 1024 } else { v },
            );
        }
    }
    if let Some(rss) = rss_kib {
        ull(out, "balloon.rss".into(), rss);
    }
    if let Some(v) = stat("stat-available-memory") {
        ull(out, "balloon.usable".into(), v / 1024);
    }
    let last = gs
        .and_then(|g| g.get("last-update")?.as_u64())
        .filter(|v| *v != 0);
    if let Some(v) = last {
        ull(out, "balloon.last-update".into(), v);
    }
    let tail: [(&str, &str, bool); 3] = [
        ("disk_caches", "stat-disk-caches", true),
        ("hugetlb_pgalloc", "stat-htlb-pgalloc", false),
        ("hugetlb_pgfail", "stat-htlb-pgfail", false),
    ];
    for (key, name, bytes) in tail {
        if let Some(v) = stat(name) {
            ull(
                out,
                format!("balloon.{key}"),
                if bytes { v / 1024 } else { v },
            );
        }
    }
}

/// One vCPU's (time, wait, delay) in ns.
type VcpuTimes = (Option<u64>, Option<u64>, Option<u64>);

/// The vcpu group from the kernel's per-thread figures and the (cached) slot count.
fn vcpus(times: &[VcpuTimes], max: Option<u32>, mon: &Monitor, out: &mut Stats) {
    let current = u32::try_from(times.len()).unwrap_or(u32::MAX);
    let asked = mon
        .cpu_slots
        .as_ref()
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("vcpus-count")?.as_u64())
                .sum::<u64>()
        })
        .and_then(|n| u32::try_from(n).ok());
    let maximum = max.or(asked).filter(|n| *n >= current).unwrap_or(current);
    out.push(("vcpu.current".into(), TypedValue::UInt(current)));
    out.push(("vcpu.maximum".into(), TypedValue::UInt(maximum)));
    for (n, (time, wait, delay)) in times.iter().enumerate() {
        out.push((format!("vcpu.{n}.state"), TypedValue::Int(1)));
        if let Some(t) = time {
            ull(out, format!("vcpu.{n}.time"), *t);
        }
        if let Some(w) = wait {
            ull(out, format!("vcpu.{n}.wait"), *w);
        }
        if let Some(d) = delay {
            ull(out, format!("vcpu.{n}.delay"), *d);
        }
    }
}

/// The scheduler's wait sum in ns, from `/proc/.../sched` ("se.statistics.wait_sum : 1.5",
/// milliseconds with a fraction).
fn wait_sum(sched: &str) -> Option<u64> {
    sched.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let k = k.trim();
        if k != "se.statistics.wait_sum" && k != "wait_sum" {
            return None;
        }
        let ms: f64 = v.trim().parse().ok()?;
        (ms.is_finite() && ms >= 0.0).then_some((ms * 1_000_000.0) as u64)
    })
}

/// The device id in a frontend's QOM path: `/machine/peripheral/ID[/...]`.
fn device_id(qdev: &str) -> Option<&str> {
    qdev.strip_prefix("/machine/peripheral/")?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

fn block(mon: &Monitor, disks: &[BlockDisk], out: &mut Stats) {
    let Some(entries) = mon.blockstats.as_ref().and_then(Value::as_array) else {
        return;
    };
    let nodes: Vec<&Value> = mon
        .nodes
        .as_ref()
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let node = |name: &str| {
        nodes
            .iter()
            .copied()
            .find(|n| n.get("node-name").and_then(Value::as_str) == Some(name))
    };
    let frontends: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            !s("qdev").is_empty() || !s("device").is_empty()
        })
        .collect();
    let count = u32::try_from(frontends.len()).unwrap_or(u32::MAX);
    out.push(("block.count".into(), TypedValue::UInt(count)));
    for (n, e) in frontends.into_iter().enumerate() {
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let qdev = s(e, "qdev").unwrap_or_default();
        let id = device_id(&qdev)
            .map(str::to_string)
            .or_else(|| s(e, "device").filter(|d| !d.is_empty()))
            .or_else(|| s(e, "node-name"))
            .unwrap_or_else(|| qdev.clone());
        let name = disks
            .iter()
            .find(|d| d.alias == id)
            .map_or(id, |d| d.target.clone());
        out.push((format!("block.{n}.name"), TypedValue::String(name)));
        let format = e.get("node-name").and_then(Value::as_str).and_then(node);
        let storage_name = e.pointer("/parent/node-name").and_then(Value::as_str);
        let storage = storage_name.and_then(node);
        let path = format
            .and_then(|f| f.pointer("/image/filename").and_then(Value::as_str))
            .or_else(|| format.and_then(|f| f.get("file").and_then(Value::as_str)));
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            out.push((format!("block.{n}.path"), TypedValue::String(p.to_string())));
        }
        let stat = |k: &str| {
            e.get("stats")
                .and_then(|s| s.get(k))
                .and_then(Value::as_u64)
        };
        let keys = [
            ("rd.reqs", "rd_operations"),
            ("rd.bytes", "rd_bytes"),
            ("rd.times", "rd_total_time_ns"),
            ("wr.reqs", "wr_operations"),
            ("wr.bytes", "wr_bytes"),
            ("wr.times", "wr_total_time_ns"),
            ("fl.reqs", "flush_operations"),
            ("fl.times", "flush_total_time_ns"),
        ];
        for (key, field) in keys {
            if let Some(v) = stat(field) {
                ull(out, format!("block.{n}.{key}"), v);
            }
        }
        let allocation = e
            .pointer("/parent/stats/wr_highest_offset")
            .and_then(Value::as_u64);
        if let Some(a) = allocation {
            ull(out, format!("block.{n}.allocation"), a);
        }
        let capacity = format.and_then(|f| f.pointer("/image/virtual-size")?.as_u64());
        if let Some(c) = capacity {
            ull(out, format!("block.{n}.capacity"), c);
        }
        let physical = storage
            .and_then(|s| s.pointer("/image/actual-size")?.as_u64())
            .or_else(|| format.and_then(|f| f.pointer("/image/actual-size")?.as_u64()))
            .or(capacity);
        if let Some(p) = physical {
            ull(out, format!("block.{n}.physical"), p);
        }
        let threshold = storage
            .or(format)
            .and_then(|s| s.get("write_threshold")?.as_u64())
            .filter(|t| *t > 0);
        if let Some(t) = threshold {
            ull(out, format!("block.{n}.threshold"), t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qmp::test_qemu::TestQemu;

    fn get<'a>(s: &'a Stats, key: &str) -> Option<&'a TypedValue> {
        s.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn ullong(s: &Stats, key: &str) -> u64 {
        match get(s, key) {
            Some(TypedValue::ULLong(v)) => *v,
            other => panic!("{key}: expected a ullong, got {other:?} in {s:?}"),
        }
    }

    #[test]
    fn proc_stat_fields_survive_odd_command_names() {
        let line = "1234 (qemu (a) b) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 \
                    100 1000000 512 18446744073709551615";
        assert_eq!(parse_stat(line), Some((250, 75, 512)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn sched_wait_sum_is_milliseconds() {
        let sched = "qemu (1, #threads: 3)\n---------\nse.exec_start : 1.0\nse.statistics.wait_sum                       :             2.500000\n";
        assert_eq!(wait_sum(sched), Some(2_500_000));
        assert_eq!(wait_sum("nothing"), None);
    }

    #[test]
    fn tap_counters_are_swapped_to_the_guests_view() {
        let dir = tempfile::tempdir().expect("dir");
        let stats = dir.path().join("class/net/vnet7/statistics");
        std::fs::create_dir_all(&stats).expect("mkdir");
        for (f, v) in [
            ("rx_bytes", 1000),
            ("rx_packets", 10),
            ("rx_errors", 1),
            ("rx_dropped", 2),
            ("tx_bytes", 5000),
            ("tx_packets", 50),
            ("tx_errors", 3),
            ("tx_dropped", 4),
        ] {
            std::fs::write(stats.join(f), format!("{v}\n")).expect("write");
        }
        let host = Host {
            proc: dir.path().join("proc"),
            sys: dir.path().to_path_buf(),
        };
        let mut out = Vec::new();
        host.interfaces(&["vnet7".into(), String::new(), "../x".into()], &mut out);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "net.count",
                "net.0.name",
                "net.0.rx.bytes",
                "net.0.rx.pkts",
                "net.0.rx.errs",
                "net.0.rx.drop",
                "net.0.tx.bytes",
                "net.0.tx.pkts",
                "net.0.tx.errs",
                "net.0.tx.drop"
            ]
        );
        assert_eq!(get(&out, "net.count"), Some(&TypedValue::UInt(3)));
        assert_eq!(ullong(&out, "net.0.rx.bytes"), 5000);
        assert_eq!(ullong(&out, "net.0.rx.pkts"), 50);
        assert_eq!(ullong(&out, "net.0.tx.bytes"), 1000);
        assert_eq!(ullong(&out, "net.0.tx.drop"), 2);
    }

    #[test]
    fn own_cgroup_v2_is_used_and_a_shared_one_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let proc = dir.path().join("proc");
        std::fs::create_dir_all(proc.join("42")).expect("proc");
        std::fs::write(proc.join("42/cgroup"), "0::/machine/vm1\n").expect("cgroup");
        let stat = "42 (qemu) S 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 9";
        std::fs::write(proc.join("42/stat"), stat).expect("stat");
        let cg = dir.path().join("fs/cgroup/machine/vm1");
        std::fs::create_dir_all(&cg).expect("cg");
        std::fs::write(
            cg.join("cpu.stat"),
            "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n",
        )
        .expect("cpu.stat");
        std::fs::write(cg.join("cgroup.procs"), "42\n").expect("procs");
        let host = Host {
            proc,
            sys: dir.path().to_path_buf(),
        };
        let mut out = Vec::new();
        host.cpu_total(42, &mut out);
        assert_eq!(ullong(&out, "cpu.time"), 5_000_000);
        assert_eq!(ullong(&out, "cpu.user"), 3_000_000);
        assert_eq!(ullong(&out, "cpu.system"), 2_000_000);
        // Another process in the cgroup: its numbers are not this guest's; /proc is.
        std::fs::write(cg.join("cgroup.procs"), "42\n43\n").expect("procs");
        let mut out = Vec::new();
        host.cpu_total(42, &mut out);
        assert_eq!(ullong(&out, "cpu.time"), ticks_to_ns(10));
        assert_eq!(ullong(&out, "cpu.user"), ticks_to_ns(7));
        // The verdict is kept while /proc/42/cgroup says the same (the shared cgroup is not
        // listed again)...
        std::fs::write(cg.join("cgroup.procs"), "garbage").expect("procs");
        let mut out = Vec::new();
        host.cpu_total(42, &mut out);
        assert_eq!(ullong(&out, "cpu.time"), ticks_to_ns(10));
        // ...and dropped once the process is elsewhere: its own new cgroup is used.
        std::fs::write(host.proc.join("42/cgroup"), "0::/machine/vm2\n").expect("cgroup");
        let cg2 = dir.path().join("fs/cgroup/machine/vm2");
        std::fs::create_dir_all(&cg2).expect("cg2");
        std::fs::write(cg2.join("cpu.stat"), "usage_usec 9000\n").expect("cpu.stat");
        std::fs::write(cg2.join("cgroup.procs"), "42\n").expect("procs");
        let mut out = Vec::new();
        host.cpu_total(42, &mut out);
        assert_eq!(ullong(&out, "cpu.time"), 9_000_000);
    }

    #[test]
    fn block_entries_map_to_libvirt_keys_and_names() {
        let mon = Monitor {
            blockstats: Some(json!([
                {"device": "", "qdev": "/machine/peripheral/virtio-disk0/virtio-backend",
                 "node-name": "libvirt-1-format",
                 "stats": {"rd_operations": 3, "rd_bytes": 4096, "rd_total_time_ns": 10,
                           "wr_operations": 1, "wr_bytes": 512, "wr_total_time_ns": 20,
                           "flush_operations": 2, "flush_total_time_ns": 30},
                 "parent": {"node-name": "libvirt-1-storage", "stats": {"wr_highest_offset": 65536}}},
                {"device": "", "qdev": "/machine/peripheral/sata0-0-1/ide-cd", "stats": {"rd_operations": 0}},
                {"device": "", "stats": {}}
            ])),
            nodes: Some(json!([
                {"node-name": "libvirt-1-format", "drv": "qcow2", "file": "/img/a.qcow2",
                 "image": {"filename": "/img/a.qcow2", "virtual-size": 1048576, "actual-size": 200704},
                 "write_threshold": 0},
                {"node-name": "libvirt-1-storage", "drv": "file", "file": "/img/a.qcow2",
                 "image": {"filename": "/img/a.qcow2", "virtual-size": 262144, "actual-size": 200704},
                 "write_threshold": 131072}
            ])),
            ..Monitor::default()
        };
        let disks = [BlockDisk {
            alias: "virtio-disk0".into(),
            target: "vda".into(),
        }];
        let mut out = Vec::new();
        block(&mon, &disks, &mut out);
        assert_eq!(get(&out, "block.count"), Some(&TypedValue::UInt(2)));
        assert_eq!(
            get(&out, "block.0.name"),
            Some(&TypedValue::String("vda".into()))
        );
        assert_eq!(
            get(&out, "block.0.path"),
            Some(&TypedValue::String("/img/a.qcow2".into()))
        );
        assert_eq!(ullong(&out, "block.0.rd.reqs"), 3);
        assert_eq!(ullong(&out, "block.0.rd.bytes"), 4096);
        assert_eq!(ullong(&out, "block.0.fl.times"), 30);
        assert_eq!(ullong(&out, "block.0.allocation"), 65536);
        assert_eq!(ullong(&out, "block.0.capacity"), 1_048_576);
        assert_eq!(ullong(&out, "block.0.physical"), 200_704);
        assert_eq!(ullong(&out, "block.0.threshold"), 131_072);
        // The empty cdrom keeps its device id and has no path.
        assert_eq!(
            get(&out, "block.1.name"),
            Some(&TypedValue::String("sata0-0-1".into()))
        );
        assert_eq!(get(&out, "block.1.path"), None);
    }

    fn tcg_guest_with_balloon_and_disk() -> TestQemu {
        let dir = tempfile::tempdir().expect("dir");
        let img = dir.path().join("disk.qcow2");
        let st = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&img)
            .arg("16M")
            .status()
            .expect("qemu-img");
        assert!(st.success(), "qemu-img create");
        let storage = format!(
            "driver=file,filename={},node-name=libvirt-1-storage",
            img.display()
        );
        TestQemu::spawn_in(
            dir,
            &[
                "-machine",
                "pc",
                "-accel",
                "tcg",
                "-m",
                "64",
                "-smp",
                "2,maxcpus=4",
                "-device",
                "virtio-balloon-pci,id=balloon0",
                "-blockdev",
                &storage,
                "-blockdev",
                "driver=qcow2,file=libvirt-1-storage,node-name=libvirt-1-format",
                "-device",
                "virtio-blk-pci,drive=libvirt-1-format,id=virtio-disk0",
            ],
        )
    }

    async fn vcpu_tids(qmp: &Qmp) -> Vec<u32> {
        let cpus = qmp.execute("query-cpus-fast", None).await.expect("cpus");
        cpus.as_array()
            .expect("array")
            .iter()
            .map(|c| c["thread-id"].as_u64().expect("tid") as u32)
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn real_guest_stats_are_present_and_cpu_time_grows() {
        let q = tcg_guest_with_balloon_and_disk();
        let (qmp, _ev) = Qmp::connect(&q.sock, Duration::from_secs(10))
            .await
            .expect("connect");
        let tids = vcpu_tids(&qmp).await;
        assert_eq!(tids.len(), 2);
        let taps = vec!["lo".to_string()];
        let first = gather(Some(&qmp), q.pid(), &tids, &taps, 0, false).await;
        assert_eq!(
            get(&first, "balloon.current"),
            Some(&TypedValue::ULLong(65536))
        );
        assert_eq!(
            get(&first, "balloon.maximum"),
            Some(&TypedValue::ULLong(65536))
        );
        assert!(ullong(&first, "balloon.rss") > 0);
        assert_eq!(get(&first, "vcpu.current"), Some(&TypedValue::UInt(2)));
        assert_eq!(get(&first, "vcpu.maximum"), Some(&TypedValue::UInt(4)));
        assert_eq!(get(&first, "vcpu.1.state"), Some(&TypedValue::Int(1)));
        ullong(&first, "vcpu.1.time");
        assert_eq!(get(&first, "net.count"), Some(&TypedValue::UInt(1)));
        ullong(&first, "net.0.rx.bytes");
        assert_eq!(get(&first, "block.count"), Some(&TypedValue::UInt(1)));
        assert_eq!(
            get(&first, "block.0.name"),
            Some(&TypedValue::String("virtio-disk0".into()))
        );
        let path = q.path().join("disk.qcow2").display().to_string();
        assert_eq!(get(&first, "block.0.path"), Some(&TypedValue::String(path)));
        assert_eq!(ullong(&first, "block.0.capacity"), 16 << 20);
        assert!(ullong(&first, "block.0.physical") > 0);
        // The guest runs (cpu.time grows) and its BIOS reads the disk looking for a boot
        // sector (the block counters grow); TCG on a loaded machine may take seconds.
        let t0 = ullong(&first, "cpu.time");
        let (mut cpu_grew, mut disk_read) = (false, false);
        let mut last = Vec::new();
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            last = gather(Some(&qmp), q.pid(), &tids, &taps, CPU_TOTAL | BLOCK, false).await;
            cpu_grew |= ullong(&last, "cpu.time") > t0;
            disk_read |=
                ullong(&last, "block.0.rd.reqs") > 0 && ullong(&last, "block.0.rd.bytes") > 0;
            if cpu_grew && disk_read {
                break;
            }
        }
        assert!(cpu_grew, "cpu.time did not grow past {t0}: {last:?}");
        assert!(disk_read, "no disk reads counted: {last:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn nowait_skips_a_busy_monitor_and_keeps_kernel_stats() {
        let q = tcg_guest_with_balloon_and_disk();
        let (qmp, _ev) = Qmp::connect(&q.sock, Duration::from_secs(10))
            .await
            .expect("connect");
        let tids = vcpu_tids(&qmp).await;
        // A hung QEMU: stopped by SIGSTOP, a command sent to it stays in flight.
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(q.pid() as i32);
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
        let busy = qmp.clone();
        let hung = tokio::spawn(async move { busy.execute("query-status", None).await });
        while !qmp.busy() {
            tokio::task::yield_now().await;
        }
        let start = std::time::Instant::now();
        let s = gather(Some(&qmp), q.pid(), &tids, &[], 0, true).await;
        let took = start.elapsed();
        kill(pid, Signal::SIGCONT).expect("SIGCONT");
        // A stopped QEMU never answers: waiting at all would hang here.
        assert!(took < Duration::from_secs(5), "nowait waited {took:?}");
        // Kernel keys are there; monitor keys (block, balloon size, vCPU slots) are not.
        ullong(&s, "cpu.time");
        ullong(&s, "vcpu.0.time");
        ullong(&s, "balloon.rss");
        assert_eq!(get(&s, "vcpu.maximum"), Some(&TypedValue::UInt(2)), "{s:?}");
        assert!(get(&s, "block.count").is_none(), "{s:?}");
        assert!(get(&s, "balloon.current").is_none(), "{s:?}");
        // The held command completes once QEMU runs again.
        hung.await
            .expect("task")
            .expect("query-status after SIGCONT");
        let s = gather(Some(&qmp), q.pid(), &tids, &[], BLOCK, true).await;
        assert_eq!(get(&s, "block.count"), Some(&TypedValue::UInt(1)), "{s:?}");
        // Without a monitor at all the same holds.
        let s = gather(None, q.pid(), &tids, &[], BLOCK | CPU_TOTAL, false).await;
        assert_eq!(s.len(), 3, "{s:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn tracked_facts_are_not_asked_of_the_monitor() {
        let q = TestQemu::spawn(&[
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-m",
            "64",
            "-smp",
            "1,maxcpus=2",
        ]);
        let (qmp, _ev) = Qmp::connect(&q.sock, Duration::from_secs(10))
            .await
            .expect("connect");
        let tids = vcpu_tids(&qmp).await;
        // The definition's figures, which QEMU (64 MiB, 2 slots) would not give: they are
        // the driver's, not asked.
        let guest = Guest {
            pid: q.pid(),
            vcpu_tids: &tids,
            taps: &[],
            disks: &[],
            balloon: Some(BalloonState {
                present: false,
                current_kib: 1,
                maximum_kib: 131_072,
            }),
            vcpu_max: Some(3),
            diskless: true,
        };
        // A stopped QEMU answers nothing: every group still comes back, so none asked it.
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(q.pid() as i32);
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
        let all = tokio::time::timeout(
            Duration::from_secs(10),
            gather_guest(Some(&qmp), &guest, 0, false),
        )
        .await;
        // A balloon's guest figures do need the monitor: that call waits for QEMU.
        let with_balloon = Guest {
            balloon: Some(BalloonState {
                present: true,
                current_kib: 4096,
                maximum_kib: 131_072,
            }),
            ..guest
        };
        let waits = tokio::time::timeout(
            Duration::from_millis(300),
            gather_guest(Some(&qmp), &with_balloon, BALLOON, false),
        )
        .await;
        kill(pid, Signal::SIGCONT).expect("SIGCONT");
        let all = all.expect("a diskless guest without a balloon needs no monitor");
        assert!(waits.is_err(), "qom-get of the guest stats was not sent");
        // No balloon device: the whole memory is current, as libvirt reports it.
        assert_eq!(ullong(&all, "balloon.current"), 131_072, "{all:?}");
        assert_eq!(ullong(&all, "balloon.maximum"), 131_072);
        assert_eq!(get(&all, "vcpu.current"), Some(&TypedValue::UInt(1)));
        assert_eq!(get(&all, "vcpu.maximum"), Some(&TypedValue::UInt(3)));
        assert_eq!(get(&all, "block.count"), Some(&TypedValue::UInt(0)));
        ullong(&all, "cpu.time");
        ullong(&all, "vcpu.0.time");
        ullong(&all, "balloon.rss");
        // With a balloon, the size is the tracked one (QEMU has no balloon to ask here).
        let s = gather_guest(Some(&qmp), &with_balloon, BALLOON, false).await;
        assert_eq!(ullong(&s, "balloon.current"), 4096, "{s:?}");
        assert_eq!(ullong(&s, "balloon.maximum"), 131_072);
    }
}
