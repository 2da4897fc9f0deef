//! `<ip>` and `<route>` of a container's network device (`virDomainNetIPInfo`): read from an
//! `<interface>` (guest side), its `<source>` (host side) or a `<hostdev mode='capabilities'
//! type='net'>`, printed addresses first, then routes.

use std::net::IpAddr;

use virt_core::model::netip::{NetIp, NetIpInfo, NetRoute};

use crate::strict::{parse_u32, Cursor};
use crate::writer::Writer;
use crate::XmlError;

fn family_of(a: &IpAddr) -> &'static str {
    match a {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

fn max_prefix(a: &IpAddr) -> u32 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn addr_attr(c: &mut Cursor<'_>, name: &str, what: &str) -> Result<Option<IpAddr>, XmlError> {
    match c.attr(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<IpAddr>()
            .map(Some)
            .map_err(|_| c.invalid_attr(name, v, what)),
    }
}

fn prefix_attr(c: &mut Cursor<'_>, max: u32) -> Result<Option<u32>, XmlError> {
    match c.attr("prefix") {
        None => Ok(None),
        Some(v) => parse_u32(v)
            .filter(|p| *p <= max)
            .map(Some)
            .ok_or_else(|| c.invalid_attr("prefix", v, &format!("expected a prefix 0-{max}"))),
    }
}

fn parse_ip(mut c: Cursor<'_>) -> Result<NetIp, XmlError> {
    let address = addr_attr(&mut c, "address", "expected an IP address")?.ok_or_else(|| {
        XmlError::Missing {
            path: c.attr_path("address"),
        }
    })?;
    if let Some(f) = c.attr_word("family", &["ipv4", "ipv6"])? {
        if f != family_of(&address) {
            return Err(c.invalid_attr("family", &f, "the address is of the other family"));
        }
    }
    let prefix = prefix_attr(&mut c, max_prefix(&address))?.filter(|p| *p != 0);
    let peer = addr_attr(&mut c, "peer", "expected an IP address")?;
    if let Some(p) = peer {
        if family_of(&p) != family_of(&address) {
            return Err(c.invalid_attr("peer", &p.to_string(), "the peer is of another family"));
        }
    }
    c.finish()?;
    Ok(NetIp {
        address,
        prefix,
        peer,
    })
}

/// Whether `a` has no bits set beyond its first `prefix` bits.
fn is_network(a: &IpAddr, prefix: u32) -> bool {
    match a {
        IpAddr::V4(v) => {
            let n = u32::from(*v);
            prefix >= 32 || n & (u32::MAX >> prefix) == 0
        }
        IpAddr::V6(v) => {
            let n = u128::from(*v);
            prefix >= 128 || n & (u128::MAX >> prefix) == 0
        }
    }
}

fn parse_route(mut c: Cursor<'_>) -> Result<NetRoute, XmlError> {
    let family = c.attr_word("family", &["ipv4", "ipv6"])?;
    let address = addr_attr(&mut c, "address", "expected an IP address")?.ok_or_else(|| {
        XmlError::Missing {
            path: c.attr_path("address"),
        }
    })?;
    let netmask = addr_attr(&mut c, "netmask", "expected an IPv4 netmask")?;
    let gateway = addr_attr(&mut c, "gateway", "expected an IP address")?.ok_or_else(|| {
        XmlError::Missing {
            path: c.attr_path("gateway"),
        }
    })?;
    let want = family.as_deref().unwrap_or("ipv4");
    for (name, a) in [("address", address), ("gateway", gateway)] {
        if family_of(&a) != want {
            return Err(c.invalid_attr(
                name,
                &a.to_string(),
                match family {
                    None => "no family given for a non-IPv4 route (add family='ipv6')",
                    Some(_) => "the address is not of the route's family",
                },
            ));
        }
    }
    let prefix = prefix_attr(&mut c, max_prefix(&address))?;
    let mut mask_len = prefix;
    if let Some(m) = netmask {
        let bits = match m {
            IpAddr::V4(v) => Some(u32::from(v)),
            IpAddr::V6(_) => None,
        }
        .filter(|b| b.leading_ones() + b.trailing_zeros() == 32);
        let Some(bits) = bits else {
            return Err(c.invalid_attr("netmask", &m.to_string(), "expected an IPv4 netmask"));
        };
        if prefix.is_some() {
            return Err(XmlError::Invalid {
                path: c.attr_path("netmask"),
                message: "a route takes a netmask or a prefix, not both".into(),
            });
        }
        mask_len = Some(bits.leading_ones());
    }
    if let Some(len) = mask_len {
        if !is_network(&address, len) {
            return Err(c.invalid_attr(
                "address",
                &address.to_string(),
                "the route's address is not a network address",
            ));
        }
    }
    let metric = match c.attr("metric") {
        None => None,
        Some(v) => Some(
            parse_u32(v)
                .filter(|m| *m > 0)
                .ok_or_else(|| c.invalid_attr("metric", v, "expected a metric > 0"))?,
        ),
    };
    c.finish()?;
    Ok(NetRoute {
        family,
        address,
        netmask,
        prefix,
        gateway,
        metric,
    })
}

/// Reads the `<ip>` and `<route>` children of `c`.
pub(super) fn parse(c: &mut Cursor<'_>) -> Result<NetIpInfo, XmlError> {
    let mut info = NetIpInfo::default();
    for e in c.children("ip") {
        info.ips.push(parse_ip(e)?);
    }
    for e in c.children("route") {
        info.routes.push(parse_route(e)?);
    }
    Ok(info)
}

/// Writes `<ip>` then `<route>` elements as libvirt's `virDomainNetIPInfoFormat` does.
pub(super) fn format(w: &mut Writer, info: &NetIpInfo) {
    for ip in &info.ips {
        w.tag("ip")
            .attr("address", ip.address)
            .attr("family", ip.family())
            .attr_opt("prefix", ip.prefix.filter(|p| *p != 0))
            .attr_opt("peer", ip.peer)
            .empty();
    }
    for r in &info.routes {
        w.tag("route")
            .attr_opt("family", r.family.as_deref())
            .attr("address", r.address)
            .attr_opt("netmask", r.netmask)
            .attr_opt("prefix", r.prefix)
            .attr("gateway", r.gateway)
            .attr_opt("metric", r.metric.filter(|m| *m > 0))
            .empty();
    }
}
