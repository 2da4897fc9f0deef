//! The sequence both sides run, written once against [`Backend`] so that they do the same
//! calls in the same order: start/destroy cycles, bulk stats and RSS with few and many
//! guests running, then the real test guest.

use std::time::{Duration, Instant};

use virt_tests::guest::{test_guest, test_guest_with_agent, GuestImage, READY_MARKER};
use virt_tests::virt_install::{boot_test_kernel, ext4_qcow2, fixture};

use crate::{
    diskless_xml, guest_xml, median, root_parent, rss_kib, Backend, BulkStats, GuestFigures, Plan,
    Results, ViFigures, PREFIX,
};

/// How long the real guest may take to print its marker (TCG on a loaded host is slow).
const MARKER_LIMIT: Duration = Duration::from_secs(120);
/// How long an ACPI shutdown may take to reach shut off.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(60);
/// How often the state is read while waiting for shut off.
const POLL: Duration = Duration::from_millis(10);

/// Runs the whole sequence on `b`; removes every benchmark domain before and after, also
/// when a step fails.
pub fn run(plan: &Plan, b: &mut dyn Backend) -> Result<Results, String> {
    let removed = b.remove_bench_domains()?;
    if removed > 0 {
        eprintln!("  removed {removed} domains left by an earlier run");
    }
    let out = sequence(plan, b);
    let cleanup = b.remove_bench_domains();
    let out = out?;
    cleanup?;
    Ok(out)
}

fn sequence(plan: &Plan, b: &mut dyn Backend) -> Result<Results, String> {
    let rss_idle = b.daemon_pid().and_then(rss_kib);
    let (start, destroy) = cycles(plan, b)?;
    eprintln!("  start {start:?}, destroy {destroy:?}");
    // Only running guests are defined while stats are taken: every record is a running one.
    b.remove_bench_domains()?;
    let names: Vec<String> = (0..plan.many).map(|i| format!("{PREFIX}{i}")).collect();
    let define_start = |b: &mut dyn Backend, n: &String| -> Result<(), String> {
        b.define(&diskless_xml(n))?;
        b.start(n)
    };
    for n in &names[..plan.few] {
        define_start(b, n)?;
    }
    let stats_few = bulk_stats(plan, b, plan.few)?;
    let rss_few = b.daemon_pid().and_then(rss_kib);
    eprintln!("  {stats_few:?}, rss {rss_few:?} KiB");
    let stats_many = (|| {
        for n in &names[plan.few..] {
            define_start(b, n)?;
        }
        bulk_stats(plan, b, plan.many)
    })();
    let rss_many = stats_many
        .as_ref()
        .ok()
        .and_then(|_| b.daemon_pid().and_then(rss_kib));
    eprintln!("  {stats_many:?}, rss {rss_many:?} KiB");
    // Leave the real guest the machine to itself.
    b.remove_bench_domains()?;
    let guest = match test_guest() {
        Err(e) => Err(format!("no test guest image: {e:#}")),
        Ok(img) => {
            let name = format!("{PREFIX}guest");
            b.define(&guest_xml(&name, &img.kernel, &img.initrd))
                .and_then(|()| real_guest(plan, b, &name))
        }
    };
    eprintln!("  real guest: {guest:?}");
    b.remove_bench_domains()?;
    let vi = match test_guest_with_agent() {
        Err(e) => Err(format!("no test guest image: {e:#}")),
        Ok(img) => virt_install_guests(plan, b, &img),
    };
    eprintln!("  virt-install guest: {vi:?}");
    Ok(Results {
        rss_idle,
        start,
        destroy,
        stats_few,
        rss_few,
        stats_many,
        rss_many,
        guest,
        vi,
    })
}

/// The virt-install guest (same XML on both sides: the committed virt-install output with
/// the test kernel): `plan.vi_boots` starts with the marker, each destroyed after; then
/// `plan.vi_many` of them running at once and the daemon's RSS. Each guest gets its own disk.
fn virt_install_guests(
    plan: &Plan,
    b: &mut dyn Backend,
    img: &GuestImage,
) -> Result<ViFigures, String> {
    let dir = root_parent().join(format!("{PREFIX}vi-disks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = (|| {
        let define = |b: &mut dyn Backend, name: &str| -> Result<(), String> {
            let disk = dir.join(format!("{name}.qcow2"));
            if !disk.exists() {
                ext4_qcow2(&disk, 16).map_err(|e| format!("{name}'s disk: {e:#}"))?;
            }
            b.define(&boot_test_kernel(&fixture(name, &disk), img))
        };
        let name = format!("{PREFIX}vi");
        define(b, &name)?;
        let (mut starts, mut markers) = (Vec::new(), Vec::new());
        for _ in 0..plan.vi_boots {
            let t = Instant::now();
            b.start(&name)?;
            starts.push(t.elapsed());
            markers.push(wait_marker(b, &name, t)?);
            b.destroy(&name)?;
        }
        b.remove_bench_domains()?;
        for i in 0..plan.vi_many {
            let n = format!("{PREFIX}vi{i}");
            define(b, &n)?;
            b.start(&n)?;
        }
        let rss_many = b.daemon_pid().and_then(rss_kib);
        Ok(ViFigures {
            start: median(starts),
            marker: median(markers),
            rss_many,
        })
    })();
    let _ = b.remove_bench_domains();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Median start and destroy of one diskless guest over `plan.cycles` cycles.
fn cycles(plan: &Plan, b: &mut dyn Backend) -> Result<(Duration, Duration), String> {
    let name = format!("{PREFIX}cycle");
    b.define(&diskless_xml(&name))?;
    let (mut starts, mut destroys) = (Vec::new(), Vec::new());
    for _ in 0..plan.cycles {
        let t = Instant::now();
        b.start(&name)?;
        starts.push(t.elapsed());
        let t = Instant::now();
        b.destroy(&name)?;
        destroys.push(t.elapsed());
    }
    Ok((median(starts), median(destroys)))
}

/// Median of `plan.repeats` bulk stats calls (all groups), after one untimed call; checks
/// that every running guest has a record.
fn bulk_stats(plan: &Plan, b: &mut dyn Backend, guests: usize) -> Result<BulkStats, String> {
    let (mut records, mut params) = b.all_stats()?;
    let mut samples = Vec::with_capacity(plan.repeats);
    for _ in 0..plan.repeats {
        let t = Instant::now();
        (records, params) = b.all_stats()?;
        samples.push(t.elapsed());
    }
    if records < guests {
        return Err(format!(
            "bulk stats returned {records} records for {guests} running guests"
        ));
    }
    Ok(BulkStats {
        guests,
        median: median(samples),
        records,
        params,
    })
}

/// The real guest, `plan.boots` times: start, marker, ACPI shutdown to shut off, then a
/// second start and a destroy.
fn real_guest(plan: &Plan, b: &mut dyn Backend, name: &str) -> Result<GuestFigures, String> {
    let (mut starts, mut markers, mut shutdowns, mut destroys) = Default::default();
    let push = |v: &mut Vec<Duration>, d| v.push(d);
    for _ in 0..plan.boots {
        let t = Instant::now();
        b.start(name)?;
        push(&mut starts, t.elapsed());
        let seen = wait_marker(b, name, t)?;
        push(&mut markers, seen);
        let t = Instant::now();
        b.shutdown(name)?;
        while !b.is_shutoff(name)? {
            if t.elapsed() > SHUTDOWN_LIMIT {
                return Err(format!(
                    "{name} not shut off {SHUTDOWN_LIMIT:?} after shutdown"
                ));
            }
            std::thread::sleep(POLL);
        }
        push(&mut shutdowns, t.elapsed());
        let t = Instant::now();
        b.start(name)?;
        if plan.destroy_booted {
            wait_marker(b, name, t)?;
        }
        let t = Instant::now();
        b.destroy(name)?;
        push(&mut destroys, t.elapsed());
    }
    Ok(GuestFigures {
        start: median(starts),
        marker: median(markers),
        shutdown: median(shutdowns),
        destroy: median(destroys),
    })
}

/// Opens the console of the just-started `name` and waits for the marker; answers the time
/// from `started` to its arrival.
fn wait_marker(b: &mut dyn Backend, name: &str, started: Instant) -> Result<Duration, String> {
    let watch = b.watch_console(name, READY_MARKER);
    match watch.recv_timeout(MARKER_LIMIT) {
        Ok(Ok(at)) => Ok(at.duration_since(started)),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            // The watcher may block in a read: destroying the guest ends its stream.
            let _ = b.destroy(name);
            Err(format!(
                "no {READY_MARKER} from {name} within {MARKER_LIMIT:?}"
            ))
        }
    }
}
