//! `virt attach-disk DOMAIN SOURCE TARGET [options]`: virsh builds a `<disk>` element from the
//! options and attaches it (libvirt: virDomainAttachDevice, or virDomainAttachDeviceFlags
//! with `--config`, `--live`, `--persistent` or `--current`); `--print-xml` prints the element
//! instead, without looking the domain up.

use std::os::unix::fs::FileTypeExt;

use virt_client::Connection;

use super::dev_common::{device_error, escape_xml, strtoul, Affect};
use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;

/// Options of `attach-disk`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Source of disk device or name of network disk.
    #[arg(value_name = "SOURCE", required_unless_present = "source_opt")]
    pub source: Option<String>,
    /// Source of disk device or name of network disk.
    #[arg(long = "source", value_name = "SOURCE", conflicts_with = "source")]
    pub source_opt: Option<String>,
    /// Target of disk device.
    #[arg(value_name = "TARGET", required_unless_present = "target_opt")]
    pub target: Option<String>,
    /// Target of disk device.
    #[arg(long = "target", value_name = "TARGET", conflicts_with = "target")]
    pub target_opt: Option<String>,
    /// Target bus of disk device.
    #[arg(long)]
    pub targetbus: Option<String>,
    /// Driver of disk device.
    #[arg(long)]
    pub driver: Option<String>,
    /// Subdriver of disk device.
    #[arg(long)]
    pub subdriver: Option<String>,
    /// IOThread to be used by supported device.
    #[arg(long)]
    pub iothread: Option<String>,
    /// Cache mode of disk device.
    #[arg(long)]
    pub cache: Option<String>,
    /// Io policy of disk device.
    #[arg(long)]
    pub io: Option<String>,
    /// Target device type.
    #[arg(long = "type")]
    pub device: Option<String>,
    /// Mode of device reading and writing.
    #[arg(long)]
    pub mode: Option<String>,
    /// Type of source (block|file|network).
    #[arg(long)]
    pub sourcetype: Option<String>,
    /// Serial of disk device.
    #[arg(long)]
    pub serial: Option<String>,
    /// Wwn of disk device.
    #[arg(long)]
    pub wwn: Option<String>,
    /// Custom alias name of disk device.
    #[arg(long)]
    pub alias: Option<String>,
    /// Needs rawio capability.
    #[arg(long)]
    pub rawio: bool,
    /// Address of disk device.
    #[arg(long)]
    pub address: Option<String>,
    /// Use multifunction pci under specified address.
    #[arg(long)]
    pub multifunction: bool,
    /// Print XML document rather than attach the disk.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// Protocol used by disk device source.
    #[arg(long = "source-protocol")]
    pub source_protocol: Option<String>,
    /// Host name for source of disk device.
    #[arg(long = "source-host-name")]
    pub source_host_name: Option<String>,
    /// Host transport for source of disk device.
    #[arg(long = "source-host-transport")]
    pub source_host_transport: Option<String>,
    /// Host socket for source of disk device.
    #[arg(long = "source-host-socket")]
    pub source_host_socket: Option<String>,
    /// The impact options.
    #[command(flatten)]
    pub affect: Affect,
}

/// A disk address as virsh's `str2DiskAddress` reads `TYPE:...`.
#[derive(Debug, PartialEq, Eq)]
enum Address {
    Pci([u64; 4]),
    Scsi([u64; 3]),
    Ide([u64; 3]),
    Ccw([u64; 3]),
    Usb([u64; 2]),
    Sata([u64; 3]),
}

/// `n` numbers of `radix`, each separated from the next by one character of any kind;
/// trailing text after the last is ignored, as virsh's parsers do.
fn numbers<const N: usize>(s: &str, radix: u32, limit: u64) -> Option<[u64; N]> {
    let mut out = [0u64; N];
    let mut rest = s;
    for (i, slot) in out.iter_mut().enumerate() {
        let (v, neg, r) = strtoul(rest, radix)?;
        if neg || v > limit {
            return None;
        }
        *slot = v;
        rest = r;
        if i + 1 < N {
            let mut chars = rest.chars();
            chars.next()?;
            rest = chars.as_str();
        }
    }
    Some(out)
}

fn parse_address(s: &str) -> Option<Address> {
    let (kind, rest) = s.split_once(':')?;
    let u32max = u64::from(u32::MAX);
    Some(match kind {
        "pci" => Address::Pci(numbers(rest, 16, u32max)?),
        "scsi" => {
            let [c, b, u] = numbers(rest, 10, u64::MAX)?;
            if c > u32max || b > u32max {
                return None;
            }
            Address::Scsi([c, b, u])
        }
        "ide" => Address::Ide(numbers(rest, 10, u32max)?),
        "ccw" => Address::Ccw(numbers(rest, 16, u32max)?),
        "usb" => Address::Usb(numbers(rest, 10, u32max)?),
        "sata" => Address::Sata(numbers(rest, 10, u32max)?),
        _ => return None,
    })
}

/// The `<address>` line for `target`, or virsh's complaint about the kind of address.
fn address_xml(addr: &Address, target: &str, multifunction: bool) -> Result<String, CliError> {
    let vd = target.starts_with("vd");
    let sd = target.starts_with("sd");
    let hd = target.starts_with("hd");
    if vd && !matches!(addr, Address::Pci(_) | Address::Ccw(_)) {
        return Err(CliError::msg(
            "expecting a pci:0000.00.00.00 or ccw:00.0.0000 address.",
        ));
    }
    if sd && !matches!(addr, Address::Scsi(_) | Address::Usb(_) | Address::Sata(_)) {
        return Err(CliError::msg(
            "expecting a scsi:00.00.00 or usb:00.00 or sata:00.00.00 address.",
        ));
    }
    if hd && !matches!(addr, Address::Ide(_)) {
        return Err(CliError::msg("expecting an ide:00.00.00 address."));
    }
    Ok(match addr {
        Address::Pci([d, b, s, f]) => format!(
            "<address type='pci' domain='{d:#06x}' bus='{b:#04x}' slot='{s:#04x}' function='{f:#x}'{}/>",
            if multifunction { " multifunction='on'" } else { "" }
        ),
        Address::Ccw([c, s, d]) => {
            format!("<address type='ccw' cssid='{c:#04x}' ssid='{s:#x}' devno='{d:#06x}'/>")
        }
        Address::Scsi([c, b, u]) | Address::Ide([c, b, u]) | Address::Sata([c, b, u]) => {
            format!("<address type='drive' controller='{c}' bus='{b}' unit='{u}'/>")
        }
        Address::Usb([b, p]) => format!("<address type='usb' bus='{b}' port='{p}'/>"),
    })
}

/// libvirt's virValidateWWN: 16 hex digits, optionally after `0x`.
fn valid_wwn(wwn: &str) -> bool {
    let digits = wwn
        .strip_prefix("0x")
        .or_else(|| wwn.strip_prefix("0X"))
        .unwrap_or(wwn);
    digits.len() == 16 && digits.chars().all(|c| c.is_ascii_hexdigit())
}

/// The source type: as given, network with a protocol, or file unless the source is a block device (or the driver is
/// `file` / `tap`).
fn source_type(a: &Args, source: &str) -> Result<&'static str, CliError> {
    if a.sourcetype.is_none() && a.source_protocol.is_some() {
        return Ok("network");
    }
    match a.sourcetype.as_deref() {
        Some("file") => Ok("file"),
        Some("block") => Ok("block"),
        Some("network") => Ok("network"),
        Some(other) => Err(CliError::msg(format!("Unknown source type: '{other}'"))),
        None => {
            if matches!(a.driver.as_deref(), Some("file" | "tap")) {
                return Ok("file");
            }
            let block = std::fs::metadata(source).is_ok_and(|m| m.file_type().is_block_device());
            Ok(if block { "block" } else { "file" })
        }
    }
}

/// virsh's option dependencies among the network-source options.
fn check_options(a: &Args) -> Result<(), CliError> {
    a.affect.check()?;
    if a.source_host_name.is_some() && a.source_protocol.is_none() {
        return Err(CliError::msg(
            "Option --source-protocol is required by option --source-host-name",
        ));
    }
    if a.source_host_name.is_some() && a.source_host_socket.is_some() {
        return Err(exclusive("source-host-name", "source-host-socket"));
    }
    if a.source_host_socket.is_some() && a.source_host_transport.is_none() {
        return Err(CliError::msg(
            "Option --source-host-transport is required by option --source-host-socket",
        ));
    }
    Ok(())
}

/// The `<disk>` element virsh writes for the options.
pub fn disk_xml(a: &Args) -> Result<String, CliError> {
    check_options(a)?;
    let source = a
        .source
        .as_deref()
        .or(a.source_opt.as_deref())
        .unwrap_or_default();
    let target = a
        .target
        .as_deref()
        .or(a.target_opt.as_deref())
        .unwrap_or_default();
    let stype = source_type(a, source)?;
    if (stype == "network") != a.source_protocol.is_some() {
        return Err(CliError::msg(
            "--source-protocol option requires --sourcetype network",
        ));
    }
    if let Some(mode) = a.mode.as_deref() {
        if mode != "readonly" && mode != "shareable" {
            return Err(CliError::msg(format!(
                "No support for {mode} in command 'attach-disk'"
            )));
        }
    }
    if let Some(wwn) = a.wwn.as_deref() {
        if !valid_wwn(wwn) {
            return Err(CliError::msg(format!(
                "internal error: Malformed wwn: {wwn}"
            )));
        }
    }
    let address = match a.address.as_deref() {
        Some(s) => {
            let addr = parse_address(s).ok_or_else(|| CliError::msg("Invalid address."))?;
            Some(address_xml(&addr, target, a.multifunction)?)
        }
        None => None,
    };

    let mut x = format!("<disk type='{stype}'");
    if let Some(d) = &a.device {
        x.push_str(&format!(" device='{d}'"));
    }
    if a.rawio {
        x.push_str(" rawio='yes'");
    }
    x.push_str(">\n");
    let mut driver = String::new();
    for (name, v) in [
        ("name", &a.driver),
        ("type", &a.subdriver),
        ("iothread", &a.iothread),
        ("cache", &a.cache),
        ("io", &a.io),
    ] {
        if let Some(v) = v {
            driver.push_str(&format!(" {name}='{v}'"));
        }
    }
    if !driver.is_empty() {
        x.push_str(&format!("  <driver{driver}/>\n"));
    }
    match stype {
        "file" => x.push_str(&format!("  <source file='{}'/>\n", escape_xml(source))),
        "block" => x.push_str(&format!("  <source dev='{}'/>\n", escape_xml(source))),
        _ => {
            let protocol = a.source_protocol.as_deref().unwrap_or_default();
            let head = format!(
                "  <source protocol='{}' name='{}'",
                escape_xml(protocol),
                escape_xml(source)
            );
            let mut host = String::new();
            if let Some(t) = &a.source_host_transport {
                host.push_str(&format!(" transport='{}'", escape_xml(t)));
            }
            if let Some(n) = &a.source_host_name {
                match n.split_once(':') {
                    Some((name, port)) => host.push_str(&format!(
                        " name='{}' port='{}'",
                        escape_xml(name),
                        escape_xml(port)
                    )),
                    None => host.push_str(&format!(" name='{}'", escape_xml(n))),
                }
            }
            if let Some(s) = &a.source_host_socket {
                host.push_str(&format!(" socket='{}'", escape_xml(s)));
            }
            if host.is_empty() {
                x.push_str(&format!("{head}/>\n"));
            } else {
                x.push_str(&format!("{head}>\n    <host{host}/>\n  </source>\n"));
            }
        }
    }
    x.push_str(&format!("  <target dev='{target}'"));
    if let Some(bus) = &a.targetbus {
        x.push_str(&format!(" bus='{bus}'"));
    }
    x.push_str("/>\n");
    if let Some(mode) = &a.mode {
        x.push_str(&format!("  <{mode}/>\n"));
    }
    if let Some(serial) = &a.serial {
        x.push_str(&format!("  <serial>{serial}</serial>\n"));
    }
    if let Some(alias) = &a.alias {
        x.push_str(&format!("  <alias name='{alias}'/>\n"));
    }
    if let Some(wwn) = &a.wwn {
        x.push_str(&format!("  <wwn>{wwn}</wwn>\n"));
    }
    if let Some(addr) = address {
        x.push_str(&format!("  {addr}\n"));
    }
    x.push_str("</disk>\n");
    Ok(x)
}

/// Runs `attach-disk`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let xml = disk_xml(a)?;
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
                "Failed to attach disk",
            )
        })?;
    out.extra("Disk attached successfully");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_virsh_reads_them() {
        assert_eq!(
            parse_address("pci:0000.00.05.0"),
            Some(Address::Pci([0, 0, 5, 0]))
        );
        assert_eq!(
            parse_address("pci:0.10.0.0"),
            Some(Address::Pci([0, 0x10, 0, 0]))
        );
        assert_eq!(parse_address("scsi:1,2,3x"), Some(Address::Scsi([1, 2, 3])));
        assert_eq!(parse_address("usb:1"), None);
        assert_eq!(parse_address("ide:1.0"), None);
        assert_eq!(parse_address("foo"), None);
        assert_eq!(parse_address("pci:0000.00.05"), None);
        assert_eq!(
            address_xml(&Address::Ccw([0xfe, 0, 1]), "vdb", false).expect("ccw"),
            "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>"
        );
        assert!(address_xml(&Address::Ide([0, 0, 1]), "vdb", false).is_err());
    }

    #[test]
    fn wwn() {
        assert!(valid_wwn("0x5000c50015ea71ac"));
        assert!(valid_wwn("5000c50015ea71ac"));
        assert!(!valid_wwn("bad"));
    }
}
