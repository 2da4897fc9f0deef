//! `virt setmem DOMAIN SIZE [--live --config --current]`: changes the current memory.

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::dom::{resolve, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;
use super::size::kib_option;

/// Options of `setmem`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Domain name, id or uuid.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,
    /// New memory size, as scaled integer (default KiB).
    #[arg(value_name = "SIZE", allow_hyphen_values = true)]
    pub size: String,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `setmem`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    // No option is virDomainSetMemory, which changes the running domain.
    let flags = args.impact.flags()?.unwrap_or(F::Live as u32);
    let target = resolve(conn, &args.domain, ANY).await?;
    let kib = kib_option(&args.size, "size")?;
    conn.set_memory(&target.lookup, kib, flags).await?;
    Ok(())
}
