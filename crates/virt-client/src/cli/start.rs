//! `virt start DOMAIN [--paused --autodestroy --bypass-cache --force-boot]`: boots a defined,
//! inactive domain.

use virt_client::Connection;
use virt_core::proto::CreateDomainFlag as F;

use super::dom::{resolve, DomArg, NAME_OR_UUID};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `start`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Leave the guest paused after start.
    #[arg(long)]
    pub paused: bool,
    /// Automatically destroy the guest when virt disconnects.
    #[arg(long)]
    pub autodestroy: bool,
    /// Avoid file system cache when loading.
    #[arg(long = "bypass-cache")]
    pub bypass_cache: bool,
    /// Force fresh boot by discarding any managed save.
    #[arg(long = "force-boot")]
    pub force_boot: bool,
    /// Re-initialize NVRAM from its pristine template.
    #[arg(long = "reset-nvram")]
    pub reset_nvram: bool,
}

/// CreateDomain flags for the options.
pub fn flags(a: &Args) -> u32 {
    [
        (a.paused, F::StartPaused),
        (a.autodestroy, F::StartAutodestroy),
        (a.bypass_cache, F::StartBypassCache),
        (a.force_boot, F::StartForceBoot),
        (a.reset_nvram, F::StartResetNvram),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32)
}

/// Runs `start`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), NAME_OR_UUID).await?;
    if target.domain.id.is_some() {
        return Err(CliError::msg("Domain is already active"));
    }
    let name = target.domain.name.clone();
    conn.create(&target.lookup, flags(args))
        .await
        .context(|| format!("Failed to start domain '{name}'"))?;
    out.extra(&format!("Domain '{name}' started"));
    Ok(())
}
