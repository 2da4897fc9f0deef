//! `virt pool-info POOL [--bytes]`: a pool's facts as virsh's `%-15s %s` lines.

use virt_client::{ClientError, Connection};
use virt_core::proto::GetStoragePoolInfoRequest;

use super::output::Output;
use super::report::CliError;
use super::storage::{pool, pool_name_ref, pretty, yes_no};

/// Options of `pool-info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Reture pool info in bytes.
    #[arg(long)]
    pub bytes: bool,
}

/// Runs `pool-info`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let p = pool(conn, &args.pool).await?;
    let i = conn
        .storage_client()
        .get_storage_pool_info(GetStoragePoolInfoRequest {
            pool: Some(pool_name_ref(&p.name)),
        })
        .await
        .map_err(|e| CliError::from(ClientError::from(e)))?
        .into_inner();
    let mut s = String::new();
    let mut row = |k: &str, v: &str| s.push_str(&format!("{k:<15} {v}\n"));
    row("Name:", &p.name);
    row("UUID:", &p.uuid);
    let state = match i.state {
        1 => "building",
        2 => "running",
        3 => "degraded",
        4 => "inaccessible",
        _ => "inactive",
    };
    row("State:", state);
    row("Persistent:", yes_no(i.persistent));
    row("Autostart:", yes_no(i.autostart));
    if i.state == 2 || i.state == 3 {
        let size = |b: u64| {
            if args.bytes {
                b.to_string()
            } else {
                pretty(b)
            }
        };
        row("Capacity:", &size(i.capacity));
        row("Allocation:", &size(i.allocation));
        row("Available:", &size(i.available));
    }
    out.text(&s);
    Ok(())
}
