//! `virt domif-getlink DOMAIN INTERFACE [--config]`: an interface's link state, read from the
//! domain XML as virsh does (`up` unless `<link state=...>` says otherwise).

use virt_client::Connection;
use virt_core::proto::DomainXmlFlag as F;
use virt_xml::dom::Element;

use super::dom::DomArg;
use super::dom_doc::{child_attr, devices, domain_doc};
use super::output::Output;
use super::report::CliError;

/// Options of `domif-getlink`.
#[derive(clap::Args, Debug)]
pub struct Args {
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
    /// Get persistent interface state.
    #[arg(long, alias = "persistent")]
    pub config: bool,
}

/// libvirt's `virMacAddrParse` then `virMacAddrFormat`: six `:`-separated groups of one or two
/// hex digits (trailing blanks or control characters ignored),
/// written back as lower-case two-digit groups.
pub fn normalize_mac(text: &str) -> Option<String> {
    let mut rest = text;
    let mut bytes = Vec::with_capacity(6);
    for i in 0..6 {
        let digits = rest.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        if digits == 0 {
            return None;
        }
        if digits > 2 {
            return None;
        }
        bytes.push(u8::from_str_radix(&rest[..digits], 16).ok()?);
        rest = &rest[digits..];
        if i == 5 {
            if rest.bytes().next().is_some_and(|b| b > b' ') {
                return None;
            }
        } else {
            rest = rest.strip_prefix(':')?;
        }
    }
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// The line for `iface` in the domain XML, or virsh's error.
pub fn link_state(root: &Element, iface: &str) -> Result<String, CliError> {
    let mac = normalize_mac(iface).unwrap_or_default();
    let matches: Vec<&Element> = devices(root, "interface")
        .filter(|e| {
            let has = |child: &str, name: &str, value: &str| {
                e.elements()
                    .filter(|c| c.name == child)
                    .flat_map(|c| c.attrs.iter())
                    .any(|a| a.qname == name && a.value == value)
            };
            has("mac", "address", &mac) || has("target", "dev", iface)
        })
        .collect();
    match matches.as_slice() {
        [] if !mac.is_empty() => Err(CliError::msg(format!("Interface (mac: {mac}) not found."))),
        [] => Err(CliError::msg(format!(
            "Interface (dev: {iface}) not found."
        ))),
        [one] => {
            let state = child_attr(one, "link", &["state"]).unwrap_or_else(|| "up".into());
            Ok(format!("{iface} {state}"))
        }
        _ => Err(CliError::msg("multiple matching interfaces found")),
    }
}

/// Runs `domif-getlink`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let iface = args
        .interface
        .as_deref()
        .or(args.interface_opt.as_deref())
        .expect("clap requires one of the two");
    if iface.is_empty() {
        // virsh refuses an empty option value before looking the domain up.
        return Err(CliError::msg(
            "Failed to get option 'interface': Option argument is empty",
        ));
    }
    let flags = if args.config { F::Inactive as u32 } else { 0 };
    let root = domain_doc(conn, &args.domain, flags).await?;
    // virsh prints the line without its newline; the closing blank line ends it.
    out.text(&link_state(&root, iface)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_normalize_as_libvirt() {
        assert_eq!(
            normalize_mac("AA:B:0c:dd:ee:ff").as_deref(),
            Some("aa:0b:0c:dd:ee:ff")
        );
        assert_eq!(
            normalize_mac("a:0:0:0:0:1 ").as_deref(),
            Some("0a:00:00:00:00:01")
        );
        assert_eq!(normalize_mac("aa:bb:cc:dd:ee:0ff"), None);
        assert_eq!(normalize_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(normalize_mac("aa:bb:cc:dd:ee:ff:00"), None);
        assert_eq!(normalize_mac("100:bb:cc:dd:ee:ff"), None);
        assert_eq!(normalize_mac("vnet0"), None);
    }

    #[test]
    fn states_and_errors() {
        let root = virt_xml::dom::parse(
            "<domain><devices><interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/>\
             <target dev='vnet0'/><link state='down'/></interface>\
             <interface type='network'><mac address='aa:bb:cc:dd:ee:00'/></interface>\
             </devices></domain>",
            "t",
        )
        .expect("test input");
        assert_eq!(
            link_state(&root, "vnet0").expect("test input"),
            "vnet0 down"
        );
        assert_eq!(
            link_state(&root, "AA:BB:CC:DD:EE:00").expect("test input"),
            "AA:BB:CC:DD:EE:00 up"
        );
        assert!(link_state(&root, "vnet9").is_err());
        assert!(link_state(&root, "00:00:00:00:00:01").is_err());
    }
}
