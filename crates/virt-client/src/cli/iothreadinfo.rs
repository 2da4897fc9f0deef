//! `virt iothreadinfo DOMAIN [--config|--live|--current]`: the domain's IOThreads and their
//! affinity as a table (libvirt: virDomainGetIOThreadInfo).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;
use super::tune_common::{cpumap_text, node_cpu_count};

/// Options of `iothreadinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Which definition is read.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `iothreadinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    node_cpu_count(conn).await?;
    let threads = conn
        .get_iothread_info(&target.lookup, flags)
        .await
        .context(|| "Unable to get domain IOThreads information".to_string())?;
    if threads.is_empty() {
        // virsh prints this without a newline; the one after every command ends the line.
        if !out.quiet() {
            out.text("No IOThreads found for the domain");
        }
        return Ok(());
    }
    let mut table = Table::new(&["IOThread ID", "CPU Affinity"]);
    for t in &threads {
        table.row(vec![
            t.id.to_string(),
            cpumap_text(&t.cpumap, t.cpumap.len()),
        ]);
    }
    out.text(&table.render(out.quiet()));
    Ok(())
}
