//! `virt domfsinfo DOMAIN`: the guest's mounted file systems as virsh's table (mount point,
//! device name, type, and the domain disks under each), through the guest agent.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;

/// Options of `domfsinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Runs `domfsinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let list = conn
        .fs_info(&target.lookup, 0)
        .await
        .context(|| "Unable to get filesystem information".into())?;
    if list.is_empty() {
        // virsh prints this without a newline of its own: the closing line ends it.
        if !out.quiet() {
            out.text("No filesystems are mounted in the domain");
        }
        return Ok(());
    }
    let mut t = Table::new(&["Mountpoint", "Name", "Type", "Target"]);
    for fs in list {
        t.row(vec![
            fs.mountpoint,
            fs.name,
            fs.fstype,
            fs.dev_aliases.join(","),
        ]);
    }
    let quiet = out.quiet();
    out.text(&t.render(quiet));
    Ok(())
}
