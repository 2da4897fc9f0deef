//! Connection-level calls of [`Connection`]: versions, hostname, URI, capabilities, node facts,
//! security model and the daemon's self-description (ConnectService).

use virt_core::proto;

use crate::connection::Connection;
use crate::error::ClientError;

impl Connection {
    /// Hypervisor type and versions. libvirt: virConnectGetType / GetVersion / GetLibVersion.
    pub async fn version(&self) -> Result<proto::GetVersionResponse, ClientError> {
        let req = proto::GetVersionRequest {};
        Ok(self.connect_client().get_version(req).await?.into_inner())
    }

    /// The host's hostname. libvirt: virConnectGetHostname.
    pub async fn hostname(&self) -> Result<String, ClientError> {
        let req = proto::GetHostnameRequest {};
        Ok(self
            .connect_client()
            .get_hostname(req)
            .await?
            .into_inner()
            .hostname)
    }

    /// The canonical URI the server opened. libvirt: virConnectGetURI.
    pub async fn uri(&self) -> Result<String, ClientError> {
        let req = proto::GetUriRequest {};
        Ok(self.connect_client().get_uri(req).await?.into_inner().uri)
    }

    /// The `<capabilities>` XML. libvirt: virConnectGetCapabilities.
    pub async fn capabilities(&self) -> Result<String, ClientError> {
        let req = proto::GetCapabilitiesRequest {};
        Ok(self
            .connect_client()
            .get_capabilities(req)
            .await?
            .into_inner()
            .xml)
    }

    /// The `<domainCapabilities>` XML; empty fields let the driver choose.
    /// libvirt: virConnectGetDomainCapabilities.
    pub async fn domain_capabilities(
        &self,
        req: proto::GetDomainCapabilitiesRequest,
    ) -> Result<String, ClientError> {
        Ok(self
            .connect_client()
            .get_domain_capabilities(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Host CPU and memory facts. libvirt: virNodeGetInfo.
    pub async fn node_info(&self) -> Result<proto::GetNodeInfoResponse, ClientError> {
        let req = proto::GetNodeInfoRequest {};
        Ok(self.connect_client().get_node_info(req).await?.into_inner())
    }

    /// Maximum vCPUs for a virt type (empty: the driver's default). libvirt: virConnectGetMaxVcpus.
    pub async fn max_vcpus(&self, virt_type: &str) -> Result<u32, ClientError> {
        let req = proto::GetMaxVcpusRequest {
            virt_type: virt_type.to_string(),
        };
        Ok(self
            .connect_client()
            .get_max_vcpus(req)
            .await?
            .into_inner()
            .max_vcpus)
    }

    /// The host's security model; empty model when none. libvirt: virNodeGetSecurityModel.
    pub async fn security_model(&self) -> Result<proto::GetSecurityModelResponse, ClientError> {
        let req = proto::GetSecurityModelRequest {};
        Ok(self
            .connect_client()
            .get_security_model(req)
            .await?
            .into_inner())
    }

    /// The native configuration of `xml` in `format` (`qemu-argv`: the QEMU command line a
    /// start would run), defining nothing. libvirt: virConnectDomainXMLToNative.
    pub async fn domain_xml_to_native(
        &self,
        format: &str,
        xml: &str,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::DomainXmlToNativeRequest {
            native_format: format.to_string(),
            domain_xml: xml.to_string(),
            flags,
        };
        Ok(self
            .connect_client()
            .domain_xml_to_native(req)
            .await?
            .into_inner()
            .native_config)
    }

    /// The domain XML of the native configuration `config` in `format` (`xen-xl`, `xen-xm`),
    /// defining nothing. libvirt: virConnectDomainXMLFromNative.
    pub async fn domain_xml_from_native(
        &self,
        format: &str,
        config: &str,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::DomainXmlFromNativeRequest {
            native_format: format.to_string(),
            native_config: config.to_string(),
            flags,
        };
        Ok(self
            .connect_client()
            .domain_xml_from_native(req)
            .await?
            .into_inner()
            .domain_xml)
    }

    /// What the serving daemon is: name, driver, versions, features.
    pub async fn info(&self) -> Result<proto::InfoResponse, ClientError> {
        let req = proto::InfoRequest {};
        Ok(self.connect_client().info(req).await?.into_inner())
    }

    // Host and Hypervisor group (issue 15).

    /// The host's `<sysinfo>` XML. libvirt: virConnectGetSysinfo.
    pub async fn sysinfo(&self, flags: u32) -> Result<String, ClientError> {
        let req = proto::GetSysinfoRequest { flags };
        Ok(self
            .connect_client()
            .get_sysinfo(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Free bytes of NUMA cells `start_cell`.. (at most `max_cells`).
    /// libvirt: virNodeGetCellsFreeMemory.
    pub async fn cells_free_memory(
        &self,
        start_cell: i32,
        max_cells: i32,
    ) -> Result<Vec<u64>, ClientError> {
        let req = proto::GetCellsFreeMemoryRequest {
            start_cell,
            max_cells,
        };
        Ok(self
            .connect_client()
            .get_cells_free_memory(req)
            .await?
            .into_inner()
            .free_bytes)
    }

    /// Free bytes of the host. libvirt: virNodeGetFreeMemory.
    pub async fn free_memory(&self) -> Result<u64, ClientError> {
        let req = proto::GetFreeMemoryRequest {};
        Ok(self
            .connect_client()
            .get_free_memory(req)
            .await?
            .into_inner()
            .free_bytes)
    }

    /// The online flag of each present host CPU. libvirt: virNodeGetCPUMap.
    pub async fn cpu_map(&self, flags: u32) -> Result<Vec<bool>, ClientError> {
        let req = proto::GetCpuMapRequest { flags };
        Ok(self
            .connect_client()
            .get_cpu_map(req)
            .await?
            .into_inner()
            .online)
    }

    /// Host CPU time counters of `cpu` (-1: all). libvirt: virNodeGetCPUStats.
    pub async fn cpu_stats(
        &self,
        cpu: i32,
        flags: u32,
    ) -> Result<Vec<proto::NodeCpuStat>, ClientError> {
        let req = proto::GetCpuStatsRequest { cpu, flags };
        Ok(self
            .connect_client()
            .get_cpu_stats(req)
            .await?
            .into_inner()
            .stats)
    }

    /// Host memory counters (KiB) of `cell` (-1: the host). libvirt: virNodeGetMemoryStats.
    pub async fn memory_stats(
        &self,
        cell: i32,
        flags: u32,
    ) -> Result<Vec<proto::NodeMemoryStat>, ClientError> {
        let req = proto::GetMemoryStatsRequest { cell, flags };
        Ok(self
            .connect_client()
            .get_memory_stats(req)
            .await?
            .into_inner()
            .stats)
    }
}
