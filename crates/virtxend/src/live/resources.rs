//! The `Resources` capability of the Xen driver: memory (LIVE sets the balloon target with
//! `xl mem-set`; CONFIG the definition), vCPUs (LIVE `xl vcpu-set`, up to the maximum the
//! domain was started with; CONFIG the definition) and the vCPU count read back.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, GUEST, LIVE, MAXIMUM};
use virt_core::kit::modify::impact;
use virt_core::kit::table::Entry as _;
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::XenDriver;

impl XenDriver {
    /// Changes the live definition of a running domain after the toolstack did.
    fn edit_live(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut virt_core::model::DomainDef),
    ) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        if let Some(r) = d.run.as_mut() {
            edit(&mut r.live);
        }
        self.save_status(d);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Resources for XenDriver {
    /// libvirt: virDomainSetMemoryFlags.
    async fn set_domain_memory(
        &self,
        lookup: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "libxlDomainSetMemoryFlags")?;
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
                    ErrorDomain::Libxl,
                    "Cannot resize the max memory on an active domain",
                ));
            }
            return self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, true)
            });
        }
        if imp.live {
            self.need_xen()?;
            let domid = {
                let st = self.lock();
                let d = st.get(&lookup)?;
                let r = d.run.as_ref().ok_or_else(|| d.facts().not_running())?;
                virt_core::kit::modify::check_memory(&r.live, kib)?;
                r.id
            };
            self.xl
                .run(&["mem-set", &domid.to_string(), &format!("{kib}k")])
                .await?;
            self.edit_live(&lookup, |live| live.current_memory_kib = kib)?;
        }
        if imp.config {
            self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_memory_config(def, kib, false)
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetVcpusFlags.
    async fn set_domain_vcpus(
        &self,
        lookup: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        virt_core::kit::modify::set_vcpus_args(count, flags)?;
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "libxlDomainSetVcpusFlags")?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let imp = {
            let st = self.lock();
            impact(&st.get(&lookup)?.facts(), flags)?
        };
        if imp.live {
            if flags & MAXIMUM != 0 {
                return Err(VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Libxl,
                    "cannot change maximum vcpus on a running domain",
                ));
            }
            self.need_xen()?;
            let domid = {
                let st = self.lock();
                let d = st.get(&lookup)?;
                let r = d.run.as_ref().ok_or_else(|| d.facts().not_running())?;
                if count > r.live.vcpus {
                    return Err(VirtError::new(
                        ErrorCode::InvalidArg,
                        ErrorDomain::Libxl,
                        format!(
                            "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {}",
                            r.live.vcpus
                        ),
                    ));
                }
                r.id
            };
            self.xl
                .run(&["vcpu-set", &domid.to_string(), &count.to_string()])
                .await?;
            self.edit_live(&lookup, |live| live.current_vcpus = count)?;
        }
        if imp.config {
            self.edit_config(&lookup, |def| {
                virt_core::kit::modify::set_vcpus_config(def, count, flags & MAXIMUM != 0)
            })?;
        }
        Ok(())
    }

    async fn domain_vcpus(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST,
            "libxlDomainGetVcpusFlags",
        )?;
        self.lock().vcpus(lookup, flags)
    }
}
