//! `virt setmaxmem DOMAIN SIZE [--config|--live|--current]`: changes the maximum memory
//! (libvirt: virDomainSetMaxMemory without options, else virDomainSetMemoryFlags with
//! VIR_DOMAIN_MEM_MAXIMUM).

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::size::kib_option;

/// Options of `setmaxmem`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// New maximum memory size, as scaled integer (default KiB).
    #[arg(
        value_name = "SIZE",
        allow_hyphen_values = true,
        required_unless_present = "size_opt"
    )]
    pub size: Option<String>,
    /// New maximum memory size, as scaled integer (default KiB).
    #[arg(
        long = "size",
        value_name = "SIZE",
        conflicts_with = "size",
        allow_hyphen_values = true
    )]
    pub size_opt: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `setmaxmem`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let text = args
        .size
        .as_deref()
        .or(args.size_opt.as_deref())
        .unwrap_or_default();
    let kib = kib_option(text, "size")?;
    conn.set_memory(&target.lookup, kib, flags | F::Maximum as u32)
        .await
        .context(|| "Unable to change MaxMemorySize".to_string())
}
