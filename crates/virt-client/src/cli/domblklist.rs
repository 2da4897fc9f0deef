//! `virt domblklist DOMAIN [--inactive] [--details]`: the domain's disks as virsh's table,
//! read from the domain XML as virsh does.

use virt_client::Connection;
use virt_core::proto::DomainXmlFlag as F;
use virt_xml::dom::Element;

use super::dom::DomArg;
use super::dom_doc::{attr, child_attr, devices, domain_doc, own_attr};
use super::output::Output;
use super::report::CliError;
use super::table::Table;

/// Options of `domblklist`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Get inactive rather than running configuration.
    #[arg(long)]
    pub inactive: bool,
    /// Additionally display the type and device value.
    #[arg(long)]
    pub details: bool,
}

/// The failure of one disk's row: virsh prints the details one to standard output.
#[derive(Debug, PartialEq, Eq)]
pub enum RowError {
    /// A disk without `type` or `device` (with `--details`).
    Details,
    /// A disk without a target.
    Target,
}

/// The source column of a disk: an NVMe address, or the first source attribute.
fn source(disk: &Element) -> Result<Option<String>, CliError> {
    if attr(disk, "type") == Some("nvme") {
        let src = disk.elements().find(|e| e.name == "source");
        let namespace = src.and_then(|s| own_attr(s, "namespace"));
        let addr = src.and_then(|s| s.elements().find(|e| e.name == "address"));
        let nvme_error = || CliError::msg("Unable to query NVMe disk address");
        let (Some(namespace), Some(addr)) = (namespace, addr) else {
            return Err(nvme_error());
        };
        let num = |name: &str, max: u32| -> Result<u32, CliError> {
            let text = attr(addr, name).unwrap_or("0");
            let v = match text.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16),
                None => text.parse(),
            }
            .map_err(|_| nvme_error())?;
            if v > max {
                return Err(nvme_error());
            }
            Ok(v)
        };
        return Ok(Some(format!(
            "nvme://{:04x}:{:02x}:{:02x}.{}/{namespace}",
            num("domain", 0xffff)?,
            num("bus", 0xff)?,
            num("slot", 0x1f)?,
            num("function", 7)?
        )));
    }
    Ok(child_attr(
        disk,
        "source",
        &["file", "dev", "dir", "name", "volume", "path"],
    ))
}

/// The table of the domain XML's disks.
pub fn table(root: &Element, details: bool) -> Result<Result<Table, RowError>, CliError> {
    let mut t = if details {
        Table::new(&["Type", "Device", "Target", "Source"])
    } else {
        Table::new(&["Target", "Source"])
    };
    for disk in devices(root, "disk") {
        let kind = own_attr(disk, "type");
        let device = own_attr(disk, "device");
        if details && (kind.is_none() || device.is_none()) {
            return Ok(Err(RowError::Details));
        }
        let Some(target) = child_attr(disk, "target", &["dev"]) else {
            return Ok(Err(RowError::Target));
        };
        let source = source(disk)?.unwrap_or_else(|| "-".to_string());
        if details {
            t.row(vec![
                kind.unwrap_or_default(),
                device.unwrap_or_default(),
                target,
                source,
            ]);
        } else {
            t.row(vec![target, source]);
        }
    }
    Ok(Ok(t))
}

/// Runs `domblklist`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = if args.inactive { F::Inactive as u32 } else { 0 };
    let root = domain_doc(conn, &args.domain, flags).await?;
    match table(&root, args.details)? {
        Ok(t) => {
            let quiet = out.quiet();
            out.text(&t.render(quiet));
            Ok(())
        }
        Err(RowError::Details) => {
            // virsh prints this one to standard output, without a newline, and fails.
            out.text("unable to query block list details");
            Err(CliError::Silent)
        }
        Err(RowError::Target) => Err(CliError::msg("unable to query block list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(devices: &str) -> Element {
        virt_xml::dom::parse(
            &format!("<domain><devices>{devices}</devices></domain>"),
            "t",
        )
        .expect("test input")
    }

    #[test]
    fn rows_follow_virsh() {
        let root = doc(
            "<disk type='file' device='disk'><source file='/a'/><target dev='vda'/></disk>\
             <disk type='block' device='cdrom'><target dev='hdc'/></disk>\
             <disk type='nvme' device='disk'><source type='pci' namespace='1'>\
             <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>\
             <target dev='vdb'/></disk>",
        );
        let t = table(&root, true).expect("test input").expect("test input");
        assert_eq!(
            t.render(true),
            " file    disk    vda   /a\n block   cdrom   hdc   -\n nvme    disk    vdb   nvme://0000:01:00.0/1\n"
        );
    }

    #[test]
    fn missing_target_or_type_fails() {
        let root = doc("<disk device='disk'><target dev='vda'/></disk>");
        assert!(table(&root, false).expect("test input").is_ok());
        assert_eq!(
            table(&root, true).expect("test input").err(),
            Some(RowError::Details)
        );
        let root = doc("<disk type='file' device='disk'/>");
        assert_eq!(
            table(&root, false).expect("test input").err(),
            Some(RowError::Target)
        );
    }
}
