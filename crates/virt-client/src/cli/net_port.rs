//! `virt net-port-list`, `net-port-create`, `net-port-dumpxml`, `net-port-delete`.

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    CreateNetworkPortRequest, DeleteNetworkPortRequest, GetNetworkPortXmlRequest,
    ListNetworkPortsRequest,
};

use super::define::read_file;
use super::net_common::{by_uuid, resolve, NetArg};
use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;

/// Options of `net-port-list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
    /// List uuid's only.
    #[arg(long)]
    pub uuid: bool,
    /// List table (default).
    #[arg(long)]
    pub table: bool,
}

/// Options of `net-port-create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The network.
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// File containing an XML network port description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

/// Options of `net-port-dumpxml` and `net-port-delete`.
#[derive(clap::Args, Debug)]
pub struct PortArgs {
    /// The network.
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// Port UUID.
    #[arg(value_name = "PORT")]
    pub port: String,
}

/// Runs `net-port-list`.
pub async fn list(conn: &Connection, a: &ListArgs, out: &mut Output) -> Result<(), CliError> {
    if a.table && a.uuid {
        return Err(CliError::msg(
            "Only one argument from --table and --uuid may be specified.",
        ));
    }
    let net = resolve(conn, a.network.get()).await?;
    let req = ListNetworkPortsRequest {
        network: Some(by_uuid(&net)),
        flags: 0,
    };
    let ports = conn
        .network_client()
        .list_network_ports(req)
        .await
        .map_err(ClientError::from)?
        .into_inner()
        .ports;
    let mut uuids: Vec<String> = ports.into_iter().map(|p| p.uuid).collect();
    uuids.sort();
    if a.uuid {
        for u in uuids {
            out.line(&u);
        }
        return Ok(());
    }
    let mut t = Table::new(&["UUID"]);
    for u in uuids {
        t.row(vec![u]);
    }
    let quiet = out.quiet();
    out.text(&t.render(quiet));
    Ok(())
}

/// Runs `net-port-create`.
pub async fn create(conn: &Connection, a: &CreateArgs, out: &mut Output) -> Result<(), CliError> {
    let net = resolve(conn, &a.network).await?;
    let xml = read_file(&a.file)?;
    let req = CreateNetworkPortRequest {
        network: Some(by_uuid(&net)),
        xml,
        flags: if a.validate { 2 } else { 0 },
    };
    let file = &a.file;
    let port = conn
        .network_client()
        .create_network_port(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to create network from {file}"))?
        .into_inner()
        .port
        .unwrap_or_default();
    out.extra(&format!("Network port {} created from {file}", port.uuid));
    Ok(())
}

async fn port_xml(
    conn: &Connection,
    a: &PortArgs,
) -> Result<(virt_core::proto::Network, String), CliError> {
    let net = resolve(conn, &a.network).await?;
    let req = GetNetworkPortXmlRequest {
        network: Some(by_uuid(&net)),
        port_uuid: a.port.clone(),
    };
    match conn.network_client().get_network_port_xml(req).await {
        Ok(r) => Ok((net, r.into_inner().xml)),
        Err(e) => Err(CliError::Lines(vec![
            format!("failed to get network port '{}'", a.port),
            ClientError::from(e).to_string(),
        ])),
    }
}

/// Runs `net-port-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &PortArgs, out: &mut Output) -> Result<(), CliError> {
    let (_, xml) = port_xml(conn, a).await?;
    out.text(&xml);
    Ok(())
}

/// Runs `net-port-delete`.
pub async fn delete(conn: &Connection, a: &PortArgs, out: &mut Output) -> Result<(), CliError> {
    let (net, _) = port_xml(conn, a).await?;
    let req = DeleteNetworkPortRequest {
        network: Some(by_uuid(&net)),
        port_uuid: a.port.clone(),
    };
    let port = &a.port;
    conn.network_client()
        .delete_network_port(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to delete network port {port}"))?;
    out.extra(&format!("Network port {port} deleted"));
    Ok(())
}
