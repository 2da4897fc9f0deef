//! `virt iothreadadd DOMAIN ID [--config|--live|--current]`: adds an IOThread (libvirt:
//! virDomainAddIOThread).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;
use super::tune_common::opt_int;

/// Options of `iothreadadd`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IOThread ID number to add.
    #[arg(
        value_name = "ID",
        allow_hyphen_values = true,
        required_unless_present = "id_opt"
    )]
    pub id: Option<String>,
    /// IOThread ID number to add.
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

/// The ID argument as virsh checks it: an int above zero.
pub fn iothread_id(a: &Option<String>, b: &Option<String>) -> Result<u32, CliError> {
    let text = a.as_deref().or(b.as_deref()).unwrap_or_default();
    let id = opt_int(text, "id")?;
    if id <= 0 {
        return Err(CliError::msg(format!("Invalid IOThread id value: '{id}'")));
    }
    Ok(id as u32)
}

/// Runs `iothreadadd`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let id = iothread_id(&args.id, &args.id_opt)?;
    conn.add_iothread(&target.lookup, id, flags).await?;
    Ok(())
}
