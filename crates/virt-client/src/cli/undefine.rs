//! `virt undefine DOMAIN [...]`: removes a domain's persistent definition.

use virt_client::Connection;
use virt_core::proto::UndefineDomainFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `undefine`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Remove domain managed state file.
    #[arg(long = "managed-save")]
    pub managed_save: bool,
    /// Remove all domain snapshot metadata (vm must be inactive).
    #[arg(long = "snapshots-metadata")]
    pub snapshots_metadata: bool,
    /// Remove all domain checkpoint metadata (vm must be inactive).
    #[arg(long = "checkpoints-metadata")]
    pub checkpoints_metadata: bool,
    /// Remove nvram file.
    #[arg(long)]
    pub nvram: bool,
    /// Keep nvram file.
    #[arg(long = "keep-nvram")]
    pub keep_nvram: bool,
    /// Remove TPM state.
    #[arg(long)]
    pub tpm: bool,
    /// Keep TPM state.
    #[arg(long = "keep-tpm")]
    pub keep_tpm: bool,
}

/// UndefineDomain flags for the options.
pub fn flags(a: &Args) -> u32 {
    [
        (a.managed_save, F::ManagedSave),
        (a.snapshots_metadata, F::SnapshotsMetadata),
        (a.checkpoints_metadata, F::CheckpointsMetadata),
        (a.nvram, F::Nvram),
        (a.keep_nvram, F::KeepNvram),
        (a.tpm, F::Tpm),
        (a.keep_tpm, F::KeepTpm),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32)
}

/// Runs `undefine`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    for (a, b, both) in [
        (args.nvram, args.keep_nvram, ("--nvram", "--keep-nvram")),
        (args.tpm, args.keep_tpm, ("--tpm", "--keep-tpm")),
    ] {
        if a && b {
            return Err(CliError::msg(format!(
                "Options {} and {} are mutually exclusive",
                both.0, both.1
            )));
        }
    }
    conn.undefine(&target.lookup, flags(args))
        .await
        .context(|| format!("Failed to undefine domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' has been undefined", target.arg));
    Ok(())
}
