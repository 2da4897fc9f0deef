//! `virt dommemstat DOMAIN`: the guest's balloon statistics (virDomainMemoryStats), one
//! `name value` line each, as virsh 9.0 prints them; with `--period N`, sets how often the
//! balloon refreshes them instead (virDomainSetMemoryStatsPeriod), printing nothing.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::opt_int;

/// Options of `dommemstat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Period in seconds to set collection.
    #[arg(long, allow_hyphen_values = true)]
    pub period: Option<String>,
    /// Affect next boot.
    #[arg(long)]
    pub config: bool,
    /// Affect running domain.
    #[arg(long)]
    pub live: bool,
    /// Affect current domain.
    #[arg(long)]
    pub current: bool,
}

/// virsh's name of a virDomainMemoryStatTags value.
fn tag_name(tag: i32) -> Option<&'static str> {
    Some(match tag {
        0 => "swap_in",
        1 => "swap_out",
        2 => "major_fault",
        3 => "minor_fault",
        4 => "unused",
        5 => "available",
        6 => "actual",
        7 => "rss",
        8 => "usable",
        9 => "last_update",
        10 => "disk_caches",
        11 => "hugetlb_pgalloc",
        12 => "hugetlb_pgfail",
        _ => return None,
    })
}

/// Runs `dommemstat`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    for (on, other) in [(a.live, "live"), (a.config, "config")] {
        if a.current && on {
            return Err(CliError::msg(format!(
                "Options --current and --{other} are mutually exclusive"
            )));
        }
    }
    if let Some(p) = &a.period {
        let period = opt_int(p, "period")?;
        if period < 0 {
            return Err(CliError::msg(format!(
                "Invalid collection period value '{period}'"
            )));
        }
        let flags = u32::from(a.live) | (u32::from(a.config) << 1);
        conn.set_memory_stats_period(&target.lookup, period, flags)
            .await
            .context(|| "Unable to change balloon collection period.".to_string())?;
        return Ok(());
    }
    let stats = conn
        .domain_memory_stats(&target.lookup)
        .await
        .context(|| format!("Failed to get memory statistics for domain {}", target.arg))?;
    for (tag, value) in stats {
        if let Some(name) = tag_name(tag) {
            out.line(&format!("{name} {value}"));
        }
    }
    Ok(())
}
