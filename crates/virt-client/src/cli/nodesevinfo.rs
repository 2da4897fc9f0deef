//! `virt nodesevinfo`: the host's SEV facts.

use virt_client::Connection;

use super::node_memory_tune::param_text;
use super::output::Output;
use super::report::{CliError, Context};

/// Runs `nodesevinfo`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let params = conn
        .sev_info(0)
        .await
        .context(|| "Unable to get host SEV information".into())?;
    let text: String = params
        .iter()
        .map(|p| format!("{:<18}: {}\n", p.field, param_text(p)))
        .collect();
    out.text(&text);
    Ok(())
}
