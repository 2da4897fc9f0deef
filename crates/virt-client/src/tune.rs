//! Tuning, vCPU and IOThread calls of [`Connection`] (issue 15, group "tune"): one method per
//! DomainService RPC, named as the RPC is.

use virt_core::proto;
use virt_core::proto_conv::{param, param_from};
use virt_core::types::{DomainLookup, IoThreadInfo, TypedParam, VcpuInfo};

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

impl Connection {
    /// libvirt: virDomainGetBlkioParameters.
    pub async fn get_blkio_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetBlkioParametersRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_blkio_parameters(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetBlkioParameters.
    pub async fn set_blkio_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetBlkioParametersRequest {
            domain: Some(domain_ref(dom)),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_blkio_parameters(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetNumaParameters.
    pub async fn get_numa_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetNumaParametersRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_numa_parameters(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetNumaParameters.
    pub async fn set_numa_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetNumaParametersRequest {
            domain: Some(domain_ref(dom)),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_numa_parameters(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetInterfaceParameters.
    pub async fn get_interface_parameters(
        &self,
        dom: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetInterfaceParametersRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
            flags,
        };
        let ps = self
            .domain_client()
            .get_interface_parameters(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetInterfaceParameters.
    pub async fn set_interface_parameters(
        &self,
        dom: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetInterfaceParametersRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_interface_parameters(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetBlockIoTune.
    pub async fn get_block_io_tune(
        &self,
        dom: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetBlockIoTuneRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
            flags,
        };
        let ps = self
            .domain_client()
            .get_block_io_tune(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetBlockIoTune.
    pub async fn set_block_io_tune(
        &self,
        dom: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetBlockIoTuneRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_block_io_tune(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetPerfEvents.
    pub async fn get_perf_events(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetPerfEventsRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_perf_events(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetPerfEvents.
    pub async fn set_perf_events(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetPerfEventsRequest {
            domain: Some(domain_ref(dom)),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_perf_events(req).await?;
        Ok(())
    }

    /// libvirt: virDomainSetLifecycleAction.
    pub async fn set_lifecycle_action(
        &self,
        dom: &DomainLookup,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetLifecycleActionRequest {
            domain: Some(domain_ref(dom)),
            r#type: kind,
            action,
            flags,
        };
        self.domain_client().set_lifecycle_action(req).await?;
        Ok(())
    }

    /// How many host CPUs there are and the statistics asked for (`start_cpu` -1: totals).
    /// libvirt: virDomainGetCPUStats.
    pub async fn get_domain_cpu_stats(
        &self,
        dom: &DomainLookup,
        start_cpu: i32,
        ncpus: u32,
        flags: u32,
    ) -> Result<(u32, Vec<Vec<TypedParam>>), ClientError> {
        let req = proto::GetDomainCpuStatsRequest {
            domain: Some(domain_ref(dom)),
            start_cpu,
            ncpus,
            flags,
        };
        let r = self
            .domain_client()
            .get_domain_cpu_stats(req)
            .await?
            .into_inner();
        Ok((
            r.total_cpus,
            r.records
                .iter()
                .map(|rec| rec.params.iter().filter_map(param_from).collect())
                .collect(),
        ))
    }

    /// libvirt: virDomainGetVcpus.
    pub async fn get_vcpu_info(&self, dom: &DomainLookup) -> Result<Vec<VcpuInfo>, ClientError> {
        let req = proto::GetVcpuInfoRequest {
            domain: Some(domain_ref(dom)),
        };
        let r = self.domain_client().get_vcpu_info(req).await?.into_inner();
        Ok(r.vcpus
            .into_iter()
            .map(|v| VcpuInfo {
                number: v.number,
                state: v.state,
                cpu_time: v.cpu_time,
                cpu: v.cpu,
                cpumap: v.cpumap,
            })
            .collect())
    }

    /// libvirt: virDomainGetVcpuPinInfo.
    pub async fn get_vcpu_pin_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let req = proto::GetVcpuPinInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .domain_client()
            .get_vcpu_pin_info(req)
            .await?
            .into_inner()
            .cpumaps)
    }

    /// libvirt: virDomainPinVcpuFlags.
    pub async fn pin_vcpu(
        &self,
        dom: &DomainLookup,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::PinVcpuRequest {
            domain: Some(domain_ref(dom)),
            vcpu,
            cpumap: cpumap.to_vec(),
            flags,
        };
        self.domain_client().pin_vcpu(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetEmulatorPinInfo.
    pub async fn get_emulator_pin_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<u8>, ClientError> {
        let req = proto::GetEmulatorPinInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .domain_client()
            .get_emulator_pin_info(req)
            .await?
            .into_inner()
            .cpumap)
    }

    /// libvirt: virDomainPinEmulator.
    pub async fn pin_emulator(
        &self,
        dom: &DomainLookup,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::PinEmulatorRequest {
            domain: Some(domain_ref(dom)),
            cpumap: cpumap.to_vec(),
            flags,
        };
        self.domain_client().pin_emulator(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetIOThreadInfo.
    pub async fn get_iothread_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<IoThreadInfo>, ClientError> {
        let req = proto::GetIoThreadInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let r = self
            .domain_client()
            .get_io_thread_info(req)
            .await?
            .into_inner();
        Ok(r.iothreads
            .into_iter()
            .map(|t| IoThreadInfo {
                id: t.iothread_id,
                cpumap: t.cpumap,
            })
            .collect())
    }

    /// libvirt: virDomainPinIOThread.
    pub async fn pin_iothread(
        &self,
        dom: &DomainLookup,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::PinIoThreadRequest {
            domain: Some(domain_ref(dom)),
            iothread_id: id,
            cpumap: cpumap.to_vec(),
            flags,
        };
        self.domain_client().pin_io_thread(req).await?;
        Ok(())
    }

    /// libvirt: virDomainAddIOThread.
    pub async fn add_iothread(
        &self,
        dom: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::AddIoThreadRequest {
            domain: Some(domain_ref(dom)),
            iothread_id: id,
            flags,
        };
        self.domain_client().add_io_thread(req).await?;
        Ok(())
    }

    /// libvirt: virDomainDelIOThread.
    pub async fn del_iothread(
        &self,
        dom: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::DelIoThreadRequest {
            domain: Some(domain_ref(dom)),
            iothread_id: id,
            flags,
        };
        self.domain_client().del_io_thread(req).await?;
        Ok(())
    }

    /// libvirt: virDomainSetIOThreadParams.
    pub async fn set_iothread_params(
        &self,
        dom: &DomainLookup,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetIoThreadParamsRequest {
            domain: Some(domain_ref(dom)),
            iothread_id: id,
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_io_thread_params(req).await?;
        Ok(())
    }

    /// libvirt: virDomainGetGuestVcpus.
    pub async fn get_guest_vcpus(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetGuestVcpusRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_guest_vcpus(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// libvirt: virDomainSetGuestVcpus.
    pub async fn set_guest_vcpus(
        &self,
        dom: &DomainLookup,
        cpumap: &str,
        state: bool,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetGuestVcpusRequest {
            domain: Some(domain_ref(dom)),
            cpumap: cpumap.to_string(),
            state,
            flags,
        };
        self.domain_client().set_guest_vcpus(req).await?;
        Ok(())
    }

    /// libvirt: virDomainSetVcpu.
    pub async fn set_vcpu(
        &self,
        dom: &DomainLookup,
        vcpumap: &str,
        state: bool,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetVcpuRequest {
            domain: Some(domain_ref(dom)),
            vcpumap: vcpumap.to_string(),
            state,
            flags,
        };
        self.domain_client().set_vcpu(req).await?;
        Ok(())
    }
}
