//! `virt sysinfo`: the host's SMBIOS facts as `<sysinfo>` XML.

use virt_client::Connection;

use super::capabilities::print_xml;
use super::output::Output;
use super::report::{CliError, Context};

/// Runs `sysinfo`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let xml = conn
        .sysinfo(0)
        .await
        .context(|| "failed to get sysinfo".into())?;
    print_xml(out, &xml);
    Ok(())
}
