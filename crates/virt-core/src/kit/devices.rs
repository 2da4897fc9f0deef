//! Finding a domain's device by the name a per-device call is given, as libvirt's domain
//! configuration layer does for every driver (virDomainNetFind, virDomainDiskIndexByName).

use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::model::DomainDef;
use crate::VirtError;

/// The interface `device` names: by MAC when it parses as one (any case), else by its
/// host-side device (`<target dev>`). libvirt: virDomainNetFind; INVALID_ARG "'x' is not a
/// known interface" otherwise.
pub fn net_index(def: &DomainDef, device: &str, domain: ErrorDomain) -> DriverResult<usize> {
    let found = match parse_mac(device) {
        Some(mac) => def
            .devices
            .interfaces
            .iter()
            .position(|n| n.mac.as_deref().and_then(parse_mac) == Some(mac)),
        None => def
            .devices
            .interfaces
            .iter()
            .position(|n| n.target_dev.as_deref() == Some(device)),
    };
    found.ok_or_else(|| {
        VirtError::new(
            ErrorCode::InvalidArg,
            domain,
            format!("'{device}' is not a known interface"),
        )
    })
}

/// The disk `name` names: its target (`vda`) first, else the one disk whose source path it is.
/// libvirt: virDomainDiskIndexByName (without probing); `None` when nothing or several match.
pub fn disk_index(def: &DomainDef, name: &str) -> Option<usize> {
    let disks = &def.devices.disks;
    if let Some(i) = disks.iter().position(|d| d.target_dev == name) {
        return Some(i);
    }
    let mut by_source = disks
        .iter()
        .enumerate()
        .filter(|(_, d)| d.source.as_ref().and_then(|s| s.path.as_deref()) == Some(name));
    match (by_source.next(), by_source.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// A MAC address `aa:bb:cc:dd:ee:ff` (hex digits in any case), as six bytes.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_any_case_and_names_do_not() {
        assert_eq!(
            parse_mac("AA:bb:cc:dd:ee:0f"),
            Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f])
        );
        assert_eq!(parse_mac("vnet0"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff:00"), None);
    }
}
