//! A stub `ConnectService` for the embedded channel's and the runtime's tests: it reports the
//! caller's [`ConnectionInfo`](crate::readonly::ConnectionInfo) and can be slow on purpose.

use std::time::Duration;

use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::proto::connect_service_server::{ConnectService, ConnectServiceServer};
use crate::proto::*;

/// The stub. GetVersion answers `read_only=BOOL` as hypervisor type; GetHostname sleeps for
/// `slow` first; GetDomainCapabilities (a write on the allowlist's terms) answers a fixed
/// document; the rest are UNIMPLEMENTED.
#[derive(Clone, Debug, Default)]
pub struct StubConnect {
    /// How long GetHostname takes.
    pub slow: Duration,
}

/// Routes holding only the stub.
pub fn stub_routes(stub: StubConnect) -> Routes {
    Routes::new(ConnectServiceServer::new(stub))
}

type Res<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ConnectService for StubConnect {
    async fn get_version(&self, req: Request<GetVersionRequest>) -> Res<GetVersionResponse> {
        let info = req
            .extensions()
            .get::<crate::readonly::ConnectionInfo>()
            .copied();
        let Some(info) = info else {
            return Err(Status::internal("no ConnectionInfo in the request"));
        };
        Ok(Response::new(GetVersionResponse {
            hypervisor_type: format!("read_only={}", info.read_only),
            ..Default::default()
        }))
    }
    async fn get_hostname(&self, _: Request<GetHostnameRequest>) -> Res<GetHostnameResponse> {
        tokio::time::sleep(self.slow).await;
        Ok(Response::new(GetHostnameResponse {
            hostname: "slow".into(),
        }))
    }
    async fn get_uri(&self, _: Request<GetUriRequest>) -> Res<GetUriResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_capabilities(
        &self,
        _: Request<GetCapabilitiesRequest>,
    ) -> Res<GetCapabilitiesResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_domain_capabilities(
        &self,
        _: Request<GetDomainCapabilitiesRequest>,
    ) -> Res<GetDomainCapabilitiesResponse> {
        Ok(Response::new(GetDomainCapabilitiesResponse {
            xml: "<domainCapabilities/>".into(),
        }))
    }
    async fn get_node_info(&self, _: Request<GetNodeInfoRequest>) -> Res<GetNodeInfoResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_max_vcpus(&self, _: Request<GetMaxVcpusRequest>) -> Res<GetMaxVcpusResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_sysinfo(&self, _: Request<GetSysinfoRequest>) -> Res<GetSysinfoResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_cells_free_memory(
        &self,
        _: Request<GetCellsFreeMemoryRequest>,
    ) -> Res<GetCellsFreeMemoryResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_free_memory(
        &self,
        _: Request<GetFreeMemoryRequest>,
    ) -> Res<GetFreeMemoryResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_cpu_map(&self, _: Request<GetCpuMapRequest>) -> Res<GetCpuMapResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_cpu_stats(&self, _: Request<GetCpuStatsRequest>) -> Res<GetCpuStatsResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_memory_stats(
        &self,
        _: Request<GetMemoryStatsRequest>,
    ) -> Res<GetMemoryStatsResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_cpu_model_names(
        &self,
        _: Request<GetCpuModelNamesRequest>,
    ) -> Res<GetCpuModelNamesResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn compare_cpu(&self, _: Request<CompareCpuRequest>) -> Res<CompareCpuResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn baseline_cpu(&self, _: Request<BaselineCpuRequest>) -> Res<BaselineCpuResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn compare_hypervisor_cpu(
        &self,
        _: Request<CompareHypervisorCpuRequest>,
    ) -> Res<CompareHypervisorCpuResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn baseline_hypervisor_cpu(
        &self,
        _: Request<BaselineHypervisorCpuRequest>,
    ) -> Res<BaselineHypervisorCpuResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_free_pages(&self, _: Request<GetFreePagesRequest>) -> Res<GetFreePagesResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn alloc_pages(&self, _: Request<AllocPagesRequest>) -> Res<AllocPagesResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_node_memory_parameters(
        &self,
        _: Request<GetNodeMemoryParametersRequest>,
    ) -> Res<GetNodeMemoryParametersResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn set_node_memory_parameters(
        &self,
        _: Request<SetNodeMemoryParametersRequest>,
    ) -> Res<SetNodeMemoryParametersResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn suspend_for_duration(
        &self,
        _: Request<SuspendForDurationRequest>,
    ) -> Res<SuspendForDurationResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_sev_info(&self, _: Request<GetSevInfoRequest>) -> Res<GetSevInfoResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn get_security_model(
        &self,
        _: Request<GetSecurityModelRequest>,
    ) -> Res<GetSecurityModelResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn domain_xml_to_native(
        &self,
        _: Request<DomainXmlToNativeRequest>,
    ) -> Res<DomainXmlToNativeResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn domain_xml_from_native(
        &self,
        _: Request<DomainXmlFromNativeRequest>,
    ) -> Res<DomainXmlFromNativeResponse> {
        Err(Status::unimplemented("stub"))
    }
    async fn info(&self, _: Request<InfoRequest>) -> Res<InfoResponse> {
        Err(Status::unimplemented("stub"))
    }
}
