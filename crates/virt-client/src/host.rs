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

    // CPU models and host memory (issue 15, cpu helper).

    /// CPU model names of libvirt architecture `arch`; empty means any model is accepted.
    /// libvirt: virConnectGetCPUModelNames.
    pub async fn cpu_model_names(
        &self,
        arch: &str,
        flags: u32,
    ) -> Result<Vec<String>, ClientError> {
        let req = proto::GetCpuModelNamesRequest {
            arch: arch.to_string(),
            flags,
        };
        Ok(self
            .connect_client()
            .get_cpu_model_names(req)
            .await?
            .into_inner()
            .models)
    }

    /// Compares `<cpu>` XML with the host CPU: 0 incompatible, 1 identical, 2 superset.
    /// libvirt: virConnectCompareCPU.
    pub async fn compare_cpu(&self, xml: &str, flags: u32) -> Result<i32, ClientError> {
        let req = proto::CompareCpuRequest {
            xml: xml.to_string(),
            flags,
        };
        Ok(self
            .connect_client()
            .compare_cpu(req)
            .await?
            .into_inner()
            .result)
    }

    /// The baseline `<cpu>` of `cpus`. libvirt: virConnectBaselineCPU.
    pub async fn baseline_cpu(&self, cpus: &[String], flags: u32) -> Result<String, ClientError> {
        let req = proto::BaselineCpuRequest {
            xml_cpus: cpus.to_vec(),
            flags,
        };
        Ok(self
            .connect_client()
            .baseline_cpu(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Compares `<cpu>` XML with the CPU the hypervisor offers; `target` is (emulator, arch,
    /// machine, virttype), empty strings for none. libvirt: virConnectCompareHypervisorCPU.
    pub async fn compare_hypervisor_cpu(
        &self,
        target: [&str; 4],
        xml: &str,
        flags: u32,
    ) -> Result<i32, ClientError> {
        let [emulator, arch, machine, virttype] = target.map(str::to_string);
        let req = proto::CompareHypervisorCpuRequest {
            emulator,
            arch,
            machine,
            virttype,
            xml: xml.to_string(),
            flags,
        };
        Ok(self
            .connect_client()
            .compare_hypervisor_cpu(req)
            .await?
            .into_inner()
            .result)
    }

    /// The baseline `<cpu>` of `cpus` for the hypervisor `target` (as in
    /// [`Connection::compare_hypervisor_cpu`]). libvirt: virConnectBaselineHypervisorCPU.
    pub async fn baseline_hypervisor_cpu(
        &self,
        target: [&str; 4],
        cpus: &[String],
        flags: u32,
    ) -> Result<String, ClientError> {
        let [emulator, arch, machine, virttype] = target.map(str::to_string);
        let req = proto::BaselineHypervisorCpuRequest {
            emulator,
            arch,
            machine,
            virttype,
            xml_cpus: cpus.to_vec(),
            flags,
        };
        Ok(self
            .connect_client()
            .baseline_hypervisor_cpu(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Free pages of each size of `pages` (KiB) in `cell_count` cells from `start_cell`,
    /// cell by cell. libvirt: virNodeGetFreePages.
    pub async fn free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>, ClientError> {
        let req = proto::GetFreePagesRequest {
            pages: pages.to_vec(),
            start_cell,
            cell_count,
            flags,
        };
        Ok(self
            .connect_client()
            .get_free_pages(req)
            .await?
            .into_inner()
            .counts)
    }

    /// Sets or grows page pools. libvirt: virNodeAllocPages.
    pub async fn alloc_pages(
        &self,
        page_sizes: &[u32],
        page_counts: &[u64],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<i32, ClientError> {
        let req = proto::AllocPagesRequest {
            page_sizes: page_sizes.to_vec(),
            page_counts: page_counts.to_vec(),
            start_cell,
            cell_count,
            flags,
        };
        Ok(self
            .connect_client()
            .alloc_pages(req)
            .await?
            .into_inner()
            .count)
    }

    /// The host's shared memory tunables. libvirt: virNodeGetMemoryParameters.
    pub async fn node_memory_parameters(
        &self,
        flags: u32,
    ) -> Result<Vec<proto::TypedParameter>, ClientError> {
        let req = proto::GetNodeMemoryParametersRequest { flags };
        Ok(self
            .connect_client()
            .get_node_memory_parameters(req)
            .await?
            .into_inner()
            .params)
    }

    /// Changes the host's shared memory tunables. libvirt: virNodeSetMemoryParameters.
    pub async fn set_node_memory_parameters(
        &self,
        params: Vec<proto::TypedParameter>,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetNodeMemoryParametersRequest { params, flags };
        self.connect_client()
            .set_node_memory_parameters(req)
            .await?;
        Ok(())
    }

    /// Suspends the host for `duration` seconds (`target` 0 mem, 1 disk, 2 hybrid).
    /// libvirt: virNodeSuspendForDuration.
    pub async fn suspend_for_duration(
        &self,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SuspendForDurationRequest {
            target,
            duration,
            flags,
        };
        self.connect_client().suspend_for_duration(req).await?;
        Ok(())
    }

    /// The host's SEV facts. libvirt: virNodeGetSEVInfo.
    pub async fn sev_info(&self, flags: u32) -> Result<Vec<proto::TypedParameter>, ClientError> {
        let req = proto::GetSevInfoRequest { flags };
        Ok(self
            .connect_client()
            .get_sev_info(req)
            .await?
            .into_inner()
            .params)
    }
}
