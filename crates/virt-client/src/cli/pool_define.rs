//! `virt pool-define`, `pool-define-as`, `pool-create`, `pool-create-as`: a pool from a file
//! or from options (the XML virsh's virshBuildPoolXML writes).

use virt_client::{ClientError, Connection};
use virt_core::proto::{CreateStoragePoolXmlRequest, DefineStoragePoolRequest};
use virt_core::storage::flags::create as cf;

use super::define::read_file;
use super::output::Output;
use super::report::CliError;
use super::storage::xml_escape as esc;

/// Options of `pool-define` and `pool-create`.
#[derive(clap::Args, Debug)]
pub struct FileArgs {
    /// File containing an XML pool description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Validate the XML against the schema (pool-define).
    #[arg(long)]
    pub validate: bool,
    #[command(flatten)]
    pub build: BuildOpts,
}

/// `--build --overwrite --no-overwrite` of pool-create and pool-start.
#[derive(clap::Args, Debug, Default)]
pub struct BuildOpts {
    /// Build the pool as normal.
    #[arg(long)]
    pub build: bool,
    /// Build the pool without overwriting the existing pool data.
    #[arg(long = "no-overwrite", conflicts_with = "overwrite")]
    pub no_overwrite: bool,
    /// Build the pool and overwrite any existing data.
    #[arg(long)]
    pub overwrite: bool,
}

impl BuildOpts {
    /// virStoragePoolCreateFlags.
    pub fn create_flags(&self) -> u32 {
        let mut f = 0;
        if self.build {
            f |= cf::BUILD;
        }
        if self.overwrite {
            f |= cf::BUILD_OVERWRITE;
        }
        if self.no_overwrite {
            f |= cf::BUILD_NO_OVERWRITE;
        }
        f
    }
}

/// Options of `pool-define-as` and `pool-create-as`.
#[derive(clap::Args, Debug)]
pub struct AsArgs {
    /// Name of the pool.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Type of the pool.
    #[arg(value_name = "TYPE")]
    pub pool_type: String,
    /// Source-host for underlying storage.
    #[arg(long = "source-host")]
    pub source_host: Option<String>,
    /// Source path for underlying storage.
    #[arg(long = "source-path")]
    pub source_path: Option<String>,
    /// Source device for underlying storage.
    #[arg(long = "source-dev")]
    pub source_dev: Option<String>,
    /// Source name for underlying storage.
    #[arg(long = "source-name")]
    pub source_name: Option<String>,
    /// Target for underlying storage.
    #[arg(long)]
    pub target: Option<String>,
    /// Format for underlying storage.
    #[arg(long = "source-format")]
    pub source_format: Option<String>,
    /// Print XML document, but don't define/create.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    #[command(flatten)]
    pub build: BuildOpts,
    /// SOURCE-HOST SOURCE-PATH SOURCE-DEV SOURCE-NAME TARGET given in order without their
    /// option names, as virsh accepts them.
    #[arg(value_name = "ARGS", num_args = 0..=5)]
    pub positional: Vec<String>,
}

impl AsArgs {
    /// The options with the positional values filled in.
    fn resolved(&self) -> AsArgs {
        let pos = |i: usize| self.positional.get(i).cloned();
        AsArgs {
            name: self.name.clone(),
            pool_type: self.pool_type.clone(),
            source_host: self.source_host.clone().or_else(|| pos(0)),
            source_path: self.source_path.clone().or_else(|| pos(1)),
            source_dev: self.source_dev.clone().or_else(|| pos(2)),
            source_name: self.source_name.clone().or_else(|| pos(3)),
            target: self.target.clone().or_else(|| pos(4)),
            source_format: self.source_format.clone(),
            print_xml: self.print_xml,
            build: BuildOpts {
                build: self.build.build,
                no_overwrite: self.build.no_overwrite,
                overwrite: self.build.overwrite,
            },
            positional: Vec::new(),
        }
    }
}

/// The `<pool>` document virsh builds from the options.
pub fn build_xml(a: &AsArgs) -> String {
    let a = &a.resolved();
    let mut x = format!(
        "<pool type='{}'>\n  <name>{}</name>\n",
        esc(&a.pool_type),
        esc(&a.name)
    );
    let has_source = a.source_host.is_some()
        || a.source_path.is_some()
        || a.source_dev.is_some()
        || a.source_format.is_some()
        || a.source_name.is_some();
    if has_source {
        x.push_str("  <source>\n");
        if let Some(h) = &a.source_host {
            x.push_str(&format!("    <host name='{}'/>\n", esc(h)));
        }
        if let Some(p) = &a.source_path {
            x.push_str(&format!("    <dir path='{}'/>\n", esc(p)));
        }
        if let Some(d) = &a.source_dev {
            x.push_str(&format!("    <device path='{}'/>\n", esc(d)));
        }
        if let Some(f) = &a.source_format {
            x.push_str(&format!("    <format type='{}'/>\n", esc(f)));
        }
        if let Some(n) = &a.source_name {
            x.push_str(&format!("    <name>{}</name>\n", esc(n)));
        }
        x.push_str("  </source>\n");
    }
    if let Some(t) = &a.target {
        x.push_str(&format!(
            "  <target>\n    <path>{}</path>\n  </target>\n",
            esc(t)
        ));
    }
    x.push_str("</pool>\n");
    x
}

async fn define_xml(conn: &Connection, xml: String, flags: u32) -> Result<String, ClientError> {
    let r = conn
        .storage_client()
        .define_storage_pool(DefineStoragePoolRequest { xml, flags })
        .await?;
    Ok(r.into_inner().pool.unwrap_or_default().name)
}

async fn create_xml(conn: &Connection, xml: String, flags: u32) -> Result<String, ClientError> {
    let r = conn
        .storage_client()
        .create_storage_pool_xml(CreateStoragePoolXmlRequest { xml, flags })
        .await?;
    Ok(r.into_inner().pool.unwrap_or_default().name)
}

fn ctx<T>(r: Result<T, ClientError>, what: String) -> Result<T, CliError> {
    r.map_err(|e| CliError::Call {
        context: Some(what),
        source: Box::new(e),
    })
}

/// Runs `pool-define`.
pub async fn define(conn: &Connection, a: &FileArgs, out: &mut Output) -> Result<(), CliError> {
    let xml = read_file(&a.file)?;
    let name = ctx(
        define_xml(conn, xml, u32::from(a.validate)).await,
        format!("Failed to define pool from {}", a.file),
    )?;
    out.extra(&format!("Pool {name} defined from {}", a.file));
    Ok(())
}

/// Runs `pool-create`.
pub async fn create(conn: &Connection, a: &FileArgs, out: &mut Output) -> Result<(), CliError> {
    let xml = read_file(&a.file)?;
    let name = ctx(
        create_xml(conn, xml, a.build.create_flags()).await,
        format!("Failed to create pool from {}", a.file),
    )?;
    out.extra(&format!("Pool {name} created from {}", a.file));
    Ok(())
}

/// Runs `pool-define-as`.
pub async fn define_as(conn: &Connection, a: &AsArgs, out: &mut Output) -> Result<(), CliError> {
    let xml = build_xml(a);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let name = ctx(
        define_xml(conn, xml, 0).await,
        format!("Failed to define pool {}", a.name),
    )?;
    out.extra(&format!("Pool {name} defined"));
    Ok(())
}

/// Runs `pool-create-as`.
pub async fn create_as(conn: &Connection, a: &AsArgs, out: &mut Output) -> Result<(), CliError> {
    let xml = build_xml(a);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let name = ctx(
        create_xml(conn, xml, a.build.create_flags()).await,
        format!("Failed to create pool {}", a.name),
    )?;
    out.extra(&format!("Pool {name} created"));
    Ok(())
}
