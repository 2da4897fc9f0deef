//! ConnectService: versions, host facts, capabilities and the daemon's own `Info`.

use tonic::{Request, Response, Status};

use super::{status, Ctx};
use crate::proto::connect_service_server::ConnectService;
use crate::proto::*;

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ConnectService for Ctx {
    async fn get_version(&self, req: Request<GetVersionRequest>) -> R<GetVersionResponse> {
        let v = self.driver(&req)?.version().await.map_err(|e| status(&e))?;
        Ok(Response::new(GetVersionResponse {
            hypervisor_type: v.hypervisor_type,
            hypervisor_version: v.hypervisor_version,
            lib_version: v.lib_version,
        }))
    }

    async fn get_hostname(&self, req: Request<GetHostnameRequest>) -> R<GetHostnameResponse> {
        let hostname = self
            .driver(&req)?
            .hostname()
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetHostnameResponse { hostname }))
    }

    async fn get_uri(&self, req: Request<GetUriRequest>) -> R<GetUriResponse> {
        let uri = self.driver(&req)?.uri();
        Ok(Response::new(GetUriResponse { uri }))
    }

    async fn get_capabilities(
        &self,
        req: Request<GetCapabilitiesRequest>,
    ) -> R<GetCapabilitiesResponse> {
        let xml = self
            .driver(&req)?
            .capabilities()
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetCapabilitiesResponse { xml }))
    }

    async fn get_domain_capabilities(
        &self,
        req: Request<GetDomainCapabilitiesRequest>,
    ) -> R<GetDomainCapabilitiesResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let xml = d
            .domain_capabilities(&r.emulator_bin, &r.arch, &r.machine, &r.virt_type, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetDomainCapabilitiesResponse { xml }))
    }

    async fn get_node_info(&self, req: Request<GetNodeInfoRequest>) -> R<GetNodeInfoResponse> {
        let n = self
            .driver(&req)?
            .node_info()
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetNodeInfoResponse {
            model: n.model,
            memory_kib: n.memory_kib,
            cpus: n.cpus,
            mhz: n.mhz,
            nodes: n.nodes,
            sockets: n.sockets,
            cores: n.cores,
            threads: n.threads,
        }))
    }

    async fn get_max_vcpus(&self, req: Request<GetMaxVcpusRequest>) -> R<GetMaxVcpusResponse> {
        let d = self.driver(&req)?;
        let max_vcpus = d
            .max_vcpus(&req.get_ref().virt_type)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetMaxVcpusResponse { max_vcpus }))
    }

    async fn get_security_model(
        &self,
        req: Request<GetSecurityModelRequest>,
    ) -> R<GetSecurityModelResponse> {
        let (model, doi) = self
            .driver(&req)?
            .security_model()
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetSecurityModelResponse { model, doi }))
    }

    async fn domain_xml_to_native(
        &self,
        req: Request<DomainXmlToNativeRequest>,
    ) -> R<DomainXmlToNativeResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let native_config = d
            .domain_xml_to_native(&r.native_format, &r.domain_xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(DomainXmlToNativeResponse { native_config }))
    }

    async fn domain_xml_from_native(
        &self,
        req: Request<DomainXmlFromNativeRequest>,
    ) -> R<DomainXmlFromNativeResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let domain_xml = d
            .domain_xml_from_native(&r.native_format, &r.native_config, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(DomainXmlFromNativeResponse { domain_xml }))
    }

    async fn info(&self, _req: Request<InfoRequest>) -> R<InfoResponse> {
        let i = self.registry.daemon_info();
        Ok(Response::new(InfoResponse {
            daemon: self.daemon.to_string(),
            driver: i.driver,
            daemon_version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: "virt.v1".into(),
            features: i.features,
            schemes: i.schemes,
            backends: Vec::new(),
        }))
    }

    // Host and Hypervisor group (issue 15).

    async fn get_sysinfo(&self, req: Request<GetSysinfoRequest>) -> R<GetSysinfoResponse> {
        let d = self.driver(&req)?;
        let xml = d
            .sysinfo(req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetSysinfoResponse { xml }))
    }

    async fn get_cells_free_memory(
        &self,
        req: Request<GetCellsFreeMemoryRequest>,
    ) -> R<GetCellsFreeMemoryResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        // The public API's argument checks (libvirt.c), before any driver.
        let api = "virNodeGetCellsFreeMemory";
        let invalid = |detail: String| {
            status(&crate::error::VirtError::new(
                crate::error::ErrorCode::InvalidArg,
                crate::error::ErrorDomain::None,
                detail,
            ))
        };
        if r.max_cells <= 0 {
            return Err(invalid(format!(
                "maxCells in {api} must be greater than zero"
            )));
        }
        if r.start_cell < 0 {
            return Err(invalid(format!(
                "startCell in {api} must be zero or greater"
            )));
        }
        let free_bytes = d
            .cells_free_memory(r.start_cell, r.max_cells)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetCellsFreeMemoryResponse { free_bytes }))
    }

    async fn get_free_memory(
        &self,
        req: Request<GetFreeMemoryRequest>,
    ) -> R<GetFreeMemoryResponse> {
        let free_bytes = self
            .driver(&req)?
            .free_memory()
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetFreeMemoryResponse { free_bytes }))
    }

    async fn get_cpu_map(&self, req: Request<GetCpuMapRequest>) -> R<GetCpuMapResponse> {
        let d = self.driver(&req)?;
        let online = d
            .cpu_map(req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetCpuMapResponse {
            present: online.len() as u32,
            online,
        }))
    }

    async fn get_cpu_stats(&self, req: Request<GetCpuStatsRequest>) -> R<GetCpuStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let stats = d
            .cpu_stats(r.cpu, r.flags)
            .await
            .map_err(|e| status(&e))?
            .into_iter()
            .map(|(field, value)| NodeCpuStat { field, value })
            .collect();
        Ok(Response::new(GetCpuStatsResponse { stats }))
    }

    async fn get_memory_stats(
        &self,
        req: Request<GetMemoryStatsRequest>,
    ) -> R<GetMemoryStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let stats = d
            .memory_stats(r.cell, r.flags)
            .await
            .map_err(|e| status(&e))?
            .into_iter()
            .map(|(field, value)| NodeMemoryStat { field, value })
            .collect();
        Ok(Response::new(GetMemoryStatsResponse { stats }))
    }

    // CPU models and host memory (issue 15, cpu helper).

    async fn get_cpu_model_names(
        &self,
        req: Request<GetCpuModelNamesRequest>,
    ) -> R<GetCpuModelNamesResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let models = d
            .cpu_model_names(&r.arch, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetCpuModelNamesResponse { models }))
    }

    async fn compare_cpu(&self, req: Request<CompareCpuRequest>) -> R<CompareCpuResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let result = d
            .compare_cpu(&r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CompareCpuResponse { result }))
    }

    async fn baseline_cpu(&self, req: Request<BaselineCpuRequest>) -> R<BaselineCpuResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let xml = d
            .baseline_cpu(&r.xml_cpus, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(BaselineCpuResponse { xml }))
    }

    async fn compare_hypervisor_cpu(
        &self,
        req: Request<CompareHypervisorCpuRequest>,
    ) -> R<CompareHypervisorCpuResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let target = cpu_target(&r.emulator, &r.arch, &r.machine, &r.virttype);
        let result = d
            .compare_hypervisor_cpu(&target, &r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CompareHypervisorCpuResponse { result }))
    }

    async fn baseline_hypervisor_cpu(
        &self,
        req: Request<BaselineHypervisorCpuRequest>,
    ) -> R<BaselineHypervisorCpuResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let target = cpu_target(&r.emulator, &r.arch, &r.machine, &r.virttype);
        let xml = d
            .baseline_hypervisor_cpu(&target, &r.xml_cpus, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(BaselineHypervisorCpuResponse { xml }))
    }

    async fn get_free_pages(&self, req: Request<GetFreePagesRequest>) -> R<GetFreePagesResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let counts = d
            .free_pages(&r.pages, r.start_cell, r.cell_count, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetFreePagesResponse { counts }))
    }

    async fn alloc_pages(&self, req: Request<AllocPagesRequest>) -> R<AllocPagesResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let count = d
            .alloc_pages(
                &r.page_sizes,
                &r.page_counts,
                r.start_cell,
                r.cell_count,
                r.flags,
            )
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(AllocPagesResponse { count }))
    }

    async fn get_node_memory_parameters(
        &self,
        req: Request<GetNodeMemoryParametersRequest>,
    ) -> R<GetNodeMemoryParametersResponse> {
        let d = self.driver(&req)?;
        let params = d
            .node_memory_parameters(req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetNodeMemoryParametersResponse {
            params: params.iter().map(crate::proto_conv::param).collect(),
        }))
    }

    async fn set_node_memory_parameters(
        &self,
        req: Request<SetNodeMemoryParametersRequest>,
    ) -> R<SetNodeMemoryParametersResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let params = crate::proto_conv::params_from(&r.params)?;
        d.set_node_memory_parameters(&params, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SetNodeMemoryParametersResponse {}))
    }

    async fn suspend_for_duration(
        &self,
        req: Request<SuspendForDurationRequest>,
    ) -> R<SuspendForDurationResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        d.suspend_for_duration(r.target, r.duration, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(SuspendForDurationResponse {}))
    }

    async fn get_sev_info(&self, req: Request<GetSevInfoRequest>) -> R<GetSevInfoResponse> {
        let d = self.driver(&req)?;
        let params = d
            .sev_info(req.get_ref().flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetSevInfoResponse {
            params: params.iter().map(crate::proto_conv::param).collect(),
        }))
    }
}

/// The hypervisor of a CPU request; empty strings are left out, as libvirt's NULLs.
fn cpu_target(
    emulator: &str,
    arch: &str,
    machine: &str,
    virttype: &str,
) -> crate::driver::CpuTarget {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    crate::driver::CpuTarget {
        emulator: opt(emulator),
        arch: opt(arch),
        machine: opt(machine),
        virttype: opt(virttype),
    }
}
