//! `virt domstats [DOMAIN...]`: bulk statistics as `Domain: 'NAME'` blocks of `  key=value`
//! lines, for every domain matching the `--list-*` filters or for the domains named.

use virt_client::Connection;
use virt_core::proto::{
    typed_parameter::Value, DomainStatsFlag as Fl, DomainStatsGroup as G, DomainStatsRecord,
    TypedParameter,
};
use virt_core::types::DomainLookup;

use super::dom::{resolve, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `domstats`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// List of domains to get stats for.
    #[arg(value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Report domain state.
    #[arg(long)]
    pub state: bool,
    /// Report domain physical cpu usage.
    #[arg(long = "cpu-total")]
    pub cpu_total: bool,
    /// Report domain balloon statistics.
    #[arg(long)]
    pub balloon: bool,
    /// Report domain virtual cpu information.
    #[arg(long)]
    pub vcpu: bool,
    /// Report domain network interface information.
    #[arg(long)]
    pub interface: bool,
    /// Report domain block device statistics.
    #[arg(long)]
    pub block: bool,
    /// Report domain perf event statistics.
    #[arg(long)]
    pub perf: bool,
    /// Report domain IOThread information.
    #[arg(long)]
    pub iothread: bool,
    /// Report domain memory usage.
    #[arg(long)]
    pub memory: bool,
    /// Report domain dirty rate information.
    #[arg(long)]
    pub dirtyrate: bool,
    /// Report hypervisor-specific statistics.
    #[arg(long)]
    pub vm: bool,
    /// List only active domains.
    #[arg(long = "list-active")]
    pub list_active: bool,
    /// List only inactive domains.
    #[arg(long = "list-inactive")]
    pub list_inactive: bool,
    /// List only persistent domains.
    #[arg(long = "list-persistent")]
    pub list_persistent: bool,
    /// List only transient domains.
    #[arg(long = "list-transient")]
    pub list_transient: bool,
    /// List only running domains.
    #[arg(long = "list-running")]
    pub list_running: bool,
    /// List only paused domains.
    #[arg(long = "list-paused")]
    pub list_paused: bool,
    /// List only shutoff domains.
    #[arg(long = "list-shutoff")]
    pub list_shutoff: bool,
    /// List only domains in other states.
    #[arg(long = "list-other")]
    pub list_other: bool,
    /// Do not pretty-print the fields.
    #[arg(long)]
    pub raw: bool,
    /// Enforce requested stats parameters.
    #[arg(long)]
    pub enforce: bool,
    /// Add backing chain information to block stats.
    #[arg(long)]
    pub backing: bool,
    /// Report only stats that are accessible instantly.
    #[arg(long)]
    pub nowait: bool,
}

fn bits<T: Copy + Into<i32>>(pairs: &[(bool, T)]) -> u32 {
    pairs
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u32, |acc, (_, f)| acc | (*f).into() as u32)
}

/// The stats group bits (0 = every group).
pub fn groups(a: &Args) -> u32 {
    bits(&[
        (a.state, G::State),
        (a.cpu_total, G::CpuTotal),
        (a.balloon, G::Balloon),
        (a.vcpu, G::Vcpu),
        (a.interface, G::Interface),
        (a.block, G::Block),
        (a.perf, G::Perf),
        (a.iothread, G::Iothread),
        (a.memory, G::Memory),
        (a.dirtyrate, G::Dirtyrate),
        (a.vm, G::Vm),
    ])
}

/// The filter and behaviour flag bits.
pub fn flags(a: &Args) -> u32 {
    bits(&[
        (a.list_active, Fl::Active),
        (a.list_inactive, Fl::Inactive),
        (a.list_persistent, Fl::Persistent),
        (a.list_transient, Fl::Transient),
        (a.list_running, Fl::Running),
        (a.list_paused, Fl::Paused),
        (a.list_shutoff, Fl::Shutoff),
        (a.list_other, Fl::Other),
        (a.enforce, Fl::EnforceStats),
        (a.backing, Fl::Backing),
        (a.nowait, Fl::Nowait),
    ])
}

/// The flags ListDomainStats accepts: the domain filters apply only to GetAllDomainStats.
const LIST_FLAGS: u32 = Fl::EnforceStats as i32 as u32 | Fl::Backing as u32 | Fl::Nowait as u32;

fn value_text(p: &TypedParameter) -> String {
    match &p.value {
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::Uint(v)) => v.to_string(),
        Some(Value::Llong(v)) => v.to_string(),
        Some(Value::Ullong(v)) => v.to_string(),
        Some(Value::Double(v)) => format!("{v:.6}"),
        Some(Value::Boolean(v)) => if *v { "yes" } else { "no" }.to_string(),
        Some(Value::String(v)) => v.clone(),
        None => String::new(),
    }
}

/// virsh's text for the records: each `Domain: 'NAME'` block, blank lines between blocks.
pub fn render(records: &[DomainStatsRecord]) -> String {
    let blocks: Vec<String> = records
        .iter()
        .map(|r| {
            let name = r
                .domain
                .as_ref()
                .map(|d| d.name.as_str())
                .unwrap_or_default();
            let mut block = format!("Domain: '{name}'\n");
            for p in &r.params {
                block.push_str(&format!("  {}={}\n", p.field, value_text(p)));
            }
            block
        })
        .collect();
    blocks.join("\n")
}

/// Runs `domstats`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let records = if a.domains.is_empty() {
        conn.all_domain_stats(groups(a), flags(a)).await?
    } else {
        let mut lookups: Vec<DomainLookup> = Vec::new();
        for arg in &a.domains {
            lookups.push(resolve(conn, arg, ANY).await?.lookup);
        }
        conn.list_domain_stats(&lookups, groups(a), flags(a) & LIST_FLAGS)
            .await?
    };
    out.text(&render(&records));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::Domain;

    fn param(field: &str, value: Value) -> TypedParameter {
        TypedParameter {
            field: field.into(),
            value: Some(value),
        }
    }

    fn record(name: &str, params: Vec<TypedParameter>) -> DomainStatsRecord {
        DomainStatsRecord {
            domain: Some(Domain {
                name: name.into(),
                ..Default::default()
            }),
            params,
        }
    }

    #[test]
    fn records_render_as_virsh_blocks() {
        let recs = vec![
            record(
                "test",
                vec![
                    param("state.state", Value::Int(1)),
                    param("state.reason", Value::Int(0)),
                ],
            ),
            record("small", vec![]),
        ];
        assert_eq!(
            render(&recs),
            "Domain: 'test'\n  state.state=1\n  state.reason=0\n\nDomain: 'small'\n"
        );
    }

    #[test]
    fn typed_values_render_as_virsh_does() {
        let p = |v| value_text(&param("x", v));
        assert_eq!(p(Value::Double(1.5)), "1.500000");
        assert_eq!(p(Value::Boolean(true)), "yes");
        assert_eq!(p(Value::Ullong(u64::MAX)), "18446744073709551615");
        assert_eq!(p(Value::String("vda".into())), "vda");
    }

    #[test]
    fn enforce_is_bit_31_and_no_groups_means_all() {
        let a = Args {
            enforce: true,
            cpu_total: true,
            ..Default::default()
        };
        assert_eq!(flags(&a), 0x8000_0000);
        assert_eq!(groups(&a), 2);
        assert_eq!(groups(&Args::default()), 0);
    }
}
