//! `virt attach-interface DOMAIN TYPE SOURCE [options]`: virsh builds an `<interface>`
//! element from the options and attaches it (libvirt: virDomainAttachDevice, or
//! virDomainAttachDeviceFlags with an impact option); `--print-xml` prints it instead,
//! without looking the domain up.

use virt_client::Connection;

use super::dev_common::{device_error, strtoul, Affect};
use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `attach-interface`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Network interface type.
    #[arg(value_name = "TYPE", required_unless_present = "type_opt")]
    pub kind: Option<String>,
    /// Network interface type.
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "kind")]
    pub type_opt: Option<String>,
    /// Source of network interface.
    #[arg(value_name = "SOURCE", required_unless_present = "source_opt")]
    pub source: Option<String>,
    /// Source of network interface.
    #[arg(long = "source", value_name = "SOURCE", conflicts_with = "source")]
    pub source_opt: Option<String>,
    /// Target network name.
    #[arg(long)]
    pub target: Option<String>,
    /// MAC address.
    #[arg(long)]
    pub mac: Option<String>,
    /// Script used to bridge network interface.
    #[arg(long)]
    pub script: Option<String>,
    /// Model type.
    #[arg(long)]
    pub model: Option<String>,
    /// Custom alias name of interface device.
    #[arg(long)]
    pub alias: Option<String>,
    /// Control domain's incoming traffics.
    #[arg(long)]
    pub inbound: Option<String>,
    /// Control domain's outgoing traffics.
    #[arg(long)]
    pub outbound: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub affect: Affect,
    /// Print XML document rather than attach the interface.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// Libvirt will automatically detach/attach the device from/to host.
    #[arg(long)]
    pub managed: bool,
    /// Mode attribute of <source/> element.
    #[arg(long = "source-mode")]
    pub source_mode: Option<String>,
}

/// libvirt's virDomainNetType names (those virsh does not build are refused later).
const NET_TYPES: &[&str] = &[
    "user",
    "ethernet",
    "vhostuser",
    "server",
    "client",
    "mcast",
    "network",
    "bridge",
    "internal",
    "direct",
    "hostdev",
    "udp",
    "vdpa",
    "null",
    "vds",
];

/// A bandwidth rate: average, peak, burst, floor (0: not given).
type Rate = [u64; 4];

/// virsh's `virshParseRateStr`: up to four comma-separated numbers, empty fields allowed.
fn parse_rate(s: &str) -> Result<Rate, CliError> {
    let fields: Vec<&str> = s.split(',').collect();
    if fields.len() > 4 {
        return Err(CliError::msg(format!(
            "Rate string '{s}' has too many fields"
        )));
    }
    let mut rate = [0u64; 4];
    for (i, (f, name)) in fields
        .iter()
        .zip(["average", "peak", "burst", "floor"])
        .enumerate()
    {
        if f.is_empty() {
            continue;
        }
        rate[i] = match strtoul(f, 10) {
            Some((v, false, "")) => v,
            _ => return Err(CliError::msg(format!("field '{name}' is malformed"))),
        };
    }
    Ok(rate)
}

fn rate_xml(kind: &str, r: &Rate) -> String {
    let mut s = format!("    <{kind}");
    for (v, name) in r.iter().zip(["average", "peak", "burst", "floor"]) {
        if *v != 0 {
            s.push_str(&format!(" {name}='{v}'"));
        }
    }
    s.push_str("/>\n");
    s
}

/// libvirt's virPCIDeviceAddressParse: `DOMAIN:BUS:SLOT.FUNCTION` in hex.
fn parse_pci(s: &str) -> Option<[u64; 4]> {
    let (d, rest) = strtoul(s, 16)
        .filter(|(_, neg, _)| !neg)
        .map(|(v, _, r)| (v, r))?;
    let rest = rest.strip_prefix(':')?;
    let (b, rest) = strtoul(rest, 16)
        .filter(|(_, neg, _)| !neg)
        .map(|(v, _, r)| (v, r))?;
    let rest = rest.strip_prefix(':')?;
    let (sl, rest) = strtoul(rest, 16)
        .filter(|(_, neg, _)| !neg)
        .map(|(v, _, r)| (v, r))?;
    let rest = rest.strip_prefix('.')?;
    let (f, rest) = strtoul(rest, 16)
        .filter(|(_, neg, _)| !neg)
        .map(|(v, _, r)| (v, r))?;
    if !rest.is_empty() || d > 0xffff || b > 0xff || sl > 0x1f || f > 7 {
        return None;
    }
    Some([d, b, sl, f])
}

/// The `<interface>` element virsh writes for the options.
pub fn interface_xml(a: &Args) -> Result<String, CliError> {
    a.affect.check()?;
    let kind = a
        .kind
        .as_deref()
        .or(a.type_opt.as_deref())
        .unwrap_or_default();
    let source = a
        .source
        .as_deref()
        .or(a.source_opt.as_deref())
        .unwrap_or_default();
    if let Some(mode) = a.source_mode.as_deref() {
        if mode != "server" && mode != "client" {
            return Err(CliError::msg(format!("Invalid source mode: {mode}")));
        }
    }
    let unsupported = || {
        CliError::msg(format!(
            "No support for {kind} in command 'attach-interface'"
        ))
    };
    if !NET_TYPES.contains(&kind) {
        return Err(unsupported());
    }
    let inbound = match &a.inbound {
        Some(s) => {
            let r = parse_rate(s)?;
            if r[0] == 0 && r[3] == 0 {
                return Err(CliError::msg(
                    "either inbound average or floor is mandatory",
                ));
            }
            Some(r)
        }
        None => None,
    };
    let outbound = match &a.outbound {
        Some(s) => {
            let r = parse_rate(s)?;
            if r[0] == 0 {
                return Err(CliError::msg("outbound average is mandatory"));
            }
            if r[3] != 0 {
                return Err(CliError::msg("outbound floor is unsupported yet"));
            }
            Some(r)
        }
        None => None,
    };

    let mut x = format!("<interface type='{kind}'");
    if a.managed {
        x.push_str(" managed='yes'");
    }
    x.push_str(">\n");
    match kind {
        "network" => x.push_str(&format!("  <source network='{source}'/>\n")),
        "bridge" => x.push_str(&format!("  <source bridge='{source}'/>\n")),
        "direct" => x.push_str(&format!("  <source dev='{source}'/>\n")),
        "hostdev" => {
            let [d, b, s, f] = parse_pci(source).ok_or_else(|| {
                CliError::msg(format!(
                    "cannot parse pci address '{source}' for network interface"
                ))
            })?;
            x.push_str(&format!(
                "  <source>\n    <address type='pci' domain='{d:#06x}' bus='{b:#04x}' slot='{s:#04x}' function='{f:#x}'/>\n  </source>\n"
            ));
        }
        "vhostuser" => {
            let mode = a
                .source_mode
                .as_deref()
                .ok_or_else(|| CliError::msg("source-mode is mandatory"))?;
            x.push_str(&format!(
                "  <source type='unix' path='{source}' mode='{mode}'/>\n"
            ));
        }
        _ => return Err(unsupported()),
    }
    if let Some(t) = &a.target {
        x.push_str(&format!("  <target dev='{t}'/>\n"));
    }
    if let Some(m) = &a.mac {
        x.push_str(&format!("  <mac address='{m}'/>\n"));
    }
    if let Some(s) = &a.script {
        x.push_str(&format!("  <script path='{s}'/>\n"));
    }
    if let Some(m) = &a.model {
        x.push_str(&format!("  <model type='{m}'/>\n"));
    }
    if let Some(al) = &a.alias {
        x.push_str(&format!("  <alias name='{al}'/>\n"));
    }
    if inbound.is_some() || outbound.is_some() {
        x.push_str("  <bandwidth>\n");
        if let Some(r) = &inbound {
            x.push_str(&rate_xml("inbound", r));
        }
        if let Some(r) = &outbound {
            x.push_str(&rate_xml("outbound", r));
        }
        x.push_str("  </bandwidth>\n");
    }
    x.push_str("</interface>\n");
    Ok(x)
}

/// Runs `attach-interface`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let xml = interface_xml(a)?;
    if a.print_xml {
        out.text(&xml);
        return Ok(());
    }
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let flags = a.affect.flags(t.domain.id.is_some());
    let flags_api = a.affect.uses_flags_api(flags);
    conn.attach_device(&t.lookup, &xml, flags)
        .await
        .map_err(|e| {
            device_error(
                e,
                flags_api,
                "virDomainAttachDeviceFlags",
                "virDomainAttachDevice",
                "Failed to attach interface",
            )
        })?;
    out.extra("Interface attached successfully");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_pci() {
        assert_eq!(parse_rate("1,,3").expect("rate"), [1, 0, 3, 0]);
        assert!(parse_rate("1,1,1,1,1").is_err());
        assert!(parse_rate("a").is_err());
        assert_eq!(parse_pci("0000:00:01.0"), Some([0, 0, 1, 0]));
        assert_eq!(parse_pci("00:01.0"), None);
    }
}
