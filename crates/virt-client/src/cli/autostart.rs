//! `virt autostart DOMAIN [--disable]`: marks or unmarks a domain to start with the host.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `autostart`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Disable autostarting.
    #[arg(long)]
    pub disable: bool,
}

/// Runs `autostart`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let verb = if args.disable { "unmark" } else { "mark" };
    conn.set_autostart(&target.lookup, !args.disable)
        .await
        .context(|| format!("Failed to {verb} domain '{}' as autostarted", target.arg))?;
    out.extra(&format!("Domain '{}' {verb}ed as autostarted", target.arg));
    Ok(())
}
