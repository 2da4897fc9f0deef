//! GuestService: calls answered from inside the guest (guest agent, leases, ARP), as thin
//! adapters over the `Driver` methods of the same names. The one flag-dependent read-only rule
//! lives here: GetInterfaceAddresses is on the read-only allowlist, but its AGENT source runs a
//! command in the guest and is refused to read-only callers, as libvirt refuses it.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{is_read_only, status, Ctx};
use crate::driver::Driver;
use crate::guest::AddressSource;
use crate::proto::guest_service_server::GuestService;
use crate::proto::*;
use crate::proto_conv::{address_source, fs_info, interface, lookup, param};
use crate::types::DomainLookup;
use crate::VirtError;

type R<T> = Result<Response<T>, Status>;

impl Ctx {
    /// The driver and the domain a guest request names.
    fn guest_target<T>(
        &self,
        req: &Request<T>,
        domain: Option<&DomainRef>,
    ) -> Result<(Arc<dyn Driver>, DomainLookup), Status> {
        Ok((self.driver(req)?, lookup(domain)?))
    }
}

#[tonic::async_trait]
impl GuestService for Ctx {
    async fn get_interface_addresses(
        &self,
        req: Request<GetInterfaceAddressesRequest>,
    ) -> R<GetInterfaceAddressesResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let source = address_source(r.source, d.error_domain()).map_err(|e| status(&e))?;
        if source == AddressSource::Agent && is_read_only(&req) {
            return Err(status(&VirtError::read_only("virDomainInterfaceAddresses")));
        }
        let ifaces = d
            .interface_addresses(&l, source, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetInterfaceAddressesResponse {
            interfaces: ifaces.iter().map(interface).collect(),
        }))
    }

    async fn fs_freeze(&self, req: Request<FsFreezeRequest>) -> R<FsFreezeResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let count = d
            .fs_freeze(&l, &r.mountpoints, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(FsFreezeResponse { count }))
    }

    async fn fs_thaw(&self, req: Request<FsThawRequest>) -> R<FsThawResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let count = d
            .fs_thaw(&l, &r.mountpoints, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(FsThawResponse { count }))
    }

    async fn get_domain_time(
        &self,
        req: Request<GetDomainTimeRequest>,
    ) -> R<GetDomainTimeResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let (seconds, nseconds) = d
            .domain_time(&l, req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetDomainTimeResponse { seconds, nseconds }))
    }

    async fn set_domain_time(
        &self,
        req: Request<SetDomainTimeRequest>,
    ) -> R<SetDomainTimeResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        d.set_domain_time(&l, r.seconds, r.nseconds, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SetDomainTimeResponse {}))
    }

    async fn get_guest_info(&self, req: Request<GetGuestInfoRequest>) -> R<GetGuestInfoResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let params = d
            .guest_info(&l, r.types, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetGuestInfoResponse {
            params: params.iter().map(param).collect(),
        }))
    }

    async fn get_domain_hostname(
        &self,
        req: Request<GetDomainHostnameRequest>,
    ) -> R<GetDomainHostnameResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let hostname = d
            .domain_hostname(&l, req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetDomainHostnameResponse { hostname }))
    }

    async fn qemu_agent_command(
        &self,
        req: Request<QemuAgentCommandRequest>,
    ) -> R<QemuAgentCommandResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let result = d
            .qemu_agent_command(&l, &r.command, r.timeout, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(QemuAgentCommandResponse { result }))
    }

    async fn set_agent_response_timeout(
        &self,
        req: Request<SetAgentResponseTimeoutRequest>,
    ) -> R<SetAgentResponseTimeoutResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        d.set_agent_response_timeout(&l, r.timeout, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SetAgentResponseTimeoutResponse {}))
    }

    async fn get_fs_info(&self, req: Request<GetFsInfoRequest>) -> R<GetFsInfoResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let list = d
            .fs_info(&l, req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetFsInfoResponse {
            filesystems: list.into_iter().map(fs_info).collect(),
        }))
    }

    async fn fs_trim(&self, req: Request<FsTrimRequest>) -> R<FsTrimResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        d.fs_trim(&l, r.mountpoint.as_deref(), r.minimum, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(FsTrimResponse {}))
    }

    async fn set_user_password(
        &self,
        req: Request<SetUserPasswordRequest>,
    ) -> R<SetUserPasswordResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        d.set_user_password(&l, &r.user, &r.password, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SetUserPasswordResponse {}))
    }

    async fn get_authorized_ssh_keys(
        &self,
        req: Request<GetAuthorizedSshKeysRequest>,
    ) -> R<GetAuthorizedSshKeysResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        let keys = d
            .authorized_ssh_keys(&l, &r.user, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetAuthorizedSshKeysResponse { keys }))
    }

    async fn set_authorized_ssh_keys(
        &self,
        req: Request<SetAuthorizedSshKeysRequest>,
    ) -> R<SetAuthorizedSshKeysResponse> {
        let (d, l) = self.guest_target(&req, req.get_ref().domain.as_ref())?;
        let r = req.get_ref();
        crate::kit::guest::check_ssh_keys_set(&r.keys, r.flags).map_err(|e| status(&e))?;
        d.set_authorized_ssh_keys(&l, &r.user, &r.keys, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SetAuthorizedSshKeysResponse {}))
    }
}
