//! The daemon benchmark's table: our figures, libvirt's measured in the same run (or why they
//! are missing), their ratio, libvirt's recorded reference figures, and the targets.

use std::time::Duration;

use crate::{Latency, Local, Plan, Results};

/// What a row measures, which decides how it prints and which way is better.
#[derive(Clone, Copy)]
enum Unit {
    /// A duration in seconds; lower is better.
    Time,
    /// Calls per second; higher is better.
    Rate,
}

/// A target on ours/libvirt: at most `max` for times, at least `min` for rates.
#[derive(Clone, Copy)]
enum Target {
    AtMost(f64),
    AtLeast(f64),
}

struct Row {
    name: String,
    unit: Unit,
    ours: f64,
    theirs: Option<f64>,
    reference: Option<f64>,
    target: Option<Target>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn rows(plan: &Plan, ours: &Results, theirs: Option<&Results>) -> Vec<Row> {
    let row = |name: String, unit, pick: &dyn Fn(&Results) -> f64, reference, target| Row {
        name,
        unit,
        ours: pick(ours),
        theirs: theirs.map(pick),
        reference,
        target,
    };
    let half = Some(Target::AtMost(0.5));
    let (n_small, n_big) = (ours.small.listed, ours.big.listed);
    vec![
        row(
            "GetNodeInfo median".into(),
            Unit::Time,
            &|r| secs(r.node_info.median),
            Some(95e-6),
            half,
        ),
        row(
            "GetNodeInfo p99".into(),
            Unit::Time,
            &|r| secs(r.node_info.p99),
            None,
            None,
        ),
        row(
            "LookupDomain median".into(),
            Unit::Time,
            &|r| secs(r.lookup.median),
            None,
            half,
        ),
        row(
            "LookupDomain p99".into(),
            Unit::Time,
            &|r| secs(r.lookup.p99),
            None,
            None,
        ),
        row(
            "throughput, 1 client".into(),
            Unit::Rate,
            &|r| r.tput_one,
            Some(9.7e3),
            None,
        ),
        row(
            format!("throughput, {} client threads", plan.clients),
            Unit::Rate,
            &|r| r.tput_many,
            Some(18.6e3),
            Some(Target::AtLeast(2.0)),
        ),
        // Compared with libvirt's threads: libvirt has no async client.
        row(
            format!("throughput, {} client tasks", plan.clients),
            Unit::Rate,
            &|r| r.tput_many_tasks.unwrap_or(r.tput_many),
            Some(18.6e3),
            Some(Target::AtLeast(2.0)),
        ),
        row(
            format!("define, each (1..{})", plan.small),
            Unit::Time,
            &|r| secs(r.small.define_each),
            Some(306e-6),
            None,
        ),
        row(
            format!("ListAllDomains, {n_small}"),
            Unit::Time,
            &|r| secs(r.small.list),
            Some(2.9e-3),
            None,
        ),
        row(
            format!("GetAllDomainStats STATE, {n_small}"),
            Unit::Time,
            &|r| secs(r.small.stats),
            Some(5.4e-3),
            half,
        ),
        row(
            format!("define, each ({}..{})", plan.small + 1, plan.big),
            Unit::Time,
            &|r| secs(r.big.define_each),
            None,
            None,
        ),
        row(
            format!("ListAllDomains, {n_big}"),
            Unit::Time,
            &|r| secs(r.big.list),
            None,
            None,
        ),
        row(
            format!("GetAllDomainStats STATE, {n_big}"),
            Unit::Time,
            &|r| secs(r.big.stats),
            None,
            None,
        ),
    ]
}

fn show(unit: Unit, v: Option<f64>) -> String {
    match (unit, v) {
        (_, None) => "-".into(),
        (Unit::Time, Some(s)) if s < 1e-3 => format!("{:.1} us", s * 1e6),
        (Unit::Time, Some(s)) => format!("{:.2} ms", s * 1e3),
        (Unit::Rate, Some(r)) => format!("{:.1}k/s", r / 1e3),
    }
}

/// "met" or "MISSED" against `base` (libvirt's measured figure, else its reference).
fn verdict(target: Option<Target>, ours: f64, base: Option<f64>, measured: bool) -> String {
    let (Some(target), Some(base)) = (target, base) else {
        return String::new();
    };
    let ratio = ours / base;
    let (ok, want) = match target {
        Target::AtMost(m) => (ratio <= m, format!("<= {m}x")),
        Target::AtLeast(m) => (ratio >= m, format!(">= {m}x")),
    };
    let vs = if measured { "" } else { " vs ref" };
    format!("{want}: {}{vs}", if ok { "met" } else { "MISSED" })
}

/// Prints the table to stdout; `theirs` is libvirt's figures or why they are missing.
/// `load` is the 1-minute load average before the run.
pub fn print(plan: &Plan, load: &str, ours: &Results, theirs: Result<&Results, &String>) {
    println!();
    println!("daemon benchmark: virt-proxy vs libvirt 9.0 daemon, test driver, UNIX socket");
    println!(
        "machine: {}; load average before the run: {load}",
        machine()
    );
    if !plan.full || cfg!(debug_assertions) {
        println!(
            "smoke run (small plan or debug build): figures not comparable, targets not judged"
        );
    }
    if let Err(why) = theirs {
        println!("libvirt column missing: {why}");
    }
    println!(
        "{:<32} {:>11} {:>11} {:>13} {:>11}  target",
        "metric", "virt-proxy", "libvirt", "ours/libvirt", "libvirt ref"
    );
    for r in rows(plan, ours, theirs.ok()) {
        let ratio = r
            .theirs
            .map_or("-".into(), |t| format!("{:.2}", r.ours / t));
        let base = r.theirs.or(r.reference);
        println!(
            "{:<32} {:>11} {:>11} {:>13} {:>11}  {}",
            r.name,
            show(r.unit, Some(r.ours)),
            show(r.unit, r.theirs),
            ratio,
            show(r.unit, r.reference),
            if plan.full && !cfg!(debug_assertions) {
                verdict(r.target, r.ours, base, r.theirs.is_some())
            } else {
                String::new()
            },
        );
    }
    let counts = |r: &Results| {
        format!(
            "listed {} / {}, stat records {} / {}",
            r.small.listed, r.big.listed, r.small.stat_records, r.big.stat_records
        )
    };
    println!("virt-proxy: {}", counts(ours));
    if let Ok(t) = theirs {
        println!("libvirt:    {}", counts(t));
    }
    println!(
        "(client tasks: ours as tasks of one multi-thread tokio runtime; libvirt's column there \
         repeats its client threads, libvirt's API being blocking)"
    );
    println!(
        "(latency: {} sequential calls on one connection; throughput: {:?} per run; bulk calls: \
         median of {})",
        plan.calls, plan.window, plan.repeats
    );
}

/// CPU model and count, from /proc/cpuinfo.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cpus} CPUs")
}

/// Prints the local-call figure: ours on the default path straight to virtqemud, beside
/// libvirt's `qemu:///system` and (from the table above) libvirt's test driver, same run.
pub fn print_local(plan: &Plan, local: &Local, test_driver: Option<&Results>) {
    let us = |d: std::time::Duration| format!("{:.1} us", d.as_secs_f64() * 1e6);
    let judged = plan.full && !cfg!(debug_assertions);
    println!();
    println!(
        "local call, default path: LookupDomain (virDomainLookupByName), {} sequential calls",
        plan.calls
    );
    let line = |name: &str, l: &Latency, ours: &Latency| {
        let ratio = secs(ours.median) / secs(l.median);
        let verdict = if judged {
            verdict(Some(Target::AtMost(0.5)), ratio, Some(1.0), true)
        } else {
            String::new()
        };
        println!(
            "  {name:<58} median {:>9}, p99 {:>9}; ours/libvirt {ratio:.2}  {verdict}",
            us(l.median),
            us(l.p99)
        );
    };
    println!(
        "  {:<58} median {:>9}, p99 {:>9}",
        "ours: virt_client qemu:///system -> virtqemud-sock",
        us(local.ours.median),
        us(local.ours.p99)
    );
    println!(
        "  {:<58} median {:>9}, p99 {:>9}",
        "(scale: same socket through tonic's Channel)",
        us(local.tonic.median),
        us(local.tonic.p99)
    );
    match &local.theirs {
        Ok(l) => line(
            "libvirt: qemu:///system (libvirtd, QEMU driver)",
            l,
            &local.ours,
        ),
        Err(why) => println!("  libvirt qemu:///system missing: {why}"),
    }
    if let Some(t) = test_driver {
        line(
            "libvirt: test+unix:///default (libvirtd, test driver)",
            &t.lookup,
            &local.ours,
        );
    }
}
