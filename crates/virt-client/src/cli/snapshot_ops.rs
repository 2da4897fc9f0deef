//! `virt snapshot-current`, `snapshot-delete`, `snapshot-dumpxml`, `snapshot-info`,
//! `snapshot-parent`, `snapshot-revert`: one snapshot of a domain, named or the current one,
//! with virsh's messages. The tree facts (`Children`, `Descendants`) come from the domain's
//! snapshot list.

use virt_client::Connection;
use virt_core::proto;

use super::dom::{resolve, DomArg, Target, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// A snapshot argument, positional or as `--snapshotname`, or `--current`.
#[derive(clap::Args, Debug, Clone)]
pub struct SnapArg {
    /// Snapshot name.
    #[arg(value_name = "SNAPSHOTNAME")]
    name: Option<String>,
    /// Snapshot name.
    #[arg(
        long = "snapshotname",
        value_name = "SNAPSHOTNAME",
        conflicts_with = "name"
    )]
    name_opt: Option<String>,
    /// The current snapshot.
    #[arg(long)]
    current: bool,
}

impl SnapArg {
    /// The name given, if any.
    fn given(&self) -> Option<&str> {
        self.name.as_deref().or(self.name_opt.as_deref())
    }
}

/// The snapshot a [`SnapArg`] names, as virsh's virshLookupSnapshot: a name, else the current
/// snapshot; the two are exclusive and one is required.
async fn lookup(
    conn: &Connection,
    target: &Target,
    a: &SnapArg,
) -> Result<proto::Snapshot, CliError> {
    let name = match (a.given(), a.current) {
        (Some(_), true) => {
            return Err(CliError::msg(
                "--snapshotname and --current are mutually exclusive",
            ))
        }
        (None, false) => return Err(CliError::msg("--snapshotname or --current is required")),
        (Some(n), false) => n.to_string(),
        (None, true) => String::new(),
    };
    // The XML call answers libvirt's lookup errors (no such name, no current snapshot).
    conn.snapshot_xml(&target.lookup, &name, 0).await?;
    let all = conn.list_snapshots(&target.lookup, 0).await?;
    all.into_iter()
        .find(|s| {
            if name.is_empty() {
                s.current
            } else {
                s.name == name
            }
        })
        .ok_or_else(|| CliError::msg(format!("snapshot '{name}' vanished")))
}

/// Options of `snapshot-current`.
#[derive(clap::Args, Debug)]
pub struct CurrentArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// List the name, rather than the full xml.
    #[arg(long)]
    pub name: bool,
    /// Include security sensitive information in XML dump.
    #[arg(long = "security-info")]
    pub security_info: bool,
    /// Name of existing snapshot to make current.
    #[arg(long = "snapshotname")]
    pub snapshotname: Option<String>,
}

/// Runs `snapshot-current`.
pub async fn current(conn: &Connection, a: &CurrentArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    if let Some(name) = &a.snapshotname {
        if a.name || a.security_info {
            let other = if a.name { "name" } else { "security-info" };
            return Err(CliError::msg(format!(
                "Options --snapshotname and --{other} are mutually exclusive"
            )));
        }
        // virsh: fetch the snapshot's XML and redefine it as current.
        let xml = conn.snapshot_xml(&target.lookup, name, 0).await?;
        conn.create_snapshot(&target.lookup, &xml, REDEFINE | CURRENT)
            .await?;
        // No newline of its own, as virsh's.
        if !out.quiet() {
            out.text(&format!("Snapshot {name} set as current"));
        }
        return Ok(());
    }
    let all = conn.list_snapshots(&target.lookup, 0).await?;
    let Some(cur) = all.into_iter().find(|s| s.current) else {
        return Err(CliError::msg(format!(
            "domain '{}' has no current snapshot",
            target.arg
        )));
    };
    if a.name {
        // virsh prints the name without a newline; the closing newline ends it.
        out.text(&cur.name);
    } else {
        let flags = u32::from(a.security_info);
        out.text(&conn.snapshot_xml(&target.lookup, &cur.name, flags).await?);
    }
    Ok(())
}

const REDEFINE: u32 = proto::CreateSnapshotFlag::Redefine as u32;
const CURRENT: u32 = proto::CreateSnapshotFlag::Current as u32;

/// Options of `snapshot-delete`.
#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The snapshot.
    #[command(flatten)]
    pub snap: SnapArg,
    /// Delete snapshot and all children.
    #[arg(long)]
    pub children: bool,
    /// Delete children but not snapshot.
    #[arg(long = "children-only")]
    pub children_only: bool,
    /// Delete only libvirt metadata, leaving snapshot contents behind.
    #[arg(long)]
    pub metadata: bool,
}

/// Runs `snapshot-delete`.
pub async fn delete(conn: &Connection, a: &DeleteArgs, out: &mut Output) -> Result<(), CliError> {
    use proto::DeleteSnapshotFlag as F;
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let snap = lookup(conn, &target, &a.snap).await?;
    let mut flags = 0;
    for (on, f) in [
        (a.children, F::Children),
        (a.children_only, F::ChildrenOnly),
        (a.metadata, F::MetadataOnly),
    ] {
        if on {
            flags |= f as u32;
        }
    }
    let name = snap.name;
    conn.delete_snapshot(&target.lookup, &name, flags)
        .await
        .context(|| format!("Failed to delete snapshot {name}"))?;
    if a.children_only {
        out.extra(&format!("Domain snapshot {name} children deleted"));
    } else {
        out.extra(&format!("Domain snapshot {name} deleted"));
    }
    Ok(())
}

/// Options of `snapshot-dumpxml`.
#[derive(clap::Args, Debug)]
pub struct DumpxmlArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Snapshot name.
    #[arg(value_name = "SNAPSHOTNAME", required_unless_present = "name_opt")]
    pub name: Option<String>,
    /// Snapshot name.
    #[arg(
        long = "snapshotname",
        value_name = "SNAPSHOTNAME",
        conflicts_with = "name"
    )]
    pub name_opt: Option<String>,
    /// Include security sensitive information in XML dump.
    #[arg(long = "security-info")]
    pub security_info: bool,
}

/// Runs `snapshot-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &DumpxmlArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let name = a
        .name
        .as_deref()
        .or(a.name_opt.as_deref())
        .unwrap_or_default();
    let flags = u32::from(a.security_info);
    out.text(&conn.snapshot_xml(&target.lookup, name, flags).await?);
    Ok(())
}

/// Options of `snapshot-info` and `snapshot-parent`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The snapshot.
    #[command(flatten)]
    pub snap: SnapArg,
}

/// Runs `snapshot-info`.
pub async fn info(conn: &Connection, a: &InfoArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let snap = lookup(conn, &target, &a.snap).await?;
    let all = conn.list_snapshots(&target.lookup, 0).await?;
    let children = all.iter().filter(|s| s.parent == snap.name).count();
    let descendants = super::snapshot_list::descendants(&all, &snap.name).len();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let parent = if snap.parent.is_empty() {
        "-"
    } else {
        &snap.parent
    };
    for (k, v) in [
        ("Name:", snap.name.as_str()),
        ("Domain:", target.domain.name.as_str()),
        ("Current:", yes_no(snap.current)),
        ("State:", snap.state.as_str()),
        // Every snapshot the drivers here keep is internal.
        ("Location:", "internal"),
        ("Parent:", parent),
        ("Children:", &children.to_string()),
        ("Descendants:", &descendants.to_string()),
        ("Metadata:", "yes"),
    ] {
        out.line(&format!("{k:<15} {v}"));
    }
    Ok(())
}

/// Runs `snapshot-parent`.
pub async fn parent(conn: &Connection, a: &InfoArgs, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let snap = lookup(conn, &target, &a.snap).await?;
    if snap.parent.is_empty() {
        return Err(CliError::msg(format!(
            "snapshot '{}' has no parent",
            snap.name
        )));
    }
    out.text(&snap.parent);
    Ok(())
}

/// Options of `snapshot-revert`.
#[derive(clap::Args, Debug)]
pub struct RevertArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The snapshot.
    #[command(flatten)]
    pub snap: SnapArg,
    /// After reverting, change state to running.
    #[arg(long)]
    pub running: bool,
    /// After reverting, change state to paused.
    #[arg(long)]
    pub paused: bool,
    /// Try harder on risky reverts.
    #[arg(long)]
    pub force: bool,
    /// Re-initialize NVRAM from its pristine template.
    #[arg(long = "reset-nvram")]
    pub reset_nvram: bool,
}

/// Runs `snapshot-revert`.
pub async fn revert(conn: &Connection, a: &RevertArgs, out: &mut Output) -> Result<(), CliError> {
    use proto::RevertSnapshotFlag as F;
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let snap = lookup(conn, &target, &a.snap).await?;
    let mut flags = 0;
    for (on, f) in [
        (a.running, F::Running),
        (a.paused, F::Paused),
        (a.force, F::Force),
        (a.reset_nvram, F::ResetNvram),
    ] {
        if on {
            flags |= f as u32;
        }
    }
    let name = snap.name;
    conn.revert_to_snapshot(&target.lookup, &name, flags)
        .await
        .context(|| format!("Failed to revert snapshot {name}"))?;
    out.extra(&format!("Domain snapshot {name} reverted"));
    Ok(())
}
