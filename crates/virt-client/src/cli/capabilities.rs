//! `virt capabilities`: the `<capabilities>` XML.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Writes an XML document, ending it with a newline if the server did not.
pub fn print_xml(out: &mut Output, xml: &str) {
    out.text(xml);
    if !xml.ends_with('\n') {
        out.text("\n");
    }
}

/// Runs `capabilities`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let xml = conn
        .capabilities()
        .await
        .context(|| "failed to get capabilities".into())?;
    print_xml(out, &xml);
    // virsh prints one more blank line after the capabilities document than after others.
    out.line("");
    Ok(())
}
