//! `virt iothreadpin DOMAIN IOTHREAD CPULIST [--config|--live|--current]`: pins one
//! IOThread (libvirt: virDomainPinIOThread).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;
use super::tune_common::{node_cpu_count, opt_string, opt_uint, parse_cpulist};

/// Options of `iothreadpin`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IOThread ID number.
    #[arg(
        value_name = "IOTHREAD",
        allow_hyphen_values = true,
        required_unless_present = "iothread_opt"
    )]
    pub iothread: Option<String>,
    /// IOThread ID number.
    #[arg(
        long = "iothread",
        value_name = "IOTHREAD",
        conflicts_with = "iothread",
        allow_hyphen_values = true
    )]
    pub iothread_opt: Option<String>,
    /// Host cpu number(s) to set.
    #[arg(
        value_name = "CPULIST",
        allow_hyphen_values = true,
        required_unless_present = "cpulist_opt"
    )]
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

/// Runs `iothreadpin`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let id_text = args
        .iothread
        .as_deref()
        .or(args.iothread_opt.as_deref())
        .unwrap_or_default();
    let id = opt_uint(id_text, "iothread")?;
    let cl = if args.cpulist.is_some() {
        &args.cpulist
    } else {
        &args.cpulist_opt
    };
    let cpulist = opt_string(cl, "cpulist")?.unwrap_or_default();
    let maxcpu = node_cpu_count(conn).await?;
    let map = parse_cpulist(cpulist, maxcpu)?;
    conn.pin_iothread(&target.lookup, id, &map, flags).await?;
    Ok(())
}
