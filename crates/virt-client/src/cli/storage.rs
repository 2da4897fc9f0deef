//! What the pool and volume commands share: virsh's lookups of a pool argument (UUID, then
//! name) and of a volume argument (name in `--pool`, then key, then path) with their error
//! lines, and virsh's capacity formatting (`vshPrettyCapacity`).

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    lookup_storage_pool_request, storage_pool_ref, storage_volume_ref, LookupStoragePoolRequest,
    LookupStorageVolumeRequest, PoolVolumeName, StoragePool, StoragePoolRef, StorageVolume,
    StorageVolumeRef,
};

use super::report::CliError;

/// A reference to a pool by name.
pub fn pool_name_ref(name: &str) -> StoragePoolRef {
    StoragePoolRef {
        r#ref: Some(storage_pool_ref::Ref::Name(name.to_string())),
    }
}

/// A reference to a volume by pool and name.
pub fn vol_ref(v: &StorageVolume) -> StorageVolumeRef {
    StorageVolumeRef {
        r#ref: Some(storage_volume_ref::Ref::Name(PoolVolumeName {
            pool: Some(pool_name_ref(&v.pool)),
            name: v.name.clone(),
        })),
    }
}

async fn lookup_pool(
    conn: &Connection,
    r: storage_pool_ref::Ref,
) -> Result<StoragePool, ClientError> {
    let req = LookupStoragePoolRequest {
        by: Some(lookup_storage_pool_request::By::Pool(StoragePoolRef {
            r#ref: Some(r),
        })),
    };
    let resp = conn.storage_client().lookup_storage_pool(req).await?;
    Ok(resp.into_inner().pool.unwrap_or_default())
}

/// The pool `arg` names, as virsh's virshCommandOptPoolBy finds it: by UUID when it is 36
/// characters long, then by name. Error: `failed to get pool 'ARG'` and libvirt's message.
pub async fn pool(conn: &Connection, arg: &str) -> Result<StoragePool, CliError> {
    if arg.len() == 36 {
        if let Ok(p) = lookup_pool(conn, storage_pool_ref::Ref::Uuid(arg.to_string())).await {
            return Ok(p);
        }
    }
    lookup_pool(conn, storage_pool_ref::Ref::Name(arg.to_string()))
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("failed to get pool '{arg}'")),
            source: Box::new(e),
        })
}

async fn lookup_vol(
    conn: &Connection,
    r: storage_volume_ref::Ref,
) -> Result<StorageVolume, ClientError> {
    let req = LookupStorageVolumeRequest {
        volume: Some(StorageVolumeRef { r#ref: Some(r) }),
    };
    let resp = conn.storage_client().lookup_storage_volume(req).await?;
    Ok(resp.into_inner().volume.unwrap_or_default())
}

/// The volume `arg` names, as virsh's virshCommandOptVolBy finds it: by name in `pool` when
/// given, then by key, then by path; a volume found outside the given pool is refused.
pub async fn volume(
    conn: &Connection,
    arg: &str,
    pool_arg: Option<&str>,
) -> Result<StorageVolume, CliError> {
    find_volume(conn, arg, pool_arg, true).await
}

/// The volume `arg` names by key or path, for commands without `--pool` (vol-name,
/// vol-pool): no hint about `--pool` in the error.
pub async fn volume_by_key(conn: &Connection, arg: &str) -> Result<StorageVolume, CliError> {
    find_volume(conn, arg, None, false).await
}

async fn find_volume(
    conn: &Connection,
    arg: &str,
    pool_arg: Option<&str>,
    has_pool_option: bool,
) -> Result<StorageVolume, CliError> {
    let pool = match pool_arg {
        Some(p) => Some(pool(conn, p).await?),
        None => None,
    };
    let mut last = None;
    if let Some(p) = &pool {
        match lookup_vol(
            conn,
            storage_volume_ref::Ref::Name(PoolVolumeName {
                pool: Some(pool_name_ref(&p.name)),
                name: arg.to_string(),
            }),
        )
        .await
        {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    let mut found = None;
    for r in [
        storage_volume_ref::Ref::Key(arg.to_string()),
        storage_volume_ref::Ref::Path(arg.to_string()),
    ] {
        match lookup_vol(conn, r).await {
            Ok(v) => {
                found = Some(v);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    match (found, &pool) {
        (Some(v), Some(p)) if v.pool != p.name => Err(CliError::msg(format!(
            "Requested volume '{arg}' is not in pool '{}'",
            p.name
        ))),
        (Some(v), _) => Ok(v),
        (None, _) => {
            let context = if pool.is_some() || !has_pool_option {
                format!("failed to get vol '{arg}'")
            } else {
                format!("failed to get vol '{arg}', specifying --pool might help")
            };
            Err(match last {
                Some(e) => CliError::Call {
                    context: Some(context),
                    source: Box::new(e),
                },
                None => CliError::msg(context),
            })
        }
    }
}

/// virsh's `vshPrettyCapacity` printed as `%.2lf %s`.
pub fn pretty(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && bytes >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    let v = bytes as f64 / (1u64 << (10 * i)) as f64;
    format!("{v:.2} {}", UNITS[i])
}

/// A size argument as virsh's vshVolSize reads it (bytes by default): `Malformed size X`
/// then libvirt's reason for an unknown suffix.
pub fn vol_size(text: &str) -> Result<u64, CliError> {
    use super::size::{parse_scaled, SizeError};
    match parse_scaled(text, 1) {
        Ok(v) => Ok(v),
        Err(SizeError::UnknownSuffix(s)) => Err(CliError::Lines(vec![
            format!("Malformed size {text}"),
            format!("invalid argument: unknown suffix '{s}'"),
        ])),
        Err(SizeError::Malformed) => Err(CliError::msg(format!("Malformed size {text}"))),
    }
}

/// Text escaped for XML as libvirt's virBufferEscapeString does.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `yes` / `no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_capacity_matches_virsh() {
        assert_eq!(pretty(0), "0.00 B");
        assert_eq!(pretty(1023), "1023.00 B");
        assert_eq!(pretty(1 << 20), "1.00 MiB");
        assert_eq!(pretty(100 << 30), "100.00 GiB");
        assert_eq!(pretty(106300440576), "99.00 GiB");
    }
}
