//! `virt snapshot-list DOMAIN [filters] [--parent | --tree | --name] [--from S | --current
//! [--descendants]] [--topological]`: the domain's snapshots as virsh prints them: a table with
//! the creation time in local time, names alone, or virsh's tree. Children of a snapshot are
//! taken from the domain's list (by parent name).

use virt_client::Connection;
use virt_core::proto::{self, ListSnapshotsFlag as F};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;
use super::table::Table;

/// Options of `snapshot-list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Add a column showing parent snapshot.
    #[arg(long)]
    pub parent: bool,
    /// List only snapshots without parents.
    #[arg(long)]
    pub roots: bool,
    /// List only snapshots without children.
    #[arg(long)]
    pub leaves: bool,
    /// List only snapshots that are not leaves (with children).
    #[arg(long = "no-leaves")]
    pub no_leaves: bool,
    /// List only snapshots that have metadata that would prevent undefine.
    #[arg(long)]
    pub metadata: bool,
    /// List only snapshots that have no metadata managed by libvirt.
    #[arg(long = "no-metadata")]
    pub no_metadata: bool,
    /// Filter by snapshots taken while inactive.
    #[arg(long)]
    pub inactive: bool,
    /// Filter by snapshots taken while active (full system snapshots).
    #[arg(long)]
    pub active: bool,
    /// Filter by disk-only snapshots.
    #[arg(long = "disk-only")]
    pub disk_only: bool,
    /// Filter by internal snapshots.
    #[arg(long)]
    pub internal: bool,
    /// Filter by external snapshots.
    #[arg(long)]
    pub external: bool,
    /// List snapshots in a tree.
    #[arg(long)]
    pub tree: bool,
    /// Limit list to children of given snapshot.
    #[arg(long)]
    pub from: Option<String>,
    /// Limit list to children of current snapshot.
    #[arg(long)]
    pub current: bool,
    /// With --from, list all descendants.
    #[arg(long)]
    pub descendants: bool,
    /// List snapshot names only.
    #[arg(long)]
    pub name: bool,
    /// Sort list topologically rather than by name.
    #[arg(long)]
    pub topological: bool,
}

/// The names of every descendant of `name` in `all`, depth first.
pub fn descendants(all: &[proto::Snapshot], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut frontier = vec![name.to_string()];
    while let Some(p) = frontier.pop() {
        for s in all.iter().filter(|s| s.parent == p) {
            out.push(s.name.clone());
            frontier.push(s.name.clone());
        }
    }
    out
}

/// virsh's exclusive option pairs, in the order it checks them.
fn check_exclusive(a: &Args) -> Result<(), CliError> {
    let from = a.from.is_some();
    for (x, xn, y, yn) in [
        (a.tree, "tree", a.name, "name"),
        (a.parent, "parent", a.roots, "roots"),
        (a.parent, "parent", a.tree, "tree"),
        (a.roots, "roots", a.tree, "tree"),
        (a.roots, "roots", from, "from"),
        (a.roots, "roots", a.current, "current"),
    ] {
        if x && y {
            return Err(CliError::msg(format!(
                "Options --{xn} and --{yn} are mutually exclusive"
            )));
        }
    }
    if from && a.current {
        return Err(CliError::msg("--from and --current are mutually exclusive"));
    }
    Ok(())
}

/// `seconds` in local time as `%Y-%m-%d %H:%M:%S %z`.
pub fn local_time(seconds: i64) -> String {
    let t = seconds as libc::time_t;
    // SAFETY: an all-zero `tm` is valid; localtime_r writes it from `t`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    let off = tm.tm_gmtoff / 60;
    let sign = if off < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        off.abs() / 60,
        off.abs() % 60
    )
}

/// Prints virsh's tree (vshTreePrint) of `list`, where a parent outside the list counts as none.
fn tree(list: &[proto::Snapshot], out: &mut Output) {
    let parents: Vec<Option<&str>> = list
        .iter()
        .map(|s| {
            let p = &s.parent;
            (!p.is_empty() && list.iter().any(|o| &o.name == p)).then_some(p.as_str())
        })
        .collect();
    fn walk(
        list: &[proto::Snapshot],
        parents: &[Option<&str>],
        dev: usize,
        last: usize,
        root: bool,
        indent: &mut String,
        out: &mut Output,
    ) {
        let name = &list[dev].name;
        out.line(&format!("{indent}{}{name}", if root { "" } else { "+- " }));
        if !root {
            indent.push(if dev == last { ' ' } else { '|' });
            indent.push(' ');
        }
        let kids: Vec<usize> = (0..list.len())
            .filter(|&i| parents[i] == Some(name.as_str()))
            .collect();
        let next_last = kids.last().copied();
        if next_last.is_some() {
            out.line(&format!("{indent}  |"));
        }
        indent.push_str("  ");
        for &k in &kids {
            walk(
                list,
                parents,
                k,
                next_last.unwrap_or(usize::MAX),
                false,
                indent,
                out,
            );
        }
        indent.truncate(indent.len() - 2);
        if next_last.is_none() && dev == last {
            out.line(indent);
        }
        if !root {
            indent.truncate(indent.len() - 2);
        }
    }
    let mut indent = String::new();
    for i in 0..list.len() {
        if parents[i].is_none() {
            walk(list, &parents, i, list.len() - 1, true, &mut indent, out);
        }
    }
}

/// Runs `snapshot-list`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    check_exclusive(a)?;
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let mut flags = 0;
    for (on, f) in [
        (a.roots, F::Roots),
        (a.leaves, F::Leaves),
        (a.no_leaves, F::NoLeaves),
        (a.metadata, F::Metadata),
        (a.no_metadata, F::NoMetadata),
        (a.inactive, F::Inactive),
        (a.active, F::Active),
        (a.disk_only, F::DiskOnly),
        (a.internal, F::Internal),
        (a.external, F::External),
        (a.topological, F::Topological),
    ] {
        if on {
            flags |= f as u32;
        }
    }
    // --from / --current: the children (or descendants) of that snapshot; the tree also
    // shows the snapshot itself.
    let start = match (&a.from, a.current) {
        (Some(n), _) => Some(n.clone()),
        (None, true) => {
            conn.snapshot_xml(&target.lookup, "", 0).await?;
            let all = conn.list_snapshots(&target.lookup, 0).await?;
            all.into_iter().find(|s| s.current).map(|s| s.name)
        }
        (None, false) => None,
    };
    let mut list = conn.list_snapshots(&target.lookup, flags).await?;
    if let Some(start) = &start {
        conn.snapshot_xml(&target.lookup, start, 0).await?;
        let all = conn.list_snapshots(&target.lookup, 0).await?;
        let keep: Vec<String> = if a.descendants || a.tree {
            descendants(&all, start)
        } else {
            all.iter()
                .filter(|s| &s.parent == start)
                .map(|s| s.name.clone())
                .collect()
        };
        list.retain(|s| keep.contains(&s.name) || (a.tree && &s.name == start));
    }
    if a.tree {
        tree(&list, out);
        return Ok(());
    }
    if a.name {
        for s in &list {
            out.line(&s.name);
        }
        return Ok(());
    }
    let mut header = vec!["Name", "Creation Time", "State"];
    if a.parent {
        header.push("Parent");
    }
    let mut t = Table::new(&header);
    for s in &list {
        let mut cells = vec![s.name.clone(), local_time(s.creation_time), s.state.clone()];
        if a.parent {
            cells.push(s.parent.clone());
        }
        t.row(cells);
    }
    out.text(&t.render(out.quiet()));
    Ok(())
}
