//! `virt dompmsuspend DOMAIN TARGET [--duration N]`: suspends the guest through its power
//! management (virDomainPMSuspendForDuration), with virsh 9.0's checks and messages.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `dompmsuspend`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend).
    #[arg(value_name = "TARGET", required_unless_present = "target_opt")]
    pub target: Option<String>,
    /// mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend).
    #[arg(long = "target", value_name = "TARGET", conflicts_with = "target")]
    pub target_opt: Option<String>,
    /// Duration in seconds.
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
}

/// Runs `dompmsuspend`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let duration = match &a.duration {
        None => 0,
        Some(v) => v.parse::<u64>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{v}' for <duration> option is malformed or out of range"
            ))
        })?,
    };
    let t = a
        .target
        .as_deref()
        .or(a.target_opt.as_deref())
        .unwrap_or("");
    let suspend_target = match t {
        "mem" => 0,
        "disk" => 1,
        "hybrid" => 2,
        _ => return Err(CliError::msg("Invalid target")),
    };
    conn.pm_suspend(&target.lookup, suspend_target, duration, 0)
        .await
        .context(|| format!("Domain '{}' could not be suspended", target.arg))?;
    out.extra(&format!("Domain '{}' successfully suspended", target.arg));
    Ok(())
}
