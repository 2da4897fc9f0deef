//! `virt reboot DOMAIN [--mode M[,M...]]`: asks the guest to reboot.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};
use super::shutdown::mode_flags;

/// Options of `reboot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Reboot mode: acpi|agent|initctl|signal|paravirt, comma separated.
    #[arg(long)]
    pub mode: Option<String>,
}

/// Runs `reboot`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = mode_flags(args.mode.as_deref())?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.reboot(&target.lookup, flags)
        .await
        .context(|| format!("Failed to reboot domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' is being rebooted", target.arg));
    Ok(())
}
