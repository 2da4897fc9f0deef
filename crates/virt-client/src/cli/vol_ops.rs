//! `virt vol-delete`, `vol-resize`, `vol-wipe`: changes to one volume, with virsh's messages.

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    DeleteStorageVolumeRequest, ResizeStorageVolumeRequest, WipeStorageVolumeRequest,
};
use virt_core::storage::flags::resize as rf;

use super::output::Output;
use super::report::CliError;
use super::storage::{vol_ref, vol_size, volume};

/// Options of `vol-delete`.
#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Delete snapshots associated with volume (must be supported by storage driver).
    #[arg(long = "delete-snapshots")]
    pub delete_snapshots: bool,
}

/// Options of `vol-resize`.
#[derive(clap::Args, Debug)]
pub struct ResizeArgs {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// New capacity for the vol, as scaled integer (default bytes).
    #[arg(value_name = "CAPACITY", allow_hyphen_values = true)]
    pub capacity: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Allocate the new capacity, rather than leaving it sparse.
    #[arg(long)]
    pub allocate: bool,
    /// Use capacity as a delta to current size, rather than the new size.
    #[arg(long)]
    pub delta: bool,
    /// Allow the resize to shrink the volume.
    #[arg(long)]
    pub shrink: bool,
}

/// Options of `vol-wipe`.
#[derive(clap::Args, Debug)]
pub struct WipeArgs {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Perform selected wiping algorithm.
    #[arg(long)]
    pub algorithm: Option<String>,
}

const ALGORITHMS: &[&str] = &[
    "zero",
    "nnsa",
    "dod",
    "bsi",
    "gutmann",
    "schneier",
    "pfitzner7",
    "pfitzner33",
    "random",
    "trim",
];

fn failed(e: tonic::Status, what: String) -> CliError {
    CliError::Call {
        context: Some(what),
        source: Box::new(ClientError::from(e)),
    }
}

/// Runs `vol-delete`.
pub async fn delete(conn: &Connection, a: &DeleteArgs, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    conn.storage_client()
        .delete_storage_volume(DeleteStorageVolumeRequest {
            volume: Some(vol_ref(&v)),
            flags: if a.delete_snapshots { 2 } else { 0 },
        })
        .await
        .map_err(|e| failed(e, format!("Failed to delete vol {}", a.vol)))?;
    out.extra(&format!("Vol {} deleted", a.vol));
    Ok(())
}

/// Runs `vol-resize`.
pub async fn resize(conn: &Connection, a: &ResizeArgs, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let mut flags = 0;
    if a.allocate {
        flags |= rf::ALLOCATE;
    }
    let mut delta = a.delta;
    let mut text = a.capacity.as_str();
    if let Some(rest) = text.strip_prefix('-') {
        if !a.shrink {
            return Err(CliError::msg("negative size requires --shrink"));
        }
        text = rest;
        delta = true;
    }
    if delta {
        flags |= rf::DELTA;
    }
    if a.shrink {
        flags |= rf::SHRINK;
    }
    let capacity = vol_size(text)?;
    let word = if delta { "by" } else { "to" };
    conn.storage_client()
        .resize_storage_volume(ResizeStorageVolumeRequest {
            volume: Some(vol_ref(&v)),
            capacity,
            flags,
        })
        .await
        .map_err(|e| {
            failed(
                e,
                format!("Failed to change size of volume '{}' {word} {text}", v.name),
            )
        })?;
    out.extra(&format!(
        "Size of volume '{}' successfully changed {word} {text}",
        v.name
    ));
    Ok(())
}

/// Runs `vol-wipe`.
pub async fn wipe(conn: &Connection, a: &WipeArgs, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let algorithm = match &a.algorithm {
        None => 0,
        Some(name) => ALGORITHMS
            .iter()
            .position(|x| x == name)
            .ok_or_else(|| CliError::msg(format!("Unsupported algorithm '{name}'")))?
            as u32,
    };
    conn.storage_client()
        .wipe_storage_volume(WipeStorageVolumeRequest {
            volume: Some(vol_ref(&v)),
            algorithm,
            flags: 0,
        })
        .await
        .map_err(|e| failed(e, format!("Failed to wipe vol {}", a.vol)))?;
    out.extra(&format!("Vol {} wiped", a.vol));
    Ok(())
}
