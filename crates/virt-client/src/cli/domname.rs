//! `virt domname DOMAIN`: the name of a domain given by ID or UUID.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ID_OR_UUID};
use super::output::Output;
use super::report::CliError;

/// Options of `domname`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `domname`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ID_OR_UUID).await?;
    out.line(&target.domain.name);
    Ok(())
}
