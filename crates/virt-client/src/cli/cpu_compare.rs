//! `virt cpu-compare FILE [--error] [--validate]`: compares the host CPU with the `<cpu>` of a
//! file (or of the domain, capabilities or domain capabilities XML it holds).

use virt_client::Connection;

use super::cpu_xml::extract;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `cpu-compare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing an XML CPU description.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// File containing an XML CPU description.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Report error if CPUs are incompatible.
    #[arg(long)]
    pub error: bool,
    /// Validate the XML document against schema.
    #[arg(long)]
    pub validate: bool,
}

/// virConnectCompareCPUFlags: FAIL_INCOMPATIBLE and VALIDATE_XML.
pub fn compare_flags(error: bool, validate: bool) -> u32 {
    u32::from(error) | (u32::from(validate) << 1)
}

/// Runs `cpu-compare`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let from = args
        .file
        .as_deref()
        .or(args.file_opt.as_deref())
        .unwrap_or_default();
    let cpus = extract(from)?;
    let result = conn
        .compare_cpu(&cpus[0], compare_flags(args.error, args.validate))
        .await
        .context(|| format!("Failed to compare host CPU with {from}"))?;
    match result {
        0 => {
            out.text(&format!(
                "CPU described in {from} is incompatible with host CPU\n"
            ));
            Err(CliError::Silent)
        }
        1 => {
            out.text(&format!(
                "CPU described in {from} is identical to host CPU\n"
            ));
            Ok(())
        }
        2 => {
            out.text(&format!(
                "Host CPU is a superset of CPU described in {from}\n"
            ));
            Ok(())
        }
        _ => Err(CliError::msg(format!(
            "Failed to compare host CPU with {from}"
        ))),
    }
}
