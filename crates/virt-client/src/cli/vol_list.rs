//! `virt vol-list POOL [--details]`: a pool's volumes from ONE ListStorageVolumes call (it
//! answers everything `--details` shows; virsh makes a call per volume).

use virt_client::{ClientError, Connection};
use virt_core::proto::ListStorageVolumesRequest;

use super::output::Output;
use super::report::CliError;
use super::storage::{pool, pool_name_ref, pretty};
use super::table::Table;

/// Options of `vol-list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Display extended details for volumes.
    #[arg(long)]
    pub details: bool,
}

/// virsh's word for a virStorageVolType.
pub fn type_word(t: i32) -> &'static str {
    match t {
        1 => "block",
        2 => "dir",
        3 => "network",
        4 => "netdir",
        5 => "ploop",
        _ => "file",
    }
}

/// Runs `vol-list`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &args.pool).await?;
    let vols = conn
        .storage_client()
        .list_storage_volumes(ListStorageVolumesRequest {
            pool: Some(pool_name_ref(&p.name)),
            flags: 0,
        })
        .await
        .map_err(|e| CliError::Call {
            context: Some("Failed to list volumes".into()),
            source: Box::new(ClientError::from(e)),
        })?
        .into_inner()
        .volumes;
    let mut table = if args.details {
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"])
    } else {
        Table::new(&["Name", "Path"])
    };
    for v in &vols {
        let name = v
            .volume
            .as_ref()
            .map(|h| h.name.clone())
            .unwrap_or_default();
        if args.details {
            table.row(vec![
                name,
                v.path.clone(),
                type_word(v.r#type).into(),
                pretty(v.capacity),
                pretty(v.allocation),
            ]);
        } else {
            table.row(vec![name, v.path.clone()]);
        }
    }
    out.text(&table.render(out.quiet()));
    Ok(())
}
