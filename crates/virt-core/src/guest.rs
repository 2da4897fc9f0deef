//! What guest-side calls speak: a guest's network interfaces and their addresses, where those
//! come from ([`AddressSource`]), and how long guest agent calls wait ([`AgentTimeout`]).
//!
//! libvirt numbers address sources and address families from 0 (LEASE, IPV4); the proto enums
//! are libvirt's value plus one, converted in [`crate::proto_conv`]. Timeouts keep libvirt's
//! numbers (-2 block, -1 default, 0 no wait, seconds above).

use std::time::Duration;

use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// Where virDomainInterfaceAddresses looks (libvirt virDomainInterfaceAddressesSource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// DHCP leases of libvirt networks (libvirt 0).
    Lease,
    /// The guest agent (libvirt 1).
    Agent,
    /// The host's ARP table (libvirt 2).
    Arp,
}

impl AddressSource {
    /// The source of libvirt's number `n`, or ARGUMENT_UNSUPPORTED "Unknown IP address data
    /// source N" (libvirt's error for a number past the last source).
    pub fn from_libvirt(n: u32, domain: ErrorDomain) -> Result<AddressSource, VirtError> {
        match n {
            0 => Ok(AddressSource::Lease),
            1 => Ok(AddressSource::Agent),
            2 => Ok(AddressSource::Arp),
            n => Err(VirtError::new(
                ErrorCode::ArgumentUnsupported,
                domain,
                format!("Unknown IP address data source {n}"),
            )),
        }
    }

    /// libvirt's number.
    pub fn libvirt(self) -> u32 {
        match self {
            AddressSource::Lease => 0,
            AddressSource::Agent => 1,
            AddressSource::Arp => 2,
        }
    }

    /// virsh's word for it (`--source lease|agent|arp`).
    pub fn name(self) -> &'static str {
        match self {
            AddressSource::Lease => "lease",
            AddressSource::Agent => "agent",
            AddressSource::Arp => "arp",
        }
    }
}

/// An address family (libvirt virIPAddrType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAddrType {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl IpAddrType {
    /// virsh's word: `ipv4` or `ipv6`.
    pub fn name(self) -> &'static str {
        match self {
            IpAddrType::Ipv4 => "ipv4",
            IpAddrType::Ipv6 => "ipv6",
        }
    }
}

/// One address of an interface (libvirt virDomainIPAddress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddress {
    /// Family.
    pub addr_type: IpAddrType,
    /// The address text.
    pub addr: String,
    /// Prefix length.
    pub prefix: u32,
}

/// One interface of a guest (libvirt virDomainInterface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInterface {
    /// Name as the source knows it.
    pub name: String,
    /// MAC address, when known.
    pub hwaddr: Option<String>,
    /// Its addresses.
    pub addrs: Vec<IpAddress>,
}

/// One mounted guest file system (libvirt virDomainFSInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    /// Where it is mounted in the guest.
    pub mountpoint: String,
    /// The guest's name of its device.
    pub name: String,
    /// Its type.
    pub fstype: String,
    /// The targets of the domain disks it lives on.
    pub dev_aliases: Vec<String>,
}

/// How long a guest agent call waits for its answer (libvirt's
/// VIR_DOMAIN_QEMU_AGENT_COMMAND_* and VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentTimeout {
    /// -2: until the answer comes (or the guest goes away).
    Block,
    /// -1: [`AGENT_DEFAULT_WAIT`].
    #[default]
    Default,
    /// 0: not at all.
    NoWait,
    /// That many seconds.
    Seconds(u32),
}

/// libvirt's default wait for an agent answer (QEMU_AGENT_WAIT_TIME, 5 s).
pub const AGENT_DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// libvirt's smallest timeout value (BLOCK).
pub const AGENT_TIMEOUT_MIN: i32 = -2;

impl AgentTimeout {
    /// The timeout of libvirt's number `n`; below -2 is INVALID_ARG "guest agent timeout 'N' is
    /// less than the minimum '-2'" (libvirt's wording).
    pub fn from_libvirt(n: i32, domain: ErrorDomain) -> Result<AgentTimeout, VirtError> {
        match n {
            -2 => Ok(AgentTimeout::Block),
            -1 => Ok(AgentTimeout::Default),
            0 => Ok(AgentTimeout::NoWait),
            n if n > 0 => Ok(AgentTimeout::Seconds(n.unsigned_abs())),
            n => Err(VirtError::new(
                ErrorCode::InvalidArg,
                domain,
                format!("guest agent timeout '{n}' is less than the minimum '{AGENT_TIMEOUT_MIN}'"),
            )),
        }
    }

    /// libvirt's number.
    pub fn libvirt(self) -> i32 {
        match self {
            AgentTimeout::Block => -2,
            AgentTimeout::Default => -1,
            AgentTimeout::NoWait => 0,
            AgentTimeout::Seconds(s) => i32::try_from(s).unwrap_or(i32::MAX),
        }
    }

    /// How long to wait: `None` blocks.
    pub fn wait(self) -> Option<Duration> {
        match self {
            AgentTimeout::Block => None,
            AgentTimeout::Default => Some(AGENT_DEFAULT_WAIT),
            AgentTimeout::NoWait => Some(Duration::ZERO),
            AgentTimeout::Seconds(s) => Some(Duration::from_secs(s.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_keep_libvirts_numbers_and_refuse_below_block() {
        for n in [-2, -1, 0, 1, 60] {
            let t = AgentTimeout::from_libvirt(n, ErrorDomain::Qemu).expect("valid");
            assert_eq!(t.libvirt(), n);
        }
        assert_eq!(AgentTimeout::Block.wait(), None);
        assert_eq!(AgentTimeout::Default.wait(), Some(AGENT_DEFAULT_WAIT));
        assert_eq!(AgentTimeout::NoWait.wait(), Some(Duration::ZERO));
        assert_eq!(
            AgentTimeout::Seconds(3).wait(),
            Some(Duration::from_secs(3))
        );
        let e = AgentTimeout::from_libvirt(-3, ErrorDomain::Qemu).expect_err("below -2");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert_eq!(
            e.detail,
            "guest agent timeout '-3' is less than the minimum '-2'"
        );
    }

    #[test]
    fn address_sources_are_libvirts_numbers() {
        for s in [
            AddressSource::Lease,
            AddressSource::Agent,
            AddressSource::Arp,
        ] {
            assert_eq!(
                AddressSource::from_libvirt(s.libvirt(), ErrorDomain::Test).expect("known"),
                s
            );
        }
        let e = AddressSource::from_libvirt(3, ErrorDomain::Test).expect_err("unknown");
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(e.detail, "Unknown IP address data source 3");
    }
}
