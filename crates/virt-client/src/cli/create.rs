//! `virt create FILE [--paused --autodestroy --validate]`: creates and starts a transient
//! domain from an XML file.

use virt_client::Connection;
use virt_core::proto::CreateDomainFlag as F;

use super::define::read_file;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `create`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing an XML domain description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Leave the guest paused after creation.
    #[arg(long)]
    pub paused: bool,
    /// Automatically destroy the guest when virt disconnects.
    #[arg(long)]
    pub autodestroy: bool,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

/// Runs `create`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let xml = read_file(&args.file)?;
    let flags = [
        (args.paused, F::StartPaused),
        (args.autodestroy, F::StartAutodestroy),
        (args.validate, F::StartValidate),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u32, |acc, (_, f)| acc | *f as u32);
    let dom = conn
        .create_xml(&xml, flags)
        .await
        .context(|| format!("Failed to create domain from {}", args.file))?;
    out.extra(&format!("Domain '{}' created from {}", dom.name, args.file));
    Ok(())
}
