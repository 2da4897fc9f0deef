//! Domain calls of [`Connection`]: lookup, listing, definition, lifecycle, info, XML and
//! resources — one method per DomainService RPC the CLI uses, named as the RPC is.

use virt_core::proto::{self, domain_ref::Ref};
use virt_core::proto_conv::{param, param_from};
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::connection::Connection;
use crate::error::ClientError;

/// The proto reference for a lookup.
pub fn domain_ref(lookup: &DomainLookup) -> proto::DomainRef {
    let r = match lookup {
        DomainLookup::Name(n) => Ref::Name(n.clone()),
        DomainLookup::Uuid(u) => Ref::Uuid(u.to_string()),
        DomainLookup::Id(id) => Ref::Id(*id),
        DomainLookup::Any(s) => Ref::Any(s.clone()),
    };
    proto::DomainRef { r#ref: Some(r) }
}

/// The value a well-behaved server always sets, or an RPC error naming what was missing.
pub(crate) fn required<T>(value: Option<T>, what: &str) -> Result<T, ClientError> {
    value.ok_or_else(|| {
        ClientError::Virt(VirtError::new(
            ErrorCode::Rpc,
            ErrorDomain::Rpc,
            format!("the server's reply lacks {what}"),
        ))
    })
}

impl Connection {
    /// Finds a domain. libvirt: virDomainLookupByName / ByUUIDString / ByID.
    pub async fn lookup(&self, dom: &DomainLookup) -> Result<proto::Domain, ClientError> {
        let req = proto::LookupDomainRequest {
            domain: Some(domain_ref(dom)),
        };
        let resp = self.domain_client().lookup_domain(req).await?.into_inner();
        required(resp.domain, "the domain")
    }

    /// Lists domains matching `flags` (ListAllDomainsFlag bits), with their state, active ones by
    /// ID then inactive ones by name. libvirt: virConnectListAllDomains.
    pub async fn list_all_domains(
        &self,
        flags: u32,
    ) -> Result<Vec<proto::DomainSummary>, ClientError> {
        let req = proto::ListAllDomainsRequest { flags };
        Ok(self
            .domain_client()
            .list_all_domains(req)
            .await?
            .into_inner()
            .domains)
    }

    /// Defines (or replaces) a persistent domain. libvirt: virDomainDefineXMLFlags.
    pub async fn define(&self, xml: &str, flags: u32) -> Result<proto::Domain, ClientError> {
        let req = proto::DefineDomainRequest {
            xml: xml.to_string(),
            flags,
        };
        let resp = self.domain_client().define_domain(req).await?.into_inner();
        required(resp.domain, "the domain")
    }

    /// Checks domain XML as a define with the VALIDATE flag would, defining nothing; returns
    /// the effective configuration. Failures carry every problem as a violation with its XPath
    /// (`VirtError::violations`). libvirt: virDomainDefineXMLFlags(VALIDATE) as a dry run.
    pub async fn validate(
        &self,
        xml: &str,
        flags: u32,
    ) -> Result<proto::ValidateDomainResponse, ClientError> {
        let req = proto::ValidateDomainRequest {
            xml: xml.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .validate_domain(req)
            .await?
            .into_inner())
    }

    /// Removes a persistent definition. libvirt: virDomainUndefineFlags.
    pub async fn undefine(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::UndefineDomainRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().undefine_domain(req).await?;
        Ok(())
    }

    /// Starts a defined domain. libvirt: virDomainCreateWithFlags.
    pub async fn create(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<proto::Domain, ClientError> {
        let req = proto::CreateDomainRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let resp = self.domain_client().create_domain(req).await?.into_inner();
        required(resp.domain, "the domain")
    }

    /// Creates and starts a transient domain. libvirt: virDomainCreateXML.
    pub async fn create_xml(&self, xml: &str, flags: u32) -> Result<proto::Domain, ClientError> {
        let req = proto::CreateDomainXmlRequest {
            xml: xml.to_string(),
            flags,
        };
        let resp = self
            .domain_client()
            .create_domain_xml(req)
            .await?
            .into_inner();
        required(resp.domain, "the domain")
    }

    /// Asks the guest to power off. libvirt: virDomainShutdownFlags.
    pub async fn shutdown(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::ShutdownDomainRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().shutdown_domain(req).await?;
        Ok(())
    }

    /// Stops the domain at once. libvirt: virDomainDestroyFlags.
    pub async fn destroy(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::DestroyDomainRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().destroy_domain(req).await?;
        Ok(())
    }

    /// Asks the guest to reboot. libvirt: virDomainReboot.
    pub async fn reboot(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::RebootDomainRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().reboot_domain(req).await?;
        Ok(())
    }

    /// Presses the reset button. libvirt: virDomainReset.
    pub async fn reset(&self, dom: &DomainLookup) -> Result<(), ClientError> {
        let req = proto::ResetDomainRequest {
            domain: Some(domain_ref(dom)),
            flags: 0,
        };
        self.domain_client().reset_domain(req).await?;
        Ok(())
    }

    /// Pauses the vCPUs. libvirt: virDomainSuspend.
    pub async fn suspend(&self, dom: &DomainLookup) -> Result<(), ClientError> {
        let req = proto::SuspendDomainRequest {
            domain: Some(domain_ref(dom)),
        };
        self.domain_client().suspend_domain(req).await?;
        Ok(())
    }

    /// Resumes paused vCPUs. libvirt: virDomainResume.
    pub async fn resume(&self, dom: &DomainLookup) -> Result<(), ClientError> {
        let req = proto::ResumeDomainRequest {
            domain: Some(domain_ref(dom)),
        };
        self.domain_client().resume_domain(req).await?;
        Ok(())
    }

    /// What `virsh dominfo` shows. libvirt: virDomainGetInfo and friends.
    pub async fn domain_info(
        &self,
        dom: &DomainLookup,
    ) -> Result<(proto::Domain, proto::DomainInfo), ClientError> {
        let req = proto::GetDomainInfoRequest {
            domain: Some(domain_ref(dom)),
        };
        let resp = self
            .domain_client()
            .get_domain_info(req)
            .await?
            .into_inner();
        Ok((
            required(resp.domain, "the domain")?,
            required(resp.info, "the info")?,
        ))
    }

    /// State and reason. libvirt: virDomainGetState.
    pub async fn domain_state(
        &self,
        dom: &DomainLookup,
    ) -> Result<proto::DomainStateReason, ClientError> {
        let req = proto::GetDomainStateRequest {
            domain: Some(domain_ref(dom)),
            flags: 0,
        };
        let resp = self
            .domain_client()
            .get_domain_state(req)
            .await?
            .into_inner();
        required(resp.state, "the state")
    }

    /// The domain XML (DomainXmlFlag bits). libvirt: virDomainGetXMLDesc.
    pub async fn domain_xml(&self, dom: &DomainLookup, flags: u32) -> Result<String, ClientError> {
        let req = proto::GetDomainXmlRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .domain_client()
            .get_domain_xml(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Sets current or maximum memory in KiB (ModificationFlag bits).
    /// libvirt: virDomainSetMemoryFlags.
    pub async fn set_memory(
        &self,
        dom: &DomainLookup,
        memory_kib: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetDomainMemoryRequest {
            domain: Some(domain_ref(dom)),
            memory_kib,
            flags,
        };
        self.domain_client().set_domain_memory(req).await?;
        Ok(())
    }

    /// Adds the device described by `xml` (one device element) to the running domain, its
    /// definition or both (ModificationFlag LIVE / CONFIG bits; 0: live if running, else
    /// config). libvirt: virDomainAttachDeviceFlags.
    pub async fn attach_device(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::AttachDeviceRequest {
            domain: Some(domain_ref(dom)),
            xml: xml.to_string(),
            flags,
        };
        self.domain_client().attach_device(req).await?;
        Ok(())
    }

    /// Removes the device `xml` identifies, with the flags of [`Connection::attach_device`].
    /// True when the device is gone; false when the guest was asked to release it and a
    /// DEVICE_REMOVED event will follow. libvirt: virDomainDetachDeviceFlags.
    pub async fn detach_device(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> Result<bool, ClientError> {
        let req = proto::DetachDeviceRequest {
            domain: Some(domain_ref(dom)),
            xml: xml.to_string(),
            flags,
            alias: String::new(),
        };
        Ok(self
            .domain_client()
            .detach_device(req)
            .await?
            .into_inner()
            .completed)
    }

    /// Sets the vCPU count (ModificationFlag bits). libvirt: virDomainSetVcpusFlags.
    pub async fn set_vcpus(
        &self,
        dom: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetDomainVcpusRequest {
            domain: Some(domain_ref(dom)),
            count,
            flags,
        };
        self.domain_client().set_domain_vcpus(req).await?;
        Ok(())
    }

    /// Aborts the domain's background job. libvirt: virDomainAbortJob / virDomainAbortJobFlags.
    pub async fn abort_job(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::AbortJobRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().abort_job(req).await?;
        Ok(())
    }

    /// Removes the device with alias `alias` (ModificationFlag LIVE / CONFIG bits). True when
    /// the device is gone. libvirt: virDomainDetachDeviceAlias.
    pub async fn detach_device_alias(
        &self,
        dom: &DomainLookup,
        alias: &str,
        flags: u32,
    ) -> Result<bool, ClientError> {
        let req = proto::DetachDeviceAliasRequest {
            domain: Some(domain_ref(dom)),
            alias: alias.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .detach_device_alias(req)
            .await?
            .into_inner()
            .completed)
    }

    /// Changes a device in place (ModificationFlag LIVE / CONFIG bits, 4 = FORCE).
    /// libvirt: virDomainUpdateDeviceFlags.
    pub async fn update_device(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::UpdateDeviceRequest {
            domain: Some(domain_ref(dom)),
            xml: xml.to_string(),
            flags,
        };
        self.domain_client().update_device(req).await?;
        Ok(())
    }

    /// An image of screen `screen`: its MIME type and bytes, read from the stream to its end.
    /// libvirt: virDomainScreenshot.
    pub async fn screenshot(
        &self,
        dom: &DomainLookup,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Vec<u8>), ClientError> {
        let req = proto::ScreenshotRequest {
            domain: Some(domain_ref(dom)),
            screen,
            flags,
        };
        let mut stream = self.domain_client().screenshot(req).await?.into_inner();
        let mut mime = String::new();
        let mut data = Vec::new();
        while let Some(msg) = stream.message().await? {
            if mime.is_empty() {
                mime = msg.mime_type;
            }
            data.extend_from_slice(&msg.data);
        }
        Ok((mime, data))
    }

    /// Sends `keycodes` of `codeset` held for `holdtime` ms. libvirt: virDomainSendKey.
    pub async fn send_key(
        &self,
        dom: &DomainLookup,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SendKeyRequest {
            domain: Some(domain_ref(dom)),
            codeset,
            holdtime,
            keycodes: keycodes.to_vec(),
            flags,
        };
        self.domain_client().send_key(req).await?;
        Ok(())
    }

    /// Injects an NMI. libvirt: virDomainInjectNMI.
    pub async fn inject_nmi(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::InjectNmiRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().inject_nmi(req).await?;
        Ok(())
    }

    /// Sends signal `signum` to process `pid` of the domain. libvirt: virDomainSendProcessSignal.
    pub async fn send_process_signal(
        &self,
        dom: &DomainLookup,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SendProcessSignalRequest {
            domain: Some(domain_ref(dom)),
            pid,
            signum,
            flags,
        };
        self.domain_client().send_process_signal(req).await?;
        Ok(())
    }

    /// Sets a disk's write threshold in bytes. libvirt: virDomainSetBlockThreshold.
    pub async fn set_block_threshold(
        &self,
        dom: &DomainLookup,
        dev: &str,
        threshold: u64,
    ) -> Result<(), ClientError> {
        let req = proto::SetBlockThresholdRequest {
            domain: Some(domain_ref(dom)),
            dev: dev.to_string(),
            threshold,
            flags: 0,
        };
        self.domain_client().set_block_threshold(req).await?;
        Ok(())
    }

    // Block jobs (issue 15, qemu group).

    /// Populates a disk from its backing chain. libvirt: virDomainBlockPull.
    pub async fn block_pull(
        &self,
        dom: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockPullRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            bandwidth,
            flags,
        };
        self.domain_client().block_pull(req).await?;
        Ok(())
    }

    /// Pull into `base`, or copy to it with the COPY flag. libvirt: virDomainBlockRebase.
    pub async fn block_rebase(
        &self,
        dom: &DomainLookup,
        disk: &str,
        base: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockRebaseRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            base: base.to_string(),
            bandwidth,
            flags,
        };
        self.domain_client().block_rebase(req).await?;
        Ok(())
    }

    /// Commits `top` into `base` (empty: defaults). libvirt: virDomainBlockCommit.
    pub async fn block_commit(
        &self,
        dom: &DomainLookup,
        disk: &str,
        base: &str,
        top: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockCommitRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            base: base.to_string(),
            top: top.to_string(),
            bandwidth,
            flags,
        };
        self.domain_client().block_commit(req).await?;
        Ok(())
    }

    /// Copies a disk to the `<disk>` destination `dest_xml`. libvirt: virDomainBlockCopy.
    pub async fn block_copy(
        &self,
        dom: &DomainLookup,
        disk: &str,
        dest_xml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockCopyRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            dest_xml: dest_xml.to_string(),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().block_copy(req).await?;
        Ok(())
    }

    /// The disk's block job, `None` when none runs. libvirt: virDomainGetBlockJobInfo.
    pub async fn block_job_info(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> Result<Option<virt_core::types::BlockJobInfo>, ClientError> {
        let req = proto::GetBlockJobInfoRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            flags,
        };
        let r = self
            .domain_client()
            .get_block_job_info(req)
            .await?
            .into_inner();
        Ok(r.found.then_some(virt_core::types::BlockJobInfo {
            job_type: r.job_type,
            bandwidth: r.bandwidth,
            cur: r.cur,
            end: r.end,
        }))
    }

    /// Cancels or (PIVOT) completes a block job. libvirt: virDomainBlockJobAbort.
    pub async fn block_job_abort(
        &self,
        dom: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockJobAbortRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            flags,
        };
        self.domain_client().block_job_abort(req).await?;
        Ok(())
    }

    /// Sets a block job's bandwidth. libvirt: virDomainBlockJobSetSpeed.
    pub async fn block_job_set_speed(
        &self,
        dom: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockJobSetSpeedRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            bandwidth,
            flags,
        };
        self.domain_client().block_job_set_speed(req).await?;
        Ok(())
    }

    /// Resizes a disk (KiB, bytes with flag BYTES). libvirt: virDomainBlockResize.
    pub async fn block_resize(
        &self,
        dom: &DomainLookup,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::BlockResizeRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            size,
            flags,
        };
        self.domain_client().block_resize(req).await?;
        Ok(())
    }

    /// The vCPU count (ModificationFlag bits). libvirt: virDomainGetVcpusFlags.
    pub async fn get_vcpus(&self, dom: &DomainLookup, flags: u32) -> Result<u32, ClientError> {
        let req = proto::GetDomainVcpusRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .domain_client()
            .get_domain_vcpus(req)
            .await?
            .into_inner()
            .count)
    }

    /// Launch security parameters (TypedParamFlag STRING_OKAY).
    /// libvirt: virDomainGetLaunchSecurityInfo.
    pub async fn get_launch_security_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetLaunchSecurityInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_launch_security_info(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// Memory tunables (ModificationFlag LIVE/CONFIG bits, TypedParamFlag STRING_OKAY).
    /// libvirt: virDomainGetMemoryParameters.
    pub async fn get_memory_parameters(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetMemoryParametersRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_memory_parameters(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// Changes memory tunables (ModificationFlag LIVE/CONFIG bits).
    /// libvirt: virDomainSetMemoryParameters.
    pub async fn set_memory_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetMemoryParametersRequest {
            domain: Some(domain_ref(dom)),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_memory_parameters(req).await?;
        Ok(())
    }

    /// The scheduler's name and its parameter count. libvirt: virDomainGetSchedulerType.
    pub async fn get_scheduler_type(
        &self,
        dom: &DomainLookup,
    ) -> Result<(String, i32), ClientError> {
        let req = proto::GetSchedulerTypeRequest {
            domain: Some(domain_ref(dom)),
        };
        let r = self
            .domain_client()
            .get_scheduler_type(req)
            .await?
            .into_inner();
        Ok((r.scheduler, r.nparams))
    }

    /// Scheduler parameters. `flags` `None` is the legacy virDomainGetSchedulerParameters;
    /// `Some(f)` is virDomainGetSchedulerParametersFlags with ModificationFlag bits `f`, to which
    /// STRING_OKAY is added as libvirt's API layer adds it.
    pub async fn get_scheduler_parameters(
        &self,
        dom: &DomainLookup,
        flags: Option<u32>,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let flags = flags.map_or(0, |f| f | proto::TypedParamFlag::StringOkay as u32);
        let req = proto::GetSchedulerParametersRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let ps = self
            .domain_client()
            .get_scheduler_parameters(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// Changes scheduler parameters (ModificationFlag LIVE/CONFIG bits; 0 is also the legacy
    /// virDomainSetSchedulerParameters). libvirt: virDomainSetSchedulerParametersFlags.
    pub async fn set_scheduler_parameters(
        &self,
        dom: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetSchedulerParametersRequest {
            domain: Some(domain_ref(dom)),
            params: params.iter().map(param).collect(),
            flags,
        };
        self.domain_client().set_scheduler_parameters(req).await?;
        Ok(())
    }

    /// Whether the domain starts with the host. libvirt: virDomainGetAutostart.
    pub async fn get_autostart(&self, dom: &DomainLookup) -> Result<bool, ClientError> {
        let req = proto::GetAutostartRequest {
            domain: Some(domain_ref(dom)),
        };
        Ok(self
            .domain_client()
            .get_autostart(req)
            .await?
            .into_inner()
            .autostart)
    }

    /// Marks or unmarks autostart. libvirt: virDomainSetAutostart.
    pub async fn set_autostart(
        &self,
        dom: &DomainLookup,
        autostart: bool,
    ) -> Result<(), ClientError> {
        let req = proto::SetAutostartRequest {
            domain: Some(domain_ref(dom)),
            autostart,
        };
        self.domain_client().set_autostart(req).await?;
        Ok(())
    }

    // Domain management group (save images, managed save).

    /// Saves RAM to `path` on the daemon's host and stops. libvirt: virDomainSaveFlags.
    pub async fn save_domain(
        &self,
        dom: &DomainLookup,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SaveDomainRequest {
            domain: Some(domain_ref(dom)),
            path: path.to_string(),
            xml: xml.to_string(),
            flags,
        };
        self.domain_client().save_domain(req).await?;
        Ok(())
    }

    /// Starts a domain from a saved file. libvirt: virDomainRestoreFlags.
    pub async fn restore_domain(
        &self,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> Result<proto::Domain, ClientError> {
        let req = proto::RestoreDomainRequest {
            path: path.to_string(),
            xml: xml.to_string(),
            flags,
        };
        let resp = self.domain_client().restore_domain(req).await?.into_inner();
        required(resp.domain, "the domain")
    }

    /// Saves RAM to a driver-owned image and stops. libvirt: virDomainManagedSave.
    pub async fn managed_save(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::ManagedSaveRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().managed_save(req).await?;
        Ok(())
    }

    /// Whether a managed-save image exists. libvirt: virDomainHasManagedSaveImage.
    pub async fn has_managed_save_image(&self, dom: &DomainLookup) -> Result<bool, ClientError> {
        let req = proto::HasManagedSaveImageRequest {
            domain: Some(domain_ref(dom)),
        };
        let resp = self
            .domain_client()
            .has_managed_save_image(req)
            .await?
            .into_inner();
        Ok(resp.has_image)
    }

    /// Discards the managed-save image. libvirt: virDomainManagedSaveRemove.
    pub async fn managed_save_remove(&self, dom: &DomainLookup) -> Result<(), ClientError> {
        let req = proto::ManagedSaveRemoveRequest {
            domain: Some(domain_ref(dom)),
        };
        self.domain_client().managed_save_remove(req).await?;
        Ok(())
    }

    // Domain management group (issue 15).

    /// The title, description or one metadata element. libvirt: virDomainGetMetadata.
    pub async fn metadata(
        &self,
        dom: &DomainLookup,
        kind: proto::MetadataType,
        uri: &str,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::GetMetadataRequest {
            domain: Some(domain_ref(dom)),
            r#type: kind as i32,
            uri: uri.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .get_metadata(req)
            .await?
            .into_inner()
            .metadata)
    }

    /// Sets (`Some`) or removes (`None`) the title, description or one metadata element.
    /// libvirt: virDomainSetMetadata.
    pub async fn set_metadata(
        &self,
        dom: &DomainLookup,
        kind: proto::MetadataType,
        metadata: Option<&str>,
        key: &str,
        uri: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetMetadataRequest {
            domain: Some(domain_ref(dom)),
            r#type: kind as i32,
            metadata: metadata.map(str::to_string),
            key: key.to_string(),
            uri: uri.to_string(),
            flags,
        };
        self.domain_client().set_metadata(req).await?;
        Ok(())
    }

    /// Renames an inactive domain. libvirt: virDomainRename.
    pub async fn rename_domain(
        &self,
        dom: &DomainLookup,
        new_name: &str,
    ) -> Result<proto::Domain, ClientError> {
        let req = proto::RenameDomainRequest {
            domain: Some(domain_ref(dom)),
            new_name: new_name.to_string(),
            flags: 0,
        };
        let resp = self.domain_client().rename_domain(req).await?.into_inner();
        required(resp.domain, "the domain")
    }

    /// The domain XML in a save image. libvirt: virDomainSaveImageGetXMLDesc.
    pub async fn save_image_xml(&self, path: &str, flags: u32) -> Result<String, ClientError> {
        let req = proto::GetSaveImageXmlRequest {
            path: path.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .get_save_image_xml(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Replaces the domain XML in a save image. libvirt: virDomainSaveImageDefineXML.
    pub async fn define_save_image_xml(
        &self,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::DefineSaveImageXmlRequest {
            path: path.to_string(),
            xml: xml.to_string(),
            flags,
        };
        self.domain_client().define_save_image_xml(req).await?;
        Ok(())
    }

    /// The domain XML in the managed-save image. libvirt: virDomainManagedSaveGetXMLDesc.
    pub async fn managed_save_xml(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::GetManagedSaveXmlRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .domain_client()
            .get_managed_save_xml(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Replaces the domain XML in the managed-save image.
    /// libvirt: virDomainManagedSaveDefineXML.
    pub async fn define_managed_save_xml(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::DefineManagedSaveXmlRequest {
            domain: Some(domain_ref(dom)),
            xml: xml.to_string(),
            flags,
        };
        self.domain_client().define_managed_save_xml(req).await?;
        Ok(())
    }

    /// Dumps the guest's core to a file on the daemon's host.
    /// The domain's background job. libvirt: virDomainGetJobInfo.
    pub async fn job_info(
        &self,
        dom: &DomainLookup,
    ) -> Result<proto::GetJobInfoResponse, ClientError> {
        let req = proto::GetJobInfoRequest {
            domain: Some(domain_ref(dom)),
        };
        Ok(self.domain_client().get_job_info(req).await?.into_inner())
    }

    /// The domain's background job (or the last completed one) as (virDomainJobType,
    /// typed parameters). libvirt: virDomainGetJobStats.
    pub async fn job_stats(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<(i32, Vec<TypedParam>), ClientError> {
        let req = proto::GetJobStatsRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        let r = self.domain_client().get_job_stats(req).await?.into_inner();
        Ok((r.r#type, r.params.iter().filter_map(param_from).collect()))
    }

    /// Suspends the guest (virNodeSuspendTarget 0 MEM, 1 DISK, 2 HYBRID).
    /// libvirt: virDomainPMSuspendForDuration.
    pub async fn pm_suspend(
        &self,
        dom: &DomainLookup,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::PmSuspendForDurationRequest {
            domain: Some(domain_ref(dom)),
            target,
            duration,
            flags,
        };
        self.domain_client().pm_suspend_for_duration(req).await?;
        Ok(())
    }

    /// Wakes a pmsuspended guest. libvirt: virDomainPMWakeup.
    pub async fn pm_wakeup(&self, dom: &DomainLookup, flags: u32) -> Result<(), ClientError> {
        let req = proto::PmWakeupRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        self.domain_client().pm_wakeup(req).await?;
        Ok(())
    }

    /// libvirt: virDomainCoreDumpWithFormat.
    pub async fn core_dump(
        &self,
        dom: &DomainLookup,
        path: &str,
        format: u32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::CoreDumpRequest {
            domain: Some(domain_ref(dom)),
            path: path.to_string(),
            format,
            flags,
        };
        self.domain_client().core_dump(req).await?;
        Ok(())
    }

    /// Capacity, allocation and physical size of one disk. libvirt: virDomainGetBlockInfo.
    pub async fn block_info(
        &self,
        dom: &DomainLookup,
        disk: &str,
    ) -> Result<proto::GetBlockInfoResponse, ClientError> {
        let req = proto::GetBlockInfoRequest {
            domain: Some(domain_ref(dom)),
            disk: disk.to_string(),
            flags: 0,
        };
        Ok(self.domain_client().get_block_info(req).await?.into_inner())
    }

    /// Balloon statistics as (virDomainMemoryStatTags, value). libvirt: virDomainMemoryStats.
    pub async fn domain_memory_stats(
        &self,
        dom: &DomainLookup,
    ) -> Result<Vec<(i32, u64)>, ClientError> {
        let req = proto::GetDomainMemoryStatsRequest {
            domain: Some(domain_ref(dom)),
            flags: 0,
        };
        let resp = self
            .domain_client()
            .get_domain_memory_stats(req)
            .await?
            .into_inner();
        Ok(resp.stats.into_iter().map(|s| (s.tag, s.value)).collect())
    }

    /// Passes `command` to the domain's QEMU monitor and returns QEMU's reply text (`flags`
    /// 1: HMP). libvirt: virDomainQemuMonitorCommand.
    pub async fn qemu_monitor_command(
        &self,
        dom: &DomainLookup,
        command: &str,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::QemuMonitorCommandRequest {
            domain: Some(domain_ref(dom)),
            command: command.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .qemu_monitor_command(req)
            .await?
            .into_inner()
            .result)
    }

    /// Streams the QMP events of `dom` (every domain's when `None`) whose name `event` selects
    /// (empty: all; `flags` 1 regex, 2 no case). libvirt:
    /// virConnectDomainQemuMonitorEventRegister.
    pub async fn stream_qemu_monitor_events(
        &self,
        dom: Option<&DomainLookup>,
        event: &str,
        flags: u32,
    ) -> Result<tonic::Streaming<proto::StreamQemuMonitorEventsResponse>, ClientError> {
        let req = proto::StreamQemuMonitorEventsRequest {
            domain: dom.map(domain_ref),
            event: event.to_string(),
            flags,
        };
        Ok(self
            .domain_client()
            .stream_qemu_monitor_events(req)
            .await?
            .into_inner())
    }

    /// Seconds between two refreshes of the balloon's statistics.
    /// libvirt: virDomainSetMemoryStatsPeriod.
    pub async fn set_memory_stats_period(
        &self,
        dom: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::SetMemoryStatsPeriodRequest {
            domain: Some(domain_ref(dom)),
            period,
            flags,
        };
        self.domain_client().set_memory_stats_period(req).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::uuid::Uuid;

    #[test]
    fn lookups_become_the_matching_ref_case() {
        let u = Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").expect("valid uuid");
        assert_eq!(
            domain_ref(&DomainLookup::Uuid(u)).r#ref,
            Some(Ref::Uuid("6695eb01-f6a4-8304-79aa-97f2502e193f".into()))
        );
        assert_eq!(domain_ref(&DomainLookup::Id(3)).r#ref, Some(Ref::Id(3)));
        assert_eq!(
            domain_ref(&DomainLookup::Any("1".into())).r#ref,
            Some(Ref::Any("1".into()))
        );
        assert_eq!(
            domain_ref(&DomainLookup::Name("web".into())).r#ref,
            Some(Ref::Name("web".into()))
        );
    }

    #[test]
    fn missing_reply_fields_are_rpc_errors() {
        let e = required::<u32>(None, "the domain").expect_err("none is an error");
        assert_eq!(e.code(), ErrorCode::Rpc);
        assert_eq!(e.to_string(), "the server's reply lacks the domain");
    }
}
