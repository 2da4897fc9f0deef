//! `virt net-info`, `net-uuid`, `net-name`, `net-dumpxml`: what virsh shows of one network.

use virt_client::{ClientError, Connection};
use virt_core::proto::{GetNetworkInfoRequest, GetNetworkXmlRequest};

use super::net_common::{by_uuid, resolve, resolve_by, NetArg};
use super::output::Output;
use super::report::CliError;

/// Options of `net-info`, `net-uuid`, `net-name`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
}

/// Options of `net-dumpxml`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
    /// Network information of an inactive domain.
    #[arg(long)]
    pub inactive: bool,
}

fn row(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{key:<15} {value}\n"));
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Runs `net-info`.
pub async fn info(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let net = resolve(conn, a.network.get()).await?;
    let req = GetNetworkInfoRequest {
        network: Some(by_uuid(&net)),
    };
    let i = conn
        .network_client()
        .get_network_info(req)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    let mut s = String::new();
    row(&mut s, "Name:", &net.name);
    row(&mut s, "UUID:", &net.uuid);
    row(&mut s, "Active:", yes_no(i.active));
    row(&mut s, "Persistent:", yes_no(i.persistent));
    row(&mut s, "Autostart:", yes_no(i.autostart));
    if !i.bridge.is_empty() {
        row(&mut s, "Bridge:", &i.bridge);
    }
    out.text(&s);
    Ok(())
}

/// Runs `net-uuid` (by name only, as virsh).
pub async fn uuid(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let net = resolve_by(conn, a.network.get(), false, true).await?;
    out.line(&net.uuid);
    Ok(())
}

/// Runs `net-name` (by UUID only, as virsh).
pub async fn name(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let net = resolve_by(conn, a.network.get(), true, false).await?;
    out.line(&net.name);
    Ok(())
}

/// Runs `net-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &DumpArgs, out: &mut Output) -> Result<(), CliError> {
    let net = resolve(conn, a.network.get()).await?;
    let req = GetNetworkXmlRequest {
        network: Some(by_uuid(&net)),
        flags: u32::from(a.inactive),
    };
    let xml = conn
        .network_client()
        .get_network_xml(req)
        .await
        .map_err(ClientError::from)?
        .into_inner()
        .xml;
    out.text(&xml);
    Ok(())
}
