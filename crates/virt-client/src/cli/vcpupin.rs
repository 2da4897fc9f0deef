//! `virt vcpupin DOMAIN [VCPU] [CPULIST] [--config|--live|--current]`: shows the vCPUs'
//! affinity as a table, or pins one vCPU (libvirt: virDomainGetVcpuPinInfo,
//! virDomainPinVcpu without options, virDomainPinVcpuFlags with them).

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::impact::{exclusive, Impact};
use super::output::Output;
use super::report::CliError;
use super::table::Table;
use super::tune_common::{cpumap_text, node_cpu_count, opt_uint, parse_cpulist};

/// Options of `vcpupin`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// vCPU number.
    #[arg(value_name = "VCPU", allow_hyphen_values = true)]
    pub vcpu: Option<String>,
    /// vCPU number.
    #[arg(
        long = "vcpu",
        value_name = "VCPU",
        conflicts_with = "vcpu",
        allow_hyphen_values = true
    )]
    pub vcpu_opt: Option<String>,
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

/// Runs `vcpupin`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let impact = args.impact.flags()?;
    let flags = impact.unwrap_or(0);
    let vcpu_text = args.vcpu.as_deref().or(args.vcpu_opt.as_deref());
    let vcpu = vcpu_text.map(|t| opt_uint(t, "vcpu")).transpose()?;
    let cl = if args.cpulist.is_some() {
        &args.cpulist
    } else {
        &args.cpulist_opt
    };
    let cpulist = cl.as_deref();
    if cpulist.is_none() && args.impact.live && args.impact.config {
        return Err(exclusive("live", "config"));
    }
    if cpulist.is_some() && vcpu.is_none() {
        return Err(CliError::msg("vcpupin: Missing vCPU number in pin mode."));
    }
    let maxcpu = node_cpu_count(conn).await?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let Some(cpulist) = cpulist else {
        // virshCPUCountCollect: a state that cannot answer fails without libvirt's error.
        let (_, info) = conn.domain_info(&target.lookup).await?;
        let active = target.domain.id.is_some();
        if flags & F::Live as u32 != 0 && !active {
            return Err(CliError::msg("cannot get vcpupin for offline domain"));
        }
        if flags & F::Config as u32 != 0 && !info.persistent {
            return Err(CliError::msg("cannot get vcpupin for transient domain"));
        }
        let ncpus = conn
            .get_vcpus(&target.lookup, flags | F::Maximum as u32)
            .await?;
        if let Some(v) = vcpu {
            if v >= ncpus {
                let live = flags & F::Live as u32 != 0 || (flags & F::Config as u32 == 0 && active);
                return Err(CliError::msg(format!(
                    "vcpu {v} is out of range of {} cpu count {ncpus}",
                    if live { "live" } else { "persistent" }
                )));
            }
        }
        let maps = conn.get_vcpu_pin_info(&target.lookup, flags).await?;
        let len = maxcpu.div_ceil(8) as usize;
        let mut table = Table::new(&["VCPU", "CPU Affinity"]);
        for (i, map) in maps.iter().take(ncpus as usize).enumerate() {
            if vcpu.is_some_and(|v| v as usize != i) {
                continue;
            }
            table.row(vec![i.to_string(), cpumap_text(map, len)]);
        }
        out.text(&table.render(out.quiet()));
        return Ok(());
    };
    let map = parse_cpulist(cpulist, maxcpu)?;
    conn.pin_vcpu(&target.lookup, vcpu.unwrap_or(0), &map, flags)
        .await?;
    Ok(())
}
