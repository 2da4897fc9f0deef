//! Test driver guest calls, with libvirt 9.0's test driver's canned answers: interface
//! addresses made up from the definition, two freezable file systems (`/` and `/boot`), a
//! settable clock starting at 627319920 (1989-11-17 15:32:00 UTC) and the host name
//! `<name>host`, the file systems `/` and `/boot` on partitions 1 and 2 of the first disk
//! (`device='disk'`) for GetFSInfo, and FSTrim and SetUserPassword that only check the domain
//! is running. Guest info, raw agent commands and the agent timeout are not in libvirt's test
//! driver and stay NO_SUPPORT here.
//!
//! Interface names: libvirt's test driver gives every `<interface>` without a `<target dev>` the
//! first free `testnetN` when the domain is defined; this driver computes the same names when
//! asked. Addresses: an interface on the network `default` (192.168.122.0/24, DHCP range from
//! .2) gets range start + 20 * (ID - 1) + index + 1, any other interface type 192.168.0.(index
//! + 1); a network other than `default` does not exist here (NO_NETWORK).

use std::collections::HashSet;

use super::state::Dom;
use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::guest::{AddressSource, DomainInterface, FsInfo, IpAddrType, IpAddress};
use crate::model::enums::{DiskDevice, InterfaceType};
use crate::proto::{SetDomainTimeFlag, SetUserPasswordFlag};
use crate::state::DomainState;
use crate::types::DomainLookup;
use crate::VirtError;

/// The clock a test domain starts with (libvirt's test driver's).
pub const TEST_TIME: i64 = 627_319_920;

/// The mount points the test guest has, in the order of its frozen flags.
const MOUNTPOINTS: [&str; 2] = ["/", "/boot"];

/// Guest-side state of one test domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuestState {
    /// Whether `/` and `/boot` are frozen.
    pub frozen: [bool; 2],
    /// The guest clock: seconds and nanoseconds.
    pub time: (i64, u32),
}

impl Default for GuestState {
    fn default() -> GuestState {
        GuestState {
            frozen: [false; 2],
            time: (TEST_TIME, 0),
        }
    }
}

/// Gives every interface without a `<target dev>` the first free `testnetN`, as libvirt's test
/// driver does when a domain is defined or created (its XML then shows them).
pub(super) fn assign_ifnames(def: &mut crate::model::DomainDef) {
    let mut used: HashSet<String> = def
        .devices
        .interfaces
        .iter()
        .filter_map(|n| n.target_dev.clone())
        .collect();
    for nic in &mut def.devices.interfaces {
        if nic.target_dev.is_none() {
            let name = (0..)
                .map(|k| format!("testnet{k}"))
                .find(|c| !used.contains(c))
                .expect("an unbounded range has a free name");
            used.insert(name.clone());
            nic.target_dev = Some(name);
        }
    }
}

/// The interface names libvirt's test driver would have assigned at define.
fn ifnames(dom: &Dom) -> Vec<String> {
    let nics = &dom.def.devices.interfaces;
    let mut used: HashSet<String> = nics.iter().filter_map(|n| n.target_dev.clone()).collect();
    nics.iter()
        .map(|n| match &n.target_dev {
            Some(t) => t.clone(),
            None => {
                let name = (0..)
                    .map(|k| format!("testnet{k}"))
                    .find(|c| !used.contains(c))
                    .expect("an unbounded range has a free name");
                used.insert(name.clone());
                name
            }
        })
        .collect()
}

/// The made-up address of interface `index` of the active domain `dom`.
fn address(dom: &Dom, index: usize) -> DriverResult<IpAddress> {
    let nic = &dom.def.devices.interfaces[index];
    if nic.interface_type != InterfaceType::Network {
        return Ok(IpAddress {
            addr_type: IpAddrType::Ipv4,
            addr: format!("192.168.0.{}", index + 1),
            prefix: 24,
        });
    }
    let network = nic.source_network.as_deref().unwrap_or_default();
    if network != "default" {
        return Err(VirtError::new(
            ErrorCode::NoNetwork,
            ErrorDomain::Test,
            format!("no network with matching name '{network}'"),
        ));
    }
    let id = u64::from(dom.id.unwrap_or(1));
    let offset = 20 * (id.saturating_sub(1)) + index as u64 + 1;
    let start = u32::from(std::net::Ipv4Addr::new(192, 168, 122, 2));
    let addr = std::net::Ipv4Addr::from(start.wrapping_add(offset as u32));
    Ok(IpAddress {
        addr_type: IpAddrType::Ipv4,
        addr: addr.to_string(),
        prefix: 24,
    })
}

/// The index of each mount point named, or OPERATION_INVALID "mount point not found: PATH".
fn mount_indexes(mountpoints: &[String]) -> DriverResult<Vec<usize>> {
    mountpoints
        .iter()
        .map(|m| {
            MOUNTPOINTS
                .iter()
                .position(|known| known == m)
                .ok_or_else(|| VirtError::operation_invalid(format!("mount point not found: {m}")))
        })
        .collect()
}

impl TestDriver {
    /// virDomainFSFreeze (`freeze`) and virDomainFSThaw: answers how many file systems
    /// changed.
    fn fs_freeze_thaw(
        &self,
        lookup: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
        freeze: bool,
    ) -> DriverResult<u32> {
        let function = if freeze {
            "testDomainFSFreeze"
        } else {
            "testDomainFSThaw"
        };
        self.check_flags(flags, 0, function)?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        d.require_active()?;
        let targets = if mountpoints.is_empty() {
            (0..MOUNTPOINTS.len()).collect()
        } else {
            mount_indexes(mountpoints)?
        };
        let mut changed = 0;
        for i in targets {
            if d.guest.frozen[i] != freeze {
                d.guest.frozen[i] = freeze;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[async_trait::async_trait]
impl GuestAgent for TestDriver {
    /// libvirt: virDomainInterfaceAddresses (the same answer for every source).
    async fn interface_addresses(
        &self,
        lookup: &DomainLookup,
        _source: AddressSource,
        flags: u32,
    ) -> DriverResult<Vec<DomainInterface>> {
        self.check_flags(flags, 0, "testDomainInterfaceAddresses")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        let names = ifnames(d);
        let mut out = Vec::new();
        for (i, (nic, name)) in d.def.devices.interfaces.iter().zip(names).enumerate() {
            out.push(DomainInterface {
                name,
                hwaddr: nic.mac.clone(),
                addrs: vec![address(d, i)?],
            });
        }
        Ok(out)
    }

    async fn fs_freeze(
        &self,
        lookup: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        self.fs_freeze_thaw(lookup, mountpoints, flags, true)
    }

    async fn fs_thaw(
        &self,
        lookup: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> DriverResult<u32> {
        self.fs_freeze_thaw(lookup, mountpoints, flags, false)
    }

    /// libvirt: virDomainGetTime; the test driver wants the domain running, not just active.
    async fn domain_time(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<(i64, u32)> {
        self.check_flags(flags, 0, "testDomainGetTime")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        if d.state.state != DomainState::Running {
            return Err(VirtError::operation_invalid("domain is not running")
                .with_object(&d.def.name, d.def.uuid.to_string()));
        }
        Ok(d.guest.time)
    }

    /// libvirt: virDomainSetTime; SYNC stores the time given (0 from virsh), as libvirt's does.
    async fn set_domain_time(
        &self,
        lookup: &DomainLookup,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, SetDomainTimeFlag::Sync as u32, "testDomainSetTime")?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        d.require_active()?;
        d.guest.time = (seconds, nseconds);
        Ok(())
    }

    /// libvirt: virDomainGetHostname; no source flags are supported.
    async fn domain_hostname(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.check_flags(flags, 0, "testDomainGetHostname")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        Ok(format!("{}host", d.def.name))
    }

    /// libvirt: virDomainGetFSInfo; `/` and `/boot` on partitions 1 and 2 of the first disk,
    /// nothing without one.
    async fn fs_info(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<Vec<FsInfo>> {
        self.check_flags(flags, 0, "testDomainGetFSInfo")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        let Some(disk) = d
            .def
            .devices
            .disks
            .iter()
            .find(|disk| disk.device == DiskDevice::Disk)
        else {
            return Ok(Vec::new());
        };
        let dst = &disk.target_dev;
        Ok([("/", 1), ("/boot", 2)]
            .into_iter()
            .map(|(mountpoint, part)| FsInfo {
                mountpoint: mountpoint.into(),
                name: format!("{dst}{part}"),
                fstype: "ext4".into(),
                dev_aliases: vec![dst.clone()],
            })
            .collect())
    }

    /// libvirt: virDomainFSTrim; nothing to trim, the domain must be running.
    async fn fs_trim(
        &self,
        lookup: &DomainLookup,
        _mountpoint: Option<&str>,
        _minimum: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "testDomainFSTrim")?;
        self.lock().get(lookup)?.require_active()
    }

    /// libvirt: virDomainSetUserPassword; accepted for any user of a running domain.
    async fn set_user_password(
        &self,
        lookup: &DomainLookup,
        _user: &str,
        _password: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(
            flags,
            SetUserPasswordFlag::Encrypted as u32,
            "testDomainSetUserPassword",
        )?;
        self.lock().get(lookup)?.require_active()
    }
}
