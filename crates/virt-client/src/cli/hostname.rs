//! `virt hostname`: the host's hostname.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Runs `hostname`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let name = conn
        .hostname()
        .await
        .context(|| "failed to get hostname".into())?;
    out.line(&name);
    Ok(())
}
