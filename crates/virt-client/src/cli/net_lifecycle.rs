//! `virt net-define`, `net-create`, `net-undefine`, `net-start`, `net-destroy`,
//! `net-autostart`: virsh's messages and error lines. The NAME in messages is the argument as
//! given, as virsh prints it.

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    CreateNetworkXmlRequest, DefineNetworkRequest, DestroyNetworkRequest,
    SetNetworkAutostartRequest, StartNetworkRequest, UndefineNetworkRequest,
};

use super::define::read_file;
use super::net_common::{by_uuid, resolve, NetArg};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `net-define` and `net-create`.
#[derive(clap::Args, Debug)]
pub struct FileArgs {
    /// File containing an XML network description.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// File containing an XML network description.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

impl FileArgs {
    fn path(&self) -> &str {
        self.file
            .as_deref()
            .or(self.file_opt.as_deref())
            .expect("clap requires one of the two")
    }
}

/// Options of the commands taking only a network.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
}

/// Options of `net-autostart`.
#[derive(clap::Args, Debug)]
pub struct AutostartArgs {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
    /// Disable autostarting.
    #[arg(long)]
    pub disable: bool,
}

/// Runs `net-define`.
pub async fn define(conn: &Connection, a: &FileArgs, out: &mut Output) -> Result<(), CliError> {
    let path = a.path();
    let xml = read_file(path)?;
    let req = DefineNetworkRequest {
        xml,
        flags: u32::from(a.validate),
    };
    let net = async {
        Ok::<_, ClientError>(
            conn.network_client()
                .define_network(req)
                .await?
                .into_inner()
                .network
                .unwrap_or_default(),
        )
    }
    .await
    .context(|| format!("Failed to define network from {path}"))?;
    out.line(&format!("Network {} defined from {path}", net.name));
    Ok(())
}

/// Runs `net-create`.
pub async fn create(conn: &Connection, a: &FileArgs, out: &mut Output) -> Result<(), CliError> {
    let path = a.path();
    let xml = read_file(path)?;
    let req = CreateNetworkXmlRequest {
        xml,
        flags: u32::from(a.validate),
    };
    let net = async {
        Ok::<_, ClientError>(
            conn.network_client()
                .create_network_xml(req)
                .await?
                .into_inner()
                .network
                .unwrap_or_default(),
        )
    }
    .await
    .context(|| format!("Failed to create network from {path}"))?;
    out.line(&format!("Network {} created from {path}", net.name));
    Ok(())
}

/// Runs `net-undefine`.
pub async fn undefine(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let arg = a.network.get();
    let net = resolve(conn, arg).await?;
    let req = UndefineNetworkRequest {
        network: Some(by_uuid(&net)),
    };
    conn.network_client()
        .undefine_network(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to undefine network {arg}"))?;
    out.line(&format!("Network {arg} has been undefined"));
    Ok(())
}

/// Runs `net-start`.
pub async fn start(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let arg = a.network.get();
    let net = resolve(conn, arg).await?;
    let req = StartNetworkRequest {
        network: Some(by_uuid(&net)),
    };
    conn.network_client()
        .start_network(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to start network {arg}"))?;
    out.line(&format!("Network {arg} started"));
    Ok(())
}

/// Runs `net-destroy`.
pub async fn destroy(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let arg = a.network.get();
    let net = resolve(conn, arg).await?;
    let req = DestroyNetworkRequest {
        network: Some(by_uuid(&net)),
    };
    conn.network_client()
        .destroy_network(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to destroy network {arg}"))?;
    out.line(&format!("Network {arg} destroyed"));
    Ok(())
}

/// Runs `net-autostart`.
pub async fn autostart(
    conn: &Connection,
    a: &AutostartArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let arg = a.network.get();
    let net = resolve(conn, arg).await?;
    let on = !a.disable;
    let req = SetNetworkAutostartRequest {
        network: Some(by_uuid(&net)),
        autostart: on,
    };
    conn.network_client()
        .set_network_autostart(req)
        .await
        .map_err(ClientError::from)
        .context(|| {
            if on {
                format!("failed to mark network {arg} as autostarted")
            } else {
                format!("failed to unmark network {arg} as autostarted")
            }
        })?;
    if on {
        out.line(&format!("Network {arg} marked as autostarted"));
    } else {
        out.line(&format!("Network {arg} unmarked as autostarted"));
    }
    Ok(())
}
