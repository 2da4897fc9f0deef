//! Our side of the daemon benchmark: a fresh `virt-proxy` under a temporary root, driven through
//! `virt_client::Connection` over its UNIX socket (URI `test+unix:///default?socket=...`).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use virt_client::{Connection, DomainLookup};
use virt_tests::{domain_xml, DaemonUnderTest};

use crate::{median, Latency, Plan, Results, Scale};

/// The `state` group of GetAllDomainStats (DOMAIN_STATS_GROUP_STATE).
const STATS_STATE: u32 = 1;

/// Measures every figure of `plan` against a daemon started for the purpose.
///
/// libvirt's clients block in their own threads; ours mirror that: every client is an OS thread
/// driving its own current-thread tokio runtime and connection. The eight clients also run once
/// as tasks of one multi-thread runtime (one worker per core, what `#[tokio::main]` gives),
/// the natural shape of an async program, which libvirt's API has no counterpart of.
pub fn run(plan: &Plan, prefix: &str) -> Results {
    ensure_release_binary();
    let daemon = DaemonUnderTest::proxy(&[]);
    let uri = daemon.test_uri(false);
    let results = runtime(false).block_on(measure(plan, prefix, &uri));
    drop(daemon);
    results
}

/// A client runtime: current-thread, or multi-thread with one worker per core.
fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().expect("client tokio runtime")
}

/// In an optimised build (`cargo bench`), rebuilds the release `virt-proxy` and `virtqemud` (the
/// local figure's daemon) so that the daemons measured are current and optimised too; the harness's `workspace_bin` then finds it beside
/// this benchmark in target/release. Debug builds leave that to `workspace_bin`.
fn ensure_release_binary() {
    if cfg!(debug_assertions) {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "virt-proxy",
            "-p",
            "virtqemud",
            "--bin",
            "virt-proxy",
            "--bin",
            "virtqemud",
        ])
        .status()
        .expect("run cargo build --release --bin virt-proxy --bin virtqemud");
    assert!(
        status.success(),
        "cargo build --release of virt-proxy and virtqemud failed"
    );
}

async fn open(uri: &str) -> Connection {
    Connection::open(Some(uri), false)
        .await
        .expect("open a connection to virt-proxy")
}

async fn measure(plan: &Plan, prefix: &str, uri: &str) -> Results {
    let conn = open(uri).await;
    let test = DomainLookup::Name("test".into());
    let node_info = latency(plan, || async {
        conn.node_info().await.expect("GetNodeInfo");
    })
    .await;
    let lookup = latency(plan, || async {
        conn.lookup(&test).await.expect("LookupDomain test");
    })
    .await;
    let (plan2, uri2) = (plan.clone(), uri.to_string());
    let (tput_one, tput_many, tput_many_tasks) = tokio::task::spawn_blocking(move || {
        let (plan, uri) = (&plan2, uri2.as_str());
        (
            throughput_threads(plan, uri, 1),
            throughput_threads(plan, uri, plan.clients),
            runtime(true).block_on(throughput_tasks(plan, uri, plan.clients)),
        )
    })
    .await
    .expect("throughput runs");
    let small = scale(plan, &conn, prefix, 0, plan.small).await;
    let big = scale(plan, &conn, prefix, plan.small, plan.big).await;
    Results {
        node_info,
        lookup,
        tput_one,
        tput_many,
        tput_many_tasks: Some(tput_many_tasks),
        small,
        big,
    }
}

/// Latency of `plan.calls` sequential calls of `call`, after `plan.warmup` untimed ones.
pub async fn latency<F, Fut>(plan: &Plan, call: F) -> Latency
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..plan.warmup {
        call().await;
    }
    let mut samples = Vec::with_capacity(plan.calls);
    for _ in 0..plan.calls {
        let t = Instant::now();
        call().await;
        samples.push(t.elapsed());
    }
    Latency::of(samples)
}

/// One client's part of a throughput run: a connection, warmed up before `ready` completes,
/// calling GetNodeInfo sequentially until `deadline()`; returns its call count.
async fn client_loop(plan: &Plan, uri: &str, ready: impl std::future::Future<Output = ()>) -> u64 {
    let c = open(uri).await;
    for _ in 0..plan.warmup / plan.clients.max(1) {
        c.node_info().await.expect("GetNodeInfo warm-up");
    }
    ready.await;
    let deadline = Instant::now() + plan.window;
    let mut n = 0u64;
    while Instant::now() < deadline {
        c.node_info().await.expect("GetNodeInfo");
        n += 1;
    }
    n
}

/// GetNodeInfo calls per second with `clients` client threads, each with its own
/// current-thread runtime and connection, each calling sequentially for `plan.window`.
fn throughput_threads(plan: &Plan, uri: &str, clients: usize) -> f64 {
    let barrier = Barrier::new(clients + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    // Blocking in the ready future is fine: this runtime serves this client only.
                    let ready = async {
                        barrier.wait();
                    };
                    runtime(false).block_on(client_loop(plan, uri, ready))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let total: u64 = workers
            .into_iter()
            .map(|w| w.join().expect("client thread"))
            .sum();
        total as f64 / start.elapsed().as_secs_f64()
    })
}

/// As [`throughput_threads`], the clients being tasks of the current (multi-thread) runtime.
async fn throughput_tasks(plan: &Plan, uri: &str, clients: usize) -> f64 {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (plan, uri, barrier) = (plan.clone(), uri.to_string(), barrier.clone());
            tokio::spawn(async move {
                let ready = async {
                    barrier.wait().await;
                };
                client_loop(&plan, &uri, ready).await
            })
        })
        .collect();
    barrier.wait().await;
    let start = Instant::now();
    let mut total = 0u64;
    for t in tasks {
        total += t.await.expect("client task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Defines domains `from..to` (named with `prefix`), then times the listing and the bulk state
/// stats of everything defined.
async fn scale(plan: &Plan, conn: &Connection, prefix: &str, from: usize, to: usize) -> Scale {
    let t = Instant::now();
    for i in from..to {
        conn.define(&domain_xml(&format!("{prefix}{i}")), 0)
            .await
            .expect("DefineDomain");
    }
    let define_each = t.elapsed() / (to - from).max(1) as u32;
    let (list, listed) = timed_median(plan.repeats, || async {
        conn.list_all_domains(0)
            .await
            .expect("ListAllDomains")
            .len()
    })
    .await;
    let (stats, stat_records) = timed_median(plan.repeats, || async {
        let records = conn.all_domain_stats(STATS_STATE, 0).await;
        records.expect("GetAllDomainStats").len()
    })
    .await;
    Scale {
        define_each,
        listed,
        list,
        stat_records,
        stats,
    }
}

/// Median time of `runs` runs of `call`, after one untimed run, and what the last run counted.
async fn timed_median<F, Fut>(runs: usize, call: F) -> (Duration, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut count = call().await;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        count = call().await;
        samples.push(t.elapsed());
    }
    (median(samples), count)
}
