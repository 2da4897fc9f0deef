//! `virt vcpuinfo DOMAIN [--pretty]`: each vCPU's host CPU, state, CPU time and affinity
//! (libvirt: virDomainGetVcpus; for a shut-off domain the persistent pinning from
//! virDomainGetVcpuPinInfo with N/A for the rest).

use virt_client::Connection;
use virt_core::kit::tune::from_cpumap;
use virt_core::proto::{DomainState, ModificationFlag as F};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;
use super::tune_common::{cpumap_text, node_cpu_count};

/// Options of `vcpuinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Return human readable output.
    #[arg(long)]
    pub pretty: bool,
}

/// virshDomainVcpuStateToString.
fn state_text(state: i32) -> &'static str {
    match state {
        0 => "offline",
        1 => "running",
        2 => "blocked",
        _ => "no state",
    }
}

/// The `CPU Affinity:` line.
fn affinity(map: &[u8], maxcpu: u32, pretty: bool) -> String {
    let len = maxcpu.div_ceil(8) as usize;
    let shown = if pretty {
        format!("{} (out of {maxcpu})", cpumap_text(map, len))
    } else {
        let set = from_cpumap(map);
        (0..maxcpu)
            .map(|c| if set.contains(&c) { 'y' } else { '-' })
            .collect()
    };
    format!("{:<15} {shown}", "CPU Affinity:")
}

/// Runs `vcpuinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let maxcpu = node_cpu_count(conn).await?;
    let (_, info) = conn.domain_info(&target.lookup).await?;
    let nr = info.vcpus as usize;
    match conn.get_vcpu_info(&target.lookup).await {
        Ok(vcpus) => {
            for (i, v) in vcpus.iter().take(nr).enumerate() {
                if i != 0 {
                    out.line("");
                }
                out.line(&format!("{:<15} {}", "VCPU:", v.number));
                out.line(&format!("{:<15} {}", "CPU:", v.cpu));
                out.line(&format!("{:<15} {}", "State:", state_text(v.state)));
                if v.cpu_time != 0 {
                    out.line(&format!(
                        "{:<15} {:.1}s",
                        "CPU time:",
                        v.cpu_time as f64 / 1e9
                    ));
                }
                out.line(&affinity(&v.cpumap, maxcpu, args.pretty));
            }
            Ok(())
        }
        Err(e) => {
            let shutoff = info
                .state
                .as_ref()
                .is_some_and(|s| s.state == DomainState::Shutoff as i32);
            if !shutoff {
                return Err(e.into());
            }
            let maps = conn
                .get_vcpu_pin_info(&target.lookup, F::Config as u32)
                .await?;
            for (i, map) in maps.iter().take(nr).enumerate() {
                if i != 0 {
                    out.line("");
                }
                out.line(&format!("{:<15} {i}", "VCPU:"));
                out.line(&format!("{:<15} N/A", "CPU:"));
                out.line(&format!("{:<15} N/A", "State:"));
                out.line(&format!("{:<15} N/A", "CPU time"));
                out.line(&affinity(map, maxcpu, args.pretty));
            }
            Ok(())
        }
    }
}
