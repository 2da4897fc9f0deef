//! `virt snapshot-create DOMAIN [--xmlfile F] [flags]` and `virt snapshot-create-as DOMAIN
//! [--name N] [--description D] [--print-xml] [flags]`: create a snapshot from XML, or from
//! XML built from the options, as virsh does.

use virt_client::Connection;
use virt_core::proto::CreateSnapshotFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// The flag options both commands share.
#[derive(clap::Args, Debug)]
pub struct CommonFlags {
    /// Take snapshot but create no metadata.
    #[arg(long = "no-metadata")]
    pub no_metadata: bool,
    /// Halt domain after snapshot is created.
    #[arg(long)]
    pub halt: bool,
    /// Capture disk state but not vm state.
    #[arg(long = "disk-only")]
    pub disk_only: bool,
    /// Reuse any existing external files.
    #[arg(long = "reuse-external")]
    pub reuse_external: bool,
    /// Quiesce guest's file systems.
    #[arg(long)]
    pub quiesce: bool,
    /// Require atomic operation.
    #[arg(long)]
    pub atomic: bool,
    /// Take a live snapshot.
    #[arg(long)]
    pub live: bool,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

impl CommonFlags {
    fn bits(&self) -> u32 {
        let mut flags = 0;
        for (on, f) in [
            (self.no_metadata, F::NoMetadata),
            (self.halt, F::Halt),
            (self.disk_only, F::DiskOnly),
            (self.reuse_external, F::ReuseExt),
            (self.quiesce, F::Quiesce),
            (self.atomic, F::Atomic),
            (self.live, F::Live),
            (self.validate, F::Validate),
        ] {
            if on {
                flags |= f as u32;
            }
        }
        flags
    }
}

/// Options of `snapshot-create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Domain snapshot XML.
    #[arg(long)]
    pub xmlfile: Option<String>,
    /// Redefine metadata for existing snapshot.
    #[arg(long)]
    pub redefine: bool,
    /// With redefine, set current snapshot.
    #[arg(long)]
    pub current: bool,
    /// The other flags.
    #[command(flatten)]
    pub flags: CommonFlags,
}

/// Options of `snapshot-create-as`.
#[derive(clap::Args, Debug)]
pub struct CreateAsArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Name of snapshot.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Name of snapshot.
    #[arg(long = "name", value_name = "NAME", conflicts_with = "name")]
    pub name_opt: Option<String>,
    /// Description of snapshot.
    #[arg(long)]
    pub description: Option<String>,
    /// Print XML document rather than create.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// The other flags.
    #[command(flatten)]
    pub flags: CommonFlags,
}

/// virBufferEscapeString's escaping.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// The XML `snapshot-create-as` builds.
pub fn build_xml(name: Option<&str>, description: Option<&str>) -> String {
    let mut x = String::from("<domainsnapshot>\n");
    if let Some(n) = name {
        x += &format!("  <name>{}</name>\n", escape(n));
    }
    if let Some(d) = description {
        x += &format!("  <description>{}</description>\n", escape(d));
    }
    x += "</domainsnapshot>\n";
    x
}

async fn create(
    conn: &Connection,
    domain: &DomArg,
    xml: &str,
    flags: u32,
    from: Option<&str>,
    out: &mut Output,
) -> Result<(), CliError> {
    let target = resolve(conn, domain.get(), ANY).await?;
    let snap = conn.create_snapshot(&target.lookup, xml, flags).await?;
    let name = snap.name;
    // No newline of its own, as virsh's: the command's closing newline ends the line.
    let msg = match from {
        Some(file) if flags & F::Redefine as u32 == 0 => {
            format!("Domain snapshot {name} created from '{file}'")
        }
        _ => format!("Domain snapshot {name} created"),
    };
    if !out.quiet() {
        out.text(&msg);
    }
    Ok(())
}

/// Runs `snapshot-create`.
pub async fn run_create(
    conn: &Connection,
    a: &CreateArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let mut flags = a.flags.bits();
    if a.redefine {
        flags |= F::Redefine as u32;
    }
    if a.current {
        flags |= F::Current as u32;
    }
    let xml = match &a.xmlfile {
        Some(f) => super::define::read_file(f)?,
        None => "<domainsnapshot/>".to_string(),
    };
    create(conn, &a.domain, &xml, flags, a.xmlfile.as_deref(), out).await
}

/// Runs `snapshot-create-as`.
pub async fn run_create_as(
    conn: &Connection,
    a: &CreateAsArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let name = a.name.as_deref().or(a.name_opt.as_deref());
    let xml = build_xml(name, a.description.as_deref());
    if a.print_xml {
        out.line(&xml);
        return Ok(());
    }
    create(conn, &a.domain, &xml, a.flags.bits(), None, out).await
}
