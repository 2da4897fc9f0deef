//! `virt desc` and `virt metadata`: a domain's title, description and custom XML metadata
//! (virDomainGetMetadata / virDomainSetMetadata), with virsh 9.0's options and messages.

use virt_client::Connection;
use virt_core::proto::{MetadataType, ModificationFlag as M};
use virt_core::ErrorCode;

use super::dom::{resolve, DomArg, ANY};
use super::editor;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `desc`.
#[derive(clap::Args, Debug)]
pub struct DescArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Modify/get running state.
    #[arg(long)]
    pub live: bool,
    /// Modify/get persistent configuration.
    #[arg(long)]
    pub config: bool,
    /// Modify/get current state configuration.
    #[arg(long)]
    pub current: bool,
    /// Modify/get the title instead of description.
    #[arg(long)]
    pub title: bool,
    /// Open an editor to modify the description.
    #[arg(long)]
    pub edit: bool,
    /// Message.
    #[arg(value_name = "NEW-DESC", num_args = 0.., allow_hyphen_values = true)]
    pub new_desc: Vec<String>,
    /// Message.
    #[arg(long = "new-desc", value_name = "NEW-DESC")]
    pub new_desc_opt: Option<String>,
}

/// Options of `metadata`.
#[derive(clap::Args, Debug)]
pub struct MetadataArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// URI of the namespace.
    #[arg(value_name = "URI", required_unless_present = "uri_opt")]
    pub uri: Option<String>,
    /// URI of the namespace.
    #[arg(long = "uri", value_name = "URI", conflicts_with = "uri")]
    pub uri_opt: Option<String>,
    /// Modify/get running state.
    #[arg(long)]
    pub live: bool,
    /// Modify/get persistent configuration.
    #[arg(long)]
    pub config: bool,
    /// Modify/get current state configuration.
    #[arg(long)]
    pub current: bool,
    /// Use an editor to change the metadata.
    #[arg(long)]
    pub edit: bool,
    /// Key to be used as a namespace identifier.
    #[arg(long)]
    pub key: Option<String>,
    /// New metadata to set.
    #[arg(long)]
    pub set: Option<String>,
    /// Remove the metadata corresponding to an uri.
    #[arg(long)]
    pub remove: bool,
}

/// virsh's "Options --a and --b are mutually exclusive".
fn exclusive(pairs: &[(bool, &str, bool, &str)]) -> Result<(), CliError> {
    for (a_on, a, b_on, b) in pairs {
        if *a_on && *b_on {
            return Err(CliError::msg(format!(
                "Options --{a} and --{b} are mutually exclusive"
            )));
        }
    }
    Ok(())
}

/// The impact flags of --live / --config / --current, with virsh's exclusions.
fn impact(live: bool, config: bool, current: bool) -> Result<u32, CliError> {
    exclusive(&[
        (current, "current", live, "live"),
        (current, "current", config, "config"),
    ])?;
    let mut f = 0;
    if live {
        f |= M::Live as u32;
    }
    if config {
        f |= M::Config as u32;
    }
    Ok(f)
}

/// The title or description as virsh's virshGetDomainDescription reads it: from
/// virDomainGetMetadata, empty when there is none, and from the domain XML's element when the
/// driver lacks the call. `flags` is CONFIG or nothing: virsh reads with its XML flags
/// (INACTIVE for --config, the same bit), so --live reads the current state.
async fn current_text(
    conn: &Connection,
    lookup: &virt_core::types::DomainLookup,
    kind: MetadataType,
    flags: u32,
) -> Result<String, CliError> {
    match conn.metadata(lookup, kind, "", flags).await {
        Ok(t) => Ok(t),
        Err(e) if e.code() == ErrorCode::NoDomainMetadata => Ok(String::new()),
        Err(e) if e.code() != ErrorCode::NoSupport => Err(e.into()),
        Err(_) => {
            let xml_flags = if flags & M::Config as u32 != 0 {
                virt_core::proto::DomainXmlFlag::Inactive as u32
            } else {
                0
            };
            let xml = conn.domain_xml(lookup, xml_flags).await?;
            let root =
                virt_xml::dom::parse(&xml, "domain").map_err(|e| CliError::msg(e.to_string()))?;
            let name = if kind == MetadataType::Title {
                "title"
            } else {
                "description"
            };
            let text = root
                .elements()
                .find(|e| e.name == name)
                .map(|e| e.text())
                .unwrap_or_default();
            Ok(text)
        }
    }
}

/// Runs `desc`.
pub async fn desc(conn: &Connection, a: &DescArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let flags = impact(a.live, a.config, a.current)?;
    let kind = if a.title {
        MetadataType::Title
    } else {
        MetadataType::Description
    };
    let what = if a.title { "title" } else { "description" };
    let mut words: Vec<&str> = a.new_desc_opt.iter().map(String::as_str).collect();
    words.extend(a.new_desc.iter().map(String::as_str));
    if a.edit || !words.is_empty() {
        let mut text = words.join(" ");
        // virsh reads the current text first, also when it does not edit it.
        let current = current_text(conn, &target.lookup, kind, flags & M::Config as u32).await?;
        if a.edit {
            let edited = editor::edit(&current)?;
            let edited = edited.trim().to_string();
            if edited == current {
                out.extra(&format!("Domain {what} not changed"));
                return Ok(());
            }
            text = edited;
        }
        conn.set_metadata(&target.lookup, kind, Some(&text), "", "", flags)
            .await
            .context(|| format!("Failed to set new domain {what}"))?;
        out.extra(&format!("Domain {what} updated successfully"));
        out.no_closing_line();
        return Ok(());
    }
    let text = current_text(conn, &target.lookup, kind, flags & M::Config as u32).await?;
    if text.is_empty() {
        out.extra(&format!("No {what} for domain: {}", target.domain.name));
    } else {
        out.line(&text);
    }
    out.no_closing_line();
    Ok(())
}

/// Runs `metadata`.
pub async fn metadata(
    conn: &Connection,
    a: &MetadataArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let flags = impact(a.live, a.config, a.current)?;
    let uri = a
        .uri
        .as_deref()
        .or(a.uri_opt.as_deref())
        .unwrap_or_default();
    let set = a.set.is_some();
    exclusive(&[
        (a.edit, "edit", set, "set"),
        (a.remove, "remove", set, "set"),
        (a.remove, "remove", a.edit, "edit"),
    ])?;
    let key = a.key.as_deref().unwrap_or_default();
    if (set || a.edit) && a.key.is_none() {
        return Err(CliError::msg(
            "namespace key is required when modifying metadata",
        ));
    }
    let el = MetadataType::Element;
    if set || a.remove {
        conn.set_metadata(&target.lookup, el, a.set.as_deref(), key, uri, flags)
            .await?;
        out.extra(if set {
            "Metadata modified"
        } else {
            "Metadata removed"
        });
        return Ok(());
    }
    if a.edit {
        let current = match conn.metadata(&target.lookup, el, uri, flags).await {
            Ok(t) => t,
            Err(e) if e.code() == ErrorCode::NoDomainMetadata => String::new(),
            Err(e) => return Err(e.into()),
        };
        loop {
            let edited = editor::edit(&current)?;
            if edited == current {
                out.extra("Metadata not changed");
                return Ok(());
            }
            match conn
                .set_metadata(&target.lookup, el, Some(&edited), key, uri, flags)
                .await
            {
                Ok(()) => {
                    out.extra("Metadata modified");
                    return Ok(());
                }
                Err(e) => {
                    let err: CliError = e.into();
                    match editor::ask_reedit(&err) {
                        Some(editor::Reedit::Again) => continue,
                        _ => return Err(err),
                    }
                }
            }
        }
    }
    let data = conn.metadata(&target.lookup, el, uri, flags).await?;
    out.line(&data);
    Ok(())
}
