//! `virt domfsthaw DOMAIN [[--mountpoint] PATH]...`: thaws the guest's file systems.

use virt_client::Connection;

use super::dom::{resolve, ANY};
use super::domfsfreeze::Args;
use super::output::Output;
use super::report::{CliError, Context};

/// Runs `domfsthaw` (same options as `domfsfreeze`).
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let n = conn
        .fs_thaw(&target.lookup, &args.mountpoints(), 0)
        .await
        .context(|| "Unable to thaw filesystems".into())?;
    out.line(&format!("Thawed {n} filesystem(s)"));
    Ok(())
}
