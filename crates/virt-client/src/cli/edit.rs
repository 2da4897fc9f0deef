//! `virt edit DOMAIN [--skip-validate]`: the inactive domain XML in `$VISUAL` / `$EDITOR`, then
//! defined again, as virsh 9.0's edit (its messages, and its re-edit prompt on a terminal).

use virt_client::Connection;
use virt_core::proto::{DefineDomainFlag, DomainXmlFlag as X};

use super::dom::{resolve, DomArg, ANY};
use super::editor::{self, Reedit};
use super::output::Output;
use super::report::CliError;

/// Options of `edit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Skip validation of the XML against the schema.
    #[arg(long = "skip-validate")]
    pub skip_validate: bool,
}

/// Runs `edit`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let xml = conn
        .domain_xml(&target.lookup, X::Secure as u32 | X::Inactive as u32)
        .await?;
    let mut validate = !a.skip_validate;
    let mut edited = editor::edit(&xml)?;
    loop {
        if edited == xml {
            out.extra(&format!(
                "Domain '{}' XML configuration not changed.",
                target.domain.name
            ));
            return Ok(());
        }
        let flags = if validate {
            DefineDomainFlag::Validate as u32
        } else {
            0
        };
        match conn.define(&edited, flags).await {
            Ok(dom) => {
                out.extra(&format!("Domain '{}' XML configuration edited.", dom.name));
                return Ok(());
            }
            Err(e) => {
                let err: CliError = e.into();
                match editor::ask_reedit(&err) {
                    Some(Reedit::Again) => edited = editor::edit(&edited)?,
                    Some(Reedit::Relax) => validate = false,
                    Some(Reedit::Force) => {}
                    Some(Reedit::Stop) => return Err(CliError::Silent),
                    None => return Err(err),
                }
            }
        }
    }
}
