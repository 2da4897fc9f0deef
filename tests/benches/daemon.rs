//! Daemon benchmark: our `virt-proxy` (the test driver behind gRPC on a UNIX socket) against
//! libvirt 9.0's daemon with its test driver, side by side in one run.
//!
//! Plain timed loops rather than criterion, so that percentiles and concurrency stay under our
//! control: unary latency (median, p99) of two cheap reads, throughput with one client and with
//! eight clients on eight connections, then define 1000 domains, list the 1001, bulk state stats
//! of the 1001, define up to 10000 and the same over ~10001.
//!
//! `cargo bench -p virt-tests --bench daemon [--features libvirt]` runs the full plan in release
//! mode (it builds the release `virt-proxy` first). Without `--bench` (as `cargo test --benches`
//! runs it) a tiny smoke plan checks that every step works. libvirt's column needs the `libvirt`
//! feature and libvirt's daemon (`/work/shared/tools/libvirt-anchor.sh` starts it); without
//! them the table shows ours only, next to the reference figures recorded through libvirt 9.0.

use std::time::Duration;

#[cfg(feature = "libvirt")]
#[path = "daemon/libvirt.rs"]
mod libvirt;
#[path = "daemon/local.rs"]
mod local;
#[path = "daemon/ours.rs"]
mod ours;
#[path = "daemon/report.rs"]
mod report;

/// How much work each measurement does.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Whether this is the full plan, whose figures the targets are judged on.
    pub full: bool,
    /// Sequential calls timed for each latency figure (after `warmup` untimed ones).
    pub calls: usize,
    /// Untimed calls before each latency and throughput figure.
    pub warmup: usize,
    /// How long each throughput run lasts.
    pub window: Duration,
    /// Concurrent clients, one connection each, of the second throughput figure.
    pub clients: usize,
    /// Domains defined in the first step (listed and stat-ed with the pre-defined `test`).
    pub small: usize,
    /// Total domains defined once the second step is done.
    pub big: usize,
    /// Runs of each bulk call; the median is reported.
    pub repeats: usize,
}

impl Plan {
    /// The plan the figures in BENCHMARKS.md come from.
    pub fn full() -> Plan {
        Plan {
            full: true,
            calls: 20_000,
            warmup: 2_000,
            window: Duration::from_secs(3),
            clients: 8,
            small: 1_000,
            big: 10_000,
            repeats: 15,
        }
    }

    /// A quick pass over every step, for `cargo test --benches`.
    pub fn smoke() -> Plan {
        Plan {
            full: false,
            calls: 200,
            warmup: 20,
            window: Duration::from_millis(200),
            clients: 8,
            small: 20,
            big: 60,
            repeats: 3,
        }
    }
}

/// Median and 99th percentile of a latency sample.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    /// 50th percentile.
    pub median: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Latency {
    /// Percentiles of `samples` (nearest rank).
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        assert!(!samples.is_empty(), "no latency samples");
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        Latency {
            median: at(0.5),
            p99: at(0.99),
        }
    }
}

/// The median of a few timed runs.
pub fn median(samples: Vec<Duration>) -> Duration {
    Latency::of(samples).median
}

/// Figures of one step of the domain-count ladder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scale {
    /// Mean time of one define in this step.
    pub define_each: Duration,
    /// Domains the listing returned.
    pub listed: usize,
    /// Median ListAllDomains time.
    pub list: Duration,
    /// Records the bulk stats call returned.
    pub stat_records: usize,
    /// Median GetAllDomainStats(STATE) time.
    pub stats: Duration,
}

/// Everything measured against one daemon.
#[derive(Clone, Copy, Debug, Default)]
pub struct Results {
    /// Sequential GetNodeInfo (virNodeGetInfo) on one connection.
    pub node_info: Latency,
    /// Sequential LookupDomain of `test` (virDomainLookupByName) on one connection.
    pub lookup: Latency,
    /// Calls per second, one client.
    pub tput_one: f64,
    /// Calls per second, `Plan::clients` client threads on as many connections.
    pub tput_many: f64,
    /// Calls per second, `Plan::clients` clients as tasks of one multi-thread tokio runtime, on
    /// as many connections (ours only: libvirt's API blocks).
    pub tput_many_tasks: Option<f64>,
    /// After `Plan::small` defines.
    pub small: Scale,
    /// After `Plan::big` defines in all.
    pub big: Scale,
}

/// Names unique to this run: libvirt's test driver keeps one state per daemon across clients
/// and runs, so a later run must not collide with an earlier one's domains.
pub fn run_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{}{}-{}-", PREFIX, std::process::id(), secs)
}

/// Prefix of every domain this benchmark defines; left-overs of an aborted run are removed.
pub const PREFIX: &str = "vbench-";

/// The local call on each side: ours on the default path to virtqemud, libvirt's on its
/// `qemu:///system`.
#[derive(Clone, Debug)]
pub struct Local {
    /// LookupDomain via `Connection::open("qemu:///system")` straight to virtqemud.
    pub ours: Latency,
    /// The same call on the same socket through tonic's `Channel`, for scale.
    pub tonic: Latency,
    /// virDomainLookupByName on libvirt's qemu:///system, or why it is missing.
    pub theirs: Result<Latency, String>,
}

/// libvirt's local figure, or why it is missing.
fn libvirt_local(plan: &Plan, prefix: &str) -> Result<Latency, String> {
    #[cfg(feature = "libvirt")]
    {
        libvirt::local(plan, prefix)
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (plan, prefix);
        Err("built without `--features libvirt`".into())
    }
}

/// libvirt's side, or why it is missing.
fn libvirt_side(plan: &Plan, prefix: &str) -> Result<Results, String> {
    #[cfg(feature = "libvirt")]
    {
        libvirt::run(plan, prefix)
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (plan, prefix);
        Err("built without `--features libvirt`".into())
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { Plan::full() } else { Plan::smoke() };
    let prefix = run_prefix();
    // Client and daemon share the machine's cores: other work skews every figure.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    if load.parse::<f64>().is_ok_and(|l| l > 0.5) {
        eprintln!("warning: load average {load} before the run; the figures will be noisy");
    }
    if cfg!(debug_assertions) && full {
        eprintln!("warning: benchmarking a debug build; use `cargo bench`");
    }
    eprintln!("plan: {plan:?}");
    // DAEMON_BENCH_LOCAL_ONLY=1: only the local-call figure (a quick look while tuning).
    let local_only = std::env::var_os("DAEMON_BENCH_LOCAL_ONLY").is_some_and(|v| v == "1");
    let (ours, theirs) = if local_only {
        (None, Err("skipped (DAEMON_BENCH_LOCAL_ONLY=1)".to_string()))
    } else {
        eprintln!("measuring virt-proxy ...");
        let ours = ours::run(&plan, &prefix);
        eprintln!("measuring libvirt ...");
        let theirs = libvirt_side(&plan, &prefix);
        if let Err(why) = &theirs {
            eprintln!("libvirt's column is missing: {why}");
        }
        (Some(ours), theirs)
    };
    // The local call on the default path, ours then libvirt's, back to back.
    eprintln!("measuring the local call (qemu:///system, default path) ...");
    let (local_ours, local_tonic) = local::run(&plan);
    let local = Local {
        ours: local_ours,
        tonic: local_tonic,
        theirs: libvirt_local(&plan, &prefix),
    };
    if let Some(ours) = &ours {
        report::print(&plan, &load, ours, theirs.as_ref());
    } else {
        println!("load average before the run: {load}");
    }
    report::print_local(&plan, &local, theirs.as_ref().ok());
}
