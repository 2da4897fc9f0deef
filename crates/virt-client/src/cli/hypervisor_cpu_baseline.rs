//! `virt hypervisor-cpu-baseline [FILE | --model M] [--virttype T] [--emulator E] [--arch A]
//! [--machine M] [--features] [--migratable]`: the baseline CPU of the `<cpu>` definitions of a
//! file (or of one model), tailored to the hypervisor.

use virt_client::Connection;

use super::cpu_baseline::baseline_flags;
use super::cpu_xml::extract;
use super::hypervisor_cpu_compare::Target;
use super::output::Output;
use super::report::CliError;

/// Options of `hypervisor-cpu-baseline`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing XML CPU descriptions.
    #[arg(long)]
    pub file: Option<String>,
    /// The hypervisor.
    #[command(flatten)]
    pub target: Target,
    /// Show features that are part of the CPU model type.
    #[arg(long)]
    pub features: bool,
    /// Do not include features that block migration.
    #[arg(long)]
    pub migratable: bool,
    /// Shortcut for calling the command with a single CPU model and no additional features.
    #[arg(long)]
    pub model: Option<String>,
}

/// Runs `hypervisor-cpu-baseline`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let cpus = match (&args.file, &args.model) {
        (Some(_), Some(_)) => {
            return Err(CliError::msg(
                "Options --file and --model are mutually exclusive",
            ))
        }
        (None, None) => return Err(CliError::msg("Either --file or --model must be provided")),
        (Some(file), None) => extract(file)?,
        (None, Some(model)) => vec![format!("<cpu>\n  <model>{}</model>\n</cpu>", escape(model))],
    };
    let xml = conn
        .baseline_hypervisor_cpu(
            args.target.fields(),
            &cpus,
            baseline_flags(args.features, args.migratable),
        )
        .await?;
    out.text(&xml);
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
