//! The XML of save images and managed-save images: `managedsave-remove`,
//! `managedsave-dumpxml`, `managedsave-define`, `managedsave-edit`, `save-image-dumpxml`,
//! `save-image-define`, `save-image-edit`, with virsh 9.0's messages.

use virt_client::Connection;
use virt_core::proto::SaveRestoreFlag as F;

use super::capabilities::print_xml;
use super::dom::{resolve, DomArg, ANY};
use super::editor::{self, Reedit};
use super::output::Output;
use super::report::{CliError, Context};

/// VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.
const XML_SECURE: u32 = 1;

/// Options of `managedsave-remove`.
#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Options of `managedsave-dumpxml`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Include security sensitive information in XML dump.
    #[arg(long = "security-info")]
    pub security_info: bool,
}

/// Options of `managedsave-define`.
#[derive(clap::Args, Debug)]
pub struct DefineArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Filename containing updated XML for the target.
    #[arg(value_name = "XML", required_unless_present = "xml_opt")]
    pub xml: Option<String>,
    /// Filename containing updated XML for the target.
    #[arg(long = "xml", value_name = "XML", conflicts_with = "xml")]
    pub xml_opt: Option<String>,
    /// Set domain to be running on start.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on start.
    #[arg(long)]
    pub paused: bool,
}

/// Options of `managedsave-edit`.
#[derive(clap::Args, Debug)]
pub struct EditArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Set domain to be running on start.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on start.
    #[arg(long)]
    pub paused: bool,
}

/// Options of `save-image-dumpxml`.
#[derive(clap::Args, Debug)]
pub struct ImageDumpArgs {
    /// Saved state file to read.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// Saved state file to read.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Include security sensitive information in XML dump.
    #[arg(long = "security-info")]
    pub security_info: bool,
}

/// Options of `save-image-define`.
#[derive(clap::Args, Debug)]
pub struct ImageDefineArgs {
    /// Saved state file to modify.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// Saved state file to modify.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Filename containing updated XML for the target.
    #[arg(value_name = "XML", required_unless_present = "xml_opt")]
    pub xml: Option<String>,
    /// Filename containing updated XML for the target.
    #[arg(long = "xml", value_name = "XML", conflicts_with = "xml")]
    pub xml_opt: Option<String>,
    /// Set domain to be running on restore.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on restore.
    #[arg(long)]
    pub paused: bool,
}

/// Options of `save-image-edit`.
#[derive(clap::Args, Debug)]
pub struct ImageEditArgs {
    /// Saved state file to edit.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// Saved state file to edit.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Set domain to be running on restore.
    #[arg(long)]
    pub running: bool,
    /// Set domain to be paused on restore.
    #[arg(long)]
    pub paused: bool,
}

fn one(pos: &Option<String>, opt: &Option<String>) -> String {
    pos.clone().or_else(|| opt.clone()).unwrap_or_default()
}

/// RUNNING / PAUSED, exclusive as virsh has them.
fn state_flags(running: bool, paused: bool) -> Result<u32, CliError> {
    if running && paused {
        return Err(CliError::msg(
            "Options --running and --paused are mutually exclusive",
        ));
    }
    Ok(if running {
        F::Running as u32
    } else if paused {
        F::Paused as u32
    } else {
        0
    })
}

/// The contents of an XML file, with virsh's message when it cannot be read.
fn read_xml(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ => e.to_string(),
        };
        CliError::msg(format!("Failed to open file '{path}': {why}"))
    })
}

/// Runs `managedsave-remove`.
pub async fn remove(conn: &Connection, a: &RemoveArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let has = conn
        .has_managed_save_image(&target.lookup)
        .await
        .context(|| "Failed to check for domain managed save image".to_string())?;
    if has {
        conn.managed_save_remove(&target.lookup).await.context(|| {
            format!(
                "Failed to remove managed save image for domain '{}'",
                target.arg
            )
        })?;
        out.extra(&format!(
            "Removed managedsave image for domain '{}'",
            target.arg
        ));
    } else {
        out.extra(&format!(
            "Domain '{}' has no manage save image; removal skipped",
            target.arg
        ));
    }
    out.no_closing_line();
    Ok(())
}

/// Runs `managedsave-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &DumpArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let f = if a.security_info { XML_SECURE } else { 0 };
    let xml = conn.managed_save_xml(&target.lookup, f).await?;
    print_xml(out, &xml);
    Ok(())
}

/// Runs `managedsave-define`.
pub async fn define(conn: &Connection, a: &DefineArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let f = state_flags(a.running, a.paused)?;
    let xml = read_xml(&one(&a.xml, &a.xml_opt))?;
    conn.define_managed_save_xml(&target.lookup, &xml, f)
        .await
        .context(|| format!("Failed to update {} XML configuration", target.arg))?;
    out.extra(&format!(
        "Managed save state file of domain '{}' updated.",
        target.arg
    ));
    Ok(())
}

/// The edit loop shared by `managedsave-edit` and `save-image-edit`: `define` stores the
/// edited text; `Ok(false)` when nothing changed.
async fn edit_loop<Fut>(xml: &str, mut define: impl FnMut(String) -> Fut) -> Result<bool, CliError>
where
    Fut: std::future::Future<Output = Result<(), virt_client::ClientError>>,
{
    let mut edited = editor::edit(xml)?;
    loop {
        if edited == xml {
            return Ok(false);
        }
        match define(edited.clone()).await {
            Ok(()) => return Ok(true),
            Err(e) => {
                let err: CliError = e.into();
                match editor::ask_reedit(&err) {
                    Some(Reedit::Again) => edited = editor::edit(&edited)?,
                    Some(Reedit::Relax | Reedit::Force) => {}
                    Some(Reedit::Stop) => return Err(CliError::Silent),
                    None => return Err(err),
                }
            }
        }
    }
}

/// Runs `managedsave-edit`.
pub async fn edit(conn: &Connection, a: &EditArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let f = state_flags(a.running, a.paused)?;
    let xml = conn.managed_save_xml(&target.lookup, XML_SECURE).await?;
    let lookup = target.lookup.clone();
    let changed = edit_loop(&xml, |text| {
        let lookup = lookup.clone();
        async move { conn.define_managed_save_xml(&lookup, &text, f).await }
    })
    .await?;
    if changed {
        out.extra(&format!(
            "Managed save image of Domain '{}' XML configuration edited.",
            target.arg
        ));
    } else {
        out.extra(&format!(
            "Managed save image of domain '{}' XML configuration not changed.",
            target.arg
        ));
    }
    Ok(())
}

/// Runs `save-image-dumpxml`.
pub async fn image_dumpxml(
    conn: &Connection,
    a: &ImageDumpArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let f = if a.security_info { XML_SECURE } else { 0 };
    let xml = conn.save_image_xml(&one(&a.file, &a.file_opt), f).await?;
    print_xml(out, &xml);
    Ok(())
}

/// Runs `save-image-define`.
pub async fn image_define(
    conn: &Connection,
    a: &ImageDefineArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let file = one(&a.file, &a.file_opt);
    let f = state_flags(a.running, a.paused)?;
    let xml = read_xml(&one(&a.xml, &a.xml_opt))?;
    conn.define_save_image_xml(&file, &xml, f)
        .await
        .context(|| format!("Failed to update {file}"))?;
    out.extra(&format!("State file {file} updated."));
    Ok(())
}

/// Runs `save-image-edit`.
pub async fn image_edit(
    conn: &Connection,
    a: &ImageEditArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let file = one(&a.file, &a.file_opt);
    let f = state_flags(a.running, a.paused)?;
    let xml = conn.save_image_xml(&file, XML_SECURE).await?;
    let changed = edit_loop(&xml, |text| {
        let file = file.clone();
        async move { conn.define_save_image_xml(&file, &text, f).await }
    })
    .await?;
    if changed {
        out.extra(&format!("State file {file} edited."));
    } else {
        out.extra(&format!(
            "Saved image {file} XML configuration not changed."
        ));
    }
    Ok(())
}
