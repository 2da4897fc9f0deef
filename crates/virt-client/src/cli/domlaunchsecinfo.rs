//! `virt domlaunchsecinfo DOMAIN`: the launch security parameters of a domain (AMD SEV
//! measurement and versions), one `%-15s: value` line each, as virsh prints them.

use virt_client::Connection;
use virt_core::kit::flags::typed_param::STRING_OKAY;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domlaunchsecinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `domlaunchsecinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    // libvirt's public API adds STRING_OKAY for drivers that take string parameters.
    let params = conn
        .get_launch_security_info(&target.lookup, STRING_OKAY)
        .await
        .context(|| "Unable to get launch security parameters".to_string())?;
    for p in &params {
        out.line(&format!("{:<15}: {}", p.field, p.value.virsh_text()));
    }
    Ok(())
}
