//! `virt emulatorpin DOMAIN [CPULIST] [--config|--live|--current]`: shows or sets the host
//! CPUs the emulator threads may run on (libvirt: virDomainGet/PinEmulator...).

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;
use super::tune_common::{cpumap_text, node_cpu_count, parse_cpulist};

/// Options of `emulatorpin`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Host cpu number(s) to set, or omit option to query.
    #[arg(value_name = "CPULIST", allow_hyphen_values = true)]
    pub cpulist: Option<String>,
    /// Host cpu number(s) to set.
    #[arg(
        long = "cpulist",
        value_name = "CPULIST",
        conflicts_with = "cpulist",
        allow_hyphen_values = true
    )]
    pub cpulist_opt: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `emulatorpin`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let impact = args.impact.flags()?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let cl = if args.cpulist.is_some() {
        &args.cpulist
    } else {
        &args.cpulist_opt
    };
    let cpulist = cl.as_deref();
    let maxcpu = node_cpu_count(conn).await?;
    let Some(cpulist) = cpulist else {
        let map = conn
            .get_emulator_pin_info(&target.lookup, impact.unwrap_or(0))
            .await?;
        out.extra("emulator: CPU Affinity");
        out.extra("----------------------------------");
        if !out.quiet() {
            out.text("       *: ");
        }
        out.line(&cpumap_text(&map, maxcpu.div_ceil(8) as usize));
        return Ok(());
    };
    let map = parse_cpulist(cpulist, maxcpu)?;
    // Pinning without an option changes the running domain.
    let flags = impact.unwrap_or(F::Live as u32);
    conn.pin_emulator(&target.lookup, &map, flags).await?;
    Ok(())
}
