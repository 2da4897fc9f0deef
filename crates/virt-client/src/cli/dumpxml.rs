//! `virt dumpxml DOMAIN [--inactive --security-info --update-cpu --migratable]`: the domain XML.

use virt_client::Connection;
use virt_core::proto::DomainXmlFlag as F;

use super::capabilities::print_xml;
use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `dumpxml`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Show inactive defined XML.
    #[arg(long)]
    pub inactive: bool,
    /// Include security sensitive information in XML dump.
    #[arg(long = "security-info")]
    pub security_info: bool,
    /// Update guest CPU according to host CPU.
    #[arg(long = "update-cpu")]
    pub update_cpu: bool,
    /// Provide XML suitable for migrations.
    #[arg(long)]
    pub migratable: bool,
}

/// GetDomainXml flags for the options.
pub fn flags(a: &Args) -> u32 {
    [
        (a.security_info, F::Secure),
        (a.inactive, F::Inactive),
        (a.update_cpu, F::UpdateCpu),
        (a.migratable, F::Migratable),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32)
}

/// Runs `dumpxml`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let xml = conn.domain_xml(&target.lookup, flags(args)).await?;
    print_xml(out, &xml);
    Ok(())
}
