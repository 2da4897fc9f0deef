//! The `Resources` capability of the LXC driver: memory (the cgroup's limit for a running
//! container, the definition for the next start) and the vCPU count read back. A container's
//! vCPU count is a definition fact (libvirt's LXC driver cannot change it either).

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, GUEST, LIVE, MAXIMUM};
use virt_core::kit::modify::impact;
use virt_core::kit::table::Entry as _;
use virt_core::types::{DomainLookup, TypedParam};
use virt_core::VirtError;

use crate::LxcDriver;

#[async_trait::async_trait]
impl Resources for LxcDriver {
    /// libvirt: virDomainSetMemoryFlags. LIVE writes the cgroup's memory limit at once.
    async fn set_domain_memory(
        &self,
        lookup: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "lxcDomainSetMemoryFlags")?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let imp = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if flags & MAXIMUM != 0 {
            if imp.live {
                return Err(VirtError::new(
                    ErrorCode::OperationInvalid,
                    ErrorDomain::Lxc,
                    "Cannot resize the max memory on an active domain",
                ));
            }
            return self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, true)
            });
        }
        if imp.live {
            let mut st = self.lock();
            let d = st.get_mut(&lookup)?;
            let run = d
                .run
                .as_mut()
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            virt_core::kit::modify::check_memory(&run.live, kib)?;
            let mut live = run.live.clone();
            live.current_memory_kib = kib;
            if let Some(cg) = &run.cgroup {
                // An explicit hard limit stays the limit; otherwise the memory is.
                if live.memtune.hard_limit_kib.is_none() {
                    super::cgroups::set_memory(&self.hierarchies, cg, &live)?;
                }
            }
            run.live = live;
            self.save_status(d);
        }
        if imp.config {
            self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, false)
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetVcpusFlags, on the persistent definition only: a container's vCPU
    /// count is what it is told (`vcpu.*` stats, dominfo), not something a running one can be
    /// given (libvirt's LXC driver has no such call at all).
    async fn set_domain_vcpus(
        &self,
        lookup: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        virt_core::kit::modify::set_vcpus_args(count, flags)?;
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "lxcDomainSetVcpusFlags")?;
        let imp = {
            let st = self.lock();
            impact(&st.get(lookup)?.facts(), flags)?
        };
        if imp.live {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Lxc,
                "changing the vCPU count of a running container is not supported",
            ));
        }
        self.edit_config(lookup, |def| {
            virt_core::kit::modify::set_vcpus_config(def, count, flags & MAXIMUM != 0)
        })
    }

    async fn memory_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.lxc_memory_parameters(lookup, flags)
    }

    async fn set_memory_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.lxc_set_memory_parameters(lookup, params, flags).await
    }

    async fn scheduler_type(&self, lookup: &DomainLookup) -> DriverResult<(String, i32)> {
        self.lock().get(lookup)?;
        Ok(("posix".to_string(), 3))
    }

    async fn scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.lxc_scheduler_parameters(lookup, flags)
    }

    async fn set_scheduler_parameters(
        &self,
        lookup: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.lxc_set_scheduler_parameters(lookup, params, flags)
            .await
    }

    async fn domain_vcpus(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST,
            "lxcDomainGetVcpusFlags",
        )?;
        self.lock().vcpus(lookup, flags)
    }
}
