//! `virt blockjob DOMAIN PATH [--abort --async --pivot --info --bytes --raw --bandwidth N]`:
//! queries, adjusts or ends a disk's block job; and what the block job commands share
//! (virsh's `--bandwidth` and `--timeout` parsing, its wait for a job, the progress line).

use std::time::{Duration, Instant};

use virt_client::Connection;
use virt_core::kit::flags::block;
use virt_core::types::DomainLookup;

use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;
use super::size::parse_scaled;

/// Options of `blockjob`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Fully-qualified path of disk.
    #[command(flatten)]
    pub path: PathArg,
    /// Abort the active job on the specified disk.
    #[arg(long)]
    pub abort: bool,
    /// Implies --abort; request but don't wait for job end.
    #[arg(long = "async")]
    pub async_: bool,
    /// Implies --abort; conclude and pivot a copy or commit job.
    #[arg(long)]
    pub pivot: bool,
    /// Get active job information for the specified disk.
    #[arg(long)]
    pub info: bool,
    /// Get/set bandwidth in bytes rather than MiB/s.
    #[arg(long)]
    pub bytes: bool,
    /// Implies --info; output details rather than human summary.
    #[arg(long)]
    pub raw: bool,
    /// Set the bandwidth limit in MiB/s.
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub bandwidth: Option<String>,
}

/// The disk argument, positional or as `--path`.
#[derive(clap::Args, Debug, Clone)]
pub struct PathArg {
    /// Fully-qualified path of disk.
    #[arg(value_name = "PATH", required_unless_present = "path_opt")]
    path: Option<String>,
    /// Fully-qualified path of disk.
    #[arg(long = "path", value_name = "PATH", conflicts_with = "path")]
    path_opt: Option<String>,
}

impl PathArg {
    /// The argument as given.
    pub fn get(&self) -> &str {
        self.path
            .as_deref()
            .or(self.path_opt.as_deref())
            .expect("clap requires one of the two")
    }
}

/// virsh's `--bandwidth`: a plain number (negative ones wrap, as virsh keeps for history),
/// else a scaled size in bytes, in MiB/s unless `bytes`.
pub fn bandwidth(text: Option<&str>, bytes: bool) -> Result<u64, CliError> {
    let Some(text) = text else {
        return Ok(0);
    };
    let t = text.trim_start();
    if let Ok(v) = t.strip_prefix('+').unwrap_or(t).parse::<u64>() {
        return Ok(v);
    }
    if let Some(neg) = t.strip_prefix('-') {
        if let Ok(v) = neg.parse::<u64>() {
            return Ok(v.wrapping_neg());
        }
    }
    match parse_scaled(text, 1) {
        Ok(v) => Ok(if bytes { v } else { v >> 20 }),
        Err(_) => Err(CliError::msg(format!(
            "Scaled numeric value '{text}' for <--bandwidth> option is malformed or out of range"
        ))),
    }
}

/// virsh's `--timeout` in seconds: a positive number that fits in milliseconds.
pub fn timeout(text: Option<&str>) -> Result<Option<Duration>, CliError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = || {
        CliError::msg(format!(
            "Numeric value '{text}' for <timeout> option is malformed or out of range"
        ))
    };
    let v: u32 = text.trim_start().parse().map_err(|_| bad())?;
    if v == 0 || v > i32::MAX as u32 / 1000 {
        return Err(bad());
    }
    Ok(Some(Duration::from_secs(v.into())))
}

/// virsh's `virshPrintJobProgress`, on standard error.
pub fn progress(label: &str, remaining: u64, total: u64) {
    let p = if remaining == 0 {
        100
    } else {
        ((100.0 - remaining as f64 * 100.0 / total as f64) as i64).min(99)
    };
    eprint!("\r{label}: [{p:3} %]");
}

/// How a waited-for job ended (virConnectDomainEventBlockJobStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The job is gone: it completed.
    Completed,
    /// Aborted on timeout.
    Canceled,
    /// A two-phase job reached its synchronised phase.
    Ready,
}

/// Waits for the job on `disk` as virsh does without block job events: a job that is gone
/// completed, one at 100 % is ready; `timeout` aborts it (ASYNC with `async_abort`).
pub async fn wait(
    conn: &Connection,
    dom: &DomainLookup,
    disk: &str,
    label: &str,
    verbose: bool,
    timeout: Option<Duration>,
    async_abort: bool,
) -> Result<Ended, CliError> {
    let start = Instant::now();
    let mut last = (0u64, 0u64);
    let ended = loop {
        let info = conn
            .block_job_info(dom, disk, 0)
            .await
            .map_err(|e| CliError::Call {
                context: Some(format!("failed to query job for disk {disk}")),
                source: Box::new(e),
            })?;
        let Some(i) = info else {
            break Ended::Completed;
        };
        if i.cur == i.end {
            break Ended::Ready;
        }
        if verbose && (i.cur, i.end) != last {
            progress(label, i.end - i.cur, i.end);
        }
        last = (i.cur, i.end);
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let f = if async_abort { block::abort::ASYNC } else { 0 };
            conn.block_job_abort(dom, disk, f)
                .await
                .map_err(|e| CliError::Call {
                    context: Some(format!("failed to abort job for disk '{disk}'")),
                    source: Box::new(e),
                })?;
            break Ended::Canceled;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if verbose && ended != Ended::Canceled {
        progress(label, 0, 1);
    }
    Ok(ended)
}

/// Ends a job after a wait: PIVOT, or plain completion; `what` names it in the error.
pub async fn finish(
    conn: &Connection,
    dom: &DomainLookup,
    disk: &str,
    pivot: bool,
    async_abort: bool,
    what: &str,
) -> Result<(), CliError> {
    let mut f = if async_abort { block::abort::ASYNC } else { 0 };
    if pivot {
        f |= block::abort::PIVOT;
    }
    conn.block_job_abort(dom, disk, f)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("failed to {what} job for disk {disk}")),
            source: Box::new(e),
        })
}

/// virsh's names of the job types.
fn job_name(t: i32) -> &'static str {
    match t {
        block::job_type::PULL => "Block Pull",
        block::job_type::COPY => "Block Copy",
        block::job_type::COMMIT => "Block Commit",
        block::job_type::ACTIVE_COMMIT => "Active Block Commit",
        5 => "Backup",
        _ => "Unknown job",
    }
}

/// virsh's `vshPrettyCapacity`.
fn pretty(v: u64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && v >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    (v as f64 / (1u64 << (10 * i)) as f64, UNITS[i])
}

/// Runs `blockjob`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let bw = args.bandwidth.is_some();
    for (a, an, b, bn) in [
        (args.raw, "raw", args.abort, "abort"),
        (args.raw, "raw", args.pivot, "pivot"),
        (args.raw, "raw", args.async_, "async"),
        (args.raw, "raw", bw, "bandwidth"),
        (args.info, "info", args.abort, "abort"),
        (args.info, "info", args.pivot, "pivot"),
        (args.info, "info", args.async_, "async"),
        (args.info, "info", bw, "bandwidth"),
        (args.bytes, "bytes", args.abort, "abort"),
        (args.bytes, "bytes", args.pivot, "pivot"),
        (args.bytes, "bytes", args.async_, "async"),
    ] {
        if a && b {
            return Err(exclusive(an, bn));
        }
    }
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let dom = &target.lookup;
    let path = args.path.get();
    if bw {
        let v = bandwidth(args.bandwidth.as_deref(), args.bytes)?;
        let f = if args.bytes {
            block::BANDWIDTH_BYTES
        } else {
            0
        };
        conn.block_job_set_speed(dom, path, v, f).await?;
        return Ok(());
    }
    if args.abort || args.pivot || args.async_ {
        let mut f = 0;
        if args.async_ {
            f |= block::abort::ASYNC;
        }
        if args.pivot {
            f |= block::abort::PIVOT;
        }
        conn.block_job_abort(dom, path, f).await?;
        return Ok(());
    }
    // Bytes/s unless raw mode asks for MiB/s (this daemon always answers bytes).
    let bytes = args.bytes || !args.raw;
    let f = if bytes { block::BANDWIDTH_BYTES } else { 0 };
    let Some(info) = conn.block_job_info(dom, path, f).await? else {
        if !args.raw {
            out.text(&format!("No current block job for {path}"));
        }
        return Ok(());
    };
    if args.raw {
        out.text(&format!(
            " type={}\n bandwidth={}\n cur={}\n end={}\n",
            job_name(info.job_type),
            info.bandwidth,
            info.cur,
            info.end
        ));
    } else {
        out.flush();
        progress(job_name(info.job_type), info.end - info.cur, info.end);
        if info.bandwidth != 0 {
            let (v, unit) = pretty(info.bandwidth);
            out.text(&format!(
                "    Bandwidth limit: {} bytes/s ({v:<.3} {unit}/s)",
                info.bandwidth
            ));
        }
        out.text("\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_is_mib_or_scaled_bytes() {
        assert_eq!(bandwidth(None, false).ok(), Some(0));
        assert_eq!(bandwidth(Some("10"), false).ok(), Some(10));
        assert_eq!(bandwidth(Some("10M"), false).ok(), Some(10));
        assert_eq!(bandwidth(Some("10M"), true).ok(), Some(10 << 20));
        assert_eq!(bandwidth(Some("-1"), false).ok(), Some(u64::MAX));
        assert!(bandwidth(Some("abc"), false).is_err());
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(timeout(Some("2")).ok(), Some(Some(Duration::from_secs(2))));
        assert!(timeout(Some("0")).is_err());
        assert!(timeout(Some("abc")).is_err());
        assert!(timeout(Some("-1")).is_err());
    }

    #[test]
    fn capacities_print_in_binary_units() {
        assert_eq!(pretty(1 << 20), (1.0, "MiB"));
        assert_eq!(pretty(1536), (1.5, "KiB"));
        assert_eq!(pretty(10), (10.0, "B"));
    }
}
