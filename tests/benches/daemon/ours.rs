//! Our side of the daemon benchmark: a fresh `virt-proxy` under a temporary root, driven through
//! `virt_client::Connection` over its UNIX socket (URI `test+unix:///default?socket=...`).

use std::time::{Duration, Instant};

use virt_client::{Connection, DomainLookup};
use virt_tests::{domain_xml, DaemonUnderTest};

use crate::{median, Latency, Plan, Results, Scale};

/// The `state` group of GetAllDomainStats (DOMAIN_STATS_GROUP_STATE).
const STATS_STATE: u32 = 1;

/// Measures every figure of `plan` against a daemon started for the purpose.
pub fn run(plan: &Plan, prefix: &str) -> Results {
    ensure_release_binary();
    let daemon = DaemonUnderTest::proxy(&[]);
    let uri = daemon.test_uri(false);
    let rt = client_runtime();
    let results = rt.block_on(measure(plan, prefix, &uri));
    drop(daemon);
    results
}

/// The client's runtime: tokio's default multi-thread flavour (one worker per core, what
/// `#[tokio::main]` gives), or a current-thread one with `VIRT_BENCH_CLIENT_RT=current`.
fn client_runtime() -> tokio::runtime::Runtime {
    let current = std::env::var("VIRT_BENCH_CLIENT_RT").is_ok_and(|v| v == "current");
    let mut builder = if current {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build().expect("client tokio runtime")
}

/// In an optimised build (`cargo bench`), rebuilds the release `virt-proxy` so that the daemon
/// measured is current and optimised too; the harness's `workspace_bin` then finds it beside
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
            "--bin",
            "virt-proxy",
        ])
        .status()
        .expect("run cargo build --release --bin virt-proxy");
    assert!(
        status.success(),
        "cargo build --release --bin virt-proxy failed"
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
    let tput_one = throughput(plan, uri, 1).await;
    let tput_many = throughput(plan, uri, plan.clients).await;
    let small = scale(plan, &conn, prefix, 0, plan.small).await;
    let big = scale(plan, &conn, prefix, plan.small, plan.big).await;
    Results {
        node_info,
        lookup,
        tput_one,
        tput_many,
        small,
        big,
    }
}

/// Latency of `plan.calls` sequential calls of `call`, after `plan.warmup` untimed ones.
async fn latency<F, Fut>(plan: &Plan, call: F) -> Latency
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

/// GetNodeInfo calls per second with `clients` concurrent clients, one connection each, each
/// calling sequentially for `plan.window`.
async fn throughput(plan: &Plan, uri: &str, clients: usize) -> f64 {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let c = open(uri).await;
        for _ in 0..plan.warmup / clients.max(1) {
            c.node_info().await.expect("GetNodeInfo warm-up");
        }
        conns.push(c);
    }
    let start = Instant::now();
    let deadline = start + plan.window;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    c.node_info().await.expect("GetNodeInfo");
                    n += 1;
                }
                n
            })
        })
        .collect();
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
