//! `virt domfsfreeze DOMAIN [[--mountpoint] PATH]...`: freezes the guest's file systems.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `domfsfreeze` (and `domfsthaw`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Mount point paths (all when none is given).
    #[arg(value_name = "MOUNTPOINT")]
    pub paths: Vec<String>,
    /// A mount point path.
    #[arg(long = "mountpoint", value_name = "MOUNTPOINT")]
    pub mountpoint: Vec<String>,
}

impl Args {
    /// Every mount point given, named or positional.
    pub fn mountpoints(&self) -> Vec<String> {
        self.mountpoint.iter().chain(&self.paths).cloned().collect()
    }
}

/// Runs `domfsfreeze`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let n = conn
        .fs_freeze(&target.lookup, &args.mountpoints(), 0)
        .await
        .context(|| "Unable to freeze filesystems".into())?;
    out.line(&format!("Froze {n} filesystem(s)"));
    Ok(())
}
