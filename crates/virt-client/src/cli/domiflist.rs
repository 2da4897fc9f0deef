//! `virt domiflist DOMAIN [--inactive]`: the domain's interfaces as virsh's table, read from
//! the domain XML as virsh does.

use virt_client::Connection;
use virt_core::proto::DomainXmlFlag as F;
use virt_xml::dom::Element;

use super::dom::DomArg;
use super::dom_doc::{child_attr, devices, domain_doc, own_attr};
use super::output::Output;
use super::report::CliError;
use super::table::Table;

/// Options of `domiflist`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Get inactive rather than running configuration.
    #[arg(long)]
    pub inactive: bool,
}

/// The table of the domain XML's interfaces (`-` for what an interface lacks).
pub fn table(root: &Element) -> Table {
    let mut t = Table::new(&["Interface", "Type", "Source", "Model", "MAC"]);
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    for iface in devices(root, "interface") {
        t.row(vec![
            dash(child_attr(iface, "target", &["dev"])),
            // virsh passes a missing type on as NULL, which ends its row: nothing printed.
            own_attr(iface, "type").unwrap_or_default(),
            dash(child_attr(
                iface,
                "source",
                &["bridge", "dev", "network", "name", "path"],
            )),
            dash(child_attr(iface, "model", &["type"])),
            dash(child_attr(iface, "mac", &["address"])),
        ]);
    }
    t
}

/// Runs `domiflist`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = if args.inactive { F::Inactive as u32 } else { 0 };
    let root = domain_doc(conn, &args.domain, flags).await?;
    let quiet = out.quiet();
    out.text(&table(&root).render(quiet));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_virsh() {
        let root = virt_xml::dom::parse(
            "<domain><devices><interface type='bridge'><source bridge='br0'/>\
             <model type='virtio'/><mac address='52:54:00:00:00:01'/><target dev='vnet0'/>\
             </interface><interface type='user'/></devices></domain>",
            "t",
        )
        .expect("test input");
        assert_eq!(
            table(&root).render(true),
            " vnet0   bridge   br0   virtio   52:54:00:00:00:01\n -       user     -     -        -\n"
        );
    }
}
