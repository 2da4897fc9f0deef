//! `virt suspend DOMAIN`: pauses a running domain.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `suspend`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `suspend`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.suspend(&target.lookup)
        .await
        .context(|| format!("Failed to suspend domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' suspended", target.arg));
    Ok(())
}
