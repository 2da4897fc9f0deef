//! The `Lifecycle` capability of the Xen driver, through the toolstack: start (`xl create`),
//! shutdown and reboot (`xl shutdown` / `xl reboot`: the guest is asked through the Xen Store's
//! `control/shutdown`; the call returns at once and the stop is reported when Xen says the
//! domain is gone), destroy (`xl destroy`, reported before the call returns), suspend and resume
//! (`xl pause` / `xl unpause`).

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::events::lifecycle as ev;
use virt_core::kit::table::Entry as _;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::XenDriver;

impl XenDriver {
    /// Starts the persistent definition of `uuid` (virDomainCreate, autostart).
    pub(crate) async fn create_by_uuid(&self, uuid: Uuid) -> DriverResult<DomainHandle> {
        let (_, _job) = self.job(&DomainLookup::Uuid(uuid)).await?;
        let def = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            if d.is_active() {
                return Err(VirtError::operation_invalid("domain is already running")
                    .with_object(&d.def.name, uuid.to_string()));
            }
            d.def.clone()
        };
        self.start_domain(uuid, def).await
    }

    async fn pause(&self, lookup: &DomainLookup, pause: bool) -> DriverResult<DomainHandle> {
        self.need_xen()?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (domid, _) = self.running(&lookup)?;
        self.not_dom0(domid, if pause { "paused" } else { "resumed" })?;
        let paused = self.lock().get(&lookup)?.state().state == DomainState::Paused;
        let name = self.lock().get(&lookup)?.def.name.clone();
        if pause && paused {
            return Err(VirtError::operation_invalid("domain is already paused")
                .with_object(&name, uuid.to_string()));
        }
        if !pause && !paused {
            return Err(VirtError::operation_invalid("domain is not paused")
                .with_object(&name, uuid.to_string()));
        }
        let verb = if pause { "pause" } else { "unpause" };
        self.xl.run(&[verb, &domid.to_string()]).await?;
        let (new, kind, detail) = if pause {
            (
                StateReason::new(DomainState::Paused, reason::paused::USER),
                ev::SUSPENDED,
                ev::suspended::PAUSED,
            )
        } else {
            (
                StateReason::new(DomainState::Running, reason::running::UNPAUSED),
                ev::RESUMED,
                ev::resumed::UNPAUSED,
            )
        };
        let handle = {
            let mut st = self.lock();
            let d = st.get_mut(&lookup)?;
            if let Some(r) = d.run.as_mut() {
                r.state = new;
            }
            self.save_status(d);
            d.handle()
        };
        self.bus.emit(handle.clone(), ev::payload(kind, detail));
        Ok(handle)
    }

    /// Destroys the domain and reports its stop before answering.
    pub(crate) async fn destroy_now(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        self.need_xen()?;
        let (uuid, _job) = self.job(lookup).await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (domid, _) = self.running(&lookup)?;
        self.not_dom0(domid, "destroyed")?;
        let (handle, gen) = {
            let mut st = self.lock();
            let d = st.get_mut(&lookup)?;
            let handle = d.handle();
            let r = d
                .run
                .as_mut()
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            r.stopping = Some(reason::shutoff::DESTROYED);
            (handle, r.generation)
        };
        if let Err(e) = self.xl.run(&["destroy", &domid.to_string()]).await {
            // It may have ended on its own meanwhile; otherwise the destroy failed.
            if self.domid_of(uuid, &handle.name).await.is_some() {
                if let Some(r) = self.lock().get_mut(&lookup)?.run.as_mut() {
                    r.stopping = None;
                }
                return Err(e);
            }
        }
        self.finish_stop(uuid, gen, reason::shutoff::DESTROYED);
        Ok(handle)
    }

    /// `xl shutdown` / `xl reboot` of the running domain `lookup` names.
    async fn ask_guest(&self, lookup: &DomainLookup, verb: &str) -> DriverResult<DomainHandle> {
        self.need_xen()?;
        let (domid, uuid) = self.running(lookup)?;
        self.not_dom0(
            domid,
            if verb == "shutdown" {
                "shut down"
            } else {
                "rebooted"
            },
        )?;
        let id = domid.to_string();
        // -F: an HVM guest without PV drivers gets an ACPI event instead.
        self.xl.run(&[verb, "-F", &id]).await?;
        Ok(self.lock().get(&DomainLookup::Uuid(uuid))?.handle())
    }
}

#[async_trait::async_trait]
impl Lifecycle for XenDriver {
    async fn create_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "libxlDomainCreateWithFlags")?;
        let uuid = self.lock().resolve(lookup)?;
        self.create_by_uuid(uuid).await
    }

    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        use virt_core::kit::flags::create::VALIDATE;
        self.check_flags(flags, VALIDATE, "libxlDomainCreateXML")?;
        self.need_xen()?;
        let def = self.parse(xml, flags & VALIDATE != 0)?;
        let uuid = def.uuid;
        let job = {
            let mut st = self.lock();
            st.check_identity(&def, false)?;
            match st.by_uuid.get(&uuid) {
                Some(d) if d.is_active() => {
                    return Err(VirtError::operation_invalid("domain is already active")
                        .with_object(&def.name, uuid.to_string()))
                }
                Some(d) => d.job.clone(),
                None => {
                    let dom = crate::domains::Dom::new(def.clone(), false, false);
                    let job = dom.job.clone();
                    st.insert(dom);
                    job
                }
            }
        };
        let _job = job.lock().await;
        match self.start_domain(uuid, def).await {
            Ok(h) => Ok(h),
            Err(e) => {
                let mut st = self.lock();
                if st
                    .by_uuid
                    .get(&uuid)
                    .is_some_and(|d| !d.persistent && !d.is_active())
                {
                    st.remove(&uuid);
                }
                Err(e)
            }
        }
    }

    /// Returns once the guest has been asked (libvirt's libxl driver does the same); the stop
    /// is reported when Xen says the domain is gone.
    async fn shutdown_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "libxlDomainShutdownFlags")?;
        self.ask_guest(lookup, "shutdown").await
    }

    async fn destroy_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "libxlDomainDestroyFlags")?;
        self.destroy_now(lookup).await
    }

    async fn reboot_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "libxlDomainReboot")?;
        self.ask_guest(lookup, "reboot").await
    }

    async fn suspend_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        self.pause(lookup, true).await
    }

    async fn resume_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        self.pause(lookup, false).await
    }
}
