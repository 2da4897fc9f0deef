//! `virt domxml-to-native FORMAT { [--xml] FILE | --domain DOMAIN }`: a domain definition in
//! the hypervisor's native form (`qemu-argv` for QEMU), as virsh's domxml-to-native. With
//! `--domain` the definition is the domain's current XML (`dumpxml` without flags).

use virt_client::Connection;

use super::define::read_file;
use super::dom::{resolve, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domxml-to-native`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Target config data type format (`qemu-argv`).
    #[arg(value_name = "FORMAT")]
    pub format: String,
    /// Xml data file to export from.
    #[arg(value_name = "XML")]
    pub xml_pos: Option<String>,
    /// Xml data file to export from.
    #[arg(long = "xml", conflicts_with = "xml_pos")]
    pub xml: Option<String>,
    /// Domain name, id or uuid.
    #[arg(long)]
    pub domain: Option<String>,
}

/// Runs `domxml-to-native`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let file = args.xml.as_ref().or(args.xml_pos.as_ref());
    let xml = match (&args.domain, file) {
        (Some(_), Some(_)) => {
            return Err(CliError::msg(
                "Options --domain and --xml are mutually exclusive",
            ))
        }
        (None, None) => return Err(CliError::msg("need either domain or domain XML")),
        (Some(d), None) => {
            let target = resolve(conn, d, ANY).await?;
            conn.domain_xml(&target.lookup, 0).await?
        }
        (None, Some(f)) => read_file(f)?,
    };
    let native = conn.domain_xml_to_native(&args.format, &xml, 0).await?;
    // No newline of its own, as virsh's: the closing newline of every command ends the line
    // (and with -q the output ends without one, as virsh's does).
    out.text(&native);
    Ok(())
}
