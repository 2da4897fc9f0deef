//! The `Definitions` capability of the LXC driver: lookup, list, define (and its validation
//! dry run), undefine, info, state, XML, autostart. Each change writes disk before memory and
//! emits its lifecycle event once both agree.

use virt_core::driver::prelude::*;
use virt_core::driver::{DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::kit;
use virt_core::kit::flags::define::VALIDATE;
use virt_core::kit::keeper::Keeper;
use virt_core::kit::locate::located;
use virt_core::kit::table::Entry as _;
use virt_core::model::DomainDef;
use virt_core::state::StateReason;
use virt_core::types::{DomainHandle, DomainInfo, DomainLookup, DomainSummary};
use virt_core::VirtError;

use crate::domains::Dom;
use crate::LxcDriver;

impl LxcDriver {
    /// The controller path as definitions show it.
    pub(crate) fn controller_name(&self) -> String {
        self.controller.display().to_string()
    }

    /// Parses `xml` and checks it against what the driver honours, filling what libvirt's LXC
    /// driver fills; with `validate`, errors carry the XPath they are at.
    pub(crate) fn parse(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        let loc = |e: VirtError| if validate { located(e) } else { e };
        let mut def = self.codec.parse_domain(xml).map_err(loc)?;
        self.admit(&mut def).map_err(loc)?;
        Ok(def)
    }

    /// Parses a live definition this driver wrote itself (status files).
    pub(crate) fn parse_live(&self, xml: &str) -> DriverResult<DomainDef> {
        let mut def = self.codec.parse_live_domain(xml)?;
        self.admit(&mut def)?;
        Ok(def)
    }

    fn admit(&self, def: &mut DomainDef) -> DriverResult<()> {
        if def.name.contains('/') {
            let detail = format!("name '{}' cannot contain '/'", def.name);
            let mut err = VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail);
            err.violations.push(Violation {
                path: "/domain/name".into(),
                description: err.message(),
            });
            return Err(err);
        }
        let controller = self.controller_name();
        crate::define::post_parse(def, &controller);
        self.codec.check_honoured(def, &crate::define::honoured())?;
        crate::define::check(def, &controller)
    }

    /// What the kit's definition calls borrow of the driver.
    pub(crate) fn keeper(&self) -> Keeper<'_, Dom> {
        Keeper {
            table: &self.state,
            store: &self.store,
            codec: &*self.codec,
            bus: &self.bus,
        }
    }

    /// Applies `edit` to the persistent definition of `lookup` and stores it, disk before
    /// memory.
    pub(crate) fn edit_config(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut DomainDef) -> DriverResult<()>,
    ) -> DriverResult<()> {
        self.keeper().edit_config(lookup, edit)
    }
}

#[async_trait::async_trait]
impl Definitions for LxcDriver {
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(flags, kit::flags::list::ALL, "lxcConnectListAllDomains")?;
        Ok(self.lock().list(flags))
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "lxcDomainDefineXMLFlags")?;
        let validate = flags & VALIDATE != 0;
        let def = self.parse(xml, validate)?;
        // A running domain keeps running; the new definition applies at its next start.
        self.keeper()
            .define(def, validate, |d| Dom::new(d, false, true))
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.check_flags(flags, VALIDATE, "lxcDomainDefineXMLFlags")?;
        let def = self.parse(xml, true)?;
        self.keeper().validated(&def)
    }

    async fn undefine_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        kit::undefine::check_flags(flags, ErrorDomain::Lxc, "lxcDomainUndefineFlags")?;
        self.keeper().undefine(lookup)
    }

    /// Memory is the cgroup's usage while running (libvirt's LXC driver reports the same);
    /// CPU time the cgroup's CPU accounting.
    async fn domain_info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        let (handle, mut info, cgroup) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let info = d.info();
            let cg = d.run.as_ref().and_then(|r| r.cgroup.clone());
            (d.handle(), info, cg)
        };
        if let Some(cg) = cgroup {
            let usage = crate::live::cgroups::usage(&self.hierarchies, &cg);
            info.cpu_time_ns = usage.cpu_ns.unwrap_or(0);
            if let Some(m) = usage.memory_bytes {
                info.memory_kib = m / 1024;
            }
        }
        Ok((handle, info))
    }

    async fn domain_state(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        self.check_flags(flags, 0, "lxcDomainGetState")?;
        let st = self.lock();
        let d = st.get(dom)?;
        Ok((d.handle(), d.state()))
    }

    /// The live XML of a running domain; with INACTIVE, or for a shut-off domain, the
    /// persistent definition (the driver kit's rule).
    async fn domain_xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.check_flags(
            flags,
            virt_core::kit::flags::xml::ALL,
            "lxcDomainGetXMLDesc",
        )?;
        self.lock().domain_xml(lookup, flags, self.codec.as_ref())
    }

    async fn autostart(&self, dom: &DomainLookup) -> DriverResult<bool> {
        Ok(self.lock().get(dom)?.autostart)
    }

    async fn set_autostart(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
        self.lock().set_autostart(lookup, on, Some(&self.store))
    }
}
