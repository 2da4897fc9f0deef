//! `virt iothreaddel DOMAIN ID [--config|--live|--current]`: removes an IOThread (libvirt:
//! virDomainDelIOThread).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::iothreadadd::iothread_id;
use super::output::Output;
use super::report::CliError;

/// Options of `iothreaddel`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IOThread ID number to delete.
    #[arg(
        value_name = "ID",
        allow_hyphen_values = true,
        required_unless_present = "id_opt"
    )]
    pub id: Option<String>,
    /// IOThread ID number to delete.
    #[arg(
        long = "id",
        value_name = "ID",
        conflicts_with = "id",
        allow_hyphen_values = true
    )]
    pub id_opt: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `iothreaddel`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let id = iothread_id(&args.id, &args.id_opt)?;
    conn.del_iothread(&target.lookup, id, flags).await?;
    Ok(())
}
