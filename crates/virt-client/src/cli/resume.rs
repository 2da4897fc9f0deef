//! `virt resume DOMAIN`: resumes a paused domain.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `resume`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `resume`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.resume(&target.lookup)
        .await
        .context(|| format!("Failed to resume domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' resumed", target.arg));
    Ok(())
}
