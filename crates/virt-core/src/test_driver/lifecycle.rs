//! Test driver lifecycle (the `Lifecycle` capability): start, create, shutdown, destroy,
//! reboot, reset, suspend, resume — libvirt's state machine and its error cases.

use super::state::Dom;
use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::DriverResult;
use crate::events::lifecycle as ev;
use crate::kit::flags::{create, destroy, shutdown};
use crate::proto::domain_event::Payload;
use crate::proto::RebootEvent;
use crate::state::{reason, DomainState, StateReason};
use crate::types::{DomainHandle, DomainLookup};
use crate::VirtError;

impl TestDriver {
    /// Boots `uuid`, restoring a managed-save image unless FORCE_BOOT.
    fn boot(
        &self,
        st: &mut super::state::State,
        uuid: &crate::uuid::Uuid,
        flags: u32,
    ) -> DomainHandle {
        let paused_flag = flags & create::PAUSED != 0;
        let dom = st.domains.get_mut(uuid).expect("boot on a known domain");
        let image = dom.managed_save.take();
        let (detail, run_reason, was_paused) = match image {
            Some((def, was_paused)) if flags & create::FORCE_BOOT == 0 => {
                dom.def = def;
                (ev::started::RESTORED, reason::running::RESTORED, was_paused)
            }
            _ => (ev::started::BOOTED, reason::running::BOOTED, false),
        };
        let paused = paused_flag || was_paused;
        let state = if paused {
            StateReason::new(
                DomainState::Paused,
                if paused_flag {
                    reason::paused::USER
                } else {
                    reason::paused::SAVE
                },
            )
        } else {
            StateReason::new(DomainState::Running, run_reason)
        };
        st.activate(uuid, state);
        let h = st.domains[uuid].handle();
        self.lifecycle(h.clone(), ev::STARTED, detail);
        if paused {
            self.lifecycle(h.clone(), ev::SUSPENDED, ev::suspended::PAUSED);
        }
        h
    }

    /// Stops an active domain with a SHUTOFF reason and a STOPPED detail.
    pub(crate) fn stop(
        &self,
        st: &mut super::state::State,
        uuid: &crate::uuid::Uuid,
        shutoff_reason: i32,
        stopped_detail: i32,
    ) -> DomainHandle {
        let h = st.deactivate(uuid, shutoff_reason);
        self.lifecycle(h.clone(), ev::STOPPED, stopped_detail);
        h
    }

    pub(crate) fn require_running(dom: &Dom) -> DriverResult<()> {
        if dom.state.state == DomainState::Running {
            Ok(())
        } else {
            Err(VirtError::operation_invalid("domain is not running")
                .with_object(&dom.def.name, dom.def.uuid.to_string()))
        }
    }
}

#[async_trait::async_trait]
impl Lifecycle for TestDriver {
    async fn create_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        // No AUTODESTROY: a test domain outlives the connection that started it.
        let accepted = create::PAUSED | create::BYPASS_CACHE | create::FORCE_BOOT;
        self.check_flags(
            flags,
            accepted | create::RESET_NVRAM,
            "testDomainCreateWithFlags",
        )?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = &st.domains[&uuid];
        if dom.is_active() {
            return Err(VirtError::operation_invalid("domain is already running")
                .with_object(&dom.def.name, uuid.to_string()));
        }
        Ok(self.boot(&mut st, &uuid, flags))
    }

    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        let accepted = create::PAUSED | create::BYPASS_CACHE | create::FORCE_BOOT;
        self.check_flags(
            flags,
            accepted | create::VALIDATE | create::RESET_NVRAM,
            "testDomainCreateXML",
        )?;
        let mut def = self.codec.parse_domain(xml)?;
        super::guest::assign_ifnames(&mut def);
        let mut st = self.lock();
        let uuid = st.admit_for_start(def)?;
        Ok(self.boot(&mut st, &uuid, flags | create::FORCE_BOOT))
    }

    async fn shutdown_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        // ACPI_POWER_BTN | GUEST_AGENT | INITCTL | SIGNAL | PARAVIRT: all mean "the guest powers
        // off" for a guest that does not exist.
        self.check_flags(flags, shutdown::ALL, "testDomainShutdownFlags")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        st.domains[&uuid].require_active()?;
        let h = st.domains[&uuid].handle();
        self.lifecycle(h, ev::SHUTDOWN, ev::shutdown::FINISHED);
        Ok(self.stop(
            &mut st,
            &uuid,
            reason::shutoff::SHUTDOWN,
            ev::stopped::SHUTDOWN,
        ))
    }

    async fn destroy_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        // GRACEFUL | REMOVE_LOGS: there is no process to escalate against and no log to remove.
        self.check_flags(
            flags,
            destroy::GRACEFUL | destroy::REMOVE_LOGS,
            "testDomainDestroyFlags",
        )?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        st.domains[&uuid].require_active()?;
        Ok(self.stop(
            &mut st,
            &uuid,
            reason::shutoff::DESTROYED,
            ev::stopped::DESTROYED,
        ))
    }

    async fn reboot_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, shutdown::ALL, "testDomainReboot")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        Self::require_running(dom)?;
        let h = dom.handle();
        self.emit(h.clone(), Payload::Reboot(RebootEvent {}));
        Ok(h)
    }

    async fn reset_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "testDomainReset")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        dom.require_active()?;
        Ok(dom.handle())
    }

    async fn suspend_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        match dom.state.state {
            // As QEMU: suspending a paused domain succeeds and changes nothing.
            DomainState::Paused => return Ok(dom.handle()),
            DomainState::PmSuspended => {
                return Err(VirtError::operation_invalid("domain is pmsuspended")
                    .with_object(&dom.def.name, dom.def.uuid.to_string()))
            }
            _ => Self::require_running(dom)?,
        }
        dom.state = StateReason::new(DomainState::Paused, reason::paused::USER);
        let h = dom.handle();
        self.lifecycle(h.clone(), ev::SUSPENDED, ev::suspended::PAUSED);
        Ok(h)
    }

    async fn resume_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let obj = (dom.def.name.clone(), dom.def.uuid.to_string());
        match dom.state.state {
            DomainState::Paused => {}
            DomainState::Running => {
                return Err(VirtError::operation_invalid("domain is already running")
                    .with_object(obj.0, obj.1))
            }
            DomainState::PmSuspended => {
                return Err(
                    VirtError::operation_invalid("domain is pmsuspended").with_object(obj.0, obj.1)
                )
            }
            _ => {
                return Err(
                    VirtError::operation_invalid("domain is not running").with_object(obj.0, obj.1)
                )
            }
        }
        dom.state = StateReason::new(DomainState::Running, reason::running::UNPAUSED);
        let h = dom.handle();
        self.lifecycle(h.clone(), ev::RESUMED, ev::resumed::UNPAUSED);
        Ok(h)
    }
}
