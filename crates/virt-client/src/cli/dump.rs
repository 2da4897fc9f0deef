//! `virt dump DOMAIN FILE`: the guest's core (virDomainCoreDumpWithFormat), with virsh 9.0's
//! options, format names and messages.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `dump`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Where to dump the core.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// Where to dump the core.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Perform a live core dump if supported.
    #[arg(long)]
    pub live: bool,
    /// Crash the domain after core dump.
    #[arg(long)]
    pub crash: bool,
    /// Avoid file system cache when dumping.
    #[arg(long = "bypass-cache")]
    pub bypass_cache: bool,
    /// Reset the domain after core dump.
    #[arg(long)]
    pub reset: bool,
    /// Display the progress of dump.
    #[arg(long)]
    pub verbose: bool,
    /// Dump domain's memory only.
    #[arg(long = "memory-only")]
    pub memory_only: bool,
    /// Specify the format of memory-only dump.
    #[arg(long)]
    pub format: Option<String>,
}

/// virDomainCoreDumpFormat of virsh's format names.
fn format_number(name: &str) -> Option<u32> {
    Some(match name {
        "elf" => 0,
        "kdump-zlib" => 1,
        "kdump-lzo" => 2,
        "kdump-snappy" => 3,
        "win-dmp" => 4,
        _ => return None,
    })
}

/// Runs `dump`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let file = a
        .file
        .clone()
        .or_else(|| a.file_opt.clone())
        .unwrap_or_default();
    let flags = [
        (a.crash, 1u32),
        (a.live, 2),
        (a.bypass_cache, 4),
        (a.reset, 8),
        (a.memory_only, 16),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, f)| acc | f);
    let format = match &a.format {
        None => 0,
        Some(_) if !a.memory_only => {
            return Err(CliError::msg("--format only works with --memory-only"))
        }
        Some(name) => format_number(name).ok_or_else(|| {
            CliError::msg(format!(
                "format '{name}' is not supported, expecting 'kdump-zlib', 'kdump-lzo', \
                 'kdump-snappy', 'win-dmp' or 'elf'"
            ))
        })?,
    };
    super::job_progress::watch(
        conn,
        &target.lookup,
        "Dump",
        a.verbose,
        conn.core_dump(&target.lookup, &file, format, flags),
    )
    .await
    .context(|| format!("Failed to core dump domain '{}' to {file}", target.arg))?;
    out.extra("");
    out.extra(&format!("Domain '{}' dumped to {file}", target.arg));
    Ok(())
}
