//! `virt nodesuspend TARGET DURATION`: suspends the host (mem, disk or hybrid) for a time.

use virt_client::Connection;

use super::cpu_xml::signed;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `nodesuspend`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend).
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Suspend duration in seconds, at least 60.
    #[arg(value_name = "DURATION", allow_negative_numbers = true)]
    pub duration: String,
}

/// Runs `nodesuspend`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let duration: i64 = signed(&args.duration, "duration")?;
    let target = match args.target.as_str() {
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
