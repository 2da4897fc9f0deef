//! `virt domjobinfo DOMAIN [--completed] [--keep-completed] [--anystats] [--rawstats]`: the
//! domain's background job (virDomainGetJobStats, falling back to virDomainGetJobInfo as
//! virsh does), in virsh 9.0's layout (cmdDomjobinfo).

use virt_client::Connection;
use virt_core::types::{TypedParam, TypedValue};
use virt_core::ErrorCode;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domjobinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Return statistics of a recently completed job.
    #[arg(long)]
    pub completed: bool,
    /// Don't destroy statistics of a recently completed job when reading.
    #[arg(long)]
    pub keep_completed: bool,
    /// Print statistics for any kind of job (even failed ones).
    #[arg(long)]
    pub anystats: bool,
    /// Print the raw data returned by libvirt.
    #[arg(long)]
    pub rawstats: bool,
}

/// virsh's names of virDomainJobType.
pub fn job_type_name(t: i32) -> &'static str {
    match t {
        0 => "None",
        1 => "Bounded",
        2 => "Unbounded",
        3 => "Completed",
        4 => "Failed",
        5 => "Cancelled",
        _ => "unknown",
    }
}

/// virsh's names of virDomainJobOperation.
fn operation_name(op: i32) -> &'static str {
    match op {
        0 => "Unknown",
        1 => "Start",
        2 => "Save",
        3 => "Restore",
        4 => "Incoming migration",
        5 => "Outgoing migration",
        6 => "Snapshot",
        7 => "Snapshot revert",
        8 => "Dump",
        9 => "Backup",
        10 => "Snapshot delete",
        _ => "unknown",
    }
}

/// virsh's `vshPrettyCapacity`.
pub fn pretty(v: u64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && v >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    (v as f64 / (1u64 << (10 * i)) as f64, UNITS[i])
}

fn ull(ps: &[TypedParam], field: &str) -> Option<u64> {
    ps.iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::ULLong(v) => Some(v),
            _ => None,
        })
}

fn int(ps: &[TypedParam], field: &str) -> Option<i32> {
    ps.iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::Int(v) => Some(v),
            _ => None,
        })
}

/// libvirt's virTypedParameterToString.
fn raw_text(v: &TypedValue) -> String {
    match v {
        TypedValue::Int(v) => v.to_string(),
        TypedValue::UInt(v) => v.to_string(),
        TypedValue::LLong(v) => v.to_string(),
        TypedValue::ULLong(v) => v.to_string(),
        TypedValue::Double(v) => format!("{v}"),
        TypedValue::Bool(v) => u8::from(*v).to_string(),
        TypedValue::String(v) => v.clone(),
    }
}

/// virDomainJobInfo's figures, as virsh reads them from the statistics.
#[derive(Default)]
struct Info {
    kind: i32,
    time_elapsed: u64,
    time_remaining: u64,
    data: [u64; 3],
    mem: [u64; 3],
    file: [u64; 3],
}

/// virsh's layout of one job.
pub fn render(kind: i32, ps: &[TypedParam], completed: bool, anystats: bool) -> String {
    let g = |f: &str| ull(ps, f).unwrap_or(0);
    let info = Info {
        kind,
        time_elapsed: g("time_elapsed"),
        time_remaining: g("time_remaining"),
        data: [g("data_processed"), g("data_remaining"), g("data_total")],
        mem: [
            g("memory_processed"),
            g("memory_remaining"),
            g("memory_total"),
        ],
        file: [g("disk_processed"), g("disk_remaining"), g("disk_total")],
    };
    render_info(&info, ps, completed, anystats)
}

fn render_info(info: &Info, ps: &[TypedParam], completed: bool, anystats: bool) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{:<17} {:<12}", "Job type:", job_type_name(info.kind));
    if !anystats && info.kind != 1 && info.kind != 2 && !(completed && info.kind == 3) {
        return o;
    }
    let op = int(ps, "operation").unwrap_or(0);
    let _ = writeln!(o, "{:<17} {:<12}", "Operation:", operation_name(op));
    let _ = writeln!(o, "{:<17} {:<12} ms", "Time elapsed:", info.time_elapsed);
    if let Some(v) = ull(ps, "time_elapsed_net") {
        let _ = writeln!(o, "{:<17} {:<12} ms", "Time elapsed w/o network:", v);
    }
    if info.kind == 1 {
        let _ = writeln!(
            o,
            "{:<17} {:<12} ms",
            "Time remaining:", info.time_remaining
        );
    }
    let triple = |o: &mut String, vals: &[u64; 3], labels: [&str; 3]| {
        if vals.iter().any(|v| *v != 0) {
            for (v, l) in vals.iter().zip(labels) {
                let (n, u) = pretty(*v);
                let _ = writeln!(o, "{l:<17} {n:.3} {u}");
            }
        }
    };
    triple(
        &mut o,
        &info.data,
        ["Data processed:", "Data remaining:", "Data total:"],
    );
    triple(
        &mut o,
        &info.mem,
        ["Memory processed:", "Memory remaining:", "Memory total:"],
    );
    if let Some(v) = ull(ps, "memory_bps").filter(|v| *v != 0) {
        let (n, u) = pretty(v);
        let _ = writeln!(o, "{:<17} {n:.3} {u}/s", "Memory bandwidth:");
    }
    for (field, label, unit) in [
        ("memory_dirty_rate", "Dirty rate:", " pages/s"),
        ("memory_page_size", "Page size:", " bytes"),
        ("memory_iteration", "Iteration:", ""),
        ("memory_postcopy_requests", "Postcopy requests:", ""),
    ] {
        if let Some(v) = ull(ps, field) {
            let _ = writeln!(o, "{label:<17} {v:<12}{unit}");
        }
    }
    triple(
        &mut o,
        &info.file,
        ["File processed:", "File remaining:", "File total:"],
    );
    if let Some(v) = ull(ps, "disk_bps").filter(|v| *v != 0) {
        let (n, u) = pretty(v);
        let _ = writeln!(o, "{:<17} {n:.3} {u}/s", "File bandwidth:");
    }
    for (field, label) in [
        ("memory_constant", "Constant pages:"),
        ("memory_normal", "Normal pages:"),
    ] {
        if let Some(v) = ull(ps, field) {
            let _ = writeln!(o, "{label:<17} {v:<12}");
        }
    }
    if let Some(v) = ull(ps, "memory_normal_bytes") {
        let (n, u) = pretty(v);
        let _ = writeln!(o, "{:<17} {n:.3} {u}", "Normal data:");
    }
    if let Some(v) = ull(ps, "downtime") {
        let label = if info.kind == 3 {
            "Total downtime:"
        } else {
            "Expected downtime:"
        };
        let _ = writeln!(o, "{label:<17} {v:<12} ms");
    }
    if let Some(v) = ull(ps, "downtime_net") {
        let _ = writeln!(o, "{:<17} {v:<12} ms", "Downtime w/o network:");
    }
    if let Some(v) = ull(ps, "setup_time") {
        let _ = writeln!(o, "{:<17} {v:<12} ms", "Setup time:");
    }
    if let Some(v) = ull(ps, "compression_cache") {
        let (n, u) = pretty(v);
        let _ = writeln!(o, "{:<17} {n:.3} {u}", "Compression cache:");
    }
    if let Some(v) = ull(ps, "compression_bytes") {
        let (n, u) = pretty(v);
        let _ = writeln!(o, "{:<17} {n:.3} {u}", "Compressed data:");
    }
    for (field, label) in [
        ("compression_pages", "Compressed pages:"),
        ("compression_cache_misses", "Compression cache misses:"),
        ("compression_overflow", "Compression overflows:"),
    ] {
        if let Some(v) = ull(ps, field) {
            let _ = writeln!(o, "{label:<17} {v:<13}");
        }
    }
    if let Some(v) = int(ps, "auto_converge_throttle") {
        let _ = writeln!(o, "{:<17} {v:<13}", "Auto converge throttle:");
    }
    for (field, label) in [
        ("disk_temp_used", "Temporary disk space use:"),
        ("disk_temp_total", "Temporary disk space total:"),
    ] {
        if let Some(v) = ull(ps, field) {
            let (n, u) = pretty(v);
            let _ = writeln!(o, "{label:<17} {n:.3} {u}");
        }
    }
    if let Some(msg) = ps.iter().find(|p| p.field == "errmsg") {
        if let TypedValue::String(s) = &msg.value {
            let _ = writeln!(o, "{:<17} {s}", "Error message:");
        }
    }
    o
}

/// Runs `domjobinfo`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    if a.keep_completed && !a.completed {
        return Err(CliError::msg(
            "Option --completed is required by option --keep-completed",
        ));
    }
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let flags = u32::from(a.completed) | if a.keep_completed { 2 } else { 0 };
    match conn.job_stats(&target.lookup, flags).await {
        Ok((kind, ps)) => {
            if a.rawstats {
                out.line(&format!("Job type: {kind}\n"));
                for p in &ps {
                    out.line(&format!("{}: {}", p.field, raw_text(&p.value)));
                }
                return Ok(());
            }
            out.text(&render(kind, &ps, a.completed, a.anystats));
            Ok(())
        }
        Err(e) if e.code() == ErrorCode::NoSupport => {
            if flags != 0 || a.rawstats {
                return Err(CliError::Call {
                    context: Some(
                        "Optional flags or --rawstats are not supported by the daemon".into(),
                    ),
                    source: Box::new(e),
                });
            }
            let j = conn.job_info(&target.lookup).await?;
            let info = Info {
                kind: j.r#type,
                time_elapsed: j.time_elapsed,
                time_remaining: j.time_remaining,
                data: [j.data_processed, j.data_remaining, j.data_total],
                mem: [j.mem_processed, j.mem_remaining, j.mem_total],
                file: [j.file_processed, j.file_remaining, j.file_total],
            };
            out.text(&render_info(&info, &[], false, a.anystats));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(field: &str, v: u64) -> TypedParam {
        TypedParam::new(field, TypedValue::ULLong(v))
    }

    #[test]
    fn a_running_save_in_virshs_layout() {
        let ps = vec![
            TypedParam::new("operation", TypedValue::Int(2)),
            u("time_elapsed", 1234),
            u("setup_time", 3),
            u("data_total", 168 << 20),
            u("data_processed", 42 << 20),
            u("data_remaining", 126 << 20),
            u("memory_total", 168 << 20),
            u("memory_processed", 42 << 20),
            u("memory_remaining", 126 << 20),
            u("memory_constant", 100),
            u("memory_normal", 2000),
            u("memory_normal_bytes", 2000 * 4096),
            u("memory_bps", 1 << 30),
            u("memory_dirty_rate", 0),
            u("memory_page_size", 4096),
            u("memory_iteration", 1),
            u("memory_postcopy_requests", 0),
            u("disk_total", 0),
            u("disk_processed", 0),
            u("disk_remaining", 0),
        ];
        let want = "Job type:         Unbounded   \n\
                    Operation:        Save        \n\
                    Time elapsed:     1234         ms\n\
                    Data processed:   42.000 MiB\n\
                    Data remaining:   126.000 MiB\n\
                    Data total:       168.000 MiB\n\
                    Memory processed: 42.000 MiB\n\
                    Memory remaining: 126.000 MiB\n\
                    Memory total:     168.000 MiB\n\
                    Memory bandwidth: 1.000 GiB/s\n\
                    Dirty rate:       0            pages/s\n\
                    Page size:        4096         bytes\n\
                    Iteration:        1           \n\
                    Postcopy requests: 0           \n\
                    Constant pages:   100         \n\
                    Normal pages:     2000        \n\
                    Normal data:      7.812 MiB\n";
        let got = render(2, &ps, false, false);
        assert!(got.starts_with(want), "{got}");
        assert!(
            got.ends_with("Setup time:       3            ms\n"),
            "{got}"
        );
        // No job, a failed one without --anystats: the type line only.
        assert_eq!(
            render(0, &[], false, false),
            "Job type:         None        \n"
        );
        assert_eq!(
            render(4, &ps, true, false),
            "Job type:         Failed      \n"
        );
        assert!(render(4, &ps, true, true).contains("Operation:        Save"));
        // A completed job only with --completed.
        assert_eq!(
            render(3, &ps, false, false),
            "Job type:         Completed   \n"
        );
    }
}
