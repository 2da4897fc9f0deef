//! `virt guest-agent-timeout DOMAIN [--timeout N]`: how long the domain's guest agent calls
//! wait (-2 forever, the value without `--timeout`; -1 the default 5 s; 0 not at all).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `guest-agent-timeout`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Timeout seconds.
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
}

/// libvirt's number for `--timeout` (BLOCK, -2, when absent).
pub fn timeout(a: &Args) -> Result<i32, CliError> {
    match &a.timeout {
        None => Ok(-2),
        Some(t) => t.parse().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{t}' for <timeout> option is malformed or out of range"
            ))
        }),
    }
}

/// Runs `guest-agent-timeout`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let timeout = timeout(args)?;
    conn.set_agent_response_timeout(&target.lookup, timeout, 0)
        .await?;
    Ok(())
}
