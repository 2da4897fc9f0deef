//! `virt cpu-models ARCH`: the CPU models the hypervisor knows for an architecture.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `cpu-models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture.
    #[arg(value_name = "ARCH", required_unless_present = "arch_opt")]
    pub arch: Option<String>,
    /// Architecture.
    #[arg(long = "arch", value_name = "ARCH", conflicts_with = "arch")]
    pub arch_opt: Option<String>,
}

/// Runs `cpu-models`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let arch = args
        .arch
        .as_deref()
        .or(args.arch_opt.as_deref())
        .unwrap_or_default();
    let models = conn
        .cpu_model_names(arch, 0)
        .await
        .context(|| "failed to get CPU model names".into())?;
    if models.is_empty() {
        out.extra("all CPU models are accepted");
    } else {
        let text: String = models.iter().map(|m| format!("{m}\n")).collect();
        out.text(&text);
    }
    Ok(())
}
