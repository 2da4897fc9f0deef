//! `virt domjobabort DOMAIN [--postcopy]`: aborts the domain's background job.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domjobabort`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Interrupt post-copy migration.
    #[arg(long)]
    pub postcopy: bool,
}

/// Runs `domjobabort` (virDomainAbortJob, or virDomainAbortJobFlags with POSTCOPY).
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.abort_job(&target.lookup, u32::from(args.postcopy))
        .await?;
    Ok(())
}
