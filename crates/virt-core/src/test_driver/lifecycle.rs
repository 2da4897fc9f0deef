//! Test driver lifecycle: list, define, undefine, start, create, shutdown, destroy, reboot,
//! reset, suspend, resume — libvirt's state machine and its error cases.

use super::state::Dom;
use super::validate::{check_identity_located, VALIDATE};
use super::TestDriver;
use crate::driver::DriverResult;
use crate::events::lifecycle as ev;
use crate::kit;
use crate::proto::domain_event::Payload;
use crate::proto::RebootEvent;
use crate::state::{reason, DomainState, StateReason};
use crate::types::{DomainHandle, DomainLookup, DomainSummary};
use crate::VirtError;

fn summary(d: &Dom) -> DomainSummary {
    DomainSummary {
        handle: d.handle(),
        state: d.state,
        persistent: d.persistent,
        autostart: d.autostart,
        has_managed_save: d.managed_save.is_some(),
        title: d.def.title.clone().unwrap_or_default(),
    }
}

impl TestDriver {
    /// Domains in libvirt's listing order: active by ID, then inactive by name.
    pub(crate) fn ordered<'a>(&self, st: &'a super::state::State) -> Vec<&'a Dom> {
        let mut out: Vec<&Dom> = st.by_id.values().map(|u| &st.domains[u]).collect();
        let mut inactive: Vec<&Dom> = st.domains.values().filter(|d| d.id.is_none()).collect();
        inactive.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        out.extend(inactive);
        out
    }

    pub(crate) fn list(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(flags, kit::flags::list::ALL, "testConnectListAllDomains")?;
        let st = self.lock();
        Ok(self
            .ordered(&st)
            .into_iter()
            .filter(|d| kit::list::matches(&d.facts(), flags))
            .map(summary)
            .collect())
    }

    pub(crate) fn define(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "testDomainDefineXMLFlags")?;
        // VALIDATE fails exactly as ValidateDomain does: every problem located by XPath.
        let validate = flags & VALIDATE != 0;
        let def = if validate {
            self.parse_validated(xml)?
        } else {
            self.codec.parse_domain(xml)?
        };
        let mut st = self.lock();
        let existing = if validate {
            check_identity_located(&st, &def)?
        } else {
            st.check_identity(&def)?
        };
        let handle = match existing {
            Some(uuid) => {
                let dom = st.domains.get_mut(&uuid).expect("identity check found it");
                let detail = if dom.persistent {
                    ev::defined::UPDATED
                } else {
                    ev::defined::ADDED
                };
                dom.persistent = true;
                if dom.is_active() {
                    dom.next_def = Some(def);
                } else {
                    dom.def = def;
                }
                let h = dom.handle();
                self.lifecycle(h.clone(), ev::DEFINED, detail);
                h
            }
            None => {
                let dom = Dom::new(def, true);
                let h = dom.handle();
                st.insert(dom);
                self.lifecycle(h.clone(), ev::DEFINED, ev::defined::ADDED);
                h
            }
        };
        Ok(handle)
    }

    pub(crate) fn undefine(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        // MANAGED_SAVE | SNAPSHOTS_METADATA | NVRAM | KEEP_NVRAM | CHECKPOINTS_METADATA | TPM | KEEP_TPM
        self.check_flags(flags, 0x7f, "testDomainUndefineFlags")?;
        for (a, b, an, bn) in [
            (
                4,
                8,
                "VIR_DOMAIN_UNDEFINE_NVRAM",
                "VIR_DOMAIN_UNDEFINE_KEEP_NVRAM",
            ),
            (
                32,
                64,
                "VIR_DOMAIN_UNDEFINE_TPM",
                "VIR_DOMAIN_UNDEFINE_KEEP_TPM",
            ),
        ] {
            if flags & a != 0 && flags & b != 0 {
                return Err(VirtError::new(
                    crate::ErrorCode::InvalidArg,
                    crate::ErrorDomain::Test,
                    format!("Flags '{an}' and '{bn}' are mutually exclusive"),
                ));
            }
        }
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = st.domains.get_mut(&uuid).expect("resolved");
        let obj = (dom.def.name.clone(), uuid.to_string());
        if !dom.persistent {
            return Err(
                VirtError::operation_invalid("cannot undefine transient domain")
                    .with_object(obj.0, obj.1),
            );
        }
        if dom.managed_save.is_some() && flags & 1 == 0 {
            return Err(VirtError::operation_invalid(
                "Refusing to undefine while domain managed save image exists",
            )
            .with_object(obj.0, obj.1));
        }
        if !dom.is_active() && !dom.snapshots.is_empty() && flags & 2 == 0 {
            return Err(VirtError::operation_invalid(format!(
                "cannot delete inactive domain with {} snapshots",
                dom.snapshots.len()
            ))
            .with_object(obj.0, obj.1));
        }
        dom.managed_save = None;
        dom.snapshots.clear();
        dom.autostart = false;
        let handle = dom.handle();
        if dom.is_active() {
            dom.persistent = false;
            dom.next_def = None;
        } else {
            st.remove(&uuid);
        }
        self.lifecycle(handle.clone(), ev::UNDEFINED, ev::undefined::REMOVED);
        Ok(handle)
    }

    /// Boots `uuid`, restoring a managed-save image unless FORCE_BOOT (8).
    fn boot(
        &self,
        st: &mut super::state::State,
        uuid: &crate::uuid::Uuid,
        flags: u32,
    ) -> DomainHandle {
        let paused_flag = flags & 1 != 0;
        let dom = st.domains.get_mut(uuid).expect("boot on a known domain");
        let image = dom.managed_save.take();
        let (detail, run_reason, was_paused) = match image {
            Some((def, was_paused)) if flags & 8 == 0 => {
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

    pub(crate) fn start(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        // START_PAUSED | START_BYPASS_CACHE | START_FORCE_BOOT | START_RESET_NVRAM
        self.check_flags(flags, 1 | 4 | 8 | 32, "testDomainCreateWithFlags")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = &st.domains[&uuid];
        if dom.is_active() {
            return Err(VirtError::operation_invalid("domain is already running")
                .with_object(&dom.def.name, uuid.to_string()));
        }
        Ok(self.boot(&mut st, &uuid, flags))
    }

    pub(crate) fn create_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        // START_PAUSED | START_BYPASS_CACHE | START_FORCE_BOOT | START_VALIDATE | START_RESET_NVRAM
        self.check_flags(flags, 1 | 4 | 8 | 16 | 32, "testDomainCreateXML")?;
        let def = self.codec.parse_domain(xml)?;
        let mut st = self.lock();
        let uuid = st.admit_for_start(def)?;
        Ok(self.boot(&mut st, &uuid, flags | 8))
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

    pub(crate) fn shutdown(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        // ACPI_POWER_BTN | GUEST_AGENT | INITCTL | SIGNAL | PARAVIRT: all mean "the guest powers
        // off" for a guest that does not exist.
        self.check_flags(flags, 0x1f, "testDomainShutdownFlags")?;
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

    pub(crate) fn destroy(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        // GRACEFUL | REMOVE_LOGS: there is no process to escalate against and no log to remove.
        self.check_flags(flags, 1 | 2, "testDomainDestroyFlags")?;
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

    fn require_running(dom: &Dom) -> DriverResult<()> {
        if dom.state.state == DomainState::Running {
            Ok(())
        } else {
            Err(VirtError::operation_invalid("domain is not running")
                .with_object(&dom.def.name, dom.def.uuid.to_string()))
        }
    }

    pub(crate) fn reboot(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0x1f, "testDomainReboot")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        Self::require_running(dom)?;
        let h = dom.handle();
        self.emit(h.clone(), Payload::Reboot(RebootEvent {}));
        Ok(h)
    }

    pub(crate) fn reset(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "testDomainReset")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        dom.require_active()?;
        Ok(dom.handle())
    }

    pub(crate) fn suspend(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
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

    pub(crate) fn resume(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
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
