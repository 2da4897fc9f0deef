//! `virt nodesuspend TARGET DURATION`: suspends the host (mem, disk or hybrid) for a time.

use virt_client::Connection;

use super::cpu_xml::signed;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `nodesuspend`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend).
    #[arg(value_name = "TARGET", required_unless_present = "target_opt")]
    pub target: Option<String>,
    /// mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend).
    #[arg(long = "target", value_name = "TARGET", conflicts_with = "target")]
    pub target_opt: Option<String>,
    /// Suspend duration in seconds, at least 60.
    #[arg(
        value_name = "DURATION",
        allow_negative_numbers = true,
        required_unless_present = "duration_opt"
    )]
    pub duration: Option<String>,
    /// Suspend duration in seconds, at least 60.
    #[arg(
        long = "duration",
        value_name = "DURATION",
        allow_hyphen_values = true,
        conflicts_with = "duration"
    )]
    pub duration_opt: Option<String>,
}

/// Runs `nodesuspend`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let target = args.target.as_deref().or(args.target_opt.as_deref());
    let duration = args.duration.as_deref().or(args.duration_opt.as_deref());
    let duration: i64 = signed(duration.unwrap_or_default(), "duration")?;
    let target = match target.unwrap_or_default() {
        "mem" => 0,
        "disk" => 1,
        "hybrid" => 2,
        _ => return Err(CliError::msg("Invalid target")),
    };
    if duration < 0 {
        return Err(CliError::msg("Invalid duration"));
    }
    conn.suspend_for_duration(target, duration as u64, 0)
        .await
        .context(|| "The host was not suspended".into())?;
    Ok(())
}
