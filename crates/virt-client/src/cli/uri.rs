//! `virt uri`: the canonical URI of the connection.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Runs `uri`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let uri = conn.uri().await.context(|| "failed to get URI".into())?;
    out.line(&uri);
    Ok(())
}
