//! `virt domfstrim DOMAIN [--minimum BYTES] [--mountpoint PATH]`: has the guest agent discard
//! the unused blocks of the guest's file systems. Silent on success, as virsh.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domfstrim`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Just a hint to ignore contiguous free ranges smaller than this (Bytes).
    #[arg(long, value_name = "number", allow_hyphen_values = true)]
    pub minimum: Option<String>,
    /// Which mount point to trim.
    #[arg(long, value_name = "string")]
    pub mountpoint: Option<String>,
}

/// Runs `domfstrim`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    // virsh reads the number after the domain: an unknown domain is reported first.
    let minimum = match &args.minimum {
        None => 0,
        Some(v) if v.starts_with('-') => return Err(malformed(v)),
        Some(v) => v.parse::<u64>().map_err(|_| malformed(v))?,
    };
    conn.fs_trim(&target.lookup, args.mountpoint.as_deref(), minimum, 0)
        .await
        .context(|| "Unable to invoke fstrim".into())?;
    Ok(())
}

fn malformed(v: &str) -> CliError {
    CliError::msg(format!(
        "Numeric value '{v}' for <minimum> option is malformed or out of range"
    ))
}
