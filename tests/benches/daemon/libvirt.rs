//! libvirt's side of the daemon benchmark: libvirt 9.0's daemon and its test driver at
//! `test+unix:///default`, driven through libvirt's own Rust binding (the `virt` crate, which
//! calls libvirt.so, whose remote driver speaks libvirt's RPC over `/run/libvirt/libvirt-sock`).
//!
//! libvirt's calls block, so the concurrent clients are threads, each with its own connection.
//! The test driver behind libvirt's daemon keeps one state for every client and every run: the
//! domains defined here carry the run's prefix and are undefined again at the end, together with
//! any left by an aborted run.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::sys;

use crate::{median, Latency, Plan, Results, Scale, PREFIX};

/// libvirt's test driver, through its daemon's socket.
const URI: &str = "test+unix:///default";

/// Measures every figure of `plan` against libvirt's daemon; `Err` says why it cannot.
pub fn run(plan: &Plan, prefix: &str) -> Result<Results, String> {
    let conn = Connect::open(Some(URI))
        .map_err(|e| format!("libvirt's daemon is not reachable at {URI}: {e}"))?;
    remove_bench_domains(&conn);
    let node_info = latency(plan, || {
        conn.node_info().expect("virNodeGetInfo");
    });
    let lookup = latency(plan, || {
        conn.lookup_domain_by_name("test")
            .expect("virDomainLookupByName test");
    });
    let tput_one = throughput(plan, 1);
    let tput_many = throughput(plan, plan.clients);
    let small = scale(plan, &conn, prefix, 0, plan.small);
    let big = scale(plan, &conn, prefix, plan.small, plan.big);
    remove_bench_domains(&conn);
    Ok(Results {
        node_info,
        lookup,
        tput_one,
        tput_many,
        tput_many_tasks: None,
        small,
        big,
    })
}

/// The local figure's counterpart: virDomainLookupByName on libvirt's `qemu:///system` (its
/// QEMU driver in libvirtd), of a persistent domain defined for the purpose (named with
/// `prefix`, never started, undefined afterwards).
pub fn local(plan: &Plan, prefix: &str) -> Result<Latency, String> {
    let uri = crate::local::URI;
    let conn = Connect::open(Some(uri))
        .map_err(|e| format!("libvirt's daemon is not reachable at {uri}: {e}"))?;
    let name = format!("{prefix}local");
    let dom = conn
        .define_domain_xml(&crate::local::qemu_xml(&name))
        .map_err(|e| format!("libvirt: cannot define {name} on {uri}: {e}"))?;
    let lookup = latency(plan, || {
        conn.lookup_domain_by_name(&name)
            .expect("virDomainLookupByName on qemu:///system");
    });
    dom.undefine()
        .map_err(|e| format!("libvirt: cannot undefine {name}: {e}"))?;
    Ok(lookup)
}

fn open() -> Connect {
    Connect::open(Some(URI)).expect("open a connection to libvirt's daemon")
}

/// Undefines every domain named with [`PREFIX`]: this run's, or an aborted run's.
fn remove_bench_domains(conn: &Connect) {
    let domains = conn.list_all_domains(0).expect("virConnectListAllDomains");
    let mut removed = 0;
    for d in domains {
        if d.name().is_ok_and(|n| n.starts_with(PREFIX)) {
            d.undefine().expect("virDomainUndefine");
            removed += 1;
        }
    }
    if removed > 0 {
        eprintln!("libvirt: undefined {removed} benchmark domains");
    }
}

/// Latency of `plan.calls` sequential calls of `call`, after `plan.warmup` untimed ones.
fn latency(plan: &Plan, call: impl Fn()) -> Latency {
    for _ in 0..plan.warmup {
        call();
    }
    let mut samples = Vec::with_capacity(plan.calls);
    for _ in 0..plan.calls {
        let t = Instant::now();
        call();
        samples.push(t.elapsed());
    }
    Latency::of(samples)
}

/// virNodeGetInfo calls per second with `clients` threads, one connection each, each calling
/// sequentially for `plan.window`.
fn throughput(plan: &Plan, clients: usize) -> f64 {
    let conns: Vec<Connect> = (0..clients).map(|_| open()).collect();
    for c in &conns {
        for _ in 0..plan.warmup / clients.max(1) {
            c.node_info().expect("virNodeGetInfo warm-up");
        }
    }
    let barrier = Barrier::new(clients + 1);
    let (total, elapsed) = std::thread::scope(|s| {
        let workers: Vec<_> = conns
            .iter()
            .map(|c| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let deadline = Instant::now() + plan.window;
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        c.node_info().expect("virNodeGetInfo");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let total: u64 = workers
            .into_iter()
            .map(|w| w.join().expect("client thread"))
            .sum();
        (total, start.elapsed())
    });
    total as f64 / elapsed.as_secs_f64()
}

/// Defines domains `from..to` (named with `prefix`), then times the listing and the bulk state
/// stats of everything defined.
fn scale(plan: &Plan, conn: &Connect, prefix: &str, from: usize, to: usize) -> Scale {
    let t = Instant::now();
    for i in from..to {
        let xml = virt_tests::domain_xml(&format!("{prefix}{i}"));
        conn.define_domain_xml(&xml).expect("virDomainDefineXML");
    }
    let define_each = t.elapsed() / (to - from).max(1) as u32;
    let (list, listed) = timed_median(plan.repeats, || {
        conn.list_all_domains(0)
            .expect("virConnectListAllDomains")
            .len()
    });
    let (stats, stat_records) = timed_median(plan.repeats, || all_state_stats(conn));
    Scale {
        define_each,
        listed,
        list,
        stat_records,
        stats,
    }
}

/// virConnectGetAllDomainStats(VIR_DOMAIN_STATS_STATE, 0), records freed as a C client frees
/// them. The binding's `Connect::all_domain_stats` calls the same function but never frees the
/// records (its `DomainStatsRecord` has no `Drop`), which would leak ~10⁵ of them per run.
fn all_state_stats(conn: &Connect) -> usize {
    let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: `conn` stays open for the call; on success libvirt stores in `records` a
    // NULL-terminated array it allocated, which we hand back to libvirt's own free function.
    let n = unsafe {
        sys::virConnectGetAllDomainStats(
            conn.as_ptr(),
            sys::VIR_DOMAIN_STATS_STATE,
            &mut records,
            0,
        )
    };
    assert!(n >= 0, "virConnectGetAllDomainStats failed");
    // SAFETY: `records` came from the successful call above and is freed exactly once.
    unsafe { sys::virDomainStatsRecordListFree(records) };
    usize::try_from(n).expect("non-negative count")
}

/// Median time of `runs` runs of `call`, after one untimed run, and what the last run counted.
fn timed_median(runs: usize, call: impl Fn() -> usize) -> (Duration, usize) {
    let mut count = call();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        count = call();
        samples.push(t.elapsed());
    }
    (median(samples), count)
}
