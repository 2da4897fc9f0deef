//! `virt setvcpus DOMAIN COUNT [--maximum --live --config --current --guest --hotpluggable]`:
//! changes the number of virtual CPUs.

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::dom::{resolve, ANY};
use super::impact::{exclusive, Impact};
use super::output::Output;
use super::report::CliError;

/// Options of `setvcpus`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Domain name, id or uuid.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,
    /// Number of virtual CPUs.
    #[arg(value_name = "COUNT", allow_hyphen_values = true)]
    pub count: String,
    /// Set maximum limit on next boot.
    #[arg(long)]
    pub maximum: bool,
    /// Modify cpu state in the guest.
    #[arg(long)]
    pub guest: bool,
    /// Make added vcpus hot(un)pluggable.
    #[arg(long)]
    pub hotpluggable: bool,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// SetDomainVcpus flags and count for the options, with virsh's checks.
pub fn request(a: &Args) -> Result<(u32, u32), CliError> {
    if a.guest && a.impact.config {
        return Err(exclusive("guest", "config"));
    }
    if a.maximum && !a.impact.config {
        return Err(CliError::msg(
            "Option --config is required by option --maximum",
        ));
    }
    let count: u32 = a.count.parse().map_err(|_| {
        CliError::msg(format!(
            "Numeric value '{}' for <count> option is malformed or out of range",
            a.count
        ))
    })?;
    if count == 0 {
        return Err(CliError::msg("Can't set 0 processors for a VM"));
    }
    let extra = [
        (a.maximum, F::Maximum),
        (a.guest, F::Guest),
        (a.hotpluggable, F::Hotpluggable),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32);
    // No option at all is virDomainSetVcpus, which changes the running domain.
    let flags = match a.impact.flags()? {
        Some(f) => f | extra,
        None if extra == 0 => F::Live as u32,
        None => extra,
    };
    Ok((count, flags))
}

/// Runs `setvcpus`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let (count, flags) = request(args)?;
    let target = resolve(conn, &args.domain, ANY).await?;
    conn.set_vcpus(&target.lookup, count, flags).await?;
    Ok(())
}
