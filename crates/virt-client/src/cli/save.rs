//! Save images and managed save: `virt save`, `restore`, `managedsave`.
//! virsh prints an empty line before its "saved" messages (the end of its progress line).

use virt_client::Connection;
use virt_core::proto::SaveRestoreFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `save`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Where to save the data.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// Where to save the data.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Avoid file system cache when saving.
    #[arg(long = "bypass-cache")]
    pub bypass_cache: bool,
    /// Filename containing updated XML for the target.
    #[arg(long)]
    pub xml: Option<String>,
    /// Set domain to be running on restore.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on restore.
    #[arg(long)]
    pub paused: bool,
    /// Display the progress of save.
    #[arg(long)]
    pub verbose: bool,
}

/// Options of `restore`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The state to restore.
    pub file: String,
    /// Avoid file system cache when restoring.
    #[arg(long = "bypass-cache")]
    pub bypass_cache: bool,
    /// Filename containing updated XML for the target.
    #[arg(long)]
    pub xml: Option<String>,
    /// Restore domain into running state.
    #[arg(long)]
    pub running: bool,
    /// Restore domain into paused state.
    #[arg(long)]
    pub paused: bool,
    /// Re-initialize NVRAM from its pristine template.
    #[arg(long = "reset-nvram")]
    pub reset_nvram: bool,
}

/// Options of `managedsave`.
#[derive(clap::Args, Debug)]
pub struct ManagedSaveArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Avoid file system cache when saving.
    #[arg(long = "bypass-cache")]
    pub bypass_cache: bool,
    /// Set domain to be running on next start.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on next start.
    #[arg(long)]
    pub paused: bool,
    /// Display the progress of save.
    #[arg(long)]
    pub verbose: bool,
}

fn flags(bypass_cache: bool, running: bool, paused: bool, reset_nvram: bool) -> u32 {
    [
        (bypass_cache, F::BypassCache),
        (running, F::Running),
        (paused, F::Paused),
        (reset_nvram, F::ResetNvram),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32)
}

/// The contents of an `--xml` file, with virsh's message when it cannot be read.
fn read_xml(path: &Option<String>) -> Result<String, CliError> {
    match path {
        None => Ok(String::new()),
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            CliError::msg(format!(
                "Failed to open file '{p}': {}",
                super::report::os_error_text(&e)
            ))
        }),
    }
}

/// Runs `save`.
pub async fn save(conn: &Connection, a: &SaveArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let xml = read_xml(&a.xml)?;
    let file = a
        .file
        .clone()
        .or_else(|| a.file_opt.clone())
        .unwrap_or_default();
    let f = flags(a.bypass_cache, a.running, a.paused, false);
    super::job_progress::watch(
        conn,
        &target.lookup,
        "Save",
        a.verbose,
        conn.save_domain(&target.lookup, &file, &xml, f),
    )
    .await
    .context(|| format!("Failed to save domain '{}' to {file}", target.arg))?;
    out.extra("");
    out.extra(&format!("Domain '{}' saved to {file}", target.arg));
    Ok(())
}

/// Runs `restore`.
pub async fn restore(conn: &Connection, a: &RestoreArgs, out: &mut Output) -> Result<(), CliError> {
    let xml = read_xml(&a.xml)?;
    let f = flags(a.bypass_cache, a.running, a.paused, a.reset_nvram);
    conn.restore_domain(&a.file, &xml, f)
        .await
        .context(|| format!("Failed to restore domain from {}", a.file))?;
    out.extra(&format!("Domain restored from {}", a.file));
    Ok(())
}

/// Runs `managedsave`.
pub async fn managed_save(
    conn: &Connection,
    a: &ManagedSaveArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let f = flags(a.bypass_cache, a.running, a.paused, false);
    super::job_progress::watch(
        conn,
        &target.lookup,
        "Managedsave",
        a.verbose,
        conn.managed_save(&target.lookup, f),
    )
    .await
    .context(|| format!("Failed to save domain '{}' state", target.arg))?;
    out.extra("");
    out.extra(&format!("Domain '{}' state saved by libvirt", target.arg));
    Ok(())
}
