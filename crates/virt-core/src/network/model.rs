//! The network definition model: libvirt's `<network>` and `<networkport>` documents as data.
//! virt-xml parses and formats them ([`super::NetworkXmlCodec`]); drivers act on them.

use std::net::{IpAddr, Ipv4Addr};

use crate::uuid::Uuid;

/// `<forward mode=...>`; [`ForwardMode::None`] is an isolated network (no `<forward>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardMode {
    /// No `<forward>` element: isolated.
    #[default]
    None,
    /// `nat` (also a `<forward>` without a mode).
    Nat,
    /// `route`.
    Route,
    /// `open`.
    Open,
    /// `bridge`: an existing host bridge.
    Bridge,
}

impl ForwardMode {
    /// libvirt's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardMode::None => "none",
            ForwardMode::Nat => "nat",
            ForwardMode::Route => "route",
            ForwardMode::Open => "open",
            ForwardMode::Bridge => "bridge",
        }
    }

    /// Whether the network has a bridge that the driver creates (all but `bridge`).
    pub fn managed_bridge(self) -> bool {
        !matches!(self, ForwardMode::Bridge)
    }
}

/// `<forward>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forward {
    /// The mode.
    pub mode: ForwardMode,
    /// `dev=`: the host interface traffic leaves by.
    pub dev: Option<String>,
    /// `<nat><address start end/>`.
    pub nat_addresses: Option<(Ipv4Addr, Ipv4Addr)>,
    /// `<nat><port start end/>`.
    pub nat_ports: Option<(u16, u16)>,
    /// `<interface dev=.../>` children.
    pub interfaces: Vec<String>,
}

/// `<bridge>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bridge {
    /// `name=`.
    pub name: Option<String>,
    /// `stp=` (default on).
    pub stp: bool,
    /// `delay=` seconds (default 0).
    pub delay: u32,
}

/// `<domain name= localOnly=/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsDomain {
    /// The domain name.
    pub name: String,
    /// `localOnly='yes|no'`.
    pub local_only: Option<bool>,
}

/// `<dns><forwarder domain= addr=/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsForwarder {
    /// `domain=`.
    pub domain: Option<String>,
    /// `addr=`.
    pub addr: Option<IpAddr>,
}

/// `<dns><host ip=><hostname>..</hostname></host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    /// The address.
    pub ip: IpAddr,
    /// Its names.
    pub hostnames: Vec<String>,
}

/// `<dns>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dns {
    /// `enable='yes|no'`.
    pub enable: Option<bool>,
    /// `forwardPlainNames='yes|no'`.
    pub forward_plain_names: Option<bool>,
    /// Forwarders.
    pub forwarders: Vec<DnsForwarder>,
    /// Static hosts.
    pub hosts: Vec<DnsHost>,
}

impl Dns {
    /// Whether the element has anything to print.
    pub fn is_empty(&self) -> bool {
        self.enable.is_none()
            && self.forward_plain_names.is_none()
            && self.forwarders.is_empty()
            && self.hosts.is_empty()
    }
}

/// `<dhcp><host>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpHost {
    /// `mac=` (IPv4).
    pub mac: Option<String>,
    /// `id=` (IPv6 DUID).
    pub id: Option<String>,
    /// `name=`.
    pub name: Option<String>,
    /// `ip=`.
    pub ip: Option<IpAddr>,
}

/// `<dhcp>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dhcp {
    /// `<range start end/>`.
    pub ranges: Vec<(IpAddr, IpAddr)>,
    /// Static hosts.
    pub hosts: Vec<DhcpHost>,
    /// `<bootp file= server=/>`.
    pub bootp: Option<(String, Option<String>)>,
}

/// `<ip>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpDef {
    /// `family=` as written (`ipv4`, `ipv6`).
    pub family: Option<String>,
    /// `address=`.
    pub address: IpAddr,
    /// `netmask=` (IPv4).
    pub netmask: Option<Ipv4Addr>,
    /// `prefix=`.
    pub prefix: Option<u8>,
    /// `<dhcp>`.
    pub dhcp: Option<Dhcp>,
}

impl IpDef {
    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }

    /// The prefix length, from `prefix=` or `netmask=`, else the classful default for IPv4
    /// (as libvirt's virNetworkIPDefPrefix) or 64 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        if let Some(p) = self.prefix {
            return p;
        }
        if let Some(m) = self.netmask {
            return u32::from(m).count_ones() as u8;
        }
        match self.address {
            IpAddr::V6(_) => 64,
            IpAddr::V4(a) => {
                let first = a.octets()[0];
                if first < 128 {
                    8
                } else if first < 192 {
                    16
                } else {
                    24
                }
            }
        }
    }

    /// The network address (address with host bits cleared).
    pub fn network(&self) -> IpAddr {
        mask(self.address, self.prefix_len())
    }

    /// Whether `a` lies in this subnet.
    pub fn contains(&self, a: IpAddr) -> bool {
        a.is_ipv4() == self.address.is_ipv4() && mask(a, self.prefix_len()) == self.network()
    }
}

/// `a` with all but the first `prefix` bits cleared.
pub fn mask(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(std::net::Ipv6Addr::from(bits & m))
        }
    }
}

/// Whether subnets `a/pa` and `b/pb` overlap.
pub fn subnets_overlap(a: IpAddr, pa: u8, b: IpAddr, pb: u8) -> bool {
    if a.is_ipv4() != b.is_ipv4() {
        return false;
    }
    let p = pa.min(pb);
    mask(a, p) == mask(b, p)
}

/// A `<network>` definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkDef {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; `None` until the driver assigns one at define.
    pub uuid: Option<Uuid>,
    /// `<forward>`.
    pub forward: Forward,
    /// Whether a `<forward>` element was given (else isolated).
    pub has_forward: bool,
    /// `<bridge>`.
    pub bridge: Bridge,
    /// `<mtu size=>`.
    pub mtu: Option<u32>,
    /// `<mac address=>`.
    pub mac: Option<String>,
    /// `<domain>`.
    pub domain: Option<DnsDomain>,
    /// `<dns>`.
    pub dns: Dns,
    /// `<ip>` elements in order.
    pub ips: Vec<IpDef>,
}

impl NetworkDef {
    /// The UUID (nil when not yet assigned).
    pub fn uuid(&self) -> Uuid {
        self.uuid.unwrap_or_default()
    }

    /// The bridge device name, if any.
    pub fn bridge_name(&self) -> Option<&str> {
        self.bridge.name.as_deref().filter(|n| !n.is_empty())
    }

    /// The first IPv4 `<ip>`, if any.
    pub fn ipv4(&self) -> Option<&IpDef> {
        self.ips.iter().find(|i| i.address.is_ipv4())
    }
}

/// `<plug>` of a network port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortPlug {
    /// `type=`: `network` (a bridge the network driver manages) or `bridge` (a host bridge).
    pub kind: String,
    /// `bridge=`.
    pub bridge: String,
    /// `macTableManager=`.
    pub mac_table_manager: Option<String>,
}

/// A `<networkport>` definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortDef {
    /// `<uuid>`; `None` until assigned.
    pub uuid: Option<Uuid>,
    /// `<owner><name>`.
    pub owner_name: String,
    /// `<owner><uuid>`.
    pub owner_uuid: Option<Uuid>,
    /// `<group>`.
    pub group: Option<String>,
    /// `<mac address=>`.
    pub mac: String,
    /// `<plug>`.
    pub plug: Option<PortPlug>,
}

/// How to format a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkFormat {
    /// `connections='N'` on the root (live XML of an active network with ports).
    pub connections: Option<usize>,
}
