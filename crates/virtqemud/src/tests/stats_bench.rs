//! Measurement harness for bulk stats of running guests (issue 6's benchmark figure): starts
//! 10 then 50 diskless TCG guests through the driver and times `all_domain_stats(0, 0)` (all
//! groups), then breaks one call down: each monitor command alone across all guests, a
//! single guest's round trip per command, and the kernel-only part. Ignored: run by hand,
//! release build, on a quiet machine:
//!
//! ```sh
//! cargo test -p virtqemud --release --all-features stats_bench -- --ignored --nocapture
//! ```
//!
//! It asserts only that every record is there and full; the figures are printed.
//!
//! Measured 2026-12-02 17:45-17:54 UTC, release (fat LTO), 2 vCPUs shared with two other
//! engineers' builds (load average 1.5-12.5 during the runs; before and after alternated),
//! diskless 64 MiB TCG guests with a virtio balloon, median of 41 calls, all groups:
//!
//! | guests | before | after |
//! | --- | --- | --- |
//! | 10 | 9.8-12.3 ms | 3.5-4.8 ms |
//! | 50 | 61-94 ms | 21-29 ms |
//!
//! Before, each guest cost four monitor commands a call (query-balloon, qom-get guest-stats,
//! query-blockstats, query-named-block-nodes flat: about 1.2 ms of QEMU CPU) and the cpu-total
//! group listed the machine's root cgroup for every guest (1.2-1.6 ms for 10 guests, 12-19 ms
//! for 50). After, a diskless guest with a balloon costs one `qom-get` (about 0.45 ms of QEMU
//! CPU: QEMU's monitor reads one byte per poll cycle), and the rest is ours: about 0.1 ms of
//! CPU a guest, kernel files included. The floor is QEMU's: 10 guests' `qom-get`s alone, sent
//! together, take 3.1-3.7 ms on this machine.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use virt_core::driver::prelude::*;
use virt_core::runtime::{Mode, Paths};
use virt_core::types::DomainLookup;

use crate::process;
use crate::qmp::Qmp;
use crate::QemuDriver;

/// Kills every guest started here, pass or fail.
struct Guard(std::sync::Mutex<Vec<process::Pid>>);

impl Drop for Guard {
    fn drop(&mut self) {
        let pids = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for p in &pids {
            if process::is_alive(*p) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for p in pids {
            for _ in 0..200 {
                process::reap(p.pid);
                if !process::is_alive(p) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

fn guest_xml(name: &str, n: u32) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000{n:05x}</uuid>\
         <memory unit='MiB'>64</memory><currentMemory unit='MiB'>64</currentMemory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <memballoon model='virtio'/></devices></domain>"
    )
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}

const RUNS: usize = 41;

/// CPU time (ns) of every thread of process `pid` so far, from `/proc/PID/task/*/schedstat`.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time (ns) of this process and of the guests' QEMUs.
fn cpu_split(qemus: &[u32]) -> (u64, u64) {
    (
        cpu_ns(std::process::id()),
        qemus.iter().map(|p| cpu_ns(*p)).sum(),
    )
}

async fn time<F, Fut>(mut f: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..5 {
        f().await;
    }
    let mut v = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    (pct(&mut v, 50), pct(&mut v, 90))
}

async fn measure(d: &Arc<QemuDriver>, n: usize) {
    eprintln!("--- {n} guests; load average {}", loadavg().trim());
    let pids: Vec<u32> = {
        let st = d.lock();
        st.by_uuid
            .values()
            .filter_map(|d| Some(d.run.as_ref()?.proc.pid().pid as u32))
            .collect()
    };
    let (ours0, qemu0) = cpu_split(&pids);
    let (m, p90) = time(|| async {
        let recs = d.all_domain_stats(0, 0).await.expect("stats");
        assert_eq!(recs.len(), n);
        assert!(recs.iter().all(|r| r.params.len() > 10), "{recs:?}");
    })
    .await;
    let (ours1, qemu1) = cpu_split(&pids);
    let calls = (RUNS + 5) as u64;
    eprintln!(
        "all groups: median {m:?}, p90 {p90:?}; CPU per call: ours (whole test process) {} us, \
         the {n} QEMUs {} us",
        (ours1 - ours0) / calls / 1000,
        (qemu1 - qemu0) / calls / 1000
    );
    for (label, groups) in [
        ("state", 1),
        ("cpu-total", 2),
        ("balloon", 4),
        ("vcpu", 8),
        ("interface", 16),
        ("block", 32),
    ] {
        let (m, p90) = time(|| async {
            let recs = d.all_domain_stats(groups, 0).await.expect("stats");
            assert_eq!(recs.len(), n);
        })
        .await;
        eprintln!("  {label:>9}: median {m:?}, p90 {p90:?}");
    }
    // The monitors, straight: each command on every guest at once, then on one guest.
    let qmps: Vec<Qmp> = {
        let st = d.lock();
        st.by_uuid
            .values()
            .filter_map(|d| d.run.as_ref()?.qmp.clone())
            .collect()
    };
    assert_eq!(qmps.len(), n);
    let cmds: [(&str, Option<serde_json::Value>); 5] = [
        ("query-balloon", None),
        (
            "qom-get",
            Some(json!({"path": crate::stats::BALLOON_QOM_PATH, "property": "guest-stats"})),
        ),
        ("query-blockstats", None),
        ("query-named-block-nodes", Some(json!({"flat": true}))),
        ("query-status", None),
    ];
    for (cmd, args) in &cmds {
        let (_, qemu0) = cpu_split(&pids);
        let (all, _) = time(|| async {
            let futs = qmps.iter().map(|q| q.execute(cmd, args.clone()));
            for r in futures_join_all(futs).await {
                r.expect(cmd);
            }
        })
        .await;
        let (_, qemu1) = cpu_split(&pids);
        let per = (qemu1 - qemu0) / (calls * n as u64) / 1000;
        let (one, _) = time(|| async {
            qmps[0].execute(cmd, args.clone()).await.expect(cmd);
        })
        .await;
        eprintln!(
            "  {cmd:>24}: all guests at once {all:?}, one guest {one:?}; QEMU CPU {per} us each"
        );
    }
}

async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futs.collect();
    let mut out = Vec::with_capacity(handles.len());
    // Poll all at once: every command is written before the first answer is awaited.
    let mut set: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement harness: run by hand, release, --nocapture"]
async fn stats_bench_10_and_50_guests() {
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("root")
    } else {
        tempfile::tempdir().expect("root")
    };
    let guard = Guard(Default::default());
    let d = QemuDriver::open(
        &Paths::resolve(Some(root.path()), Mode::System),
        Arc::new(virt_xml::LibvirtXml),
    );
    let mut started = 0;
    for target in [10, 50] {
        while started < target {
            let name = format!("b{started}");
            d.define_domain(&guest_xml(&name, started as u32 + 1), 0)
                .await
                .expect("define");
            d.create_domain(&DomainLookup::Name(name.clone()), 0)
                .await
                .expect("start");
            let pid = d
                .lock()
                .get(&DomainLookup::Name(name))
                .expect("dom")
                .run
                .as_ref()
                .expect("running")
                .proc
                .pid();
            guard.0.lock().expect("pids").push(pid);
            started += 1;
        }
        // Let the guests reach SeaBIOS's idle loop.
        tokio::time::sleep(Duration::from_secs(2)).await;
        measure(&d, target).await;
    }
    for i in 0..started {
        let _ = d
            .destroy_domain(&DomainLookup::Name(format!("b{i}")), 0)
            .await;
    }
}

fn uint(r: &virt_core::types::StatsRecord, key: &str) -> Option<u64> {
    r.params
        .iter()
        .find(|p| p.field == key)
        .and_then(|p| match &p.value {
            virt_core::types::TypedValue::UInt(v) => Some(u64::from(*v)),
            virt_core::types::TypedValue::ULLong(v) => Some(*v),
            _ => None,
        })
}

/// With NOWAIT and a busy monitor (a stopped QEMU holding a command), a running guest's record
/// still has what the driver tracks (balloon size and maximum, vCPU counts, no disks) and
/// the kernel figures; only the guest's own memory stats are missing, as in libvirt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn nowait_on_a_busy_guest_keeps_the_tracked_keys() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard(Default::default());
    let d = QemuDriver::open(
        &Paths::resolve(Some(root.path()), Mode::System),
        Arc::new(virt_xml::LibvirtXml),
    );
    d.define_domain(&guest_xml("nw", 1), 0)
        .await
        .expect("define");
    d.create_domain(&DomainLookup::Name("nw".into()), 0)
        .await
        .expect("start");
    let (pid, qmp) = {
        let st = d.lock();
        let r = st
            .get(&DomainLookup::Name("nw".into()))
            .expect("dom")
            .run
            .as_ref()
            .expect("running");
        (r.proc.pid(), r.qmp.clone().expect("monitor"))
    };
    guard.0.lock().expect("pids").push(pid);
    let nix_pid = nix::unistd::Pid::from_raw(pid.pid);
    nix::sys::signal::kill(nix_pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let busy = qmp.clone();
    let held = tokio::spawn(async move { busy.execute("query-status", None).await });
    while !qmp.busy() {
        tokio::task::yield_now().await;
    }
    const NOWAIT: u32 = 1 << 29;
    let recs = tokio::time::timeout(Duration::from_secs(10), d.all_domain_stats(0, NOWAIT)).await;
    nix::sys::signal::kill(nix_pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    let recs = recs.expect("NOWAIT does not wait").expect("stats");
    held.await
        .expect("task")
        .expect("query-status after SIGCONT");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(uint(r, "balloon.current"), Some(65536), "{r:?}");
    assert_eq!(uint(r, "balloon.maximum"), Some(65536));
    assert_eq!(uint(r, "vcpu.current"), Some(1));
    assert_eq!(uint(r, "vcpu.maximum"), Some(1));
    assert_eq!(uint(r, "block.count"), Some(0));
    assert!(uint(r, "cpu.time").is_some());
    assert!(uint(r, "balloon.rss").is_some());
    d.destroy_domain(&DomainLookup::Name("nw".into()), 0)
        .await
        .expect("destroy");
}
