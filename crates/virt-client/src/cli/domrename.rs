//! `virt domrename DOMAIN NEW-NAME`: renames an inactive domain (virDomainRename), as virsh.

use virt_client::Connection;

use super::dom::{resolve, DomArg, NAME_OR_UUID};
use super::output::Output;
use super::report::CliError;

/// Options of `domrename`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// New domain name.
    #[arg(value_name = "NEW-NAME", required_unless_present = "new_name_opt")]
    pub new_name: Option<String>,
    /// New domain name.
    #[arg(
        long = "new-name",
        value_name = "NEW-NAME",
        conflicts_with = "new_name"
    )]
    pub new_name_opt: Option<String>,
}

/// Runs `domrename`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), NAME_OR_UUID).await?;
    let new_name = a
        .new_name
        .as_deref()
        .or(a.new_name_opt.as_deref())
        .unwrap_or_default();
    conn.rename_domain(&target.lookup, new_name).await?;
    out.extra("Domain successfully renamed");
    Ok(())
}
