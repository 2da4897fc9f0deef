//! `virt vol-create`, `vol-create-as`, `vol-create-from`, `vol-clone`: new volumes from a
//! file, from options (the XML virsh's cmdVolCreateAs writes) or as copies.

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    CloneStorageVolumeRequest, CreateStorageVolumeRequest, GetStorageVolumeInfoRequest,
    GetStorageVolumeXmlRequest,
};
use virt_core::storage::flags::vol_create as vf;

use super::define::read_file;
use super::output::Output;
use super::report::CliError;
use super::storage::{pool, pool_name_ref, vol_ref, vol_size, volume, xml_escape as esc};

/// Options of `vol-create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// File containing an XML vol description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Preallocate metadata (for qcow2 instead of full allocation).
    #[arg(long = "prealloc-metadata")]
    pub prealloc_metadata: bool,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

/// Options of `vol-create-as`.
#[derive(clap::Args, Debug)]
pub struct CreateAsArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// Name of the volume.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Size of the volume, as a scaled integer (default bytes).
    #[arg(value_name = "CAPACITY")]
    pub capacity: String,
    /// Initial allocation size, as a scaled integer (default bytes).
    #[arg(long)]
    pub allocation: Option<String>,
    /// File format type: raw, qcow2, ...
    #[arg(long)]
    pub format: Option<String>,
    /// The backing volume if taking a snapshot.
    #[arg(long = "backing-vol")]
    pub backing_vol: Option<String>,
    /// Format of backing volume if taking a snapshot.
    #[arg(long = "backing-vol-format")]
    pub backing_vol_format: Option<String>,
    /// Preallocate metadata (for qcow2 instead of full allocation).
    #[arg(long = "prealloc-metadata")]
    pub prealloc_metadata: bool,
    /// Print XML document, but don't define/create.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
}

/// Options of `vol-create-from`.
#[derive(clap::Args, Debug)]
pub struct CreateFromArgs {
    /// Pool name or UUID.
    #[arg(value_name = "POOL")]
    pub pool: String,
    /// File containing an XML vol description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Input vol name or key.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Pool name or UUID of the input vol's pool.
    #[arg(long)]
    pub inputpool: Option<String>,
    /// Preallocate metadata (for qcow2 instead of full allocation).
    #[arg(long = "prealloc-metadata")]
    pub prealloc_metadata: bool,
    /// Use btrfs COW lightweight copy.
    #[arg(long)]
    pub reflink: bool,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

/// Options of `vol-clone`.
#[derive(clap::Args, Debug)]
pub struct CloneArgs {
    /// Original vol name or key.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// Clone name.
    #[arg(value_name = "NEWNAME")]
    pub newname: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Preallocate metadata (for qcow2 instead of full allocation).
    #[arg(long = "prealloc-metadata")]
    pub prealloc_metadata: bool,
    /// Use btrfs COW lightweight copy.
    #[arg(long)]
    pub reflink: bool,
    /// Print XML document, but don't define/create.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
}

fn ctx<T>(r: Result<tonic::Response<T>, tonic::Status>, what: String) -> Result<T, CliError> {
    r.map(tonic::Response::into_inner)
        .map_err(|e| CliError::Call {
            context: Some(what),
            source: Box::new(ClientError::from(e)),
        })
}

async fn create(
    conn: &Connection,
    pool_name: &str,
    xml: String,
    flags: u32,
    what: String,
) -> Result<String, CliError> {
    let r = conn
        .storage_client()
        .create_storage_volume(CreateStorageVolumeRequest {
            pool: Some(pool_name_ref(pool_name)),
            xml,
            flags,
        })
        .await;
    Ok(ctx(r, what)?.volume.unwrap_or_default().name)
}

/// Runs `vol-create`.
pub async fn run_create(
    conn: &Connection,
    a: &CreateArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let xml = read_file(&a.file)?;
    let mut flags = 0;
    if a.prealloc_metadata {
        flags |= vf::PREALLOC_METADATA;
    }
    if a.validate {
        flags |= vf::VALIDATE;
    }
    let name = create(
        conn,
        &p.name,
        xml,
        flags,
        format!("Failed to create vol from {}", a.file),
    )
    .await?;
    out.extra(&format!("Vol {name} created from {}", a.file));
    Ok(())
}

/// Runs `vol-create-as`.
pub async fn run_create_as(
    conn: &Connection,
    a: &CreateAsArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let capacity = vol_size(&a.capacity)?;
    let allocation = a.allocation.as_deref().map(vol_size).transpose()?;
    let mut xml = format!(
        "<volume>\n  <name>{}</name>\n  <capacity>{capacity}</capacity>\n",
        esc(&a.name)
    );
    if let Some(al) = allocation {
        xml.push_str(&format!("  <allocation>{al}</allocation>\n"));
    }
    if let Some(f) = &a.format {
        xml.push_str(&format!(
            "  <target>\n    <format type='{}'/>\n  </target>\n",
            esc(f)
        ));
    }
    if let Some(b) = &a.backing_vol {
        let bv = volume(conn, b, Some(&p.name)).await?;
        let info = ctx(
            conn.storage_client()
                .get_storage_volume_info(GetStorageVolumeInfoRequest {
                    volume: Some(vol_ref(&bv)),
                    flags: 0,
                })
                .await,
            format!("failed to get vol '{b}'"),
        )?;
        let path = info.info.unwrap_or_default().path;
        xml.push_str(&format!(
            "  <backingStore>\n    <path>{}</path>\n",
            esc(&path)
        ));
        if let Some(f) = &a.backing_vol_format {
            xml.push_str(&format!("    <format type='{}'/>\n", esc(f)));
        }
        xml.push_str("  </backingStore>\n");
    }
    xml.push_str("</volume>\n");
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let flags = if a.prealloc_metadata {
        vf::PREALLOC_METADATA
    } else {
        0
    };
    create(
        conn,
        &p.name,
        xml,
        flags,
        format!("Failed to create vol {}", a.name),
    )
    .await?;
    out.extra(&format!("Vol {} created", a.name));
    Ok(())
}

async fn clone(
    conn: &Connection,
    pool_name: &str,
    xml: String,
    source: &virt_core::proto::StorageVolume,
    flags: u32,
    what: String,
) -> Result<String, CliError> {
    let r = conn
        .storage_client()
        .clone_storage_volume(CloneStorageVolumeRequest {
            pool: Some(pool_name_ref(pool_name)),
            xml,
            source: Some(vol_ref(source)),
            flags,
        })
        .await;
    Ok(ctx(r, what)?.volume.unwrap_or_default().name)
}

/// Runs `vol-create-from`.
pub async fn run_create_from(
    conn: &Connection,
    a: &CreateFromArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let p = pool(conn, &a.pool).await?;
    let src = volume(conn, &a.vol, a.inputpool.as_deref()).await?;
    let xml = read_file(&a.file)?;
    let mut flags = 0;
    if a.prealloc_metadata {
        flags |= vf::PREALLOC_METADATA;
    }
    if a.reflink {
        flags |= vf::REFLINK;
    }
    if a.validate {
        flags |= vf::VALIDATE;
    }
    let name = clone(
        conn,
        &p.name,
        xml,
        &src,
        flags,
        format!("Failed to create vol from {}", a.file),
    )
    .await?;
    out.extra(&format!("Vol {name} created from input vol {}", src.name));
    Ok(())
}

/// Replaces the text of the first `<name>` of a `<volume>` document.
fn rename(xml: &str, name: &str) -> String {
    match (xml.find("<name>"), xml.find("</name>")) {
        (Some(a), Some(b)) if a < b => {
            format!("{}<name>{}{}", &xml[..a], esc(name), &xml[b..])
        }
        _ => xml.to_string(),
    }
}

/// Runs `vol-clone`.
pub async fn run_clone(conn: &Connection, a: &CloneArgs, out: &mut Output) -> Result<(), CliError> {
    let src = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let orig = ctx(
        conn.storage_client()
            .get_storage_volume_xml(GetStorageVolumeXmlRequest {
                volume: Some(vol_ref(&src)),
                flags: 0,
            })
            .await,
        format!("Failed to clone vol from {}", src.name),
    )?
    .xml;
    let xml = rename(&orig, &a.newname);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let mut flags = 0;
    if a.prealloc_metadata {
        flags |= vf::PREALLOC_METADATA;
    }
    if a.reflink {
        flags |= vf::REFLINK;
    }
    clone(
        conn,
        &src.pool,
        xml,
        &src,
        flags,
        format!("Failed to clone vol from {}", src.name),
    )
    .await?;
    out.extra(&format!("Vol {} cloned from {}", a.newname, src.name));
    Ok(())
}
