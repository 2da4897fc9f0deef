//! `virt dompmwakeup DOMAIN`: wakes a pmsuspended guest (virDomainPMWakeup), with virsh
//! 9.0's messages.

use virt_client::Connection;

use super::dom::{resolve, ANY};
use super::output::Output;
use super::report::{CliError, Context};
use super::unsupported::DomOnly;

/// Runs `dompmwakeup`.
pub async fn run(conn: &Connection, a: &DomOnly, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    conn.pm_wakeup(&target.lookup, 0)
        .await
        .context(|| format!("Domain '{}' could not be woken up", target.arg))?;
    out.extra(&format!("Domain '{}' successfully woken up", target.arg));
    Ok(())
}
