//! The table: both sides, their ratio, the reference figures issue 6 recorded through
//! libvirt 9.0 on this kind of machine, and the targets with a verdict (full plan only).

use std::time::Duration;

use crate::{BulkStats, GuestFigures, Plan, RawFigures, Results, ViFigures};

/// A figure: a time or a size in KiB.
#[derive(Clone, Copy)]
enum Value {
    Time(Duration),
    Kib(u64),
}

impl Value {
    fn scalar(self) -> f64 {
        match self {
            Value::Time(d) => d.as_secs_f64(),
            Value::Kib(k) => k as f64,
        }
    }

    fn show(self) -> String {
        match self {
            Value::Time(d) => time(d),
            Value::Kib(k) => format!("{:.1} MB", k as f64 / 1024.0),
        }
    }
}

/// `d` in a unit that suits it.
pub fn time(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// One row: the metric, both values, the reference, and the target as (text, bound).
struct Row {
    metric: String,
    ours: Option<Value>,
    theirs: Option<Value>,
    reference: &'static str,
    target: Option<(String, f64)>,
}

impl Row {
    fn new(metric: String, ours: Option<Value>, theirs: Option<Value>) -> Row {
        Row {
            metric,
            ours,
            theirs,
            reference: "",
            target: None,
        }
    }

    fn reference(mut self, r: &'static str) -> Row {
        self.reference = r;
        self
    }

    fn target(mut self, text: String, bound: f64) -> Row {
        self.target = Some((text, bound));
        self
    }

    fn print(&self, full: bool) {
        let show = |v: Option<Value>| v.map_or_else(|| "—".to_string(), Value::show);
        let ratio = match (self.ours, self.theirs) {
            (Some(o), Some(t)) if t.scalar() > 0.0 => format!("{:.2}", o.scalar() / t.scalar()),
            _ => String::new(),
        };
        let target = match (&self.target, self.ours) {
            (None, _) => String::new(),
            (Some((text, _)), _) if !full => format!("{text} (smoke: no verdict)"),
            (Some((text, bound)), Some(o)) => {
                let verdict = if o.scalar() <= *bound {
                    "met"
                } else {
                    "**missed**"
                };
                format!("{text}: {verdict}")
            }
            (Some((text, _)), None) => format!("{text}: not measured"),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            self.metric,
            show(self.ours),
            show(self.theirs),
            ratio,
            self.reference,
            target
        );
    }
}

fn stats_cell(s: &BulkStats) -> String {
    format!(
        "{} records, {} params each",
        s.records,
        s.params / s.records.max(1)
    )
}

/// Prints the table (markdown) and the notes under it.
pub fn print(
    plan: &Plan,
    load: &str,
    raw: &RawFigures,
    ours: &Results,
    theirs: Result<&Results, &String>,
) {
    let t = theirs.ok();
    let few = plan.few;
    let many = plan.many;
    let stats_many = |r: &Results| r.stats_many.as_ref().ok().map(|s| Value::Time(s.median));
    let guest = |r: &Results, f: fn(&GuestFigures) -> Duration| {
        r.guest.as_ref().ok().map(|g| Value::Time(f(g)))
    };
    let vi = |r: &Results, f: fn(&ViFigures) -> Option<Value>| r.vi.as_ref().ok().and_then(f);
    let both = |f: &dyn Fn(&Results) -> Option<Value>| (f(ours), t.and_then(f));
    let row = |metric: String, f: &dyn Fn(&Results) -> Option<Value>| {
        let (o, l) = both(f);
        Row::new(metric, o, l)
    };
    let two_raw = raw.start * 2;
    let rows = [
        row("start → running (API return)".into(), &|r| {
            Some(Value::Time(r.start))
        })
        .reference("206 ms")
        .target(
            format!("≤ 2× raw QEMU = {}", time(two_raw)),
            two_raw.as_secs_f64(),
        ),
        row("destroy".into(), &|r| Some(Value::Time(r.destroy)))
            .reference("2009 ms")
            .target("< 50 ms".into(), 0.050),
        row(format!("bulk stats, all groups, {few} guests"), &|r| {
            Some(Value::Time(r.stats_few.median))
        })
        .reference("38 ms")
        .target("< 5 ms".into(), 0.005),
        row(
            format!("bulk stats, all groups, {many} guests"),
            &stats_many,
        ),
        row("daemon RSS, no guest yet".into(), &|r| {
            r.rss_idle.map(Value::Kib)
        }),
        row(format!("daemon RSS, {few} guests running"), &|r| {
            r.rss_few.map(Value::Kib)
        })
        .reference("40 MB")
        .target("< 15 MB".into(), 15.0 * 1024.0),
        row(format!("daemon RSS, {many} guests running"), &|r| {
            r.rss_many.map(Value::Kib)
        }),
        row("real guest: start returns".into(), &|r| {
            guest(r, |g| g.start)
        })
        .reference("270 ms"),
        row(
            "real guest: marker on the console, after start".into(),
            &|r| guest(r, |g| g.marker),
        )
        .reference("2.7 s"),
        row("real guest: ACPI shutdown → shut off".into(), &|r| {
            guest(r, |g| g.shutdown)
        })
        .reference("1.2–2 s"),
        row("real guest: destroy".into(), &|r| guest(r, |g| g.destroy)).reference("1.23 s"),
        row(
            "virt-install guest (UEFI, TPM, SPICE, agent): start returns".into(),
            &|r| vi(r, |v| Some(Value::Time(v.start))),
        ),
        row(
            "virt-install guest: marker on the console, after start".into(),
            &|r| vi(r, |v| Some(Value::Time(v.marker))),
        ),
        row(
            format!("daemon RSS, {} virt-install guests running", plan.vi_many),
            &|r| vi(r, |v| v.rss_many.map(Value::Kib)),
        ),
    ];
    println!();
    println!("QEMU driver, load average {load}; plan {plan:?}");
    println!();
    println!("| metric | virtqemud | libvirt | ours/libvirt | libvirt ref | target |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        r.print(plan.full);
    }
    println!(
        "| raw QEMU: exec → QMP query-status running | {} | | | 22 ms | the limit |",
        time(raw.start)
    );
    println!(
        "| raw QEMU: SIGTERM → exited | {} | | | 2 ms | the limit |",
        time(raw.exit)
    );
    println!();
    println!(
        "start: ours {:.2}× raw QEMU{}",
        ours.start.as_secs_f64() / raw.start.as_secs_f64(),
        t.map(|l| format!(
            ", libvirt {:.2}×",
            l.start.as_secs_f64() / raw.start.as_secs_f64()
        ))
        .unwrap_or_default()
    );
    println!(
        "bulk stats, {few} guests: ours {}",
        stats_cell(&ours.stats_few)
    );
    if let Some(l) = t {
        println!(
            "bulk stats, {few} guests: libvirt {}",
            stats_cell(&l.stats_few)
        );
    }
    notes("virtqemud", ours);
    match theirs {
        Ok(l) => notes("libvirt", l),
        Err(why) => println!("libvirt's column is missing: {why}"),
    }
}

/// Why a figure of `who` is missing.
fn notes(who: &str, r: &Results) {
    if let Err(e) = &r.stats_many {
        println!("{who}: many guests: {e}");
    }
    if let Err(e) = &r.guest {
        println!("{who}: real guest: {e}");
    }
    if let Err(e) = &r.vi {
        println!("{who}: virt-install guest: {e}");
    }
}
