//! `virt domcontrol DOMAIN`: the state of the driver's control interface to the domain.

use virt_client::Connection;
use virt_core::proto::GetControlInfoResponse;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domcontrol`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

const STATES: [&str; 4] = ["ok", "background job", "occupied", "error"];
const REASONS: [&str; 4] = ["", "unknown", "monitor failure", "internal (locking) error"];

/// virsh's line for the control info.
pub fn render(c: &GetControlInfoResponse) -> String {
    let state = STATES.get(c.state as usize).copied().unwrap_or("unknown");
    match c.state {
        3 if c.details > 0 => {
            let reason = REASONS
                .get(c.details as usize)
                .copied()
                .unwrap_or("unknown");
            format!("{state}: {reason}")
        }
        0 | 3 => state.to_string(),
        _ => format!("{state} ({:.3}s)", c.state_time as f64 / 1000.0),
    }
}

/// Runs `domcontrol`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let c = conn.control_info(&target.lookup, 0).await?;
    out.line(&render(&c));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: u32, details: u32, state_time: u64) -> String {
        render(&GetControlInfoResponse {
            state,
            details,
            state_time,
        })
    }

    #[test]
    fn lines_follow_virsh() {
        assert_eq!(info(0, 0, 0), "ok");
        assert_eq!(info(1, 0, 5), "background job (0.005s)");
        assert_eq!(info(2, 0, 1234), "occupied (1.234s)");
        assert_eq!(info(3, 0, 2), "error");
        assert_eq!(info(3, 2, 2), "error: monitor failure");
        assert_eq!(info(3, 9, 2), "error: unknown");
        assert_eq!(info(7, 0, 0), "unknown (0.000s)");
    }
}
