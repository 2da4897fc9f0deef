//! `virt domstate DOMAIN [--reason]`: the state word, optionally with its reason.

use virt_client::Connection;
use virt_core::proto::DomainStateReason;
use virt_core::state::{DomainState, StateReason};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domstate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Also print the reason for the state.
    #[arg(long)]
    pub reason: bool,
}

/// virsh's text: `running` or, with the reason, `running (booted)`.
pub fn render(state: &DomainStateReason, with_reason: bool) -> String {
    let sr = StateReason::new(DomainState::from_number(state.state), state.reason);
    if with_reason {
        sr.virsh_text()
    } else {
        sr.state.virsh_name().to_string()
    }
}

/// Runs `domstate`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let state = conn.domain_state(&target.lookup).await?;
    out.line(&render(&state, args.reason));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_words_follow_virsh() {
        let s = DomainStateReason {
            state: 1,
            reason: 0,
        };
        assert_eq!(render(&s, true), "running (unknown)");
        assert_eq!(render(&s, false), "running");
        let s = DomainStateReason {
            state: 5,
            reason: 2,
        };
        assert_eq!(render(&s, true), "shut off (destroyed)");
    }
}
