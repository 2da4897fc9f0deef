//! Network interfaces (`vif` entries, xl-network-configuration(5)), the same in both native
//! formats: `key=value` items read into one [`Nic`] and written back as libvirt 9.0 writes them.

use std::fmt::Write as _;

/// One interface, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Nic {
    /// The MAC address, lower case (`00:00:00:00:00:00` when the config has none, as libvirt).
    pub mac: String,
    /// The bridge: `type='bridge'`; none: `type='ethernet'`.
    pub bridge: Option<String>,
    /// IPv4 addresses.
    pub ips: Vec<String>,
    /// The hotplug script.
    pub script: Option<String>,
    /// The emulated model (HVM).
    pub model: Option<String>,
    /// The backend interface name.
    pub vifname: Option<String>,
}

fn is_mac(mac: &str) -> bool {
    mac.len() == 17
        && mac.split(':').count() == 6
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'))
}

/// One vif spec; `hvm` allows `type=ioemu` (the HVM default libvirt leaves implicit).
pub(crate) fn parse(spec: &str, hvm: bool) -> Result<Nic, String> {
    let mut n = Nic::default();
    let mut mac = None;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("mac", v)) => mac = Some(v),
            Some(("bridge", v)) => {
                if v.contains('.') || v.contains(':') {
                    return Err(format!(
                        "bridge '{v}' (an openvswitch VLAN or trunk) is not supported"
                    ));
                }
                if v.is_empty() {
                    return Err("an empty bridge".into());
                }
                n.bridge = Some(v.to_string());
            }
            Some(("model", v)) => {
                if !is_word(v) || v.contains('/') {
                    return Err(format!("model '{v}' is not supported"));
                }
                n.model = Some(v.to_string());
            }
            Some(("script", v)) => {
                if v.is_empty() {
                    return Err("an empty script".into());
                }
                n.script = Some(v.to_string());
            }
            Some(("ip", v)) => {
                for ip in v.split(' ').filter(|s| !s.is_empty()) {
                    if ip.parse::<std::net::Ipv4Addr>().is_err() {
                        return Err(format!("ip '{ip}' (only IPv4 addresses are supported)"));
                    }
                    n.ips.push(ip.to_string());
                }
            }
            Some(("vifname", v)) => {
                // libvirt leaves names starting with "vif" (its own prefix) out of the XML.
                if !is_word(v) || v.contains('/') || v.starts_with("vif") {
                    return Err(format!("vifname '{v}' is not supported"));
                }
                n.vifname = Some(v.to_string());
            }
            Some(("type", "ioemu")) if hvm => {}
            Some((k, _)) => return Err(format!("vif parameter '{k}' is not supported")),
            None => return Err(format!("'{item}' is not a key=value parameter")),
        }
    }
    let mac = mac.unwrap_or("00:00:00:00:00:00");
    if !is_mac(mac) {
        return Err(format!("mac '{mac}' is not a MAC address"));
    }
    n.mac = mac.to_ascii_lowercase();
    Ok(n)
}

impl Nic {
    /// The XML of this interface.
    pub fn xml(&self) -> String {
        let esc = super::esc;
        let mut x = String::new();
        let kind = if self.bridge.is_some() {
            "bridge"
        } else {
            "ethernet"
        };
        let _ = writeln!(x, "    <interface type='{kind}'>");
        let _ = writeln!(x, "      <mac address='{}'/>", self.mac);
        if let Some(b) = &self.bridge {
            let _ = writeln!(x, "      <source bridge='{}'/>", esc(b));
        }
        for ip in &self.ips {
            let _ = writeln!(x, "      <ip address='{ip}' family='ipv4'/>");
        }
        if let Some(s) = &self.script {
            let _ = writeln!(x, "      <script path='{}'/>", esc(s));
        }
        if let Some(t) = &self.vifname {
            let _ = writeln!(x, "      <target dev='{}'/>", esc(t));
        }
        if let Some(m) = &self.model {
            let _ = writeln!(x, "      <model type='{}'/>", esc(m));
        }
        x.push_str("    </interface>\n");
        x
    }

    /// This interface as a `vif` entry, as libvirt writes it: with `default_script`, a bridge
    /// gets the `vif-bridge` script when it has none.
    pub fn native(&self, default_script: bool) -> String {
        let mut s = format!("mac={}", self.mac);
        if let Some(b) = &self.bridge {
            let _ = write!(s, ",bridge={b}");
        }
        let ips = (!self.ips.is_empty()).then(|| format!(",ip={}", self.ips.join(" ")));
        let script = match (&self.script, &self.bridge) {
            (Some(sc), _) => Some(format!(",script={sc}")),
            (None, Some(_)) if default_script => Some(",script=vif-bridge".to_string()),
            _ => None,
        };
        // libvirt writes a bridge's addresses before its script, an ethernet's after.
        let (first, second) = if self.bridge.is_some() {
            (ips, script)
        } else {
            (script, ips)
        };
        s.extend(first);
        s.extend(second);
        if let Some(m) = &self.model {
            let _ = write!(s, ",model={m}");
        }
        if let Some(v) = &self.vifname {
            let _ = write!(s, ",vifname={v}");
        }
        s
    }
}
