//! `virt domid DOMAIN`: the ID of a domain given by name or UUID (`-` when inactive).

use virt_client::Connection;

use super::dom::{resolve, DomArg, NAME_OR_UUID};
use super::output::Output;
use super::report::CliError;

/// Options of `domid`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `domid`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), NAME_OR_UUID).await?;
    let id = target
        .domain
        .id
        .map_or_else(|| "-".to_string(), |id| id.to_string());
    out.line(&id);
    Ok(())
}
