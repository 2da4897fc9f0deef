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

    async fn get_launch_security_info(
        &self,
        req: Request<GetLaunchSecurityInfoRequest>,
    ) -> R<GetLaunchSecurityInfoResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.launch_security_info(&l, f));
        Ok(Response::new(GetLaunchSecurityInfoResponse {
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

    // Devices and consoles group (issue 15).

    type ScreenshotStream = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<ScreenshotResponse, Status>> + Send>,
    >;

    async fn screenshot(&self, req: Request<ScreenshotRequest>) -> R<Self::ScreenshotStream> {
        let (screen, f) = (req.get_ref().screen, req.get_ref().flags);
        let shot = on_domain!(self, req, |d, l| d.screenshot(&l, screen, f));
        let mut messages = vec![ScreenshotResponse {
            mime_type: shot.mime_type,
            data: Vec::new(),
        }];
        messages.extend(
            shot.data
                .chunks(SCREENSHOT_CHUNK)
                .map(|c| ScreenshotResponse {
                    mime_type: String::new(),
                    data: c.to_vec(),
                }),
        );
        Ok(Response::new(Box::pin(futures_util::stream::iter(
            messages.into_iter().map(Ok),
        ))))
    }

    async fn send_key(&self, req: Request<SendKeyRequest>) -> R<SendKeyResponse> {
        let r = req.get_ref();
        let (set, hold, keys, f) = (r.codeset, r.holdtime, r.keycodes.clone(), r.flags);
        on_domain!(self, req, |d, l| d.send_key(&l, set, hold, &keys, f));
        Ok(Response::new(SendKeyResponse {}))
    }

    async fn inject_nmi(&self, req: Request<InjectNmiRequest>) -> R<InjectNmiResponse> {
        let f = req.get_ref().flags;
        on_domain!(self, req, |d, l| d.inject_nmi(&l, f));
        Ok(Response::new(InjectNmiResponse {}))
    }

    async fn send_process_signal(
        &self,
        req: Request<SendProcessSignalRequest>,
    ) -> R<SendProcessSignalResponse> {
        let r = req.get_ref();
        let (pid, sig, f) = (r.pid, r.signum, r.flags);
        on_domain!(self, req, |d, l| d.send_process_signal(&l, pid, sig, f));
        Ok(Response::new(SendProcessSignalResponse {}))
    }

    async fn detach_device_alias(
        &self,
        req: Request<DetachDeviceAliasRequest>,
    ) -> R<DetachDeviceAliasResponse> {
        let (alias, f) = (req.get_ref().alias.clone(), req.get_ref().flags);
        if alias.is_empty() {
            return Err(status(&VirtError::new(
                crate::error::ErrorCode::InvalidArg,
                crate::error::ErrorDomain::Domain,
                "alias in virDomainDetachDeviceAlias must not be empty",
            )));
        }
        let completed = on_domain!(self, req, |d, l| d.detach_device(&l, "", &alias, f));
        Ok(Response::new(DetachDeviceAliasResponse { completed }))
    }

    // Block jobs (issue 15, qemu group).

    async fn block_pull(&self, req: Request<BlockPullRequest>) -> R<BlockPullResponse> {
        let r = req.get_ref();
        let (disk, bw, f) = (r.disk.clone(), r.bandwidth, r.flags);
        on_domain!(self, req, |d, l| d.block_pull(&l, &disk, bw, f));
        Ok(Response::new(BlockPullResponse {}))
    }

    async fn block_rebase(&self, req: Request<BlockRebaseRequest>) -> R<BlockRebaseResponse> {
        let r = req.get_ref();
        let (disk, base, bw, f) = (r.disk.clone(), r.base.clone(), r.bandwidth, r.flags);
        on_domain!(self, req, |d, l| d.block_rebase(&l, &disk, &base, bw, f));
        Ok(Response::new(BlockRebaseResponse {}))
    }

    async fn block_commit(&self, req: Request<BlockCommitRequest>) -> R<BlockCommitResponse> {
        let r = req.get_ref();
        let (disk, base, top, bw, f) = (
            r.disk.clone(),
            r.base.clone(),
            r.top.clone(),
            r.bandwidth,
            r.flags,
        );
        on_domain!(self, req, |d, l| d
            .block_commit(&l, &disk, &base, &top, bw, f));
        Ok(Response::new(BlockCommitResponse {}))
    }

    async fn block_copy(&self, req: Request<BlockCopyRequest>) -> R<BlockCopyResponse> {
        let r = req.get_ref();
        let params = params_from(&r.params)?;
        let (disk, xml, f) = (r.disk.clone(), r.dest_xml.clone(), r.flags);
        on_domain!(self, req, |d, l| d.block_copy(&l, &disk, &xml, &params, f));
        Ok(Response::new(BlockCopyResponse {}))
    }

    async fn get_block_job_info(
        &self,
        req: Request<GetBlockJobInfoRequest>,
    ) -> R<GetBlockJobInfoResponse> {
        let r = req.get_ref();
        let (disk, f) = (r.disk.clone(), r.flags);
        let info = on_domain!(self, req, |d, l| d.block_job_info(&l, &disk, f));
        Ok(Response::new(match info {
            None => GetBlockJobInfoResponse::default(),
            Some(i) => GetBlockJobInfoResponse {
                found: true,
                job_type: i.job_type,
                bandwidth: i.bandwidth,
                cur: i.cur,
                end: i.end,
            },
        }))
    }

    async fn block_job_abort(
        &self,
        req: Request<BlockJobAbortRequest>,
    ) -> R<BlockJobAbortResponse> {
        let r = req.get_ref();
        let (disk, f) = (r.disk.clone(), r.flags);
        on_domain!(self, req, |d, l| d.block_job_abort(&l, &disk, f));
        Ok(Response::new(BlockJobAbortResponse {}))
    }

    async fn block_job_set_speed(
        &self,
        req: Request<BlockJobSetSpeedRequest>,
    ) -> R<BlockJobSetSpeedResponse> {
        let r = req.get_ref();
        let (disk, bw, f) = (r.disk.clone(), r.bandwidth, r.flags);
        on_domain!(self, req, |d, l| d.block_job_set_speed(&l, &disk, bw, f));
        Ok(Response::new(BlockJobSetSpeedResponse {}))
    }

    async fn block_resize(&self, req: Request<BlockResizeRequest>) -> R<BlockResizeResponse> {
        let r = req.get_ref();
        let (disk, size, f) = (r.disk.clone(), r.size, r.flags);
        on_domain!(self, req, |d, l| d.block_resize(&l, &disk, size, f));
        Ok(Response::new(BlockResizeResponse {}))
    }

    // --- Tuning, vCPU and IOThread calls (issue 15, group "tune") ---

    async fn get_blkio_parameters(
        &self,
        req: Request<GetBlkioParametersRequest>,
    ) -> R<GetBlkioParametersResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.blkio_parameters(&l, f));
        Ok(Response::new(GetBlkioParametersResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_blkio_parameters(
        &self,
        req: Request<SetBlkioParametersRequest>,
    ) -> R<SetBlkioParametersResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        on_domain!(self, req, |d, l| d.set_blkio_parameters(&l, &ps, f));
        Ok(Response::new(SetBlkioParametersResponse {}))
    }

    async fn get_numa_parameters(
        &self,
        req: Request<GetNumaParametersRequest>,
    ) -> R<GetNumaParametersResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.numa_parameters(&l, f));
        Ok(Response::new(GetNumaParametersResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_numa_parameters(
        &self,
        req: Request<SetNumaParametersRequest>,
    ) -> R<SetNumaParametersResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        on_domain!(self, req, |d, l| d.set_numa_parameters(&l, &ps, f));
        Ok(Response::new(SetNumaParametersResponse {}))
    }

    async fn get_interface_parameters(
        &self,
        req: Request<GetInterfaceParametersRequest>,
    ) -> R<GetInterfaceParametersResponse> {
        let f = req.get_ref().flags;
        let dev = req.get_ref().device.clone();
        let ps = on_domain!(self, req, |d, l| d.interface_parameters(&l, &dev, f));
        Ok(Response::new(GetInterfaceParametersResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_interface_parameters(
        &self,
        req: Request<SetInterfaceParametersRequest>,
    ) -> R<SetInterfaceParametersResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        let dev = req.get_ref().device.clone();
        on_domain!(self, req, |d, l| d
            .set_interface_parameters(&l, &dev, &ps, f));
        Ok(Response::new(SetInterfaceParametersResponse {}))
    }

    async fn get_block_io_tune(
        &self,
        req: Request<GetBlockIoTuneRequest>,
    ) -> R<GetBlockIoTuneResponse> {
        let f = req.get_ref().flags;
        let dev = req.get_ref().device.clone();
        let ps = on_domain!(self, req, |d, l| d.block_io_tune(&l, &dev, f));
        Ok(Response::new(GetBlockIoTuneResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_block_io_tune(
        &self,
        req: Request<SetBlockIoTuneRequest>,
    ) -> R<SetBlockIoTuneResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        let dev = req.get_ref().device.clone();
        on_domain!(self, req, |d, l| d.set_block_io_tune(&l, &dev, &ps, f));
        Ok(Response::new(SetBlockIoTuneResponse {}))
    }

    async fn get_perf_events(
        &self,
        req: Request<GetPerfEventsRequest>,
    ) -> R<GetPerfEventsResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.perf_events(&l, f));
        Ok(Response::new(GetPerfEventsResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_perf_events(
        &self,
        req: Request<SetPerfEventsRequest>,
    ) -> R<SetPerfEventsResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        on_domain!(self, req, |d, l| d.set_perf_events(&l, &ps, f));
        Ok(Response::new(SetPerfEventsResponse {}))
    }

    async fn set_lifecycle_action(
        &self,
        req: Request<SetLifecycleActionRequest>,
    ) -> R<SetLifecycleActionResponse> {
        let r = req.get_ref();
        let (t, a, f) = (r.r#type, r.action, r.flags);
        on_domain!(self, req, |d, l| d.set_lifecycle_action(&l, t, a, f));
        Ok(Response::new(SetLifecycleActionResponse {}))
    }

    async fn get_domain_cpu_stats(
        &self,
        req: Request<GetDomainCpuStatsRequest>,
    ) -> R<GetDomainCpuStatsResponse> {
        let r = req.get_ref();
        let (start, n, f) = (r.start_cpu, r.ncpus, r.flags);
        let (total_cpus, recs) = on_domain!(self, req, |d, l| d.domain_cpu_stats(&l, start, n, f));
        Ok(Response::new(GetDomainCpuStatsResponse {
            total_cpus,
            records: recs
                .iter()
                .map(|ps| DomainCpuStatsRecord {
                    params: ps.iter().map(param).collect(),
                })
                .collect(),
        }))
    }

    async fn get_vcpu_info(&self, req: Request<GetVcpuInfoRequest>) -> R<GetVcpuInfoResponse> {
        let vs = on_domain!(self, req, |d, l| d.vcpu_info(&l));
        Ok(Response::new(GetVcpuInfoResponse {
            vcpus: vs
                .into_iter()
                .map(|v| VcpuInfo {
                    number: v.number,
                    state: v.state,
                    cpu_time: v.cpu_time,
                    cpu: v.cpu,
                    cpumap: v.cpumap,
                })
                .collect(),
        }))
    }

    async fn get_vcpu_pin_info(
        &self,
        req: Request<GetVcpuPinInfoRequest>,
    ) -> R<GetVcpuPinInfoResponse> {
        let f = req.get_ref().flags;
        let cpumaps = on_domain!(self, req, |d, l| d.vcpu_pin_info(&l, f));
        Ok(Response::new(GetVcpuPinInfoResponse { cpumaps }))
    }

    async fn pin_vcpu(&self, req: Request<PinVcpuRequest>) -> R<PinVcpuResponse> {
        let r = req.get_ref();
        let (v, m, f) = (r.vcpu, r.cpumap.clone(), r.flags);
        on_domain!(self, req, |d, l| d.pin_vcpu(&l, v, &m, f));
        Ok(Response::new(PinVcpuResponse {}))
    }

    async fn get_emulator_pin_info(
        &self,
        req: Request<GetEmulatorPinInfoRequest>,
    ) -> R<GetEmulatorPinInfoResponse> {
        let f = req.get_ref().flags;
        let cpumap = on_domain!(self, req, |d, l| d.emulator_pin_info(&l, f));
        Ok(Response::new(GetEmulatorPinInfoResponse { cpumap }))
    }

    async fn pin_emulator(&self, req: Request<PinEmulatorRequest>) -> R<PinEmulatorResponse> {
        let r = req.get_ref();
        let (m, f) = (r.cpumap.clone(), r.flags);
        on_domain!(self, req, |d, l| d.pin_emulator(&l, &m, f));
        Ok(Response::new(PinEmulatorResponse {}))
    }

    async fn get_io_thread_info(
        &self,
        req: Request<GetIoThreadInfoRequest>,
    ) -> R<GetIoThreadInfoResponse> {
        let f = req.get_ref().flags;
        let ts = on_domain!(self, req, |d, l| d.iothread_info(&l, f));
        Ok(Response::new(GetIoThreadInfoResponse {
            iothreads: ts
                .into_iter()
                .map(|t| IoThreadInfo {
                    iothread_id: t.id,
                    cpumap: t.cpumap,
                })
                .collect(),
        }))
    }

    async fn pin_io_thread(&self, req: Request<PinIoThreadRequest>) -> R<PinIoThreadResponse> {
        let r = req.get_ref();
        let (id, m, f) = (r.iothread_id, r.cpumap.clone(), r.flags);
        on_domain!(self, req, |d, l| d.pin_iothread(&l, id, &m, f));
        Ok(Response::new(PinIoThreadResponse {}))
    }

    async fn add_io_thread(&self, req: Request<AddIoThreadRequest>) -> R<AddIoThreadResponse> {
        let r = req.get_ref();
        let (id, f) = (r.iothread_id, r.flags);
        on_domain!(self, req, |d, l| d.add_iothread(&l, id, f));
        Ok(Response::new(AddIoThreadResponse {}))
    }

    async fn del_io_thread(&self, req: Request<DelIoThreadRequest>) -> R<DelIoThreadResponse> {
        let r = req.get_ref();
        let (id, f) = (r.iothread_id, r.flags);
        on_domain!(self, req, |d, l| d.del_iothread(&l, id, f));
        Ok(Response::new(DelIoThreadResponse {}))
    }

    async fn set_io_thread_params(
        &self,
        req: Request<SetIoThreadParamsRequest>,
    ) -> R<SetIoThreadParamsResponse> {
        let (ps, f) = (params_from(&req.get_ref().params)?, req.get_ref().flags);
        let id = req.get_ref().iothread_id;
        on_domain!(self, req, |d, l| d.set_iothread_params(&l, id, &ps, f));
        Ok(Response::new(SetIoThreadParamsResponse {}))
    }

    async fn get_guest_vcpus(
        &self,
        req: Request<GetGuestVcpusRequest>,
    ) -> R<GetGuestVcpusResponse> {
        let f = req.get_ref().flags;
        let ps = on_domain!(self, req, |d, l| d.guest_vcpus(&l, f));
        Ok(Response::new(GetGuestVcpusResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn set_guest_vcpus(
        &self,
        req: Request<SetGuestVcpusRequest>,
    ) -> R<SetGuestVcpusResponse> {
        let r = req.get_ref();
        let (m, st, f) = (r.cpumap.clone(), r.state, r.flags);
        on_domain!(self, req, |d, l| d.set_guest_vcpus(&l, &m, st, f));
        Ok(Response::new(SetGuestVcpusResponse {}))
    }

    async fn set_vcpu(&self, req: Request<SetVcpuRequest>) -> R<SetVcpuResponse> {
        let r = req.get_ref();
        let (m, st, f) = (r.vcpumap.clone(), r.state, r.flags);
        on_domain!(self, req, |d, l| d.set_vcpu(&l, &m, st, f));
        Ok(Response::new(SetVcpuResponse {}))
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

    // libvirt-qemu (issue 15): the monitor passthrough and its events.

    async fn qemu_monitor_command(
        &self,
        req: Request<QemuMonitorCommandRequest>,
    ) -> R<QemuMonitorCommandResponse> {
        let (command, f) = (req.get_ref().command.clone(), req.get_ref().flags);
        let result = on_domain!(self, req, |d, l| d.qemu_monitor_command(&l, &command, f));
        Ok(Response::new(QemuMonitorCommandResponse { result }))
    }

    type StreamQemuMonitorEventsStream = std::pin::Pin<
        Box<
            dyn futures_util::Stream<Item = Result<StreamQemuMonitorEventsResponse, Status>> + Send,
        >,
    >;

    async fn stream_qemu_monitor_events(
        &self,
        req: Request<StreamQemuMonitorEventsRequest>,
    ) -> R<Self::StreamQemuMonitorEventsStream> {
        use tokio::sync::broadcast::error::RecvError;
        let d = self.driver(&req)?;
        let r = req.into_inner();
        let mut rx = d
            .subscribe_qemu_monitor_events()
            .await
            .map_err(|e| status(&e))?;
        let names = crate::kit::qemu_monitor::EventFilter::new(
            &r.event,
            r.flags,
            crate::ErrorDomain::Qemu,
            "qemuConnectDomainQemuMonitorEventRegister",
        )
        .map_err(|e| status(&e))?;
        // A domain filter names an existing domain (libvirt registers with a domain object).
        let only = match r.domain.as_ref().filter(|d| d.r#ref.is_some()) {
            None => None,
            Some(dr) => Some(
                d.lookup_domain(&lookup(Some(dr))?)
                    .await
                    .map_err(|e| status(&e))?
                    .uuid,
            ),
        };
        let stream = super::events::async_stream(move |tx| async move {
            loop {
                let e = tokio::select! {
                    _ = tx.closed() => break,
                    e = rx.recv() => e,
                };
                let e = match e {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "qemu monitor event stream fell behind");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                if only.is_some_and(|u| u != e.domain.uuid) || !names.matches(&e.event) {
                    continue;
                }
                let msg = StreamQemuMonitorEventsResponse {
                    event: Some(QemuMonitorEvent {
                        domain: Some(domain(&e.domain)),
                        event: e.event,
                        seconds: e.seconds,
                        micros: e.micros,
                        details: e.details,
                    }),
                };
                if tx.send(Ok(msg)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn get_job_info(&self, req: Request<GetJobInfoRequest>) -> R<GetJobInfoResponse> {
        let j = on_domain!(self, req, |d, l| d.job_info(&l));
        Ok(Response::new(GetJobInfoResponse {
            r#type: j.kind,
            time_elapsed: j.time_elapsed,
            time_remaining: j.time_remaining,
            data_total: j.data_total,
            data_processed: j.data_processed,
            data_remaining: j.data_remaining,
            mem_total: j.mem_total,
            mem_processed: j.mem_processed,
            mem_remaining: j.mem_remaining,
            file_total: j.file_total,
            file_processed: j.file_processed,
            file_remaining: j.file_remaining,
        }))
    }

    async fn get_job_stats(&self, req: Request<GetJobStatsRequest>) -> R<GetJobStatsResponse> {
        let f = req.get_ref().flags;
        let (kind, ps) = on_domain!(self, req, |d, l| d.job_stats(&l, f));
        Ok(Response::new(GetJobStatsResponse {
            r#type: kind,
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn pm_suspend_for_duration(
        &self,
        req: Request<PmSuspendForDurationRequest>,
    ) -> R<PmSuspendForDurationResponse> {
        let r = req.get_ref();
        let (t, dur, f) = (r.target, r.duration, r.flags);
        on_domain!(self, req, |d, l| d.pm_suspend(&l, t, dur, f));
        Ok(Response::new(PmSuspendForDurationResponse {}))
    }

    async fn pm_wakeup(&self, req: Request<PmWakeupRequest>) -> R<PmWakeupResponse> {
        let f = req.get_ref().flags;
        on_domain!(self, req, |d, l| d.pm_wakeup(&l, f));
        Ok(Response::new(PmWakeupResponse {}))
    }

    async fn set_memory_stats_period(
        &self,
        req: Request<SetMemoryStatsPeriodRequest>,
    ) -> R<SetMemoryStatsPeriodResponse> {
        let r = req.get_ref();
        let (period, f) = (r.period, r.flags);
        on_domain!(self, req, |d, l| d.set_memory_stats_period(&l, period, f));
        Ok(Response::new(SetMemoryStatsPeriodResponse {}))
    }
}

/// Bytes per message of a screenshot stream.
const SCREENSHOT_CHUNK: usize = 256 * 1024;
