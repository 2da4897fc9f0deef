//! `virt vol-info VOL [--pool POOL] [--bytes]`: a volume's type and sizes.

use virt_client::{ClientError, Connection};
use virt_core::proto::GetStorageVolumeInfoRequest;

use super::output::Output;
use super::report::CliError;
use super::storage::{pretty, vol_ref, volume};
use super::vol_list::type_word;

/// Options of `vol-info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Return the volume sizes in bytes.
    #[arg(long)]
    pub bytes: bool,
}

/// Runs `vol-info`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let v = volume(conn, &args.vol, args.pool.as_deref()).await?;
    let i = conn
        .storage_client()
        .get_storage_volume_info(GetStorageVolumeInfoRequest {
            volume: Some(vol_ref(&v)),
            flags: 0,
        })
        .await
        .map_err(|e| CliError::from(ClientError::from(e)))?
        .into_inner()
        .info
        .unwrap_or_default();
    let size = |b: u64| {
        if args.bytes {
            format!("{b} bytes")
        } else {
            pretty(b)
        }
    };
    let mut s = String::new();
    s.push_str(&format!("{:<15} {}\n", "Name:", v.name));
    s.push_str(&format!("{:<15} {}\n", "Type:", type_word(i.r#type)));
    s.push_str(&format!("{:<15} {}\n", "Capacity:", size(i.capacity)));
    s.push_str(&format!("{:<15} {}\n", "Allocation:", size(i.allocation)));
    out.text(&s);
    Ok(())
}
