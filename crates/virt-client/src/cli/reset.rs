//! `virt reset DOMAIN`: presses the reset button of a domain.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `reset`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `reset`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.reset(&target.lookup)
        .await
        .context(|| format!("Failed to reset domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' was reset", target.arg));
    Ok(())
}
