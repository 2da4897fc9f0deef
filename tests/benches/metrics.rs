//! The `/metrics` scrape of virtqemud with many running guests, against one GetAllDomainStats
//! call through gRPC, and the daemon's memory with metrics on and off.
//!
//! Guests are diskless TCG guests with no kernel (SeaBIOS finds nothing to boot and idles),
//! 32 MiB each, started one after another with `create_xml` (transient). For each guest count
//! (10, then 100: the first ten are kept) it reports the median of `repeats` scrapes (HTTP
//! over loopback TCP, Prometheus text) and of `repeats` `GetAllDomainStats(0, 0)` calls through
//! the client; the scrape makes that same call in process plus the text rendering. Then the
//! daemon is restarted twice (guests keep running and are reattached): without
//! `--metrics-listen`, `repeats` gRPC stats calls, VmRSS; with it, the same calls plus
//! `repeats` scrapes, VmRSS.
//!
//! `cargo bench -p virt-tests --bench metrics` runs 10 and 100 guests with the release build;
//! `cargo test -p virt-tests --bench metrics -- 10 100` runs the same plan with the debug
//! build; `cargo test --benches` (no arguments) runs a two-guest smoke plan. Skips without
//! qemu-system-x86_64.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_client::Connection;
use virt_tests::workspace_bin;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

fn start(root: &Path, metrics: Option<&str>) -> Daemon {
    let mut cmd = Command::new(workspace_bin("virtqemud"));
    cmd.arg("--root").arg(root);
    if let Some(m) = metrics {
        cmd.args(["--metrics-listen", m]);
    }
    let child = cmd
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn virtqemud");
    let sock = root.join("run/virt/virtqemud-sock-ro");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "virtqemud did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon(child)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn scrape(addr: &str) -> usize {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    assert!(out.starts_with(b"HTTP/1.1 200"), "scrape failed");
    out.len()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn guest_xml(i: usize) -> String {
    format!(
        "<domain type='qemu'><name>b{i:03}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <memballoon model='virtio'/></devices></domain>"
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let mut counts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if counts.is_empty() {
        counts = if bench { vec![10, 100] } else { vec![2] };
    }
    let repeats = if bench || counts.iter().any(|c| *c >= 10) {
        21
    } else {
        3
    };
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: qemu-system-x86_64 is not installed");
        return;
    }
    let root_dir = tempfile::tempdir().expect("root");
    let root = root_dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    // One worker: the client's connection tasks keep running between calls, so a dropped
    // connection closes at once rather than holding the daemon's shutdown.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let uri = format!(
        "qemu+unix:///system?socket={}",
        root.join("run/virt/virtqemud-sock").display()
    );
    let _guard = virt_tests::qemu::QemuGuard::new(root);
    let mut daemon = start(root, Some(&addr));
    let mut started = 0;
    println!("| guests | scrape median | GetAllDomainStats via gRPC median | scrape bytes |");
    println!("|---|---|---|---|");
    for &n in &counts {
        let t = Instant::now();
        rt.block_on(async {
            let conn = Connection::open(Some(&uri), false).await.expect("connect");
            while started < n {
                conn.create_xml(&guest_xml(started), 0)
                    .await
                    .expect("start guest");
                started += 1;
            }
        });
        eprintln!("{n} guests running after {:?}", t.elapsed());
        let mut bytes = 0;
        for _ in 0..3 {
            bytes = scrape(&addr);
        }
        let scrapes: Vec<Duration> = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                scrape(&addr);
                t.elapsed()
            })
            .collect();
        let calls: Vec<Duration> = rt.block_on(async {
            let conn = Connection::open(Some(&uri), false).await.expect("connect");
            let recs = conn.all_domain_stats(0, 0).await.expect("stats");
            assert_eq!(recs.len(), n, "every guest in the bulk stats");
            let mut v = Vec::new();
            for _ in 0..repeats {
                let t = Instant::now();
                conn.all_domain_stats(0, 0).await.expect("stats");
                v.push(t.elapsed());
            }
            v
        });
        println!(
            "| {n} | {:.2} ms | {:.2} ms | {bytes} |",
            median(scrapes).as_secs_f64() * 1e3,
            median(calls).as_secs_f64() * 1e3
        );
    }

    // Memory: the same gRPC load with metrics off, then on (plus the scrapes).
    let grpc_load = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let conn = Connection::open(Some(&uri), false).await.expect("connect");
            for _ in 0..repeats {
                conn.all_domain_stats(0, 0).await.expect("stats");
            }
        })
    };
    drop(daemon);
    let off = start(root, None);
    grpc_load(&rt);
    let rss_off = rss_kib(off.0.id());
    drop(off);
    daemon = start(root, Some(&addr));
    grpc_load(&rt);
    for _ in 0..repeats {
        scrape(&addr);
    }
    let rss_on = rss_kib(daemon.0.id());
    println!(
        "\nvirtqemud VmRSS with {started} guests after {repeats} bulk stats calls: metrics off {} KiB, \
         metrics on (+{repeats} scrapes) {} KiB",
        rss_off, rss_on
    );
    rt.block_on(async {
        let conn = Connection::open(Some(&uri), false).await.expect("connect");
        for i in 0..started {
            let _ = conn
                .destroy(&virt_core::types::DomainLookup::Name(format!("b{i:03}")), 0)
                .await;
        }
    });
    drop(daemon);
}
