//! IP addresses and routes a container's network device carries: `<ip>` and `<route>` under
//! an `<interface>` (guest side), under its `<source>` (host side) and under a
//! `<hostdev mode='capabilities' type='net'>`.

use std::net::IpAddr;

/// `<ip address=... family=... prefix=... peer=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetIp {
    /// `address=...`; `family=` is printed from it (`ipv4` or `ipv6`).
    pub address: IpAddr,
    /// `prefix=...`; `None` when absent or 0 (libvirt prints no prefix then).
    pub prefix: Option<u32>,
    /// `peer=...`: the other end of a point-to-point link.
    pub peer: Option<IpAddr>,
}

impl NetIp {
    /// `ipv4` or `ipv6`, as libvirt prints `family=`.
    pub fn family(&self) -> &'static str {
        match self.address {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        }
    }
}

/// `<route family=... address=... netmask=... prefix=... gateway=... metric=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRoute {
    /// `family=...` as written (`ipv4`, `ipv6`); libvirt prints it only when written.
    pub family: Option<String>,
    /// `address=...`: the destination network.
    pub address: IpAddr,
    /// `netmask=...` (IPv4 only, instead of a prefix).
    pub netmask: Option<IpAddr>,
    /// `prefix=...` (printed whenever written, `0` included).
    pub prefix: Option<u32>,
    /// `gateway=...`.
    pub gateway: IpAddr,
    /// `metric=...` (positive).
    pub metric: Option<u32>,
}

/// The addresses and routes of one side of a network device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetIpInfo {
    /// `<ip>` elements, in document order.
    pub ips: Vec<NetIp>,
    /// `<route>` elements, in document order.
    pub routes: Vec<NetRoute>,
}

impl NetIpInfo {
    /// No address and no route.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.routes.is_empty()
    }
}
