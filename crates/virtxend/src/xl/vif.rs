//! Network interfaces (`vif` entries, xl-network-configuration(5)), the same in both native
//! formats but for the `type=` naming the paravirtual model (`vif` in xl, `netfront` in xm):
//! `key=value` items read into one [`Nic`] and written back as libvirt 9.0 writes them.
//!
//! A bridge may carry Open vSwitch VLANs (`BRIDGE.TAG`, or `BRIDGE:TAG:TAG...` for a trunk);
//! `rate=N[K|M|G][B|b]/s` becomes an outbound average in KiB/s, written back as `NKB/s`.

use std::fmt::Write as _;

use super::NativeFormat;

/// One interface, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Nic {
    /// The MAC address, lower case (`00:00:00:00:00:00` when the config has none, as libvirt).
    pub mac: String,
    /// The bridge: `type='bridge'`; none: `type='ethernet'`.
    pub bridge: Option<String>,
    /// Open vSwitch (`<virtualport type='openvswitch'/>`).
    pub ovs: bool,
    /// VLAN tags, and whether they form a trunk.
    pub vlan: Vec<u32>,
    /// `<vlan trunk='yes'>`.
    pub trunk: bool,
    /// IP addresses (v4 or v6).
    pub ips: Vec<String>,
    /// The hotplug script.
    pub script: Option<String>,
    /// The emulated model (HVM), or `netfront`.
    pub model: Option<String>,
    /// The backend interface name.
    pub vifname: Option<String>,
    /// The outbound average rate in KiB/s.
    pub rate: Option<u64>,
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
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The paravirtual model's name in `type=`.
fn typename(format: NativeFormat) -> &'static str {
    match format {
        NativeFormat::Xl => "vif",
        NativeFormat::Xm => "netfront",
    }
}

fn tag(t: &str) -> Result<u32, String> {
    t.parse::<u32>()
        .ok()
        .filter(|n| *n <= 4095 && !(t.len() > 1 && t.starts_with('0')))
        .ok_or_else(|| format!("VLAN tag '{t}' is not supported"))
}

/// `BRIDGE`, `BRIDGE.TAG` or `BRIDGE:TAG[:TAG...]`.
fn bridge(n: &mut Nic, v: &str) -> Result<(), String> {
    let (name, tags, trunk) = if let Some((b, t)) = v.split_once('.') {
        (b, vec![tag(t)?], false)
    } else if let Some((b, ts)) = v.split_once(':') {
        let tags = ts.split(':').map(tag).collect::<Result<Vec<_>, _>>()?;
        (b, tags, true)
    } else {
        (v, Vec::new(), false)
    };
    if !is_word(name) || name.contains('.') {
        return Err(format!("bridge '{v}' is not supported"));
    }
    n.bridge = Some(name.to_string());
    n.ovs = !tags.is_empty();
    n.vlan = tags;
    n.trunk = trunk;
    Ok(())
}

/// `N[K|M|G][B|b]/s` as KiB/s, as libvirt reads it.
fn rate(v: &str) -> Result<u64, String> {
    let bad = || format!("rate '{v}' is not supported");
    let body = v.strip_suffix("/s").ok_or_else(bad)?;
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = body.split_at(digits);
    let mut n: u64 = num.parse().map_err(|_| bad())?;
    let (scale, bits) = match unit {
        "B" => (1, false),
        "b" => (1, true),
        "KB" => (1, false),
        "Kb" => (1, true),
        "MB" => (1024, false),
        "Mb" => (1024, true),
        "GB" => (1024 * 1024, false),
        "Gb" => (1024 * 1024, true),
        _ => return Err(bad()),
    };
    n = n.checked_mul(scale).ok_or_else(bad)?;
    if bits {
        n /= 8;
    }
    // libvirt writes no rate for 0, so such a rate would be lost.
    if n == 0 {
        return Err(format!("rate '{v}' is below 1 KB/s"));
    }
    Ok(n)
}

/// One vif spec of a guest in `format`; `hvm` allows `type=ioemu` (the HVM default libvirt
/// leaves implicit).
pub(crate) fn parse(spec: &str, hvm: bool, format: NativeFormat) -> Result<Nic, String> {
    let mut n = Nic::default();
    let (mut mac, mut pv_type) = (None, false);
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("mac", v)) => mac = Some(v),
            Some(("bridge", v)) => bridge(&mut n, v)?,
            Some(("model", v)) => {
                if !is_word(v) || v.contains('.') {
                    return Err(format!("model '{v}' is not supported"));
                }
                n.model = Some(v.to_string());
            }
            Some(("script", v)) => {
                if v.is_empty() || v.contains(' ') {
                    return Err("an empty script".into());
                }
                n.script = Some(v.to_string());
            }
            Some(("ip", v)) => {
                for ip in v.split(' ').filter(|s| !s.is_empty()) {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        return Err(format!(
                            "ip '{ip}' is not an address (prefixes are not supported)"
                        ));
                    }
                    n.ips.push(ip.to_string());
                }
            }
            Some(("vifname", v)) => {
                // libvirt leaves names starting with "vif" (its own prefix) out of the XML.
                if !is_word(v) || v.starts_with("vif") {
                    return Err(format!("vifname '{v}' is not supported"));
                }
                n.vifname = Some(v.to_string());
            }
            Some(("rate", v)) => n.rate = Some(rate(v)?),
            Some(("type", "ioemu")) if hvm => {}
            Some(("type", t)) if t == typename(format) => pv_type = true,
            Some((k, _)) => return Err(format!("vif parameter '{k}' is not supported")),
            None => return Err(format!("'{item}' is not a key=value parameter")),
        }
    }
    if pv_type {
        if n.model.is_some() {
            return Err("both 'type' and 'model' (libvirt keeps only the model)".into());
        }
        n.model = Some("netfront".into());
    }
    if n.bridge.is_none() && matches!(n.script.as_deref(), Some("vif-bridge" | "vif-vnic")) {
        return Err("a bridge script without a bridge is not supported".into());
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
        if !self.vlan.is_empty() {
            x.push_str(if self.trunk {
                "      <vlan trunk='yes'>\n"
            } else {
                "      <vlan>\n"
            });
            for t in &self.vlan {
                let _ = writeln!(x, "        <tag id='{t}'/>");
            }
            x.push_str("      </vlan>\n");
        }
        if self.ovs {
            x.push_str("      <virtualport type='openvswitch'/>\n");
        }
        if let Some(r) = self.rate {
            let _ = write!(
                x,
                "      <bandwidth>\n        <outbound average='{r}'/>\n      </bandwidth>\n"
            );
        }
        for ip in &self.ips {
            let family = if ip.contains(':') { "ipv6" } else { "ipv4" };
            let _ = writeln!(x, "      <ip address='{ip}' family='{family}'/>");
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

    /// Reads one line inside an `<interface>` element of the canonical XML.
    pub fn read_line(&mut self, l: &str, attr: impl Fn(&str) -> Option<String>) {
        if l.starts_with("<mac ") {
            self.mac = attr("address").unwrap_or_default();
        } else if l.starts_with("<source ") {
            self.bridge = attr("bridge");
        } else if l.starts_with("<ip ") {
            self.ips.extend(attr("address"));
        } else if l.starts_with("<script ") {
            self.script = attr("path");
        } else if l.starts_with("<target ") {
            self.vifname = attr("dev");
        } else if l.starts_with("<model ") {
            self.model = attr("type");
        } else if l.starts_with("<vlan") {
            self.trunk = attr("trunk").as_deref() == Some("yes");
        } else if l.starts_with("<tag ") {
            self.vlan
                .extend(attr("id").and_then(|t| t.parse::<u32>().ok()));
        } else if l == "<virtualport type='openvswitch'/>" {
            self.ovs = true;
        } else if l.starts_with("<outbound ") {
            self.rate = attr("average").and_then(|a| a.parse().ok());
        }
    }

    /// This interface as a `vif` entry of a guest in `format`, as libvirt writes it: with
    /// `default_script`, a bridge gets `vif-bridge` (`vif-openvswitch`) when it has no script.
    pub fn native(&self, hvm: bool, format: NativeFormat, default_script: bool) -> String {
        let mut s = format!("mac={}", self.mac);
        if let Some(b) = &self.bridge {
            let _ = write!(s, ",bridge={b}");
            if self.ovs {
                let sep = if self.trunk { ":" } else { "." };
                for t in &self.vlan {
                    let _ = write!(s, "{sep}{t}");
                    if !self.trunk {
                        break;
                    }
                }
            }
        }
        let ips = (!self.ips.is_empty()).then(|| format!(",ip={}", self.ips.join(" ")));
        let default = if self.ovs {
            "vif-openvswitch"
        } else {
            "vif-bridge"
        };
        let script = match (&self.script, &self.bridge) {
            (Some(sc), _) => Some(format!(",script={sc}")),
            (None, Some(_)) if default_script => Some(format!(",script={default}")),
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
        match self.model.as_deref() {
            Some("netfront") if hvm => {
                let _ = write!(s, ",type={}", typename(format));
            }
            Some(m) => {
                let _ = write!(s, ",model={m}");
            }
            None => {}
        }
        if let Some(v) = &self.vifname {
            let _ = write!(s, ",vifname={v}");
        }
        if let Some(r) = self.rate {
            let _ = write!(s, ",rate={r}KB/s");
        }
        s
    }
}
