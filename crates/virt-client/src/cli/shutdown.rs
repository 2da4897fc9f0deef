//! `virt shutdown DOMAIN [--mode M[,M...]]`: asks the guest to power off.

use virt_client::Connection;
use virt_core::proto::ShutdownDomainFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `shutdown`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Shutdown mode: acpi|agent|initctl|signal|paravirt, comma separated.
    #[arg(long)]
    pub mode: Option<String>,
}

/// The flag bits of a `--mode` list (shared by `reboot`).
pub fn mode_flags(mode: Option<&str>) -> Result<u32, CliError> {
    let Some(mode) = mode else { return Ok(0) };
    mode.split(',').try_fold(0u32, |acc, m| {
        let bit = match m {
            "acpi" => F::AcpiPowerBtn,
            "agent" => F::GuestAgent,
            "initctl" => F::Initctl,
            "signal" => F::Signal,
            "paravirt" => F::Paravirt,
            other => {
                return Err(CliError::msg(format!(
                    "Unknown mode {other} value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'"
                )))
            }
        };
        Ok(acc | bit as u32)
    })
}

/// Runs `shutdown`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = mode_flags(args.mode.as_deref())?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.shutdown(&target.lookup, flags)
        .await
        .context(|| format!("Failed to shutdown domain '{}'", target.arg))?;
    out.extra(&format!("Domain '{}' is being shutdown", target.arg));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_combine_and_unknown_ones_are_refused() {
        assert_eq!(mode_flags(None).expect("none"), 0);
        assert_eq!(mode_flags(Some("acpi,agent")).expect("valid"), 3);
        assert_eq!(mode_flags(Some("paravirt")).expect("valid"), 16);
        let err = mode_flags(Some("foo")).expect_err("unknown");
        assert_eq!(
            err.lines(),
            vec!["Unknown mode foo value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'"]
        );
    }
}
