//! `virt domhostname DOMAIN [--source lease|agent]`: the guest's host name.

use virt_client::Connection;
use virt_core::proto::GetDomainHostnameFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domhostname`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Address source: 'lease' or 'agent'.
    #[arg(long)]
    pub source: Option<String>,
}

/// The GetDomainHostnameFlag bit of `--source` (0: the driver's default).
pub fn flags(source: Option<&str>) -> Result<u32, CliError> {
    match source {
        None => Ok(0),
        Some("lease") => Ok(F::Lease as u32),
        Some("agent") => Ok(F::Agent as u32),
        Some(other) => Err(CliError::msg(format!("Unknown data source '{other}'"))),
    }
}

/// Runs `domhostname`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = flags(args.source.as_deref())?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let name = conn
        .domain_hostname(&target.lookup, flags)
        .await
        .context(|| "failed to get hostname".into())?;
    out.line(&name);
    Ok(())
}
