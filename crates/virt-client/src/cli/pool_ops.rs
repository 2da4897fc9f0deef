//! `virt pool-build`, `pool-start`, `pool-refresh`, `pool-destroy`, `pool-delete`,
//! `pool-undefine`, `pool-autostart`: calls on one pool, each with virsh's messages.

use virt_client::{ClientError, Connection};
use virt_core::proto::*;
use virt_core::storage::flags::build as bf;

use super::output::Output;
use super::pool_define::BuildOpts;
use super::report::CliError;
use super::storage::{pool, pool_name_ref};

/// Options of the commands on one pool.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
}

/// Options of `pool-build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Do not overwrite any existing data.
    #[arg(long = "no-overwrite", conflicts_with = "overwrite")]
    pub no_overwrite: bool,
    /// Overwrite any existing data.
    #[arg(long)]
    pub overwrite: bool,
}

/// Options of `pool-start`.
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    #[command(flatten)]
    pub build: BuildOpts,
}

/// Options of `pool-autostart`.
#[derive(clap::Args, Debug)]
pub struct AutostartArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Disable autostarting.
    #[arg(long)]
    pub disable: bool,
}

fn ctx(r: Result<impl Sized, tonic::Status>, what: String) -> Result<(), CliError> {
    r.map(|_| ()).map_err(|e| CliError::Call {
        context: Some(what),
        source: Box::new(ClientError::from(e)),
    })
}

/// Runs `pool-build`.
pub async fn build(conn: &Connection, a: &BuildArgs, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let mut flags = 0;
    if a.overwrite {
        flags |= bf::OVERWRITE;
    }
    if a.no_overwrite {
        flags |= bf::NO_OVERWRITE;
    }
    let r = conn
        .storage_client()
        .build_storage_pool(BuildStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
            flags,
        })
        .await;
    ctx(r, format!("Failed to build pool {}", a.pool))?;
    out.extra(&format!("Pool {} built", a.pool));
    Ok(())
}

/// Runs `pool-start`.
pub async fn start(conn: &Connection, a: &StartArgs, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .start_storage_pool(StartStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
            flags: a.build.create_flags(),
        })
        .await;
    ctx(r, format!("Failed to start pool {}", p.name))?;
    out.extra(&format!("Pool {} started", p.name));
    Ok(())
}

/// Runs `pool-refresh`.
pub async fn refresh(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .refresh_storage_pool(RefreshStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
        })
        .await;
    ctx(r, format!("Failed to refresh pool {}", a.pool))?;
    out.extra(&format!("Pool {} refreshed", a.pool));
    Ok(())
}

/// Runs `pool-destroy`.
pub async fn destroy(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .destroy_storage_pool(DestroyStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
        })
        .await;
    ctx(r, format!("Failed to destroy pool {}", a.pool))?;
    out.extra(&format!("Pool {} destroyed", a.pool));
    Ok(())
}

/// Runs `pool-delete`.
pub async fn delete(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .delete_storage_pool(DeleteStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
            flags: 0,
        })
        .await;
    ctx(r, format!("Failed to delete pool {}", a.pool))?;
    out.extra(&format!("Pool {} deleted", a.pool));
    Ok(())
}

/// Runs `pool-undefine`.
pub async fn undefine(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .undefine_storage_pool(UndefineStoragePoolRequest {
            pool: Some(pool_name_ref(&p.name)),
        })
        .await;
    ctx(r, format!("Failed to undefine pool {}", a.pool))?;
    out.extra(&format!("Pool {} has been undefined", a.pool));
    Ok(())
}

/// Runs `pool-autostart`.
pub async fn autostart(
    conn: &Connection,
    a: &AutostartArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let r = conn
        .storage_client()
        .set_storage_pool_autostart(SetStoragePoolAutostartRequest {
            pool: Some(pool_name_ref(&p.name)),
            autostart: !a.disable,
        })
        .await;
    let verb = if a.disable { "unmark" } else { "mark" };
    ctx(
        r,
        format!("failed to {verb} pool {} as autostarted", a.pool),
    )?;
    out.extra(&format!("Pool {} {verb}ed as autostarted", a.pool));
    Ok(())
}
