//! `virt vol-dumpxml`, `vol-path`, `vol-key`, `vol-name`, `vol-pool`: a volume's XML and
//! identity.

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    lookup_storage_pool_request, GetStorageVolumeInfoRequest, GetStorageVolumeXmlRequest,
    LookupStoragePoolRequest,
};

use super::output::Output;
use super::report::CliError;
use super::storage::{vol_ref, volume, volume_by_key};

/// Options of the commands on one volume that take `--pool`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
}

/// Options of `vol-name`.
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// Volume key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
}

/// Options of `vol-pool`.
#[derive(clap::Args, Debug)]
pub struct PoolArgs {
    /// Volume key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Return the pool UUID rather than pool name.
    #[arg(long)]
    pub uuid: bool,
}

fn call<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Result<T, CliError> {
    r.map(tonic::Response::into_inner)
        .map_err(|e| CliError::from(ClientError::from(e)))
}

/// Runs `vol-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let r = call(
        conn.storage_client()
            .get_storage_volume_xml(GetStorageVolumeXmlRequest {
                volume: Some(vol_ref(&v)),
                flags: 0,
            })
            .await,
    )?;
    out.text(&r.xml);
    Ok(())
}

/// Runs `vol-path`.
pub async fn path(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let r = call(
        conn.storage_client()
            .get_storage_volume_info(GetStorageVolumeInfoRequest {
                volume: Some(vol_ref(&v)),
                flags: 0,
            })
            .await,
    )?;
    out.line(&r.info.unwrap_or_default().path);
    Ok(())
}

/// Runs `vol-key`.
pub async fn key(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    out.line(&v.key);
    Ok(())
}

/// Runs `vol-name`.
pub async fn name(conn: &Connection, a: &KeyArgs, out: &mut Output) -> Result<(), CliError> {
    let v = volume_by_key(conn, &a.vol).await?;
    out.line(&v.name);
    Ok(())
}

/// Runs `vol-pool`.
pub async fn pool(conn: &Connection, a: &PoolArgs, out: &mut Output) -> Result<(), CliError> {
    let v = volume_by_key(conn, &a.vol).await?;
    let r = conn
        .storage_client()
        .lookup_storage_pool(LookupStoragePoolRequest {
            by: Some(lookup_storage_pool_request::By::Volume(vol_ref(&v))),
        })
        .await
        .map_err(|e| CliError::Call {
            context: Some("failed to get parent pool".into()),
            source: Box::new(ClientError::from(e)),
        })?
        .into_inner()
        .pool
        .unwrap_or_default();
    out.line(if a.uuid { &r.uuid } else { &r.name });
    Ok(())
}
