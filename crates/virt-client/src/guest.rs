//! Guest calls of [`Connection`]: one method per GuestService RPC, named as the RPC is, with
//! libvirt's values (address sources and timeouts keep libvirt's numbering here; the proto
//! conversion is virt-core's).

use virt_core::guest::{AddressSource, DomainInterface, FsInfo};
use virt_core::proto;
use virt_core::proto_conv::{address_source_to_proto, fs_info_from, interface_from, param_from};
use virt_core::types::{DomainLookup, TypedParam};

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

impl Connection {
    /// The guest's interfaces and addresses from `source`. libvirt: virDomainInterfaceAddresses.
    pub async fn interface_addresses(
        &self,
        dom: &DomainLookup,
        source: AddressSource,
        flags: u32,
    ) -> Result<Vec<DomainInterface>, ClientError> {
        let req = proto::GetInterfaceAddressesRequest {
            domain: Some(domain_ref(dom)),
            source: address_source_to_proto(source) as i32,
            flags,
        };
        let resp = self
            .guest_client()
            .get_interface_addresses(req)
            .await?
            .into_inner();
        Ok(resp.interfaces.iter().map(interface_from).collect())
    }

    /// Freezes guest file systems (all when `mountpoints` is empty); how many froze.
    /// libvirt: virDomainFSFreeze.
    pub async fn fs_freeze(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> Result<u32, ClientError> {
        let req = proto::FsFreezeRequest {
            domain: Some(domain_ref(dom)),
            mountpoints: mountpoints.to_vec(),
            flags,
        };
        Ok(self.guest_client().fs_freeze(req).await?.into_inner().count)
    }

    /// Thaws guest file systems (all when `mountpoints` is empty); how many thawed.
    /// libvirt: virDomainFSThaw.
    pub async fn fs_thaw(
        &self,
        dom: &DomainLookup,
        mountpoints: &[String],
        flags: u32,
    ) -> Result<u32, ClientError> {
        let req = proto::FsThawRequest {
            domain: Some(domain_ref(dom)),
            mountpoints: mountpoints.to_vec(),
            flags,
        };
        Ok(self.guest_client().fs_thaw(req).await?.into_inner().count)
    }

    /// The guest's clock as (seconds, nanoseconds). libvirt: virDomainGetTime.
    pub async fn domain_time(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<(i64, u32), ClientError> {
        let req = proto::GetDomainTimeRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let r = self.guest_client().get_domain_time(req).await?.into_inner();
        Ok((r.seconds, r.nseconds))
    }

    /// Sets the guest's clock (SYNC: from its RTC). libvirt: virDomainSetTime.
    pub async fn set_domain_time(
        &self,
        dom: &DomainLookup,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetDomainTimeRequest {
            domain: Some(domain_ref(dom)),
            seconds,
            nseconds,
            flags,
        };
        self.guest_client().set_domain_time(req).await?;
        Ok(())
    }

    /// What the guest reports about itself (GuestInfoType bits; 0 for all).
    /// libvirt: virDomainGetGuestInfo.
    pub async fn guest_info(
        &self,
        dom: &DomainLookup,
        types: u32,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetGuestInfoRequest {
            domain: Some(domain_ref(dom)),
            types,
            flags,
        };
        let resp = self.guest_client().get_guest_info(req).await?.into_inner();
        Ok(resp.params.iter().filter_map(param_from).collect())
    }

    /// The guest's host name. libvirt: virDomainGetHostname.
    pub async fn domain_hostname(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::GetDomainHostnameRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .guest_client()
            .get_domain_hostname(req)
            .await?
            .into_inner()
            .hostname)
    }

    /// Runs a raw guest agent command; `timeout` is libvirt's number (-2 block, -1 default,
    /// 0 no wait, seconds). libvirt: virDomainQemuAgentCommand.
    pub async fn qemu_agent_command(
        &self,
        dom: &DomainLookup,
        command: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::QemuAgentCommandRequest {
            domain: Some(domain_ref(dom)),
            command: command.to_string(),
            timeout,
            flags,
        };
        Ok(self
            .guest_client()
            .qemu_agent_command(req)
            .await?
            .into_inner()
            .result)
    }

    /// Sets how long the domain's agent calls wait (libvirt's number).
    /// libvirt: virDomainAgentSetResponseTimeout.
    pub async fn set_agent_response_timeout(
        &self,
        dom: &DomainLookup,
        timeout: i32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetAgentResponseTimeoutRequest {
            domain: Some(domain_ref(dom)),
            timeout,
            flags,
        };
        self.guest_client().set_agent_response_timeout(req).await?;
        Ok(())
    }

    /// The guest's mounted file systems. libvirt: virDomainGetFSInfo.
    pub async fn fs_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<FsInfo>, ClientError> {
        let req = proto::GetFsInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let resp = self.guest_client().get_fs_info(req).await?.into_inner();
        Ok(resp.filesystems.into_iter().map(fs_info_from).collect())
    }

    /// Trims the guest's file systems. libvirt: virDomainFSTrim.
    pub async fn fs_trim(
        &self,
        dom: &DomainLookup,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::FsTrimRequest {
            domain: Some(domain_ref(dom)),
            mountpoint: mountpoint.map(str::to_string),
            minimum,
            flags,
        };
        self.guest_client().fs_trim(req).await?;
        Ok(())
    }

    /// Sets a guest user's password. libvirt: virDomainSetUserPassword.
    pub async fn set_user_password(
        &self,
        dom: &DomainLookup,
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetUserPasswordRequest {
            domain: Some(domain_ref(dom)),
            user: user.to_string(),
            password: password.to_string(),
            flags,
        };
        self.guest_client().set_user_password(req).await?;
        Ok(())
    }

    /// A guest user's authorized SSH keys. libvirt: virDomainAuthorizedSSHKeysGet.
    pub async fn authorized_ssh_keys(
        &self,
        dom: &DomainLookup,
        user: &str,
        flags: u32,
    ) -> Result<Vec<String>, ClientError> {
        let req = proto::GetAuthorizedSshKeysRequest {
            domain: Some(domain_ref(dom)),
            user: user.to_string(),
            flags,
        };
        Ok(self
            .guest_client()
            .get_authorized_ssh_keys(req)
            .await?
            .into_inner()
            .keys)
    }

    /// Replaces, appends to (APPEND) or removes from (REMOVE) a guest user's authorized SSH
    /// keys. libvirt: virDomainAuthorizedSSHKeysSet.
    pub async fn set_authorized_ssh_keys(
        &self,
        dom: &DomainLookup,
        user: &str,
        keys: &[String],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetAuthorizedSshKeysRequest {
            domain: Some(domain_ref(dom)),
            user: user.to_string(),
            keys: keys.to_vec(),
            flags,
        };
        self.guest_client().set_authorized_ssh_keys(req).await?;
        Ok(())
    }
}
