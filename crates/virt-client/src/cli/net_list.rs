//! `virt net-list`: networks as virsh's table, or one name / UUID per line.

use virt_client::{ClientError, Connection};
use virt_core::network::list_flags as F;
use virt_core::proto::{ListAllNetworksRequest, NetworkSummary};

use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;

/// Options of `net-list`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// List inactive networks.
    #[arg(long)]
    pub inactive: bool,
    /// List inactive & active networks.
    #[arg(long)]
    pub all: bool,
    /// List persistent networks.
    #[arg(long)]
    pub persistent: bool,
    /// List transient networks.
    #[arg(long)]
    pub transient: bool,
    /// List networks with autostart enabled.
    #[arg(long)]
    pub autostart: bool,
    /// List networks with autostart disabled.
    #[arg(long = "no-autostart")]
    pub no_autostart: bool,
    /// List uuids only.
    #[arg(long)]
    pub uuid: bool,
    /// List network names only.
    #[arg(long)]
    pub name: bool,
    /// List table (default).
    #[arg(long)]
    pub table: bool,
}

/// ListAllNetworks flags for the options, as virsh builds them.
pub fn flags(a: &Args) -> u32 {
    let mut flags = F::ACTIVE;
    if a.inactive {
        flags = F::INACTIVE;
    }
    if a.all {
        flags = F::ACTIVE | F::INACTIVE;
    }
    for (on, f) in [
        (a.persistent, F::PERSISTENT),
        (a.transient, F::TRANSIENT),
        (a.autostart, F::AUTOSTART),
        (a.no_autostart, F::NO_AUTOSTART),
    ] {
        if on {
            flags |= f;
        }
    }
    flags
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// The text of `net-list` for `nets` (already sorted).
pub fn render(a: &Args, nets: &[NetworkSummary], quiet: bool) -> String {
    if a.name || a.uuid {
        let mut out = String::new();
        for n in nets {
            let net = n.network.clone().unwrap_or_default();
            out.push_str(if a.uuid { &net.uuid } else { &net.name });
            out.push('\n');
        }
        return out;
    }
    let mut t = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    for n in nets {
        let net = n.network.clone().unwrap_or_default();
        t.row(vec![
            net.name,
            if n.active { "active" } else { "inactive" }.to_string(),
            yes_no(n.autostart),
            yes_no(n.persistent),
        ]);
    }
    t.render(quiet)
}

/// Runs `net-list`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    if [a.table, a.name, a.uuid].iter().filter(|b| **b).count() > 1 {
        return Err(CliError::msg(
            "Only one argument from --table, --name and --uuid may be specified.",
        ));
    }
    let req = ListAllNetworksRequest { flags: flags(a) };
    let mut nets = async {
        Ok::<_, ClientError>(
            conn.network_client()
                .list_all_networks(req)
                .await?
                .into_inner()
                .networks,
        )
    }
    .await
    .context(|| "Failed to list networks".into())?;
    nets.sort_by_key(|n| {
        n.network
            .as_ref()
            .map(|x| x.name.to_lowercase())
            .unwrap_or_default()
    });
    let quiet = out.quiet();
    out.text(&render(a, &nets, quiet));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::Network;

    #[test]
    fn default_table_matches_virsh() {
        let nets = vec![NetworkSummary {
            network: Some(Network {
                name: "default".into(),
                uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
            }),
            active: true,
            persistent: true,
            autostart: false,
        }];
        assert_eq!(
            render(&Args::default(), &nets, false),
            " Name      State    Autostart   Persistent\n\
             --------------------------------------------\n \
             default   active   no          yes\n"
        );
    }
}
