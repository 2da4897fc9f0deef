//! `virt domifstat DOMAIN INTERFACE`: the interface's traffic counters, one
//! `INTERFACE name value` line each, as virsh prints them (counters the driver does not know
//! are left out).

use virt_client::Connection;
use virt_core::types::InterfaceStats;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domifstat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Interface device (host-side name, e.g. `vnet0`) or MAC address.
    #[arg(value_name = "INTERFACE", required_unless_present = "interface_opt")]
    pub interface: Option<String>,
    /// Interface device or MAC address.
    #[arg(
        long = "interface",
        value_name = "INTERFACE",
        conflicts_with = "interface"
    )]
    pub interface_opt: Option<String>,
}

/// virsh's lines for `stats` of `device`.
pub fn render(device: &str, s: &InterfaceStats) -> Vec<String> {
    [
        ("rx_bytes", s.rx_bytes),
        ("rx_packets", s.rx_packets),
        ("rx_errs", s.rx_errs),
        ("rx_drop", s.rx_drop),
        ("tx_bytes", s.tx_bytes),
        ("tx_packets", s.tx_packets),
        ("tx_errs", s.tx_errs),
        ("tx_drop", s.tx_drop),
    ]
    .into_iter()
    .filter(|(_, v)| *v >= 0)
    .map(|(k, v)| format!("{device} {k} {v}"))
    .collect()
}

/// Runs `domifstat`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let device = args
        .interface
        .as_deref()
        .or(args.interface_opt.as_deref())
        .unwrap_or_default();
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let stats = conn
        .interface_stats(&target.lookup, device)
        .await
        .context(|| format!("Failed to get interface stats {} {device}", target.arg))?;
    for l in render(device, &stats) {
        out.line(&l);
    }
    Ok(())
}
