//! `virt hypervisor-cpu-compare FILE [--virttype T] [--emulator E] [--arch A] [--machine M]
//! [--error] [--validate]`: compares a `<cpu>` with the CPU the hypervisor can give a guest.

use virt_client::Connection;

use super::cpu_compare::compare_flags;
use super::cpu_xml::extract;
use super::output::Output;
use super::report::{CliError, Context};

/// The hypervisor options shared with `hypervisor-cpu-baseline`.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Virtualization type (/domain/@type).
    #[arg(long)]
    pub virttype: Option<String>,
    /// Path to emulator binary (/domain/devices/emulator).
    #[arg(long)]
    pub emulator: Option<String>,
    /// CPU architecture (/domain/os/type/@arch).
    #[arg(long)]
    pub arch: Option<String>,
    /// Machine type (/domain/os/type/@machine).
    #[arg(long)]
    pub machine: Option<String>,
}

impl Target {
    /// (emulator, arch, machine, virttype), empty for what was not given.
    pub fn fields(&self) -> [&str; 4] {
        [
            self.emulator.as_deref().unwrap_or_default(),
            self.arch.as_deref().unwrap_or_default(),
            self.machine.as_deref().unwrap_or_default(),
            self.virttype.as_deref().unwrap_or_default(),
        ]
    }
}

/// Options of `hypervisor-cpu-compare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing an XML CPU description.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// File containing an XML CPU description.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// The hypervisor.
    #[command(flatten)]
    pub target: Target,
    /// Report error if CPUs are incompatible.
    #[arg(long)]
    pub error: bool,
    /// Validate the XML document against schema.
    #[arg(long)]
    pub validate: bool,
}

/// Runs `hypervisor-cpu-compare`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let from = args
        .file
        .as_deref()
        .or(args.file_opt.as_deref())
        .unwrap_or_default();
    let cpus = extract(from)?;
    let result = conn
        .compare_hypervisor_cpu(
            args.target.fields(),
            &cpus[0],
            compare_flags(args.error, args.validate),
        )
        .await
        .context(|| format!("Failed to compare hypervisor CPU with {from}"))?;
    match result {
        0 => {
            out.text(&format!(
                "CPU described in {from} is incompatible with the CPU provided by hypervisor on the host\n"
            ));
            Err(CliError::Silent)
        }
        1 => {
            out.text(&format!(
                "CPU described in {from} is identical to the CPU provided by hypervisor on the host\n"
            ));
            Ok(())
        }
        2 => {
            out.text(&format!(
                "The CPU provided by hypervisor on the host is a superset of CPU described in {from}\n"
            ));
            Ok(())
        }
        _ => Err(CliError::msg(format!(
            "Failed to compare hypervisor CPU with {from}"
        ))),
    }
}
