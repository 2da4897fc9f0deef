//! `virt pool-dumpxml`, `pool-uuid`, `pool-name`: a pool's XML and identity.

use virt_client::{ClientError, Connection};
use virt_core::proto::GetStoragePoolXmlRequest;

use super::output::Output;
use super::report::CliError;
use super::storage::{pool, pool_name_ref};

/// Options of `pool-dumpxml`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Show inactive defined XML.
    #[arg(long)]
    pub inactive: bool,
}

/// Options of `pool-uuid` and `pool-name`.
#[derive(clap::Args, Debug)]
pub struct IdArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
}

/// Runs `pool-dumpxml`.
pub async fn dumpxml(conn: &Connection, a: &DumpArgs, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let xml = conn
        .storage_client()
        .get_storage_pool_xml(GetStoragePoolXmlRequest {
            pool: Some(pool_name_ref(&p.name)),
            flags: u32::from(a.inactive),
        })
        .await
        .map_err(|e| CliError::from(ClientError::from(e)))?
        .into_inner()
        .xml;
    out.text(&xml);
    Ok(())
}

/// Runs `pool-uuid`.
pub async fn uuid(conn: &Connection, a: &IdArgs, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    out.line(&p.uuid);
    Ok(())
}

/// Runs `pool-name`.
pub async fn name(conn: &Connection, a: &IdArgs, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    out.line(&p.name);
    Ok(())
}
