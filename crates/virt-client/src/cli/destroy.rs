//! `virt destroy DOMAIN [--graceful --remove-logs]`: stops a domain at once.

use virt_client::Connection;
use virt_core::proto::DestroyDomainFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `destroy`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Terminate gracefully: never escalate to SIGKILL.
    #[arg(long)]
    pub graceful: bool,
    /// Remove the domain's log files.
    #[arg(long = "remove-logs")]
    pub remove_logs: bool,
}

/// Runs `destroy`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let mut flags = 0;
    if args.graceful {
        flags |= F::Graceful as u32;
    }
    if args.remove_logs {
        flags |= F::RemoveLogs as u32;
    }
    conn.destroy(&target.lookup, flags)
        .await
        .context(|| format!("Failed to destroy domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' destroyed", target.arg));
    Ok(())
}
