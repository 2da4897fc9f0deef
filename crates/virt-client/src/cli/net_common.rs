//! What the `net-*` commands share: the network argument (positional or `--network`) and how
//! virsh resolves it (virshCommandOptNetworkBy: by UUID when it is 36 characters long, then
//! by name; on failure `failed to get network 'ARG'` and the last lookup's error), and the
//! NetworkRef of a resolved network.

use virt_client::{ClientError, Connection};
use virt_core::proto::{self, network_ref::Ref, NetworkRef};

use super::report::CliError;

/// A network argument, positional or as `--network`.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArg {
    /// Network name or uuid.
    #[arg(value_name = "NETWORK", required_unless_present = "network_opt")]
    network: Option<String>,
    /// Network name or uuid.
    #[arg(long = "network", value_name = "NETWORK", conflicts_with = "network")]
    network_opt: Option<String>,
}

impl NetArg {
    /// The argument as given.
    pub fn get(&self) -> &str {
        self.network
            .as_deref()
            .or(self.network_opt.as_deref())
            .expect("clap requires one of the two")
    }
}

/// The reference of a network by UUID.
pub fn by_uuid(net: &proto::Network) -> NetworkRef {
    NetworkRef {
        r#ref: Some(Ref::Uuid(net.uuid.clone())),
    }
}

async fn lookup(conn: &Connection, r: Ref) -> Result<proto::Network, ClientError> {
    let req = proto::LookupNetworkRequest {
        network: Some(NetworkRef { r#ref: Some(r) }),
    };
    let resp = conn
        .network_client()
        .lookup_network(req)
        .await?
        .into_inner();
    resp.network.ok_or_else(|| {
        ClientError::Virt(virt_core::VirtError::new(
            virt_core::ErrorCode::Rpc,
            virt_core::ErrorDomain::Rpc,
            "the server's reply lacks the network",
        ))
    })
}

/// Resolves `arg` by UUID (when `uuid` and it has a UUID's length) and then by name (when
/// `name`), as virsh does.
pub async fn resolve_by(
    conn: &Connection,
    arg: &str,
    uuid: bool,
    name: bool,
) -> Result<proto::Network, CliError> {
    let mut last: Option<ClientError> = None;
    if uuid && arg.len() == 36 {
        match lookup(conn, Ref::Uuid(arg.to_string())).await {
            Ok(n) => return Ok(n),
            Err(e) => last = Some(e),
        }
    }
    if name {
        match lookup(conn, Ref::Name(arg.to_string())).await {
            Ok(n) => return Ok(n),
            Err(e) => last = Some(e),
        }
    }
    let mut lines = vec![format!("failed to get network '{arg}'")];
    if let Some(e) = last {
        lines.push(e.to_string());
    }
    Err(CliError::Lines(lines))
}

/// Resolves `arg` by UUID or name.
pub async fn resolve(conn: &Connection, arg: &str) -> Result<proto::Network, CliError> {
    resolve_by(conn, arg, true, true).await
}
