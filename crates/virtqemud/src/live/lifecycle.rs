//! The `Lifecycle` capability of the QEMU driver (spec qemu-driver.md §3.4, §3.5): start and
//! create (the launch itself is `start.rs`), shutdown, destroy, reboot (through the guest agent
//! or ACPI), reset, suspend, resume.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorCode;
use virt_core::events::lifecycle as ev;
use virt_core::kit::table::Entry as _;
use virt_core::model::enums::LifecycleAction;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::VirtError;

use super::start::refuse_autodestroy;
use super::Active;
use crate::domains::Dom;
use crate::QemuDriver;

use virt_core::kit::flags::destroy::{GRACEFUL, REMOVE_LOGS};
use virt_core::kit::flags::shutdown::{ACPI, AGENT};

fn invalid(detail: impl Into<String>) -> VirtError {
    VirtError::operation_invalid(detail.into())
}

/// Which methods a shutdown or reboot tries, as libvirt: the agent when asked, or by default
/// when it is connected; ACPI when not using the agent, or after the agent failed unless the
/// agent alone was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Methods {
    agent: bool,
    /// A failed agent attempt is the call's error (no ACPI fallback).
    agent_only: bool,
}

fn methods(flags: u32, agent_connected: bool) -> Methods {
    let (agent, acpi) = (flags & AGENT != 0, flags & ACPI != 0);
    Methods {
        agent: agent || (flags == 0 && agent_connected),
        agent_only: agent && !acpi,
    }
}

impl QemuDriver {
    fn handle_of(&self, a: &Active) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(&DomainLookup::Uuid(a.uuid))?.handle())
    }

    /// The running domain under a job, or "domain is not running".
    async fn running_job(
        &self,
        lookup: &DomainLookup,
        api: &'static str,
    ) -> DriverResult<(super::JobGuard, Active)> {
        let (job, uuid) = self.job(lookup, api).await?;
        let a = self.active(&uuid)?;
        Ok((job, a))
    }

    /// The agent half of shutdown and reboot: `Some(handle)` when the agent did it (or the
    /// guest went away meanwhile), `None` to go on with ACPI.
    async fn try_agent_power(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        reboot: bool,
        api: &'static str,
    ) -> DriverResult<Option<DomainHandle>> {
        let m = methods(flags, self.agent_connected(lookup));
        if !m.agent {
            return Ok(None);
        }
        let handle = self.lock().get(lookup)?.handle();
        match self.agent_power(lookup, reboot, api).await {
            Ok(()) => Ok(Some(handle)),
            Err(e) if m.agent_only => Err(e),
            Err(e) => {
                tracing::info!(domain = %handle.name, error = %e.message(), "guest agent failed; trying ACPI");
                let gone = !self.lock().get(lookup).is_ok_and(|d| d.is_active());
                Ok(gone.then_some(handle))
            }
        }
    }
}

#[async_trait::async_trait]
impl Lifecycle for QemuDriver {
    /// libvirt: virDomainPMSuspendForDuration (`jobs.rs`).
    async fn pm_suspend(
        &self,
        lookup: &DomainLookup,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.pm_suspend_of(lookup, target, duration, flags).await
    }

    /// libvirt: virDomainPMWakeup (`jobs.rs`).
    async fn pm_wakeup(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.pm_wakeup_of(lookup, flags).await
    }

    /// libvirt: virDomainCreateWithFlags.
    async fn create_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        use virt_core::kit::flags::create::*;
        self.check_flags(
            flags,
            PAUSED | AUTODESTROY | BYPASS_CACHE | FORCE_BOOT | RESET_NVRAM,
            "qemuDomainCreateWithFlags",
        )?;
        refuse_autodestroy(flags)?;
        let (_job, uuid) = self.job(lookup, "virDomainCreateWithFlags").await?;
        let def = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            if d.is_active() {
                return Err(VirtError::operation_invalid("domain is already running")
                    .with_object(&d.def.name, uuid.to_string()));
            }
            (d.def.clone(), d.managed_save)
        };
        let (def, managed) = def;
        if managed {
            let path = self.managed_save_path(&def.name);
            if flags & FORCE_BOOT == 0 {
                // Restore from the managed save image; it is used up either way.
                let image = super::save::open_image(&path)?;
                // The guest comes back with the definition saved in the image (which
                // managedsave-define may have changed), as libvirt restores it.
                let saved = self.parse_live(&image.xml)?;
                if saved.uuid != def.uuid || saved.name != def.name {
                    return Err(VirtError::operation_invalid(format!(
                        "cannot restore domain '{}' uuid {} from a file which belongs to domain '{}' uuid {}",
                        def.name, def.uuid, saved.name, saved.uuid
                    )));
                }
                let run = image.was_running && flags & PAUSED == 0;
                let res = self.restore_image(uuid, saved, image, run).await;
                if res.is_ok() {
                    self.drop_managed_save(&uuid, &path);
                }
                return res;
            }
            self.drop_managed_save(&uuid, &path);
        }
        self.launch(uuid, def, flags).await
    }

    /// libvirt: virDomainCreateXML. The domain is transient (gone when it stops) unless a
    /// persistent one of the same name and UUID exists, which then runs this definition.
    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        use virt_core::kit::flags::create::*;
        self.check_flags(
            flags,
            PAUSED | AUTODESTROY | BYPASS_CACHE | FORCE_BOOT | VALIDATE | RESET_NVRAM,
            "qemuDomainCreateXML",
        )?;
        refuse_autodestroy(flags)?;
        let def = self.parse_checked(xml, flags & VALIDATE != 0).await?;
        let (uuid, job) = {
            let mut st = self.lock();
            let exists = st.check_identity(&def, false)?;
            if exists {
                let d = &st.by_uuid[&def.uuid];
                if d.is_active() {
                    return Err(VirtError::operation_invalid(format!(
                        "domain '{}' is already active",
                        def.name
                    ))
                    .with_object(&def.name, def.uuid.to_string()));
                }
            } else {
                st.insert(Dom::new(def.clone(), false, false));
            }
            (def.uuid, st.by_uuid[&def.uuid].job.clone())
        };
        let res = async {
            let _job = job.acquire("virDomainCreateXML").await?;
            if self.lock().by_uuid.get(&uuid).is_some_and(Dom::is_active) {
                return Err(VirtError::operation_invalid(format!(
                    "domain '{}' is already active",
                    def.name
                )));
            }
            self.launch(uuid, def, flags).await
        }
        .await;
        if res.is_err() {
            self.forget_if_transient_and_stopped(&uuid);
        }
        res
    }

    /// libvirt: virDomainShutdownFlags. The guest agent (`guest-shutdown`) when asked or, by
    /// default, when connected; else (or when it failed and ACPI may follow) the ACPI power
    /// button. Returns once the agent saw the guest go down, or at once for ACPI.
    async fn shutdown_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, ACPI | AGENT, "qemuDomainShutdownFlags")?;
        let restart = self
            .lock()
            .get(lookup)?
            .run
            .as_ref()
            .is_some_and(|r| r.live.on_poweroff == Some(LifecycleAction::Restart));
        if let Some(h) = self
            .try_agent_power(lookup, flags, restart, "virDomainShutdownFlags")
            .await?
        {
            return Ok(h);
        }
        let (_job, a) = self.running_job(lookup, "virDomainShutdownFlags").await?;
        if a.state.state != DomainState::Running {
            return Err(invalid("domain is not running"));
        }
        self.qmp(&a, "system_powerdown", None).await?;
        self.handle_of(&a)
    }

    /// libvirt: virDomainDestroyFlags. Kills first (SIGTERM, SIGKILL after 10 s unless
    /// GRACEFUL), then takes the job and runs the stop path with reason DESTROYED.
    async fn destroy_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, GRACEFUL | REMOVE_LOGS, "qemuDomainDestroyFlags")?;
        let (uuid, gen, proc, job, handle, log) = {
            let mut st = self.lock();
            let d = st.get_mut(lookup)?;
            let handle = d.handle();
            let job = d.job.clone();
            match d.run.as_mut() {
                Some(r) => {
                    r.destroying = true;
                    (
                        d.def.uuid,
                        r.gen,
                        r.proc.clone(),
                        job,
                        handle,
                        r.log.clone(),
                    )
                }
                None => return Err(super::not_running(d)),
            }
        };
        if let Err(e) = proc.terminate(flags & GRACEFUL != 0).await {
            self.with_run(&uuid, gen, |r| r.destroying = false);
            let mut err = e.to_virt();
            err.code = ErrorCode::SystemError;
            return Err(err);
        }
        let _job = job.acquire("virDomainDestroyFlags").await?;
        self.stop_run(
            &uuid,
            gen,
            reason::shutoff::DESTROYED,
            Some(ev::stopped::DESTROYED),
        )
        .await;
        if flags & REMOVE_LOGS != 0 {
            let _ = std::fs::remove_file(&log);
        }
        Ok(DomainHandle { id: None, ..handle })
    }

    /// libvirt: virDomainReboot. The guest agent (`guest-shutdown` mode reboot) as for
    /// shutdown; else the ACPI power button, then a reset when the guest powers off.
    async fn reboot_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, ACPI | AGENT, "qemuDomainReboot")?;
        if let Some(h) = self
            .try_agent_power(lookup, flags, true, "virDomainReboot")
            .await?
        {
            return Ok(h);
        }
        let (_job, a) = self.running_job(lookup, "virDomainReboot").await?;
        if a.state.state != DomainState::Running {
            return Err(invalid("domain is not running"));
        }
        self.update_run(&a.uuid, a.gen, |r| r.fake_reboot = true);
        if let Err(e) = self.qmp(&a, "system_powerdown", None).await {
            self.update_run(&a.uuid, a.gen, |r| r.fake_reboot = false);
            return Err(e);
        }
        self.handle_of(&a)
    }

    /// libvirt: virDomainReset. The reset button, no guest cooperation.
    async fn reset_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "qemuDomainReset")?;
        let (_job, a) = self.running_job(lookup, "virDomainReset").await?;
        self.qmp(&a, "system_reset", None).await?;
        if a.state.state == DomainState::Crashed {
            self.transition(
                &a.uuid,
                a.gen,
                StateReason::new(DomainState::Paused, reason::paused::CRASHED),
                None,
                |_| true,
            );
        }
        self.handle_of(&a)
    }

    /// libvirt: virDomainSuspend. Already paused is a no-op success.
    async fn suspend_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        let (_job, a) = self.running_job(lookup, "virDomainSuspend").await?;
        match a.state.state {
            DomainState::PmSuspended => return Err(invalid("domain is pmsuspended")),
            DomainState::Paused => return self.handle_of(&a),
            _ => {}
        }
        self.with_run(&a.uuid, a.gen, |r| r.paused_reason = reason::paused::USER);
        let res = self.qmp(&a, "stop", None).await;
        if res.is_ok() {
            // Whichever comes first, the STOP event (which consumes the stored USER) or this
            // answer, the state ends PAUSED / USER with one SUSPENDED event.
            self.transition(
                &a.uuid,
                a.gen,
                StateReason::new(DomainState::Paused, reason::paused::USER),
                Some((ev::SUSPENDED, ev::suspended::PAUSED)),
                |r| r.state.state == DomainState::Running,
            );
        }
        self.with_run(&a.uuid, a.gen, |r| {
            r.paused_reason = reason::paused::UNKNOWN
        });
        res?;
        self.handle_of(&a)
    }

    /// libvirt: virDomainResume.
    async fn resume_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        let (_job, a) = self.running_job(lookup, "virDomainResume").await?;
        match a.state.state {
            DomainState::PmSuspended => return Err(invalid("domain is pmsuspended")),
            DomainState::Running => return Err(invalid("domain is already running")),
            _ => {}
        }
        self.qmp(&a, "cont", None).await?;
        self.transition(
            &a.uuid,
            a.gen,
            StateReason::new(DomainState::Running, reason::running::UNPAUSED),
            Some((ev::RESUMED, ev::resumed::UNPAUSED)),
            |r| r.state.state != DomainState::Running,
        );
        self.handle_of(&a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_methods_follow_libvirts_order() {
        let m = |flags, connected| methods(flags, connected);
        // Default: the agent when connected, ACPI after it fails; ACPI alone otherwise.
        assert_eq!(
            m(0, true),
            Methods {
                agent: true,
                agent_only: false
            }
        );
        assert_eq!(
            m(0, false),
            Methods {
                agent: false,
                agent_only: false
            }
        );
        // The agent alone: its failure is the error.
        assert_eq!(
            m(AGENT, false),
            Methods {
                agent: true,
                agent_only: true
            }
        );
        // Both: agent first, then ACPI.
        assert_eq!(
            m(ACPI | AGENT, true),
            Methods {
                agent: true,
                agent_only: false
            }
        );
        assert_eq!(
            m(ACPI, true),
            Methods {
                agent: false,
                agent_only: false
            }
        );
    }
}
