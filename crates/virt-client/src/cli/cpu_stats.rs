//! `virt cpu-stats DOMAIN [--total] [--start N] [--count N]`: the domain's CPU time per host
//! CPU and in total (libvirt: virDomainGetCPUStats).

use virt_client::Connection;
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::opt_int;

/// Options of `cpu-stats`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Show total statistics only.
    #[arg(long)]
    pub total: bool,
    /// Show statistics from this CPU.
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Number of shown CPUs at most.
    #[arg(long, allow_hyphen_values = true)]
    pub count: Option<String>,
}

/// One statistic as virsh prints it: times as seconds with nine decimals.
pub fn stat_line(p: &TypedParam) -> String {
    match (&p.value, p.field.as_str()) {
        (TypedValue::ULLong(ns), "cpu_time" | "vcpu_time" | "user_time" | "system_time") => {
            format!(
                "\t{:<15} {:>6}.{:09} seconds",
                p.field,
                ns / 1_000_000_000,
                ns % 1_000_000_000
            )
        }
        (v, _) => format!("\t{:<15} {}", p.field, v.virsh_text()),
    }
}

/// Runs `cpu-stats`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let mut show_total = args.total;
    let mut show_per_cpu = false;
    let mut cpu = 0i32;
    let mut count = -1i32;
    if let Some(s) = &args.start {
        cpu = opt_int(s, "start")?;
        if cpu < 0 {
            return Err(CliError::msg("Invalid value for start CPU"));
        }
        show_per_cpu = true;
    }
    if let Some(c) = &args.count {
        count = opt_int(c, "count")?;
        if count < 0 {
            return Err(CliError::msg("Invalid value for number of CPUs to show"));
        }
        show_per_cpu = true;
    }
    if !show_total && !show_per_cpu {
        show_total = true;
        show_per_cpu = true;
    }
    let name = target.arg.clone();
    let failed = move || format!("Failed to retrieve CPU statistics for domain '{name}'");
    let flags = TypedParamFlag::StringOkay as u32;
    if show_per_cpu {
        let (max_id, _) = conn
            .get_domain_cpu_stats(&target.lookup, 0, 0, flags)
            .await
            .context(failed.clone())?;
        let max_id = max_id as i32;
        if cpu >= max_id {
            return Err(CliError::msg(format!(
                "Start CPU {cpu} is out of range (min: 0, max: {})",
                max_id - 1
            )));
        }
        if count < 0 || count > max_id {
            if count > max_id {
                out.line(&format!("Only {max_id} CPUs available to show"));
            }
            count = max_id - cpu;
        }
        while count > 0 {
            let n = count.min(128);
            let (_, recs) = conn
                .get_domain_cpu_stats(&target.lookup, cpu, n as u32, flags)
                .await
                .context(failed.clone())?;
            for (i, rec) in recs.iter().enumerate() {
                if rec.is_empty() {
                    continue;
                }
                out.line(&format!("CPU{}:", cpu as usize + i));
                for p in rec {
                    out.line(&stat_line(p));
                }
            }
            cpu += n;
            count -= n;
        }
    }
    if show_total {
        let (_, recs) = conn
            .get_domain_cpu_stats(&target.lookup, -1, 1, flags)
            .await
            .context(failed)?;
        let total = recs.into_iter().next().unwrap_or_default();
        if total.is_empty() {
            out.line("No total stats available");
            return Ok(());
        }
        out.line("Total:");
        for p in &total {
            out.line(&stat_line(p));
        }
    }
    Ok(())
}
