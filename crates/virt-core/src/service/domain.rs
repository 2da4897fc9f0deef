//! DomainService: lookup, listing, definition, lifecycle, resources, devices, save/restore.

use tonic::{Request, Response, Status};

use super::{is_read_only, status, Ctx};
use crate::kit::typed_params::require_some;
use crate::proto::domain_service_server::DomainService;
use crate::proto::*;
use crate::proto_conv::{domain, info, lookup, param, params_from, state, summary};
use crate::VirtError;

type R<T> = Result<Response<T>, Status>;

/// Runs `$call` on the driver for `$req`'s domain, mapping errors to statuses.
macro_rules! on_domain {
    ($self:ident, $req:ident, |$d:ident, $l:ident| $call:expr) => {{
        let $d = $self.driver(&$req)?;
        let $l = lookup($req.get_ref().domain.as_ref())?;
        $call.await.map_err(|e| status(&e))?
    }};
}

#[tonic::async_trait]
impl DomainService for Ctx {
    async fn lookup_domain(&self, req: Request<LookupDomainRequest>) -> R<LookupDomainResponse> {
        let h = on_domain!(self, req, |d, l| d.lookup_domain(&l));
        Ok(Response::new(LookupDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn list_all_domains(
        &self,
        req: Request<ListAllDomainsRequest>,
    ) -> R<ListAllDomainsResponse> {
        let d = self.driver(&req)?;
        let list = d
            .list_all_domains(req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(ListAllDomainsResponse {
            domains: list.iter().map(summary).collect(),
        }))
    }

    async fn define_domain(&self, req: Request<DefineDomainRequest>) -> R<DefineDomainResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let h = d
            .define_domain(&r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(DefineDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn validate_domain(
        &self,
        req: Request<ValidateDomainRequest>,
    ) -> R<ValidateDomainResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let v = d
            .validate_domain(&r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(ValidateDomainResponse {
            xml: v.xml,
            domain: Some(domain(&v.domain)),
            replaces_existing: v.replaces_existing,
        }))
    }

    async fn undefine_domain(
        &self,
        req: Request<UndefineDomainRequest>,
    ) -> R<UndefineDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.undefine_domain(&l, f));
        Ok(Response::new(UndefineDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn create_domain(&self, req: Request<CreateDomainRequest>) -> R<CreateDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.create_domain(&l, f));
        Ok(Response::new(CreateDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn create_domain_xml(
        &self,
        req: Request<CreateDomainXmlRequest>,
    ) -> R<CreateDomainXmlResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let h = d
            .create_domain_xml(&r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CreateDomainXmlResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn shutdown_domain(
        &self,
        req: Request<ShutdownDomainRequest>,
    ) -> R<ShutdownDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.shutdown_domain(&l, f));
        Ok(Response::new(ShutdownDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn destroy_domain(&self, req: Request<DestroyDomainRequest>) -> R<DestroyDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.destroy_domain(&l, f));
        Ok(Response::new(DestroyDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn reboot_domain(&self, req: Request<RebootDomainRequest>) -> R<RebootDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.reboot_domain(&l, f));
        Ok(Response::new(RebootDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn reset_domain(&self, req: Request<ResetDomainRequest>) -> R<ResetDomainResponse> {
        let f = req.get_ref().flags;
        let h = on_domain!(self, req, |d, l| d.reset_domain(&l, f));
        Ok(Response::new(ResetDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn suspend_domain(&self, req: Request<SuspendDomainRequest>) -> R<SuspendDomainResponse> {
        let h = on_domain!(self, req, |d, l| d.suspend_domain(&l));
        Ok(Response::new(SuspendDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn resume_domain(&self, req: Request<ResumeDomainRequest>) -> R<ResumeDomainResponse> {
        let h = on_domain!(self, req, |d, l| d.resume_domain(&l));
        Ok(Response::new(ResumeDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn get_domain_info(
        &self,
        req: Request<GetDomainInfoRequest>,
    ) -> R<GetDomainInfoResponse> {
        let (h, i) = on_domain!(self, req, |d, l| d.domain_info(&l));
        Ok(Response::new(GetDomainInfoResponse {
            domain: Some(domain(&h)),
            info: Some(info(&i)),
        }))
    }

    async fn get_domain_state(
        &self,
        req: Request<GetDomainStateRequest>,
    ) -> R<GetDomainStateResponse> {
        let f = req.get_ref().flags;
        let (h, s) = on_domain!(self, req, |d, l| d.domain_state(&l, f));
        Ok(Response::new(GetDomainStateResponse {
            domain: Some(domain(&h)),
            state: Some(state(s)),
        }))
    }

    async fn get_domain_xml(&self, req: Request<GetDomainXmlRequest>) -> R<GetDomainXmlResponse> {
        let f = req.get_ref().flags;
        if f & 1 != 0 && is_read_only(&req) {
            return Err(status(&VirtError::new(
                crate::ErrorCode::OperationDenied,
                crate::ErrorDomain::Domain,
                "virDomainGetXMLDesc with secure flag",
            )));
        }
        let xml = on_domain!(self, req, |d, l| d.domain_xml(&l, f));
        Ok(Response::new(GetDomainXmlResponse { xml }))
    }

    async fn set_domain_memory(
        &self,
        req: Request<SetDomainMemoryRequest>,
    ) -> R<SetDomainMemoryResponse> {
        let (kib, f) = (req.get_ref().memory_kib, req.get_ref().flags);
        on_domain!(self, req, |d, l| d.set_domain_memory(&l, kib, f));
        Ok(Response::new(SetDomainMemoryResponse {}))
    }

    async fn set_domain_vcpus(
        &self,
        req: Request<SetDomainVcpusRequest>,
    ) -> R<SetDomainVcpusResponse> {
        let (n, f) = (req.get_ref().count, req.get_ref().flags);
        on_domain!(self, req, |d, l| d.set_domain_vcpus(&l, n, f));
        Ok(Response::new(SetDomainVcpusResponse {}))
    }

    async fn get_domain_vcpus(
        &self,
        req: Request<GetDomainVcpusRequest>,
    ) -> R<GetDomainVcpusResponse> {
        let f = req.get_ref().flags;
        let count = on_domain!(self, req, |d, l| d.domain_vcpus(&l, f));
        Ok(Response::new(GetDomainVcpusResponse { count }))
    }

    async fn get_memory_parameters(
        &self,
        req: Request<GetMemoryParametersRequest>,
    ) -> R<GetMemoryParametersResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.memory_parameters(&l, f));
        Ok(Response::new(GetMemoryParametersResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_memory_parameters(
        &self,
        req: Request<SetMemoryParametersRequest>,
    ) -> R<SetMemoryParametersResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        require_some(&ps, "virDomainSetMemoryParameters").map_err(|e| status(&e))?;
        on_domain!(self, req, |d, l| d.set_memory_parameters(&l, &ps, f));
        Ok(Response::new(SetMemoryParametersResponse {}))
    }

    async fn get_scheduler_type(
        &self,
        req: Request<GetSchedulerTypeRequest>,
    ) -> R<GetSchedulerTypeResponse> {
        let (scheduler, nparams) = on_domain!(self, req, |d, l| d.scheduler_type(&l));
        Ok(Response::new(GetSchedulerTypeResponse {
            scheduler,
            nparams,
        }))
    }

    async fn get_scheduler_parameters(
        &self,
        req: Request<GetSchedulerParametersRequest>,
    ) -> R<GetSchedulerParametersResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.scheduler_parameters(&l, f));
        Ok(Response::new(GetSchedulerParametersResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_scheduler_parameters(
        &self,
        req: Request<SetSchedulerParametersRequest>,
    ) -> R<SetSchedulerParametersResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        require_some(&ps, "virDomainSetSchedulerParametersFlags").map_err(|e| status(&e))?;
        on_domain!(self, req, |d, l| d.set_scheduler_parameters(&l, &ps, f));
        Ok(Response::new(SetSchedulerParametersResponse {}))
    }

    async fn attach_device(&self, req: Request<AttachDeviceRequest>) -> R<AttachDeviceResponse> {
        let (x, f) = (req.get_ref().xml.clone(), req.get_ref().flags);
        on_domain!(self, req, |d, l| d.attach_device(&l, &x, f));
        Ok(Response::new(AttachDeviceResponse {}))
    }

    async fn detach_device(&self, req: Request<DetachDeviceRequest>) -> R<DetachDeviceResponse> {
        let r = req.get_ref();
        let (x, a, f) = (r.xml.clone(), r.alias.clone(), r.flags);
        let completed = on_domain!(self, req, |d, l| d.detach_device(&l, &x, &a, f));
        Ok(Response::new(DetachDeviceResponse { completed }))
    }

    async fn update_device(&self, req: Request<UpdateDeviceRequest>) -> R<UpdateDeviceResponse> {
        let (x, f) = (req.get_ref().xml.clone(), req.get_ref().flags);
        on_domain!(self, req, |d, l| d.update_device(&l, &x, f));
        Ok(Response::new(UpdateDeviceResponse {}))
    }

    async fn get_autostart(&self, req: Request<GetAutostartRequest>) -> R<GetAutostartResponse> {
        let autostart = on_domain!(self, req, |d, l| d.autostart(&l));
        Ok(Response::new(GetAutostartResponse { autostart }))
    }

    async fn set_autostart(&self, req: Request<SetAutostartRequest>) -> R<SetAutostartResponse> {
        let on = req.get_ref().autostart;
        on_domain!(self, req, |d, l| d.set_autostart(&l, on));
        Ok(Response::new(SetAutostartResponse {}))
    }

    async fn managed_save(&self, req: Request<ManagedSaveRequest>) -> R<ManagedSaveResponse> {
        let f = req.get_ref().flags;
        on_domain!(self, req, |d, l| d.managed_save(&l, f));
        Ok(Response::new(ManagedSaveResponse {}))
    }

    async fn has_managed_save_image(
        &self,
        req: Request<HasManagedSaveImageRequest>,
    ) -> R<HasManagedSaveImageResponse> {
        let has_image = on_domain!(self, req, |d, l| d.has_managed_save_image(&l));
        Ok(Response::new(HasManagedSaveImageResponse { has_image }))
    }

    async fn managed_save_remove(
        &self,
        req: Request<ManagedSaveRemoveRequest>,
    ) -> R<ManagedSaveRemoveResponse> {
        on_domain!(self, req, |d, l| d.managed_save_remove(&l));
        Ok(Response::new(ManagedSaveRemoveResponse {}))
    }

    async fn save_domain(&self, req: Request<SaveDomainRequest>) -> R<SaveDomainResponse> {
        let r = req.get_ref();
        let (p, x, f) = (r.path.clone(), r.xml.clone(), r.flags);
        on_domain!(self, req, |d, l| d.save_domain(&l, &p, &x, f));
        Ok(Response::new(SaveDomainResponse {}))
    }

    async fn restore_domain(&self, req: Request<RestoreDomainRequest>) -> R<RestoreDomainResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let h = d
            .restore_domain(&r.path, &r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(RestoreDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn abort_job(&self, req: Request<AbortJobRequest>) -> R<AbortJobResponse> {
        let f = req.get_ref().flags;
        on_domain!(self, req, |d, l| d.abort_job(&l, f));
        Ok(Response::new(AbortJobResponse {}))
    }

    async fn set_block_threshold(
        &self,
        req: Request<SetBlockThresholdRequest>,
    ) -> R<SetBlockThresholdResponse> {
        let r = req.get_ref();
        let (dev, threshold, f) = (r.dev.clone(), r.threshold, r.flags);
        on_domain!(self, req, |d, l| d
            .set_block_threshold(&l, &dev, threshold, f));
        Ok(Response::new(SetBlockThresholdResponse {}))
    }

    // Domain management group (issue 15).

    async fn get_metadata(&self, req: Request<GetMetadataRequest>) -> R<GetMetadataResponse> {
        let r = req.get_ref();
        let (kind, uri, f) = (r.r#type, r.uri.clone(), r.flags);
        let metadata = on_domain!(self, req, |d, l| d.metadata(&l, kind, &uri, f));
        Ok(Response::new(GetMetadataResponse { metadata }))
    }

    async fn set_metadata(&self, req: Request<SetMetadataRequest>) -> R<SetMetadataResponse> {
        let r = req.get_ref();
        let (kind, m, key, uri, f) = (
            r.r#type,
            r.metadata.clone(),
            r.key.clone(),
            r.uri.clone(),
            r.flags,
        );
        on_domain!(self, req, |d, l| d.set_metadata(
            &l,
            kind,
            m.as_deref(),
            &key,
            &uri,
            f
        ));
        Ok(Response::new(SetMetadataResponse {}))
    }

    async fn rename_domain(&self, req: Request<RenameDomainRequest>) -> R<RenameDomainResponse> {
        let r = req.get_ref();
        let (name, f) = (r.new_name.clone(), r.flags);
        let h = on_domain!(self, req, |d, l| d.rename_domain(&l, &name, f));
        Ok(Response::new(RenameDomainResponse {
            domain: Some(domain(&h)),
        }))
    }

    async fn get_save_image_xml(
        &self,
        req: Request<GetSaveImageXmlRequest>,
    ) -> R<GetSaveImageXmlResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let xml = d
            .save_image_xml(&r.path, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetSaveImageXmlResponse { xml }))
    }

    async fn define_save_image_xml(
        &self,
        req: Request<DefineSaveImageXmlRequest>,
    ) -> R<DefineSaveImageXmlResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        d.define_save_image_xml(&r.path, &r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(DefineSaveImageXmlResponse {}))
    }

    async fn get_managed_save_xml(
        &self,
        req: Request<GetManagedSaveXmlRequest>,
    ) -> R<GetManagedSaveXmlResponse> {
        let f = req.get_ref().flags;
        let xml = on_domain!(self, req, |d, l| d.managed_save_xml(&l, f));
        Ok(Response::new(GetManagedSaveXmlResponse { xml }))
    }

    async fn define_managed_save_xml(
        &self,
        req: Request<DefineManagedSaveXmlRequest>,
    ) -> R<DefineManagedSaveXmlResponse> {
        let r = req.get_ref();
        let (xml, f) = (r.xml.clone(), r.flags);
        on_domain!(self, req, |d, l| d.define_managed_save_xml(&l, &xml, f));
        Ok(Response::new(DefineManagedSaveXmlResponse {}))
    }

    async fn core_dump(&self, req: Request<CoreDumpRequest>) -> R<CoreDumpResponse> {
        let r = req.get_ref();
        let (path, format, f) = (r.path.clone(), r.format, r.flags);
        on_domain!(self, req, |d, l| d.core_dump(&l, &path, format, f));
        Ok(Response::new(CoreDumpResponse {}))
    }

    async fn get_block_info(&self, req: Request<GetBlockInfoRequest>) -> R<GetBlockInfoResponse> {
        let r = req.get_ref();
        let (disk, f) = (r.disk.clone(), r.flags);
        let (capacity, allocation, physical) =
            on_domain!(self, req, |d, l| d.block_info(&l, &disk, f));
        Ok(Response::new(GetBlockInfoResponse {
            capacity,
            allocation,
            physical,
        }))
    }

    async fn get_domain_memory_stats(
        &self,
        req: Request<GetDomainMemoryStatsRequest>,
    ) -> R<GetDomainMemoryStatsResponse> {
        let f = req.get_ref().flags;
        let stats = on_domain!(self, req, |d, l| d.domain_memory_stats(&l, f));
        Ok(Response::new(GetDomainMemoryStatsResponse {
            stats: stats
                .into_iter()
                .map(|(tag, value)| DomainMemoryStat { tag, value })
                .collect(),
        }))
    }
}
