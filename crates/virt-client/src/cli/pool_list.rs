//! `virt pool-list`: pools as virsh 9.0 lists them, from one ListAllStoragePools call (and one
//! GetStoragePoolInfo per active pool with `--details`).

use virt_client::Connection;
use virt_core::proto::{GetStoragePoolInfoRequest, ListAllStoragePoolsRequest};
use virt_core::storage::flags::list as f;
use virt_core::storage::model::POOL_TYPE_FLAGS;

use super::output::Output;
use super::report::CliError;
use super::storage::{pool_name_ref, pretty, yes_no};
use super::table::Table;

/// Options of `pool-list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// List inactive pools.
    #[arg(long)]
    pub inactive: bool,
    /// List inactive and active pools.
    #[arg(long)]
    pub all: bool,
    /// List transient pools.
    #[arg(long)]
    pub transient: bool,
    /// List persistent pools.
    #[arg(long)]
    pub persistent: bool,
    /// List pools with autostart enabled.
    #[arg(long)]
    pub autostart: bool,
    /// List pools with autostart disabled.
    #[arg(long = "no-autostart")]
    pub no_autostart: bool,
    /// Only list pools of these types (comma-separated).
    #[arg(long = "type")]
    pub pool_type: Option<String>,
    /// Display extended details for pools.
    #[arg(long)]
    pub details: bool,
    /// List pool UUIDs only.
    #[arg(long)]
    pub uuid: bool,
    /// List pool names only.
    #[arg(long)]
    pub name: bool,
}

/// Runs `pool-list`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.details && args.name {
        return Err(CliError::msg(
            "Options --details and --name are mutually exclusive",
        ));
    }
    if args.details && args.uuid {
        return Err(CliError::msg(
            "Options --details and --uuid are mutually exclusive",
        ));
    }
    let mut flags = 0;
    if args.all {
        flags |= f::ACTIVE | f::INACTIVE;
    } else if args.inactive {
        flags |= f::INACTIVE;
    } else {
        flags |= f::ACTIVE;
    }
    if args.persistent {
        flags |= f::PERSISTENT;
    }
    if args.transient {
        flags |= f::TRANSIENT;
    }
    if args.autostart {
        flags |= f::AUTOSTART;
    }
    if args.no_autostart {
        flags |= f::NO_AUTOSTART;
    }
    if let Some(types) = &args.pool_type {
        for t in types.split(',').filter(|t| !t.is_empty()) {
            match POOL_TYPE_FLAGS.iter().find(|(n, _)| *n == t) {
                Some((_, bit)) => flags |= bit,
                None => return Err(CliError::msg(format!("Invalid pool type '{t}'"))),
            }
        }
    }
    let pools = conn
        .storage_client()
        .list_all_storage_pools(ListAllStoragePoolsRequest { flags })
        .await
        .map_err(|e| CliError::Call {
            context: Some("Failed to list pools".into()),
            source: Box::new(e.into()),
        })?
        .into_inner()
        .pools;
    if args.name || args.uuid {
        for p in &pools {
            let id = p.pool.clone().unwrap_or_default();
            let mut line = String::new();
            if args.uuid {
                line.push_str(&format!("{:<36}", id.uuid));
                line.push(if args.name { ' ' } else { '\n' });
            }
            if args.name {
                line.push_str(&format!("{:<20}\n", id.name));
            }
            out.text(&line);
        }
        return Ok(());
    }
    let header: &[&str] = if args.details {
        &[
            "Name",
            "State",
            "Autostart",
            "Persistent",
            "Capacity",
            "Allocation",
            "Available",
        ]
    } else {
        &["Name", "State", "Autostart"]
    };
    let mut table = Table::new(header);
    for p in &pools {
        let id = p.pool.clone().unwrap_or_default();
        let autostart = yes_no(p.autostart).to_string();
        if !args.details {
            let state = if p.active { "active" } else { "inactive" };
            table.row(vec![id.name.clone(), state.into(), autostart]);
            continue;
        }
        let info = conn
            .storage_client()
            .get_storage_pool_info(GetStoragePoolInfoRequest {
                pool: Some(pool_name_ref(&id.name)),
            })
            .await
            .map_err(|e| CliError::from(virt_client::ClientError::from(e)))?
            .into_inner();
        let state = match info.state {
            1 => "building",
            2 => "running",
            3 => "degraded",
            4 => "inaccessible",
            _ => "inactive",
        };
        let sizes = if info.state == 2 || info.state == 3 {
            [
                pretty(info.capacity),
                pretty(info.allocation),
                pretty(info.available),
            ]
        } else {
            ["-".into(), "-".into(), "-".into()]
        };
        let [c, a, v] = sizes;
        table.row(vec![
            id.name.clone(),
            state.into(),
            autostart,
            yes_no(p.persistent).into(),
            c,
            a,
            v,
        ]);
    }
    out.text(&table.render(out.quiet()));
    Ok(())
}
