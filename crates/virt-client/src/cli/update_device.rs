//! The commands that change a device in place through virDomainUpdateDeviceFlags, as virsh
//! 9.0: `update-device` (an XML file), `update-memory-device` (a memory device's requested
//! size), `change-media` (a CD-ROM's or floppy's source) and `domif-setlink` (an interface's
//! link state). The last three edit the device element of the domain XML client-side and
//! send it back, or print it with `--print-xml`.

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;
use virt_xml::dom::{Attr, Element, Node};

use super::define::read_file;
use super::detach::{find_disk, FindDisk};
use super::dev_common::{
    domain_root, node_dump, numeric_error, parse_uint_full, xml_flags, Affect,
};
use super::dom::{resolve, DomArg, ANY};
use super::dom_doc::{attr, devices};
use super::domif_getlink::normalize_mac;
use super::impact::{exclusive, Impact};
use super::output::Output;
use super::report::CliError;
use super::size::kib_option;

/// ModificationFlag's MAXIMUM bit, which is DEVICE_MODIFY_FORCE for device updates.
const FORCE: u32 = 4;

/// Options of `update-device`.
#[derive(clap::Args, Debug)]
pub struct DeviceArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// XML file.
    #[arg(value_name = "FILE", required_unless_present = "file_opt")]
    pub file: Option<String>,
    /// XML file.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "file")]
    pub file_opt: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub affect: Affect,
    /// Force device update.
    #[arg(long)]
    pub force: bool,
}

/// Runs `update-device`.
pub async fn device(conn: &Connection, a: &DeviceArgs, out: &mut Output) -> Result<(), CliError> {
    a.affect.check()?;
    let file = a
        .file
        .as_deref()
        .or(a.file_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let mut flags = a.affect.flags(t.domain.id.is_some());
    let xml = read_file(file)?;
    if a.force {
        flags |= FORCE;
    }
    conn.update_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("Failed to update device from {file}")),
            source: Box::new(e),
        })?;
    out.extra("Device updated successfully");
    Ok(())
}

/// Options of `update-memory-device`.
#[derive(clap::Args, Debug)]
pub struct MemoryArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The impact options.
    #[command(flatten)]
    pub impact: Impact,
    /// Print updated memory device XML instead of executing the change.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// Memory device alias.
    #[arg(long)]
    pub alias: Option<String>,
    /// Memory device target node.
    #[arg(long, allow_hyphen_values = true)]
    pub node: Option<String>,
    /// New value of <requested/> size, as scaled integer (default KiB).
    #[arg(long = "requested-size")]
    pub requested_size: Option<String>,
}

/// The memory device the options select.
fn find_memory<'a>(
    root: &'a Element,
    alias: Option<&str>,
    node: Option<u32>,
) -> Result<&'a Element, CliError> {
    let found: Vec<&Element> = devices(root, "memory")
        .filter(|m| match (alias, node) {
            (Some(a), _) => m
                .elements()
                .any(|c| c.name == "alias" && attr(c, "name") == Some(a)),
            (None, Some(n)) => m
                .elements()
                .filter(|t| t.name == "target")
                .flat_map(|t| t.elements())
                .any(|c| c.name == "node" && c.text().trim().parse::<u32>() == Ok(n)),
            (None, None) => true,
        })
        .collect();
    match found.as_slice() {
        [] => Err(CliError::msg("no memory device found")),
        [one] => Ok(one),
        _ => Err(CliError::msg(
            "multiple memory devices found, use --alias or --node to select one",
        )),
    }
}

/// Sets `<target><requested>` of a memory device to `kib`.
fn set_requested(mem: &mut Element, kib: u64) -> Result<(), CliError> {
    let requested = mem
        .children
        .iter_mut()
        .filter_map(|n| match n {
            Node::Element(e) if e.name == "target" => Some(e),
            _ => None,
        })
        .flat_map(|t| t.children.iter_mut())
        .find_map(|n| match n {
            Node::Element(e) if e.name == "requested" => Some(e),
            _ => None,
        })
        .ok_or_else(|| CliError::msg("virtio-mem device is missing <requested/>"))?;
    requested.children = vec![Node::Text(kib.to_string())];
    set_attr(requested, "unit", "KiB");
    Ok(())
}

/// Sets attribute `name`, in place when present, else appended (libxml2's xmlSetProp).
fn set_attr(e: &mut Element, name: &str, value: &str) {
    match e.attrs.iter_mut().find(|a| a.qname == name) {
        Some(a) => a.value = value.to_string(),
        None => e.attrs.push(Attr {
            qname: name.to_string(),
            prefixed: false,
            value: value.to_string(),
        }),
    }
}

/// Runs `update-memory-device`.
pub async fn memory(conn: &Connection, a: &MemoryArgs, out: &mut Output) -> Result<(), CliError> {
    let flags = a.impact.flags()?.unwrap_or(0);
    if a.node.is_some() && a.alias.is_some() {
        return Err(exclusive("node", "alias"));
    }
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let node = match &a.node {
        Some(n) => Some(parse_uint_full(n, 10).ok_or_else(|| numeric_error(n, "node"))?),
        None => None,
    };
    let requested = match &a.requested_size {
        Some(s) => Some(kib_option(s, "requested-size")?),
        None => None,
    };
    let root = domain_root(conn, &t, xml_flags(a.impact.config)).await?;
    let mut mem = find_memory(&root, a.alias.as_deref(), node)?.clone();
    if let Some(kib) = requested {
        set_requested(&mut mem, kib)?;
    }
    let xml = node_dump(&mem);
    if a.print_xml {
        out.line(&xml);
        return Ok(());
    }
    conn.update_device(&t.lookup, &xml, flags).await?;
    Ok(())
}

/// Options of `change-media`.
#[derive(clap::Args, Debug)]
pub struct MediaArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Fully-qualified path or target of disk device.
    #[arg(value_name = "PATH", required_unless_present = "path_opt")]
    pub path: Option<String>,
    /// Fully-qualified path or target of disk device.
    #[arg(long = "path", value_name = "PATH", conflicts_with = "path")]
    pub path_opt: Option<String>,
    /// Source of the media.
    #[arg(value_name = "SOURCE", conflicts_with = "source_opt")]
    pub source: Option<String>,
    /// Source of the media.
    #[arg(long = "source", value_name = "SOURCE")]
    pub source_opt: Option<String>,
    /// Eject the media.
    #[arg(long)]
    pub eject: bool,
    /// Insert the media.
    #[arg(long)]
    pub insert: bool,
    /// Update the media.
    #[arg(long)]
    pub update: bool,
    /// The impact options.
    #[command(flatten)]
    pub impact: Impact,
    /// Force media changing.
    #[arg(long)]
    pub force: bool,
    /// Print XML document rather than change media.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// Source media is a block device.
    #[arg(long)]
    pub block: bool,
}

/// What change-media does to the source.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    Eject,
    Insert,
    Update,
}

/// The disk element with its media changed, as virsh's `virshUpdateDiskXML`.
fn update_disk(
    disk: &Element,
    source: Option<&str>,
    block: bool,
    path: &str,
    how: Media,
) -> Result<Element, CliError> {
    let mut disk = disk.clone();
    let old = disk
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == "source"));
    let (source, block) = match how {
        Media::Eject if old.is_none() => {
            return Err(CliError::msg(format!(
                "The disk device '{path}' doesn't have media"
            )))
        }
        Media::Eject => (None, false),
        _ => match source {
            Some(s) => (Some(s), block),
            None => return Err(CliError::msg("New disk media source was not specified")),
        },
    };
    let mut startup_policy = None;
    if let Some(i) = old {
        if let Node::Element(e) = &disk.children[i] {
            let has_path = ["file", "dev", "dir", "name"]
                .iter()
                .any(|n| attr(e, n).is_some());
            if has_path && how == Media::Insert {
                return Err(CliError::msg(format!(
                    "The disk device '{path}' already has media"
                )));
            }
            startup_policy = attr(e, "startupPolicy").map(str::to_string);
        }
        disk.children.remove(i);
    }
    set_attr(&mut disk, "type", if block { "block" } else { "file" });
    if let Some(s) = source {
        let mut attrs = vec![Attr {
            qname: if block { "dev" } else { "file" }.into(),
            prefixed: false,
            value: s.to_string(),
        }];
        if let Some(p) = startup_policy {
            attrs.push(Attr {
                qname: "startupPolicy".into(),
                prefixed: false,
                value: p,
            });
        }
        let new = Node::Element(Element {
            name: "source".into(),
            attrs,
            ..Default::default()
        });
        // virsh puts the new source before <target>, followed by the whitespace that
        // precedes the target, so the dump stays indented.
        let target = disk
            .children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.name == "target"));
        match target {
            Some(ti) => {
                let ws = match ti.checked_sub(1).map(|p| &disk.children[p]) {
                    Some(Node::Text(t)) if t.trim().is_empty() => Some(t.clone()),
                    _ => None,
                };
                let mut insert = vec![new];
                insert.extend(ws.map(Node::Text));
                disk.children.splice(ti..ti, insert);
            }
            None => disk.children.push(new),
        }
    }
    Ok(disk)
}

/// Runs `change-media`.
pub async fn media(conn: &Connection, a: &MediaArgs, out: &mut Output) -> Result<(), CliError> {
    for (x, xn, y, yn) in [
        (a.eject, "eject", a.insert, "insert"),
        (a.eject, "eject", a.update, "update"),
        (a.insert, "insert", a.update, "update"),
        (a.eject, "eject", a.block, "block"),
    ] {
        if x && y {
            return Err(exclusive(xn, yn));
        }
    }
    let source = a.source.as_deref().or(a.source_opt.as_deref());
    let (mut eject, mut update) = (a.eject, a.update);
    if update && source.is_none() {
        update = false;
        eject = true;
    }
    let (how, action, done) = if eject {
        (Media::Eject, "eject", "Successfully ejected media.")
    } else if a.insert {
        (Media::Insert, "insert", "Successfully inserted media.")
    } else {
        let _ = update;
        (Media::Update, "update", "Successfully updated media.")
    };
    let mut flags = a.impact.flags()?.unwrap_or(0);
    if a.force {
        flags |= FORCE;
    }
    let path = a
        .path
        .as_deref()
        .or(a.path_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let root = domain_root(conn, &t, xml_flags(flags & F::Config as u32 != 0)).await?;
    let disk = find_disk(&root, path, FindDisk::Changeable)?;
    let xml = node_dump(&update_disk(disk, source, a.block, path, how)?);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    conn.update_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("Failed to complete action {action} on media")),
            source: Box::new(e),
        })?;
    if !out.quiet() {
        out.text(done);
    }
    Ok(())
}

/// Options of `domif-setlink`.
#[derive(clap::Args, Debug)]
pub struct LinkArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Interface device (MAC Address).
    #[arg(value_name = "INTERFACE", required_unless_present = "interface_opt")]
    pub interface: Option<String>,
    /// Interface device (MAC Address).
    #[arg(
        long = "interface",
        value_name = "INTERFACE",
        conflicts_with = "interface"
    )]
    pub interface_opt: Option<String>,
    /// New state of the device.
    #[arg(value_name = "STATE", required_unless_present = "state_opt")]
    pub state: Option<String>,
    /// New state of the device.
    #[arg(long = "state", value_name = "STATE", conflicts_with = "state")]
    pub state_opt: Option<String>,
    /// Affect next boot.
    #[arg(long, alias = "persistent")]
    pub config: bool,
    /// Print XML document rather than set the interface link state.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
}

/// The interface element with its link state set to `state`.
fn set_link(root: &Element, iface: &str, state: &str) -> Result<Element, CliError> {
    let mac = normalize_mac(iface);
    let found: Vec<&Element> = devices(root, "interface")
        .filter(|e| {
            e.elements().any(|c| match &mac {
                Some(m) => c.name == "mac" && attr(c, "address") == Some(m.as_str()),
                None => c.name == "target" && attr(c, "dev") == Some(iface),
            })
        })
        .collect();
    let mut node = match found.as_slice() {
        [] => return Err(CliError::msg(format!("interface '{iface}' not found"))),
        [one] => (*one).clone(),
        _ => return Err(CliError::msg("multiple matching interfaces found")),
    };
    let link = node.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if e.name == "link" => Some(e),
        _ => None,
    });
    match link {
        Some(l) => set_attr(l, "state", state),
        None => node.children.push(Node::Element(Element {
            name: "link".into(),
            attrs: vec![Attr {
                qname: "state".into(),
                prefixed: false,
                value: state.to_string(),
            }],
            ..Default::default()
        })),
    }
    Ok(node)
}

/// Runs `domif-setlink`.
pub async fn link(conn: &Connection, a: &LinkArgs, out: &mut Output) -> Result<(), CliError> {
    let iface = a
        .interface
        .as_deref()
        .or(a.interface_opt.as_deref())
        .unwrap_or_default();
    let state = a
        .state
        .as_deref()
        .or(a.state_opt.as_deref())
        .unwrap_or_default();
    let t = resolve(conn, a.domain.get(), ANY).await?;
    if state != "up" && state != "down" {
        return Err(CliError::msg(format!("invalid link state '{state}'")));
    }
    let mut flags = if a.config {
        F::Config as u32
    } else {
        F::Live as u32
    };
    if t.domain.id.is_none() {
        flags = F::Config as u32;
    }
    let root = domain_root(conn, &t, xml_flags(a.config)).await?;
    let xml = node_dump(&set_link(&root, iface, state)?);
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    conn.update_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| CliError::Call {
            context: Some("Failed to update interface link state".into()),
            source: Box::new(e),
        })?;
    out.extra("Device updated successfully");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(xml: &str) -> Element {
        let mut e = virt_xml::dom::parse(xml, "t").expect("test input");
        super::super::dev_common::relayout(&mut e, 2);
        e
    }

    #[test]
    fn media_changes_keep_virsh_layout() {
        let d = disk(
            "<disk type='file' device='cdrom'>\n      <source file='/a.iso'/>\n      <target dev='hdc'/>\n    </disk>",
        );
        assert_eq!(
            node_dump(&update_disk(&d, None, false, "hdc", Media::Eject).expect("eject")),
            "<disk type=\"file\" device=\"cdrom\">\n      \n      <target dev=\"hdc\"/>\n    </disk>"
        );
        assert_eq!(
            node_dump(&update_disk(&d, Some("/b"), true, "hdc", Media::Update).expect("update")),
            "<disk type=\"block\" device=\"cdrom\">\n      \n      <source dev=\"/b\"/>\n      <target dev=\"hdc\"/>\n    </disk>"
        );
        assert!(update_disk(&d, Some("/b"), false, "hdc", Media::Insert).is_err());
        assert!(update_disk(&d, None, false, "hdc", Media::Update).is_err());
    }

    #[test]
    fn link_state_is_set_or_appended() {
        let mut root = virt_xml::dom::parse(
            "<domain><devices><interface type='network'><mac address='52:54:00:00:00:01'/></interface></devices></domain>",
            "t",
        )
        .expect("test input");
        super::super::dev_common::relayout(&mut root, 0);
        assert_eq!(
            node_dump(&set_link(&root, "52:54:00:00:00:01", "down").expect("set")),
            "<interface type=\"network\">\n      <mac address=\"52:54:00:00:00:01\"/>\n    <link state=\"down\"/></interface>"
        );
        assert!(set_link(&root, "vnet0", "down").is_err());
    }
}
