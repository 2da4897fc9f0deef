//! `virt snapshot-edit DOMAIN [SNAPSHOTNAME | --current] [--rename | --clone]`: edits a
//! snapshot's XML in `$VISUAL` / `$EDITOR` (default `vi`, run through `sh -c` as virsh's
//! vshEditFile does) and redefines it (CREATE with REDEFINE), as virsh does.

use virt_client::Connection;
use virt_core::proto::{CreateSnapshotFlag as C, DeleteSnapshotFlag as D};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `snapshot-edit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Snapshot name.
    #[arg(value_name = "SNAPSHOTNAME")]
    pub name: Option<String>,
    /// Snapshot name.
    #[arg(
        long = "snapshotname",
        value_name = "SNAPSHOTNAME",
        conflicts_with = "name"
    )]
    pub name_opt: Option<String>,
    /// Also set edited snapshot as current.
    #[arg(long)]
    pub current: bool,
    /// Allow renaming an existing snapshot.
    #[arg(long)]
    pub rename: bool,
    /// Allow cloning to new name.
    #[arg(long)]
    pub clone: bool,
}

/// The editor command virsh runs: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor() -> String {
    std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string())
}

/// A temporary file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the editor on `xml` in a temporary file and returns the edited text.
fn edit(xml: &str) -> Result<String, CliError> {
    let path = std::env::temp_dir().join(format!(
        "virsh{}-{}.xml",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    let file = TempFile(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file.0)
        .and_then(|mut f| std::io::Write::write_all(&mut f, xml.as_bytes()))
        .map_err(|e| CliError::msg(format!("failed to write temporary file: {e}")))?;
    let ed = editor();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{ed} \"$1\""))
        .arg("sh")
        .arg(file.0.as_path())
        .status()
        .map_err(|e| CliError::msg(format!("cannot run editor {ed}: {e}")))?;
    if !status.success() {
        return Err(CliError::msg(format!(
            "Child process ({ed} {}) unexpected exit status {}",
            file.0.as_path().display(),
            status.code().unwrap_or(-1)
        )));
    }
    std::fs::read_to_string(file.0.as_path())
        .map_err(|e| CliError::msg(format!("failed to read temporary file: {e}")))
}

/// The `<name>` of snapshot XML, as the daemon will read it.
fn snapshot_name(xml: &str) -> Option<String> {
    let start = xml.find("<name>")? + "<name>".len();
    let end = start + xml[start..].find("</name>")?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// Runs `snapshot-edit`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let given = a.name.as_deref().or(a.name_opt.as_deref());
    if a.rename && a.clone {
        return Err(CliError::msg(
            "Options --rename and --clone are mutually exclusive",
        ));
    }
    let name = match (given, a.current) {
        (Some(n), _) => n.to_string(),
        (None, true) => String::new(),
        (None, false) => return Err(CliError::msg("--snapshotname or --current is required")),
    };
    let mut define = C::Redefine as u32;
    if a.current && given.is_some() {
        define |= C::Current as u32;
    }
    // SECURE, as virsh asks.
    let xml = conn.snapshot_xml(&target.lookup, &name, 1).await?;
    let name = snapshot_name(&xml).unwrap_or(name);
    let edited = edit(&xml)?;
    if edited == xml {
        out.line(&format!("Snapshot {name} XML configuration not changed."));
        return Ok(());
    }
    // virsh redefines first and then sorts out a changed name: a clone stays, a rename drops
    // the old snapshot's metadata, and a change without either option drops the new one.
    let snap = conn
        .create_snapshot(&target.lookup, &edited, define)
        .await
        .map_err(|e| CliError::Lines(vec![e.to_string(), format!("Failed to update {name}")]))?;
    if snap.name != name {
        if a.clone {
            out.line(&format!("Snapshot {name} cloned to {}.", snap.name));
            return Ok(());
        }
        let doomed = if a.rename { &name } else { &snap.name };
        if let Err(e) = conn
            .delete_snapshot(&target.lookup, doomed, D::MetadataOnly as u32)
            .await
        {
            return Err(CliError::Lines(vec![
                e.to_string(),
                format!("Failed to clean up {doomed}"),
                format!("Failed to update {name}"),
            ]));
        }
        if !a.rename {
            return Err(CliError::Lines(vec![
                format!(
                    "Must use --rename or --clone to change {name} to {}",
                    snap.name
                ),
                format!("Failed to update {name}"),
            ]));
        }
    }
    out.line(&format!("Snapshot {} edited.", snap.name));
    Ok(())
}
