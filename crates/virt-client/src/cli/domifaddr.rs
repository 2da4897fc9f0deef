//! `virt domifaddr DOMAIN [--interface IF] [--full] [--source lease|agent|arp]`: the guest's
//! interfaces and their addresses, as virsh's table.

use virt_client::Connection;
use virt_core::guest::{AddressSource, DomainInterface};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domifaddr`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Network interface name.
    #[arg(long)]
    pub interface: Option<String>,
    /// Always display names and MACs of interfaces.
    #[arg(long)]
    pub full: bool,
    /// Address source: 'lease', 'agent', or 'arp'.
    #[arg(long)]
    pub source: Option<String>,
}

/// The source `--source` names (virsh's default is the leases).
pub fn source(word: Option<&str>) -> Result<AddressSource, CliError> {
    match word {
        None | Some("lease") => Ok(AddressSource::Lease),
        Some("agent") => Ok(AddressSource::Agent),
        Some("arp") => Ok(AddressSource::Arp),
        Some(other) => Err(CliError::msg(format!("Unknown data source '{other}'"))),
    }
}

/// virsh's header (`vshPrintExtra`: left out by `-q`).
pub const HEADER: &str = " Name       MAC address          Protocol     Address\n\
-------------------------------------------------------------------------------\n";

/// virsh's rows: one per address, the name and MAC only on an interface's first row unless
/// `full`; `N/A` for an interface without addresses; `only` keeps one interface.
pub fn rows(ifaces: &[DomainInterface], only: Option<&str>, full: bool) -> String {
    let mut out = String::new();
    for iface in ifaces {
        if only.is_some_and(|o| o != iface.name) {
            continue;
        }
        if iface.addrs.is_empty() {
            let mac = iface.hwaddr.as_deref().unwrap_or("N/A");
            out.push_str(&format!(
                " {:<10} {mac:<17}    {:<12} N/A\n",
                iface.name, "N/A"
            ));
            continue;
        }
        for (j, a) in iface.addrs.iter().enumerate() {
            let addr = format!("{:<12} {}/{}", a.addr_type.name(), a.addr, a.prefix);
            let (name, mac) = if full || j == 0 {
                (iface.name.as_str(), iface.hwaddr.as_deref().unwrap_or(""))
            } else {
                ("-", "-")
            };
            out.push_str(&format!(" {name:<10} {mac:<17}    {addr}\n"));
        }
    }
    out
}

/// Runs `domifaddr`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let source = source(args.source.as_deref())?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let ifaces = conn
        .interface_addresses(&target.lookup, source, 0)
        .await
        .context(|| "Failed to query for interfaces addresses".into())?;
    if !out.quiet() {
        out.text(HEADER);
    }
    out.text(&rows(&ifaces, args.interface.as_deref(), args.full));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::guest::{IpAddrType, IpAddress};

    fn iface(name: &str, mac: Option<&str>, addrs: &[(&str, u32, IpAddrType)]) -> DomainInterface {
        DomainInterface {
            name: name.into(),
            hwaddr: mac.map(String::from),
            addrs: addrs
                .iter()
                .map(|(a, p, t)| IpAddress {
                    addr_type: *t,
                    addr: a.to_string(),
                    prefix: *p,
                })
                .collect(),
        }
    }

    #[test]
    fn rows_follow_virsh_columns_and_dashes() {
        let ifaces = [
            iface(
                "lo",
                Some("00:00:00:00:00:00"),
                &[
                    ("127.0.0.1", 8, IpAddrType::Ipv4),
                    ("::1", 128, IpAddrType::Ipv6),
                ],
            ),
            iface("eth0", None, &[]),
        ];
        assert_eq!(
            rows(&ifaces, None, false),
            " lo         00:00:00:00:00:00    ipv4         127.0.0.1/8\n \
             -          -                    ipv6         ::1/128\n \
             eth0       N/A                  N/A          N/A\n"
        );
        assert_eq!(
            rows(&ifaces, Some("lo"), true),
            " lo         00:00:00:00:00:00    ipv4         127.0.0.1/8\n \
             lo         00:00:00:00:00:00    ipv6         ::1/128\n"
        );
    }

    #[test]
    fn unknown_sources_are_refused_with_virshs_words() {
        assert_eq!(source(None).expect("default"), AddressSource::Lease);
        assert_eq!(source(Some("arp")).expect("arp"), AddressSource::Arp);
        let e = source(Some("bogus")).expect_err("unknown");
        assert_eq!(e.lines(), vec!["Unknown data source 'bogus'"]);
    }
}
