//! QEMU driver benchmark: our `virtqemud` against libvirt 9.0's QEMU driver (`libvirtd`,
//! `qemu:///system`), side by side in one run, with raw QEMU for scale.
//!
//! Both sides get the same domain XML and the same QEMU binary (`/usr/bin/qemu-system-x86_64`,
//! named in `<emulator>`), domain type `qemu` (TCG), and run the same sequence, written once
//! against the [`Backend`] trait (`measure::run`):
//!
//! 1. a diskless 64 MiB, 1-vCPU guest started and destroyed `Plan::cycles` times: start →
//!    running (the API's return; both return once QEMU runs the guest) and destroy;
//! 2. `Plan::few` such guests running: bulk stats of all groups (GetAllDomainStats /
//!    virConnectGetAllDomainStats with stats = 0, flags = 0), median of `Plan::repeats`, and
//!    the daemon's RSS (VmRSS in /proc); then `Plan::many` guests, the same again;
//! 3. the real test guest (`virt_tests::guest`: kernel + busybox initramfs printing
//!    `VIRT-TEST-GUEST-READY` on ttyS0): start's return, the marker read through the console
//!    stream (time since start was called), ACPI shutdown until the state reads shut off
//!    (polled every 10 ms), and destroy of a booted guest;
//! 4. the guest virt-install writes for a current Linux with UEFI and a TPM
//!    (`virt_tests::virt_install`: q35, 14 root ports, OVMF, swtpm, SPICE + QXL, USB
//!    redirection, the agent channel, ICH9 sound), booting the test kernel with the agent
//!    initramfs: start's return and the marker, `Plan::vi_boots` times; then
//!    `Plan::vi_many` of them running and the daemon's RSS.
//!
//! Raw QEMU (`raw`): exec until QMP answers `query-status` with `running`, and SIGTERM until
//! the process has exited: what no driver can beat.
//!
//! Ours is the real `virtqemud` binary (the release build under `cargo bench`) under a
//! temporary `--root` in the system temp dir (the same disk as libvirt's /run/libvirt on this
//! machine; `QBENCH_ROOT_DIR` picks another place, e.g. /dev/shm), driven through
//! `virt_client::Connection` directly on its socket (`qemu+unix:///system?socket=...`, no
//! proxy). libvirt's side needs `--features libvirt` and runs
//! `/work/shared/tools/libvirt-anchor.sh` first, which installs and starts libvirtd when
//! missing; when libvirtd cannot be reached the table shows ours only and says why.
//!
//! `cargo bench -p virt-tests --bench qemu --features libvirt` runs the full plan (ours first;
//! `QBENCH_LIBVIRT_FIRST=1` swaps the order). Without
//! `--bench` (`cargo test -p virt-tests --bench qemu`) a tiny plan checks every step: it fails
//! when our side fails, skips libvirt's when its daemon is not there, and prints no verdicts.
//! Every domain named `qbench-*` is destroyed and undefined on both sides before and after.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[cfg(feature = "libvirt")]
#[path = "qemu/libvirt.rs"]
mod libvirt;
#[path = "qemu/measure.rs"]
mod measure;
#[path = "qemu/ours.rs"]
mod ours;
#[path = "qemu/raw.rs"]
mod raw;
#[path = "qemu/report.rs"]
mod report;

/// The one QEMU binary both sides run.
pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// Prefix of every domain this benchmark creates; left-overs of an aborted run are removed.
pub const PREFIX: &str = "qbench-";

/// How much work each figure takes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Whether this is the full plan, whose figures the targets are judged on.
    pub full: bool,
    /// Start + destroy cycles of one diskless guest.
    pub cycles: usize,
    /// Guests running for the first stats and RSS figures.
    pub few: usize,
    /// Guests running for the second ones.
    pub many: usize,
    /// Timed runs of each bulk stats call (after one untimed run).
    pub repeats: usize,
    /// Boots of the real test guest (each: start, marker, ACPI shutdown, start, destroy).
    pub boots: usize,
    /// Whether the real guest's destroy waits for the marker of its second boot (a booted
    /// guest); the smoke plan destroys it as soon as start returns.
    pub destroy_booted: bool,
    /// Runs of raw QEMU.
    pub raw_runs: usize,
    /// Boots of the virt-install guest.
    pub vi_boots: usize,
    /// virt-install guests running for the RSS figure.
    pub vi_many: usize,
}

impl Plan {
    /// The plan the figures in BENCHMARKS.md come from.
    pub fn full() -> Plan {
        Plan {
            full: true,
            cycles: 11,
            few: 10,
            many: 50,
            repeats: 21,
            boots: 5,
            destroy_booted: true,
            raw_runs: 11,
            vi_boots: 5,
            vi_many: 10,
        }
    }

    /// A quick pass over every step, for `cargo test --benches`.
    pub fn smoke() -> Plan {
        Plan {
            full: false,
            cycles: 2,
            few: 2,
            many: 3,
            repeats: 3,
            boots: 1,
            destroy_booted: false,
            raw_runs: 2,
            vi_boots: 1,
            vi_many: 2,
        }
    }
}

/// What one bulk stats figure measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct BulkStats {
    /// Guests running.
    pub guests: usize,
    /// Median time of the call.
    pub median: Duration,
    /// Records the last call returned.
    pub records: usize,
    /// Typed parameters the last call returned, over all records.
    pub params: usize,
}

/// The real guest's figures (medians over `Plan::boots`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestFigures {
    /// Start call until it returned.
    pub start: Duration,
    /// Start call until the ready marker came through the console stream.
    pub marker: Duration,
    /// Shutdown call until the state read shut off.
    pub shutdown: Duration,
    /// Destroy call until it returned.
    pub destroy: Duration,
}

/// The virt-install guest's figures (medians over `Plan::vi_boots`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ViFigures {
    /// Start call until it returned.
    pub start: Duration,
    /// Start call until the ready marker came through the console stream.
    pub marker: Duration,
    /// Daemon VmRSS in KiB with `Plan::vi_many` of them running.
    pub rss_many: Option<u64>,
}

/// Everything measured against one driver.
#[derive(Clone, Debug)]
pub struct Results {
    /// Daemon VmRSS in KiB before the first guest starts.
    pub rss_idle: Option<u64>,
    /// Median start (API return) of the diskless guest.
    pub start: Duration,
    /// Median destroy of the diskless guest.
    pub destroy: Duration,
    /// With `Plan::few` guests running.
    pub stats_few: BulkStats,
    /// Daemon VmRSS in KiB with `Plan::few` guests running.
    pub rss_few: Option<u64>,
    /// With `Plan::many` guests running, or why that step failed.
    pub stats_many: Result<BulkStats, String>,
    /// Daemon VmRSS in KiB with `Plan::many` guests running.
    pub rss_many: Option<u64>,
    /// The real guest, or why it was not measured.
    pub guest: Result<GuestFigures, String>,
    /// The virt-install guest, or why it was not measured.
    pub vi: Result<ViFigures, String>,
}

/// Raw QEMU for scale.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawFigures {
    /// exec until QMP answered query-status with `running` (median).
    pub start: Duration,
    /// SIGTERM until the process exited (median).
    pub exit: Duration,
}

/// A driver under test, driven one blocking call at a time. Errors are strings naming the
/// call and the domain: the bench reports them, it does not recover from them.
pub trait Backend {
    /// Defines a persistent domain.
    fn define(&mut self, xml: &str) -> Result<(), String>;
    /// Starts a defined domain; returns when the API returns.
    fn start(&mut self, name: &str) -> Result<(), String>;
    /// Destroys a running domain.
    fn destroy(&mut self, name: &str) -> Result<(), String>;
    /// Asks the guest to power off (ACPI).
    fn shutdown(&mut self, name: &str) -> Result<(), String>;
    /// Whether the domain's state is shut off.
    fn is_shutoff(&mut self, name: &str) -> Result<bool, String>;
    /// Bulk stats of all groups of all domains: (records, typed parameters).
    fn all_stats(&mut self) -> Result<(usize, usize), String>;
    /// The daemon's process ID, for its RSS.
    fn daemon_pid(&self) -> Option<i32>;
    /// Opens the domain's console and reports, on the channel, when `marker` came through it.
    fn watch_console(&mut self, name: &str, marker: &'static str) -> Watch;
    /// Destroys and undefines every domain named with [`PREFIX`].
    fn remove_bench_domains(&mut self) -> Result<usize, String>;
}

/// Where a console watcher reports the marker's arrival (or why it cannot).
pub type Watch = mpsc::Receiver<Result<Instant, String>>;

/// A diskless guest: sits in SeaBIOS, which finds nothing to boot. No USB controller (libvirt
/// would add one to a `pc` machine, ours would not); the balloon is named so that both sides
/// have one.
pub fn diskless_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>64</memory>\n  \
         <currentMemory unit='MiB'>64</currentMemory>\n  <vcpu>1</vcpu>\n  \
         <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  \
         <devices>\n    <emulator>{QEMU}</emulator>\n    \
         <controller type='usb' model='none'/>\n    <memballoon model='virtio'/>\n  \
         </devices>\n</domain>\n"
    )
}

/// The real test guest: kernel, initramfs and command line, ACPI for the power button, the
/// serial port as the console.
pub fn guest_xml(name: &str, kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>128</memory>\n  \
         <currentMemory unit='MiB'>128</currentMemory>\n  <vcpu>1</vcpu>\n  \
         <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    \
         <kernel>{}</kernel>\n    <initrd>{}</initrd>\n    <cmdline>{}</cmdline>\n  </os>\n  \
         <features>\n    <acpi/>\n  </features>\n  \
         <devices>\n    <emulator>{QEMU}</emulator>\n    \
         <controller type='usb' model='none'/>\n    \
         <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    \
         <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n    \
         <memballoon model='virtio'/>\n  </devices>\n</domain>\n",
        kernel.display(),
        initrd.display(),
        virt_tests::guest::GUEST_CMDLINE
    )
}

/// The median of a sample (upper median for even counts).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Whether console output `seen` holds `marker`.
pub fn contains(seen: &[u8], marker: &str) -> bool {
    seen.windows(marker.len()).any(|w| w == marker.as_bytes())
}

/// VmRSS of `pid` in KiB, when the process exists and is not a zombie.
pub fn rss_kib(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit(')').next()?.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Where our daemon's temporary roots go.
pub fn root_parent() -> PathBuf {
    std::env::var_os("QBENCH_ROOT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// libvirt's side, or why it is missing.
fn libvirt_side(plan: &Plan) -> Result<Results, String> {
    #[cfg(feature = "libvirt")]
    {
        libvirt::run(plan)
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = plan;
        Err("built without `--features libvirt`".into())
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { Plan::full() } else { Plan::smoke() };
    if !Path::new(QEMU).is_file() {
        assert!(!full, "{QEMU} is missing: install qemu-system-x86");
        eprintln!("skipped: {QEMU} is missing (install qemu-system-x86)");
        return;
    }
    // Before anything is timed: a build is load of its own.
    ours::ensure_binary().unwrap_or_else(|e| panic!("{e}"));
    // Daemons, guests and client share the machine's cores: other work skews every figure.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    if load.parse::<f64>().is_ok_and(|l| l > 0.5) {
        eprintln!("warning: load average {load} before the run; the figures will be noisy");
    }
    if cfg!(debug_assertions) && full {
        eprintln!("warning: benchmarking a debug build; use `cargo bench`");
    }
    eprintln!("plan: {plan:?}");
    eprintln!("measuring raw QEMU ...");
    let raw = raw::run(&plan).expect("raw QEMU");
    // Ours goes first unless asked otherwise: a way to see whether the order (the host's
    // load drifting during the run) favours one side.
    let libvirt_first = std::env::var_os("QBENCH_LIBVIRT_FIRST").is_some_and(|v| !v.is_empty());
    let measure_libvirt = || {
        eprintln!("measuring libvirt ...");
        libvirt_side(&plan)
    };
    let early = libvirt_first.then(measure_libvirt);
    eprintln!("measuring virtqemud ...");
    let ours = ours::run(&plan).unwrap_or_else(|e| panic!("virtqemud: {e}"));
    let theirs = early.unwrap_or_else(measure_libvirt);
    if let Err(why) = &theirs {
        eprintln!("libvirt's column is missing: {why}");
    }
    if !full {
        check_smoke(&plan, &ours);
    }
    let after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = format!(
        "{load} before the run, {} after (1-minute)",
        after.split_whitespace().next().unwrap_or("?")
    );
    report::print(&plan, &load, &raw, &ours, theirs.as_ref());
}

/// The smoke pass fails when a step of ours did not do what it should.
fn check_smoke(plan: &Plan, ours: &Results) {
    assert_eq!(ours.stats_few.records, plan.few, "records with few guests");
    assert!(
        ours.stats_few.params > plan.few * 10,
        "too few stats parameters: {:?}",
        ours.stats_few
    );
    let many = ours.stats_many.as_ref().expect("stats with many guests");
    assert_eq!(many.records, plan.many, "records with many guests");
    assert!(ours.rss_few.is_some_and(|k| k > 0), "no daemon RSS");
    if let Err(why) = &ours.guest {
        // Only a missing guest image is a reason to skip; a failed step is not.
        assert!(why.starts_with("no test guest"), "real guest failed: {why}");
    }
    if let Err(why) = &ours.vi {
        assert!(
            why.starts_with("no test guest"),
            "virt-install guest failed: {why}"
        );
    }
}
