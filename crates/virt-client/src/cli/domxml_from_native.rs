//! `virt domxml-from-native FORMAT CONFIG`: a hypervisor's native configuration as domain XML
//! (`xen-xl` and `xen-xm` for Xen), as virsh's domxml-from-native. Nothing is defined.

use virt_client::Connection;

use super::define::read_file;
use super::output::Output;
use super::report::CliError;

/// Options of `domxml-from-native`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Source config data format (`xen-xl`, `xen-xm`).
    #[arg(value_name = "FORMAT")]
    pub format: String,
    /// Config data file to import from.
    #[arg(value_name = "CONFIG")]
    pub config: String,
}

/// Runs `domxml-from-native`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let config = read_file(&args.config)?;
    let xml = conn
        .domain_xml_from_native(&args.format, &config, 0)
        .await?;
    // As virsh: the XML as it comes (it ends with its own newline).
    out.text(&xml);
    Ok(())
}
