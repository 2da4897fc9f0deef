//! Proxy-hop benchmark: what going through `virt-proxy` costs over calling a driver daemon's
//! socket directly.
//!
//! The real `virtqemud` binary runs as the driver daemon under a temporary root, with one
//! persistent domain `test` defined through its socket; the real `virt-proxy` binary runs under
//! the same root and routes `qemu:///system` to it. The client is this process, on a
//! single-threaded runtime for the latency figures (three processes, nothing else sharing
//! them). Measured, for one cheap unary call (LookupDomain of `test`,
//! virDomainLookupByName):
//!
//! - median and p99 latency of sequential calls, direct and through the proxy, and their
//!   difference (the hop); for scale, the same call answered by the proxy's own embedded test
//!   driver (an out-of-process daemon with no forwarding);
//! - calls per second through the proxy (and direct) with 1 client and with 8 clients on 8
//!   connections.
//!
//! `cargo bench -p virt-tests --bench proxy` runs the full plan on release binaries (it builds
//! the release `virt-proxy` and `virtqemud` first). Without `--bench` (as `cargo test --benches` runs it) a tiny
//! plan checks every step. Not a timed test: it prints figures and asserts nothing about them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{domain_ref, DefineDomainRequest, DomainRef, LookupDomainRequest};
use virt_tests::backend::ProcessDaemon;
use virt_tests::{raw_channel, DaemonUnderTest};

const URI: &str = "qemu:///system";

/// How much work each figure takes.
#[derive(Debug, Clone)]
struct Plan {
    calls: usize,
    warmup: usize,
    window: Duration,
    clients: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            calls: 20_000,
            warmup: 2_000,
            window: Duration::from_secs(3),
            clients: 8,
        }
    }

    fn smoke() -> Plan {
        Plan {
            calls: 100,
            warmup: 10,
            window: Duration::from_millis(200),
            clients: 8,
        }
    }
}

fn request(uri: &str) -> tonic::Request<LookupDomainRequest> {
    let mut req = tonic::Request::new(LookupDomainRequest {
        domain: Some(DomainRef {
            r#ref: Some(domain_ref::Ref::Name("test".into())),
        }),
    });
    req.metadata_mut()
        .insert("virt-uri", uri.parse().expect("ascii uri"));
    req
}

async fn call(client: &mut DomainServiceClient<Channel>, uri: &str) {
    client
        .lookup_domain(request(uri))
        .await
        .expect("LookupDomain");
}

/// Median and p99 of `plan.calls` sequential calls for `uri` on one connection to `socket`.
async fn latency(plan: &Plan, socket: &Path, uri: &str) -> (Duration, Duration) {
    let mut client = DomainServiceClient::new(raw_channel(socket).await);
    for _ in 0..plan.warmup {
        call(&mut client, uri).await;
    }
    let mut samples = Vec::with_capacity(plan.calls);
    for _ in 0..plan.calls {
        let t = Instant::now();
        call(&mut client, uri).await;
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

/// Calls per second with `clients` clients, one connection each, for `plan.window`.
async fn throughput(plan: &Plan, socket: &Path, clients: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = DomainServiceClient::new(raw_channel(socket).await);
        for _ in 0..plan.warmup / 10 {
            call(&mut client, URI).await;
        }
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                call(&mut client, URI).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let before = done.load(Ordering::Relaxed);
    tokio::time::sleep(plan.window).await;
    let calls = done.load(Ordering::Relaxed) - before;
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client task");
    }
    calls as f64 / secs
}

/// Relays every connection to `listen` to `target`, byte for byte, on a thread of its own
/// (a single-threaded runtime, as a minimal relay daemon would run).
fn start_byte_relay(listen: &Path, target: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(listen).expect("bind relay");
    listener.set_nonblocking(true).expect("nonblocking");
    let target = target.to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("relay runtime");
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).expect("relay listener");
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::UnixStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    });
}

/// Defines the persistent domain `test` that every call looks up.
async fn define_test_domain(socket: &Path) {
    let mut client = DomainServiceClient::new(raw_channel(socket).await);
    let xml = "<domain type='qemu'><name>test</name><memory unit='MiB'>64</memory>\
               <vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";
    let mut req = tonic::Request::new(DefineDomainRequest {
        xml: xml.into(),
        flags: 0,
    });
    req.metadata_mut()
        .insert("virt-uri", URI.parse().expect("ascii uri"));
    client.define_domain(req).await.expect("define test");
}

/// In an optimised build, rebuilds the release `virt-proxy` and `virtqemud` so the daemons
/// measured are current.
fn ensure_release_proxy() {
    if cfg!(debug_assertions) {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "virt-proxy",
            "--bin",
            "virtqemud",
            "--manifest-path",
        ])
        .arg(manifest)
        .status()
        .expect("run cargo build --release");
    assert!(
        status.success(),
        "cargo build --release of virt-proxy and virtqemud failed"
    );
}

fn us(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { Plan::full() } else { Plan::smoke() };
    eprintln!("plan: {plan:?}");
    if cfg!(debug_assertions) && full {
        eprintln!("warning: benchmarking a debug build; use `cargo bench`");
    }
    ensure_release_proxy();
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();

    // The driver daemon: the real virtqemud binary, in its own process, with `test` defined.
    let backend = ProcessDaemon::start("virtqemud", &root);
    let direct = backend.socket.clone();

    // Latency: a single-threaded client, so the figures are the daemons' and not this
    // process's thread hand-offs. Throughput: 8 tasks on a 2-worker runtime.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let many_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(define_test_domain(&direct));
    // The floor of any out-of-process hop on this machine: a byte relay that copies both
    // directions between the client's connection and the daemon's socket, decoding nothing.
    let relay_dir = tempfile::tempdir().expect("relay dir");
    let relay = relay_dir.path().join("relay-sock");
    start_byte_relay(&relay, &direct);
    client_rt.block_on(async {
        let (d_med, d_p99) = latency(&plan, &direct, URI).await;
        let (p_med, p_p99) = latency(&plan, &proxy.socket, URI).await;
        let (e_med, e_p99) = latency(&plan, &proxy.socket, "test:///default").await;
        let (r_med, r_p99) = latency(&plan, &relay, URI).await;
        let d1 = throughput(&plan, &direct, 1).await;
        let p1 = throughput(&plan, &proxy.socket, 1).await;
        let (dn, pn) = std::thread::scope(|s| {
            s.spawn(|| {
                many_rt.block_on(async {
                    (
                        throughput(&plan, &direct, plan.clients).await,
                        throughput(&plan, &proxy.socket, plan.clients).await,
                    )
                })
            })
            .join()
            .expect("throughput thread")
        });
        println!("LookupDomain, {} sequential calls:", plan.calls);
        println!(
            "  direct to virtqemud:   median {}, p99 {}",
            us(d_med),
            us(d_p99)
        );
        println!(
            "  through virt-proxy:    median {}, p99 {}",
            us(p_med),
            us(p_p99)
        );
        println!(
            "  proxy hop adds:        {} at the median (target: under 15 us)",
            us(p_med.saturating_sub(d_med))
        );
        println!(
            "  floor: a byte relay thread (no HTTP/2, no routing) adds {} (median {}, p99 {})",
            us(r_med.saturating_sub(d_med)),
            us(r_med),
            us(r_p99)
        );
        println!(
            "  for scale, the proxy answering test:/// itself (one out-of-process daemon, no \
             forwarding): median {}, p99 {}",
            us(e_med),
            us(e_p99)
        );
        println!("throughput ({:?} windows):", plan.window);
        println!("  1 client:  direct {d1:.0}/s, through the proxy {p1:.0}/s");
        println!(
            "  {} clients: direct {dn:.0}/s, through the proxy {pn:.0}/s",
            plan.clients
        );
    });
    drop(backend);
    drop(proxy);
}
