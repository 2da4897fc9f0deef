//! `virt cpu-baseline FILE [--features] [--migratable]`: the baseline CPU of the `<cpu>`
//! definitions a file holds.

use virt_client::Connection;

use super::cpu_xml::extract;
use super::output::Output;
use super::report::CliError;

/// Options of `cpu-baseline`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing XML CPU descriptions.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// File containing XML CPU descriptions.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Show features that are part of the CPU model type.
    #[arg(long)]
    pub features: bool,
    /// Do not include features that block migration.
    #[arg(long)]
    pub migratable: bool,
}

/// virConnectBaselineCPUFlags: EXPAND_FEATURES and MIGRATABLE.
pub fn baseline_flags(features: bool, migratable: bool) -> u32 {
    u32::from(features) | (u32::from(migratable) << 1)
}

/// Runs `cpu-baseline`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let from = args
        .file
        .as_deref()
        .or(args.file_opt.as_deref())
        .unwrap_or_default();
    let cpus = extract(from)?;
    let xml = conn
        .baseline_cpu(&cpus, baseline_flags(args.features, args.migratable))
        .await?;
    out.text(&xml);
    Ok(())
}
