//! `virt domcapabilities`: the `<domainCapabilities>` XML for an emulator, arch, machine and
//! virt type (each optional; the driver picks defaults).

use virt_client::Connection;
use virt_core::proto::GetDomainCapabilitiesRequest;

use super::capabilities::print_xml;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domcapabilities`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Virtualization type (/domain/@type).
    #[arg(long)]
    pub virttype: Option<String>,
    /// Path to emulator binary (/domain/devices/emulator).
    #[arg(long)]
    pub emulatorbin: Option<String>,
    /// Domain architecture (/domain/os/type/@arch).
    #[arg(long)]
    pub arch: Option<String>,
    /// Machine type (/domain/os/type/@machine).
    #[arg(long)]
    pub machine: Option<String>,
}

/// Runs `domcapabilities`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let req = GetDomainCapabilitiesRequest {
        emulator_bin: args.emulatorbin.clone().unwrap_or_default(),
        arch: args.arch.clone().unwrap_or_default(),
        machine: args.machine.clone().unwrap_or_default(),
        virt_type: args.virttype.clone().unwrap_or_default(),
        flags: 0,
    };
    let xml = conn
        .domain_capabilities(req)
        .await
        .context(|| "failed to get emulator capabilities".into())?;
    print_xml(out, &xml);
    Ok(())
}
