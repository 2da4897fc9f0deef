//! `virt list`: domains as virsh's table, or one name / UUID / ID per line.

use virt_client::Connection;
use virt_core::proto::{DomainSummary, ListAllDomainsFlag as F};
use virt_core::state::DomainState;

use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;

/// Options of `list`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// List inactive domains.
    #[arg(long)]
    pub inactive: bool,
    /// List inactive & active domains.
    #[arg(long)]
    pub all: bool,
    /// List transient domains.
    #[arg(long)]
    pub transient: bool,
    /// List persistent domains.
    #[arg(long)]
    pub persistent: bool,
    /// List domains with existing snapshot.
    #[arg(long = "with-snapshot")]
    pub with_snapshot: bool,
    /// List domains without a snapshot.
    #[arg(long = "without-snapshot")]
    pub without_snapshot: bool,
    /// List domains with existing checkpoint.
    #[arg(long = "with-checkpoint")]
    pub with_checkpoint: bool,
    /// List domains without a checkpoint.
    #[arg(long = "without-checkpoint")]
    pub without_checkpoint: bool,
    /// List domains in running state.
    #[arg(long = "state-running")]
    pub state_running: bool,
    /// List domains in paused state.
    #[arg(long = "state-paused")]
    pub state_paused: bool,
    /// List domains in shutoff state.
    #[arg(long = "state-shutoff")]
    pub state_shutoff: bool,
    /// List domains in other states.
    #[arg(long = "state-other")]
    pub state_other: bool,
    /// List domains with autostart enabled.
    #[arg(long)]
    pub autostart: bool,
    /// List domains with autostart disabled.
    #[arg(long = "no-autostart")]
    pub no_autostart: bool,
    /// List domains with managed save state.
    #[arg(long = "with-managed-save")]
    pub with_managed_save: bool,
    /// List domains without managed save.
    #[arg(long = "without-managed-save")]
    pub without_managed_save: bool,
    /// List uuid's only.
    #[arg(long)]
    pub uuid: bool,
    /// List domain names only.
    #[arg(long)]
    pub name: bool,
    /// List domain IDs only.
    #[arg(long)]
    pub id: bool,
    /// Show domain title.
    #[arg(long)]
    pub title: bool,
    /// Mark inactive domains with managed save state.
    #[arg(long = "managed-save")]
    pub managed_save: bool,
    /// Table output (the default).
    #[arg(long)]
    pub table: bool,
}

/// ListAllDomains flags for the options, as virsh builds them: filters OR-ed inside a group,
/// and active domains only when neither activity nor state is asked for.
pub fn flags(a: &Args) -> u32 {
    let pairs = [
        (a.inactive, F::Inactive),
        (a.persistent, F::Persistent),
        (a.transient, F::Transient),
        (a.with_snapshot, F::HasSnapshot),
        (a.without_snapshot, F::NoSnapshot),
        (a.with_checkpoint, F::HasCheckpoint),
        (a.without_checkpoint, F::NoCheckpoint),
        (a.state_running, F::Running),
        (a.state_paused, F::Paused),
        (a.state_shutoff, F::Shutoff),
        (a.state_other, F::Other),
        (a.autostart, F::Autostart),
        (a.no_autostart, F::NoAutostart),
        (a.with_managed_save, F::Managedsave),
        (a.without_managed_save, F::NoManagedsave),
    ];
    let mut flags = pairs
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u32, |acc, (_, f)| acc | *f as u32);
    if a.all {
        flags |= F::Active as u32 | F::Inactive as u32;
    }
    let activity = F::Active as u32 | F::Inactive as u32;
    let state = F::Running as u32 | F::Paused as u32 | F::Shutoff as u32 | F::Other as u32;
    if flags & (activity | state) == 0 {
        flags |= F::Active as u32;
    }
    flags
}

fn id_text(d: &DomainSummary) -> String {
    d.domain
        .as_ref()
        .and_then(|d| d.id)
        .map_or_else(|| "-".to_string(), |id| id.to_string())
}

fn state_text(d: &DomainSummary, managed_save: bool) -> &'static str {
    let state = DomainState::from_number(d.state.as_ref().map_or(0, |s| s.state));
    if managed_save && state == DomainState::Shutoff && d.has_managed_save {
        "saved"
    } else {
        state.virsh_name()
    }
}

/// The text of `list` for `domains`.
pub fn render(a: &Args, domains: &[DomainSummary], quiet: bool) -> String {
    if a.uuid || a.name || a.id {
        return render_plain(a, domains);
    }
    let mut header = vec!["Id", "Name", "State"];
    if a.title {
        header.push("Title");
    }
    let mut table = Table::new(&header);
    for d in domains {
        let name = d
            .domain
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let mut row = vec![id_text(d), name, state_text(d, a.managed_save).to_string()];
        if a.title {
            row.push(d.title.clone());
        }
        table.row(row);
    }
    table.render(quiet)
}

/// `--uuid`, `--id`, `--name` in that order on one line; `--id` alone skips inactive domains.
fn render_plain(a: &Args, domains: &[DomainSummary]) -> String {
    let mut out = String::new();
    for d in domains {
        let dom = d.domain.clone().unwrap_or_default();
        if a.id && !a.uuid && !a.name && dom.id.is_none() {
            continue;
        }
        let mut parts = Vec::new();
        if a.uuid {
            parts.push(dom.uuid.clone());
        }
        if a.id {
            parts.push(id_text(d));
        }
        if a.name {
            parts.push(dom.name.clone());
        }
        out.push_str(&parts.join(" "));
        out.push('\n');
    }
    out
}

/// Runs `list`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    if a.table && (a.uuid || a.name || a.id) {
        return Err(CliError::msg(
            "Options --table and --name/--uuid/--id are mutually exclusive",
        ));
    }
    let domains = conn
        .list_all_domains(flags(a))
        .await
        .context(|| "Failed to list domains".into())?;
    let quiet = out.quiet();
    out.text(&render(a, &domains, quiet));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::{Domain, DomainStateReason};

    fn summary(name: &str, id: Option<u32>, state: i32) -> DomainSummary {
        DomainSummary {
            domain: Some(Domain {
                name: name.into(),
                uuid: format!("{name}-uuid"),
                id,
            }),
            state: Some(DomainStateReason { state, reason: 0 }),
            has_managed_save: true,
            ..Default::default()
        }
    }

    #[test]
    fn default_lists_active_and_state_filters_do_not_add_it() {
        assert_eq!(flags(&Args::default()), F::Active as u32);
        let all = Args {
            all: true,
            ..Default::default()
        };
        assert_eq!(flags(&all), 3);
        let shutoff = Args {
            state_shutoff: true,
            ..Default::default()
        };
        assert_eq!(flags(&shutoff), F::Shutoff as u32);
        let persistent = Args {
            persistent: true,
            ..Default::default()
        };
        assert_eq!(flags(&persistent), F::Persistent as u32 | F::Active as u32);
    }

    #[test]
    fn table_shows_dash_for_inactive_and_saved_with_managed_save() {
        let doms = [summary("test", Some(1), 1), summary("small", None, 5)];
        let a = Args {
            managed_save: true,
            ..Default::default()
        };
        assert_eq!(
            render(&a, &doms, false),
            " Id   Name    State\n-----------------------\n 1    test    running\n -    small   saved\n"
        );
        assert_eq!(
            render(&Args::default(), &doms, true),
            " 1   test    running\n -   small   shut off\n"
        );
    }

    #[test]
    fn plain_forms_follow_virsh_order_and_skip_inactive_ids() {
        let doms = [summary("test", Some(1), 1), summary("small", None, 5)];
        let ids = Args {
            id: true,
            ..Default::default()
        };
        assert_eq!(render(&ids, &doms, false), "1\n");
        let all3 = Args {
            id: true,
            name: true,
            uuid: true,
            ..Default::default()
        };
        assert_eq!(
            render(&all3, &doms, false),
            "test-uuid 1 test\nsmall-uuid - small\n"
        );
    }
}
