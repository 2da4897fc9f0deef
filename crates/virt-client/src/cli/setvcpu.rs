//! `virt setvcpu DOMAIN VCPULIST --enable|--disable [--config|--live|--current]`: enables or
//! disables individual vCPUs (libvirt: virDomainSetVcpu).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::{exclusive, Impact};
use super::output::Output;
use super::report::CliError;
use super::tune_common::opt_string;

/// Options of `setvcpu`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IDs of vcpus to manipulate.
    #[arg(value_name = "VCPULIST", required_unless_present = "vcpulist_opt")]
    pub vcpulist: Option<String>,
    /// IDs of vcpus to manipulate.
    #[arg(
        long = "vcpulist",
        value_name = "VCPULIST",
        conflicts_with = "vcpulist"
    )]
    pub vcpulist_opt: Option<String>,
    /// Enable cpus specified by cpumap.
    #[arg(long)]
    pub enable: bool,
    /// Disable cpus specified by cpumap.
    #[arg(long)]
    pub disable: bool,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `setvcpu`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    if args.enable && args.disable {
        return Err(exclusive("enable", "disable"));
    }
    if !(args.enable || args.disable) {
        return Err(CliError::msg("one of --enable, --disable is required"));
    }
    let vl = if args.vcpulist.is_some() {
        &args.vcpulist
    } else {
        &args.vcpulist_opt
    };
    let list = opt_string(vl, "vcpulist")?.unwrap_or_default();
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.set_vcpu(&target.lookup, list, args.enable, flags)
        .await?;
    Ok(())
}
