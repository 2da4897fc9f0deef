//! `virt domblkinfo DOMAIN [DEVICE] [--human] [--all]`: a disk's capacity, allocation and
//! physical size (virDomainGetBlockInfo), one disk or a table of all, as virsh 9.0 prints them.

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::dom_doc::{child_attr, devices};
use super::output::Output;
use super::report::CliError;
use super::table::Table;

/// Options of `domblkinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Block device.
    #[arg(value_name = "DEVICE")]
    pub device: Option<String>,
    /// Block device.
    #[arg(long = "device", value_name = "DEVICE", conflicts_with = "device")]
    pub device_opt: Option<String>,
    /// Human readable output.
    #[arg(long)]
    pub human: bool,
    /// Display all block devices info.
    #[arg(long)]
    pub all: bool,
}

/// virsh's vshPrettyCapacity as domblkinfo prints it (`%.3lf %s`).
fn pretty(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && bytes >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    if i == 0 {
        return format!("{bytes} B");
    }
    let v = bytes as f64 / (1u64 << (10 * i)) as f64;
    format!("{v:.3} {}", UNITS[i])
}

fn size(bytes: u64, human: bool) -> String {
    if human {
        pretty(bytes)
    } else {
        bytes.to_string()
    }
}

/// Runs `domblkinfo`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let device = a.device.as_deref().or(a.device_opt.as_deref());
    if a.all {
        let xml = conn.domain_xml(&target.lookup, 0).await?;
        let root =
            virt_xml::dom::parse(&xml, "domain").map_err(|e| CliError::msg(e.to_string()))?;
        let mut t = Table::new(&["Target", "Capacity", "Allocation", "Physical"]);
        for disk in devices(&root, "disk") {
            let Some(dev) = child_attr(disk, "target", &["dev"]) else {
                continue;
            };
            let has_source = disk.elements().any(|e| e.name == "source");
            if !has_source {
                t.row(vec![dev, "-".into(), "-".into(), "-".into()]);
                continue;
            }
            let info = conn.block_info(&target.lookup, &dev).await?;
            t.row(vec![
                dev,
                size(info.capacity, a.human),
                size(info.allocation, a.human),
                size(info.physical, a.human),
            ]);
        }
        out.text(&t.render(out.quiet()));
        return Ok(());
    }
    let Some(device) = device else {
        return Err(CliError::msg(
            "command 'domblkinfo' requires <device> option",
        ));
    };
    let info = conn.block_info(&target.lookup, device).await?;
    out.line(&format!(
        "{:<15} {}",
        "Capacity:",
        size(info.capacity, a.human)
    ));
    out.line(&format!(
        "{:<15} {}",
        "Allocation:",
        size(info.allocation, a.human)
    ));
    out.line(&format!(
        "{:<15} {}",
        "Physical:",
        size(info.physical, a.human)
    ));
    Ok(())
}
