//! The guest agent APIs of the QEMU driver, as libvirt's qemu_driver.c runs them: interface
//! addresses (from the agent; from the host's ARP table; from DHCP leases, which no interface
//! of this driver has: none, as libvirt answers for NICs not on a libvirt network), file system
//! freeze, thaw and trim, file system info, guest time, guest info, the guest host name, user
//! passwords and authorized SSH keys, raw agent commands. Each
//! opens an agent session (`agent.rs`: the checks, the agent job, the deadline) and reads the
//! reply with `agent::replies`.

use serde_json::json;
use virt_core::driver::prelude::*;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::guest::{AddressSource, AgentTimeout, DomainInterface, FsInfo};
use virt_core::model::enums::InterfaceType;
use virt_core::proto::{
    AuthorizedSshKeysSetFlag, GetDomainHostnameFlag, GuestInfoType, SetDomainTimeFlag,
    SetUserPasswordFlag,
};
use virt_core::types::{DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use crate::agent::replies::{self, Params};
use crate::agent::AgentError;
use crate::QemuDriver;

/// The guest info types libvirt knows (virDomainGuestInfoTypes).
const ALL_TYPES: u32 = GuestInfoType::Users as u32
    | GuestInfoType::Os as u32
    | GuestInfoType::Timezone as u32
    | GuestInfoType::Hostname as u32
    | GuestInfoType::Filesystem as u32
    | GuestInfoType::Disks as u32
    | GuestInfoType::Interfaces as u32;

/// libvirt's ARP source: one interface per ARP entry whose MAC is a guest NIC's, named after
/// the NIC's host device, the address with prefix 0.
fn arp_interfaces(def: &virt_core::model::DomainDef) -> Vec<DomainInterface> {
    let table = crate::arp::table();
    let mut out = Vec::new();
    for nic in &def.devices.interfaces {
        let Some(mac) = nic.mac.as_deref().map(str::to_ascii_lowercase) else {
            continue;
        };
        for e in table.iter().filter(|e| e.mac == mac) {
            out.push(DomainInterface {
                name: nic.target_dev.clone().unwrap_or_default(),
                hwaddr: Some(mac.clone()),
                addrs: vec![virt_core::guest::IpAddress {
                    addr_type: virt_core::guest::IpAddrType::Ipv4,
                    addr: e.ip.clone(),
                    prefix: 0,
                }],
            });
        }
    }
    out
}

impl QemuDriver {
    /// libvirt's virDomainNetDHCPInterfaces: each network interface with a lease on its
    /// network, by MAC, with the lease's prefix; interfaces without a lease are left out.
    async fn lease_interfaces(
        &self,
        lookup: &DomainLookup,
    ) -> Result<Vec<DomainInterface>, VirtError> {
        let mut out = Vec::new();
        for (nic, mac, leases) in self.nic_leases(lookup).await? {
            if leases.is_empty() {
                continue;
            }
            out.push(DomainInterface {
                name: nic.target_dev.clone().unwrap_or_default(),
                hwaddr: Some(mac),
                addrs: leases
                    .iter()
                    .map(|l| virt_core::guest::IpAddress {
                        addr_type: if l.r#type() == virt_core::proto::IpAddrType::Ipv6 {
                            virt_core::guest::IpAddrType::Ipv6
                        } else {
                            virt_core::guest::IpAddrType::Ipv4
                        },
                        addr: l.ipaddr.clone(),
                        prefix: l.prefix,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Each network interface of the running domain with its MAC and its network's leases of
    /// that MAC (virtnetworkd), in interface order.
    async fn nic_leases(
        &self,
        lookup: &DomainLookup,
    ) -> Result<
        Vec<(
            virt_core::model::devices::Interface,
            String,
            Vec<virt_core::proto::DhcpLease>,
        )>,
        VirtError,
    > {
        let live = {
            let st = self.lock();
            let d = st.get(lookup)?;
            d.run.as_ref().map_or(d.def.clone(), |r| r.live.clone())
        };
        let mut out = Vec::new();
        for nic in live.devices.interfaces {
            let (InterfaceType::Network, Some(network), Some(mac)) = (
                nic.interface_type,
                nic.source_network.clone(),
                nic.mac.clone(),
            ) else {
                continue;
            };
            let leases = self.siblings.leases(&network, &mac).await?;
            out.push((nic, mac, leases));
        }
        Ok(out)
    }

    /// libvirt: virDomainGetGuestVcpus: the guest's vCPUs (`vcpus`), those online
    /// (`online`) and those it can take offline (`offlinable`), as bitmaps.
    pub(crate) async fn qemu_guest_vcpus(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, VirtError> {
        use virt_core::kit::tune::format_bitmap;
        self.check_flags(flags, 0, "qemuDomainGetGuestVcpus")?;
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainGetGuestVcpus").await?;
        let info = replies::guest_vcpus(&s.run(&json!({"execute": "guest-get-vcpus"})).await?)?;
        let set = |f: &dyn Fn(&replies::GuestVcpu) -> bool| {
            format_bitmap(&info.iter().filter(|v| f(v)).map(|v| v.id).collect())
        };
        Ok(vec![
            TypedParam::new("vcpus", TypedValue::String(set(&|_| true))),
            TypedParam::new("online", TypedValue::String(set(&|v| v.online))),
            TypedParam::new("offlinable", TypedValue::String(set(&|v| v.offlinable))),
        ])
    }

    /// libvirt: virDomainSetGuestVcpus: every vCPU of `cpumap` onlined or offlined through
    /// `guest-set-vcpus` (repeated while the agent does part of the list, as libvirt).
    pub(crate) async fn qemu_set_guest_vcpus(
        &self,
        lookup: &DomainLookup,
        cpumap: &str,
        state: bool,
        flags: u32,
    ) -> Result<(), VirtError> {
        use virt_core::kit::tune::{format_bitmap, parse_bitmap};
        self.check_flags(flags, 0, "qemuDomainSetGuestVcpus")?;
        // libvirt's QEMU_GUEST_VCPU_MAX_ID.
        let mut map = parse_bitmap(cpumap, 4096)?;
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainSetGuestVcpus").await?;
        let info = replies::guest_vcpus(&s.run(&json!({"execute": "guest-get-vcpus"})).await?)?;
        let mut todo = Vec::new();
        for v in &info {
            if !map.remove(&v.id) {
                continue;
            }
            if !state && !v.offlinable {
                return Err(VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::Qemu,
                    format!("vCPU '{}' is not offlinable", v.id),
                ));
            }
            todo.push(v.id);
        }
        if !map.is_empty() {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!("guest is missing vCPUs '{}'", format_bitmap(&map)),
            ));
        }
        let mut rest = todo.as_slice();
        while let Some(first) = rest.first() {
            let list: Vec<_> = rest
                .iter()
                .map(|id| json!({"logical-id": id, "online": state}))
                .collect();
            let done = replies::count(
                &s.run(&json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": list}}))
                    .await?,
            )? as usize;
            if done == 0 {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Qemu,
                    format!("failed to set state of cpu {first} via guest agent"),
                ));
            }
            rest = &rest[done.min(rest.len())..];
        }
        Ok(())
    }

    /// The domain, active, or OPERATION_INVALID "domain is not running".
    fn require_active(&self, lookup: &DomainLookup) -> Result<(), VirtError> {
        let st = self.lock();
        let d = st.get(lookup)?;
        match d.run {
            Some(_) => Ok(()),
            None => Err(super::not_running(d)),
        }
    }
}

#[async_trait::async_trait]
impl GuestAgent for QemuDriver {
    /// libvirt: virDomainInterfaceAddresses.
    async fn interface_addresses(
        &self,
        lookup: &DomainLookup,
        source: AddressSource,
        flags: u32,
    ) -> Result<Vec<DomainInterface>, VirtError> {
        self.check_flags(flags, 0, "qemuDomainInterfaceAddresses")?;
        self.require_active(lookup)?;
        match source {
            AddressSource::Agent => {}
            // Leases come from the networks of `type='network'` interfaces (virtnetworkd's
            // dnsmasq); other interfaces have none, as in libvirt.
            AddressSource::Lease => return self.lease_interfaces(lookup).await,
            AddressSource::Arp => {
                let st = self.lock();
                let d = st.get(lookup)?;
                let live = d.run.as_ref().map_or(&d.def, |r| &r.live);
                return Ok(arp_interfaces(live));
            }
        }
        let mut s = self
            .agent_session(lookup, "virDomainInterfaceAddresses")
            .await?;
        let v = s
            .run(&json!({"execute": "guest-network-get-interfaces"}))
            .await?;
        replies::interfaces(&v)
    }

    /// libvirt: virDomainFSFreeze.
    async fn fs_freeze(
        &self,
        lookup: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> Result<u32, VirtError> {
        self.check_flags(flags, 0, "qemuDomainFSFreeze")?;
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainFSFreeze").await?;
        replies::count(&s.run(&replies::freeze_command(mountpoints)).await?)
    }

    /// libvirt: virDomainFSThaw; thawing some mount points only is not possible.
    async fn fs_thaw(
        &self,
        lookup: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> Result<u32, VirtError> {
        self.check_flags(flags, 0, "qemuDomainFSThaw")?;
        if !mountpoints.is_empty() {
            return Err(VirtError::new(
                ErrorCode::ArgumentUnsupported,
                ErrorDomain::Qemu,
                "specifying mountpoints is not supported",
            ));
        }
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainFSThaw").await?;
        replies::count(&s.run(&json!({"execute": "guest-fsfreeze-thaw"})).await?)
    }

    /// libvirt: virDomainGetTime.
    async fn domain_time(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<(i64, u32), VirtError> {
        self.check_flags(flags, 0, "qemuDomainGetTime")?;
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainGetTime").await?;
        replies::time(&s.run(&json!({"execute": "guest-get-time"})).await?)
    }

    /// libvirt: virDomainSetTime. Under the domain job, as libvirt: the agent sets the
    /// clock, then `rtc-reset-reinjection` drops the RTC interrupts owed for the jump.
    async fn set_domain_time(
        &self,
        lookup: &DomainLookup,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<(), VirtError> {
        let sync = SetDomainTimeFlag::Sync as u32;
        self.check_flags(flags, sync, "qemuDomainSetTime")?;
        let cmd = replies::set_time_command(seconds, nseconds, flags & sync != 0)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetTime").await?;
        let a = self.active(&uuid)?;
        {
            let mut s = self.agent_session(lookup, "virDomainSetTime").await?;
            s.run(&cmd).await?;
        }
        match a.qmp.execute("rtc-reset-reinjection", None).await {
            Ok(_) => Ok(()),
            Err(crate::qmp::QmpError::Command { class, .. }) if class == "CommandNotFound" => {
                Ok(())
            }
            Err(e) => Err(e.to_virt("rtc-reset-reinjection")),
        }
    }

    /// libvirt: virDomainGetGuestInfo. With no type asked for, every type the agent supports
    /// (commands it lacks are skipped); asked types it lacks are errors.
    async fn guest_info(
        &self,
        lookup: &DomainLookup,
        types: u32,
        flags: u32,
    ) -> Result<Vec<TypedParam>, VirtError> {
        self.check_flags(flags, 0, "qemuDomainGetGuestInfo")?;
        if types & !ALL_TYPES != 0 {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!(
                    "unsupported guest information types '0x{:x}'",
                    types & !ALL_TYPES
                ),
            ));
        }
        let report = types != 0;
        let wanted = if types == 0 { ALL_TYPES } else { types };
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainGetGuestInfo").await?;
        let mut p = Params::default();
        let mut ifaces = None;
        for (bit, command) in [
            (GuestInfoType::Users, "guest-get-users"),
            (GuestInfoType::Os, "guest-get-osinfo"),
            (GuestInfoType::Timezone, "guest-get-timezone"),
            (GuestInfoType::Hostname, "guest-get-host-name"),
            (GuestInfoType::Filesystem, "guest-get-fsinfo"),
            (GuestInfoType::Disks, "guest-get-disks"),
            (GuestInfoType::Interfaces, "guest-network-get-interfaces"),
        ] {
            if wanted & bit as u32 == 0 {
                continue;
            }
            let v = match s.call(&json!({ "execute": command })).await {
                Ok(r) => r.value,
                Err(e) if !report && e.is_unsupported() => continue,
                Err(e) => return Err(e.to_virt()),
            };
            // libvirt leaves out file systems, disks and interfaces when there are none.
            if v.as_array().is_some_and(Vec::is_empty)
                && matches!(
                    bit,
                    GuestInfoType::Filesystem | GuestInfoType::Disks | GuestInfoType::Interfaces
                )
            {
                continue;
            }
            match bit {
                GuestInfoType::Users => replies::users(&v, &mut p)?,
                GuestInfoType::Os => replies::os(&v, &mut p)?,
                GuestInfoType::Timezone => replies::timezone(&v, &mut p)?,
                GuestInfoType::Hostname => p.0.push(TypedParam::new(
                    "hostname",
                    TypedValue::String(replies::hostname(&v)?),
                )),
                GuestInfoType::Filesystem => replies::filesystems(&v, &s.live, &mut p)?,
                GuestInfoType::Disks => replies::disks(&v, &s.live, &mut p)?,
                _ => ifaces = Some(replies::interfaces(&v)?),
            }
        }
        if let Some(ifaces) = ifaces {
            replies::interface_params(&ifaces, &mut p);
        }
        Ok(p.0)
    }

    /// libvirt: virDomainGetHostname. The agent is the default source; leases need a
    /// libvirt network, which this driver does not use.
    async fn domain_hostname(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<String, VirtError> {
        let (lease, agent) = (
            GetDomainHostnameFlag::Lease as u32,
            GetDomainHostnameFlag::Agent as u32,
        );
        self.check_flags(flags, lease | agent, "qemuDomainGetHostname")?;
        if flags & lease != 0 && flags & agent != 0 {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                "Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and 'VIR_DOMAIN_GET_HOSTNAME_AGENT' are \
                 mutually exclusive",
            ));
        }
        self.require_active(lookup)?;
        if flags & lease != 0 {
            // The first lease with a host name on one of the guest's networks.
            let name = self.lock().get(lookup)?.def.name.clone();
            let leases = self.nic_leases(lookup).await?;
            if let Some(l) = leases
                .iter()
                .flat_map(|(_, _, l)| l)
                .find(|l| !l.hostname.is_empty())
            {
                return Ok(l.hostname.clone());
            }
            return Err(VirtError::new(
                ErrorCode::NoHostname,
                ErrorDomain::Qemu,
                format!("no hostname found for domain {name}"),
            ));
        }
        let mut s = self.agent_session(lookup, "virDomainGetHostname").await?;
        replies::hostname(&s.run(&json!({"execute": "guest-get-host-name"})).await?)
    }

    /// libvirt: virDomainQemuAgentCommand. The reply as libvirt returns it (compact JSON,
    /// order kept); NOWAIT sends the command and answers an empty string (libvirt reports a
    /// timeout there instead, having never waited).
    async fn qemu_agent_command(
        &self,
        lookup: &DomainLookup,
        command: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String, VirtError> {
        self.check_flags(flags, 0, "qemuDomainQemuAgentCommand")?;
        let t = AgentTimeout::from_libvirt(timeout, ErrorDomain::Qemu)?;
        let text = virt_core::jsontext::compact(command).map_err(|e| {
            VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                format!("cannot parse json {command}: {e}"),
            )
        })?;
        let name = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("execute")
                    .and_then(|e| e.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| "<unknown>".into());
        self.require_active(lookup)?;
        let mut s = self
            .agent_session(lookup, "virDomainQemuAgentCommand")
            .await?;
        if t == AgentTimeout::NoWait {
            s.send_only(&text).await?;
            return Ok(String::new());
        }
        let reply = s.run_text(&text, &name, t.wait()).await?;
        virt_core::jsontext::compact(&reply.text)
            .map_err(|e| AgentError::Protocol(e.to_string()).to_virt())
    }

    /// libvirt: virDomainAgentSetResponseTimeout. Any domain; a running one's status file
    /// records it.
    async fn set_agent_response_timeout(
        &self,
        lookup: &DomainLookup,
        timeout: i32,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.check_flags(flags, 0, "qemuDomainAgentSetResponseTimeout")?;
        let t = AgentTimeout::from_libvirt(timeout, ErrorDomain::Qemu)?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        d.agent_timeout = t;
        self.save_status(d);
        Ok(())
    }

    /// libvirt: virDomainGetFSInfo.
    async fn fs_info(&self, lookup: &DomainLookup, flags: u32) -> Result<Vec<FsInfo>, VirtError> {
        self.check_flags(flags, 0, "qemuDomainGetFSInfo")?;
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainGetFSInfo").await?;
        let v = s.run(&json!({"execute": "guest-get-fsinfo"})).await?;
        replies::fs_info(&v, &s.live)
    }

    /// libvirt: virDomainFSTrim. Trimming can take long: the call waits as long as it takes,
    /// as libvirt's does.
    async fn fs_trim(
        &self,
        lookup: &DomainLookup,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.check_flags(flags, 0, "qemuDomainFSTrim")?;
        if mountpoint.is_some() {
            return Err(VirtError::new(
                ErrorCode::ArgumentUnsupported,
                ErrorDomain::Qemu,
                "Specifying mount point is not supported for now",
            ));
        }
        self.require_active(lookup)?;
        let mut s = self.agent_session(lookup, "virDomainFSTrim").await?;
        s.wait = None;
        s.run(&replies::fstrim_command(minimum)).await?;
        Ok(())
    }

    /// libvirt: virDomainSetUserPassword.
    async fn set_user_password(
        &self,
        lookup: &DomainLookup,
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<(), VirtError> {
        let encrypted = SetUserPasswordFlag::Encrypted as u32;
        self.check_flags(flags, encrypted, "qemuDomainSetUserPassword")?;
        self.require_active(lookup)?;
        let mut s = self
            .agent_session(lookup, "virDomainSetUserPassword")
            .await?;
        s.run(&replies::set_password_command(
            user,
            password,
            flags & encrypted != 0,
        ))
        .await?;
        Ok(())
    }

    /// libvirt: virDomainAuthorizedSSHKeysGet.
    async fn authorized_ssh_keys(
        &self,
        lookup: &DomainLookup,
        user: &str,
        flags: u32,
    ) -> Result<Vec<String>, VirtError> {
        self.check_flags(flags, 0, "qemuDomainAuthorizedSSHKeysGet")?;
        self.require_active(lookup)?;
        let mut s = self
            .agent_session(lookup, "virDomainAuthorizedSSHKeysGet")
            .await?;
        let v = s
            .run(&json!({"execute": "guest-ssh-get-authorized-keys",
                         "arguments": {"username": user}}))
            .await?;
        replies::ssh_keys(&v)
    }

    /// libvirt: virDomainAuthorizedSSHKeysSet.
    async fn set_authorized_ssh_keys(
        &self,
        lookup: &DomainLookup,
        user: &str,
        keys: &[String],
        flags: u32,
    ) -> Result<(), VirtError> {
        let (append, remove) = (
            AuthorizedSshKeysSetFlag::Append as u32,
            AuthorizedSshKeysSetFlag::Remove as u32,
        );
        self.check_flags(flags, append | remove, "qemuDomainAuthorizedSSHKeysSet")?;
        self.require_active(lookup)?;
        let mut s = self
            .agent_session(lookup, "virDomainAuthorizedSSHKeysSet")
            .await?;
        s.run(&replies::ssh_keys_set_command(
            user,
            keys,
            flags & remove != 0,
            flags & append == 0,
        ))
        .await?;
        Ok(())
    }
}
