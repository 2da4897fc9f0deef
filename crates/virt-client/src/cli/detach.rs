//! `virt detach-disk`, `detach-interface` and `detach-device-alias`, as virsh 9.0: the first two
//! find the device in the domain XML (the inactive one with `--config`), then detach that
//! element (libvirt: virDomainDetachDevice, or virDomainDetachDeviceFlags with an impact
//! option) or print it with `--print-xml`; the third detaches by alias
//! (virDomainDetachDeviceAlias).

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;
use virt_xml::dom::Element;

use super::dev_common::{device_error, domain_root, node_dump, xml_flags, Affect};
use super::dom::{resolve, DomArg, ANY};
use super::dom_doc::{attr, devices};
use super::domif_getlink::normalize_mac;
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;

/// Options of `detach-disk`.
#[derive(clap::Args, Debug)]
pub struct DiskArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Target of disk device.
    #[arg(value_name = "TARGET", required_unless_present = "target_opt")]
    pub target: Option<String>,
    /// Target of disk device.
    #[arg(long = "target", value_name = "TARGET", conflicts_with = "target")]
    pub target_opt: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub affect: Affect,
    /// Print XML document rather than detach the disk.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
}

/// Options of `detach-interface`.
#[derive(clap::Args, Debug)]
pub struct InterfaceArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Network interface type.
    #[arg(value_name = "TYPE", required_unless_present = "type_opt")]
    pub kind: Option<String>,
    /// Network interface type.
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "kind")]
    pub type_opt: Option<String>,
    /// MAC address.
    #[arg(long)]
    pub mac: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub affect: Affect,
    /// Print XML document rather than detach the interface.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
}

/// Options of `detach-device-alias`.
#[derive(clap::Args, Debug)]
pub struct AliasArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Device alias.
    #[arg(value_name = "ALIAS", required_unless_present = "alias_opt")]
    pub alias: Option<String>,
    /// Device alias.
    #[arg(long = "alias", value_name = "ALIAS", conflicts_with = "alias")]
    pub alias_opt: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub impact: Impact,
}

/// Which disks virsh's `virshFindDisk` considers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FindDisk {
    /// Every disk.
    Normal,
    /// Only CD-ROMs and floppies (change-media).
    Changeable,
}

/// The disk whose target or source (file, dev, dir, name: the first of them present) is
/// `path`, as virsh's `virshFindDisk`.
pub fn find_disk<'a>(
    root: &'a Element,
    path: &str,
    kind: FindDisk,
) -> Result<&'a Element, CliError> {
    for disk in devices(root, "disk") {
        if kind == FindDisk::Changeable && !matches!(attr(disk, "device"), Some("floppy" | "cdrom"))
        {
            continue;
        }
        for c in disk.elements() {
            let value = match c.name.as_str() {
                "source" => ["file", "dev", "dir", "name"]
                    .iter()
                    .find_map(|n| attr(c, n)),
                "target" => attr(c, "dev"),
                _ => None,
            };
            if value == Some(path) {
                return Ok(disk);
            }
        }
    }
    Err(CliError::msg(format!(
        "No disk found whose source path or target is {path}"
    )))
}

/// Runs `detach-disk`.
pub async fn disk(conn: &Connection, a: &DiskArgs, out: &mut Output) -> Result<(), CliError> {
    a.affect.check()?;
    let target = a
        .target
        .as_deref()
        .or(a.target_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let base = a.affect.base_flags();
    let root = domain_root(conn, &t, xml_flags(base & F::Config as u32 != 0)).await?;
    let xml = node_dump(find_disk(&root, target, FindDisk::Normal)?);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let flags = a.affect.flags(t.domain.id.is_some());
    let flags_api = a.affect.uses_flags_api(flags);
    conn.detach_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| {
            device_error(
                e,
                flags_api,
                "virDomainDetachDeviceFlags",
                "virDomainDetachDevice",
                "Failed to detach disk",
            )
        })?;
    out.extra("Disk detached successfully");
    Ok(())
}

/// The interface of type `kind` (and MAC `mac`) in `root`, as virsh picks it.
fn find_interface<'a>(
    root: &'a Element,
    kind: &str,
    mac: Option<&str>,
) -> Result<&'a Element, CliError> {
    let found: Vec<&Element> = devices(root, "interface")
        .filter(|e| attr(e, "type") == Some(kind))
        .collect();
    if found.is_empty() {
        return Err(CliError::msg(match mac {
            Some(m) => format!("No interface with MAC address {m} was found"),
            None => format!("No interface found whose type is {kind}"),
        }));
    }
    match mac {
        Some(m) => {
            let want = normalize_mac(m);
            found
                .into_iter()
                .find(|e| {
                    e.elements()
                        .filter(|c| c.name == "mac")
                        .filter_map(|c| attr(c, "address"))
                        .any(|a| want.is_some() && normalize_mac(a) == want)
                })
                .ok_or_else(|| {
                    CliError::msg(format!("No interface with MAC address {m} was found"))
                })
        }
        None if found.len() > 1 => Err(CliError::msg(format!(
            "Domain has {} interfaces. Please specify which one to detach using --mac",
            found.len()
        ))),
        None => Ok(found[0]),
    }
}

/// One pass of virsh's interface detach on the XML read with `xml_flags`.
async fn detach_interface_pass(
    conn: &Connection,
    t: &super::dom::Target,
    a: &InterfaceArgs,
    kind: &str,
    xml_flags: u32,
    flags: u32,
    out: &mut Output,
) -> Result<(), CliError> {
    let root = domain_root(conn, t, xml_flags).await?;
    let node = match find_interface(&root, kind, a.mac.as_deref()) {
        Ok(n) => n,
        Err(e) if a.print_xml => return Err(e),
        Err(e) => {
            let mut lines = e.lines();
            lines.push("Failed to detach interface".into());
            return Err(CliError::Lines(lines));
        }
    };
    let xml = node_dump(node);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let flags_api = flags != 0 || a.affect.current;
    conn.detach_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| {
            device_error(
                e,
                flags_api,
                "virDomainDetachDeviceFlags",
                "virDomainDetachDevice",
                "Failed to detach interface",
            )
        })?;
    Ok(())
}

/// Runs `detach-interface`: with `--config`, first on the inactive definition, then (with
/// `--live`, or `--persistent` on a running domain) on the live one, as virsh 9.0.
pub async fn interface(
    conn: &Connection,
    a: &InterfaceArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    a.affect.check()?;
    let kind = a
        .kind
        .as_deref()
        .or(a.type_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let flags = a.affect.flags(t.domain.id.is_some());
    let config = flags & F::Config as u32 != 0;
    if config {
        detach_interface_pass(conn, &t, a, kind, xml_flags(true), F::Config as u32, out).await?;
    }
    if !config || flags & F::Live as u32 != 0 {
        detach_interface_pass(conn, &t, a, kind, 0, flags & !(F::Config as u32), out).await?;
    }
    if !a.print_xml {
        out.extra("Interface detached successfully");
    }
    Ok(())
}

/// Runs `detach-device-alias`.
pub async fn alias(conn: &Connection, a: &AliasArgs, out: &mut Output) -> Result<(), CliError> {
    let flags = a.impact.flags()?.unwrap_or(0);
    let alias = a
        .alias
        .as_deref()
        .or(a.alias_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    conn.detach_device_alias(&t.lookup, alias, flags)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("Failed to detach device with alias {alias}")),
            source: Box::new(e),
        })?;
    out.extra("Device detach request sent successfully");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Element {
        virt_xml::dom::parse(
            "<domain><devices>\
             <disk type='file' device='disk'><source file='/a'/><target dev='vda'/></disk>\
             <disk type='file' device='cdrom'><target dev='hdc'/></disk>\
             <interface type='network'><mac address='52:54:00:00:00:01'/></interface>\
             <interface type='network'><mac address='52:54:00:00:00:02'/></interface>\
             <interface type='bridge'><mac address='52:54:00:00:00:03'/></interface>\
             </devices></domain>",
            "t",
        )
        .expect("test input")
    }

    #[test]
    fn disks_by_target_or_source() {
        let r = root();
        assert!(find_disk(&r, "/a", FindDisk::Normal).is_ok());
        assert!(find_disk(&r, "vda", FindDisk::Changeable).is_err());
        assert!(find_disk(&r, "hdc", FindDisk::Changeable).is_ok());
    }

    #[test]
    fn interfaces_by_type_and_mac() {
        let r = root();
        assert!(find_interface(&r, "bridge", None).is_ok());
        assert_eq!(
            find_interface(&r, "network", None)
                .expect_err("two")
                .lines(),
            vec!["Domain has 2 interfaces. Please specify which one to detach using --mac"]
        );
        assert!(find_interface(&r, "network", Some("52:54:00:00:00:02")).is_ok());
        assert!(find_interface(&r, "direct", None).is_err());
    }
}
