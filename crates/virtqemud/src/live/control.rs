//! Controlling a running guest (spec qemu-driver.md §3.4, §3.5): shutdown, destroy, reboot
//! (through the guest agent or ACPI), reset, suspend, resume, memory and vCPU counts.

use std::time::Duration;

use serde_json::{json, Value};
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::model::enums::LifecycleAction;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::start::has_balloon;
use super::Active;
use crate::QemuDriver;

use virt_core::kit::flags::destroy::{GRACEFUL, REMOVE_LOGS};
use virt_core::kit::flags::modify::{CONFIG, GUEST, HOTPLUGGABLE, LIVE, MAXIMUM};
use virt_core::kit::flags::shutdown::{ACPI, AGENT};
use virt_core::kit::modify::{impact, impact_read, set_vcpus_args, Impact};

fn invalid(detail: impl Into<String>) -> VirtError {
    VirtError::operation_invalid(detail.into())
}

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail.into())
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

    /// libvirt: virDomainShutdownFlags. The guest agent (`guest-shutdown`) when asked or, by
    /// default, when connected; else (or when it failed and ACPI may follow) the ACPI power
    /// button. Returns once the agent saw the guest go down, or at once for ACPI.
    pub(crate) async fn shutdown(
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

    /// libvirt: virDomainReboot. The guest agent (`guest-shutdown` mode reboot) as for
    /// shutdown; else the ACPI power button, then a reset when the guest powers off.
    pub(crate) async fn reboot(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
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
    pub(crate) async fn reset(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
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

    /// libvirt: virDomainDestroyFlags. Kills first (SIGTERM, SIGKILL after 10 s unless
    /// GRACEFUL), then takes the job and runs the stop path with reason DESTROYED.
    pub(crate) async fn destroy(
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

    /// libvirt: virDomainSuspend. Already paused is a no-op success.
    pub(crate) async fn suspend(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
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
    pub(crate) async fn resume(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
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

    /// The driver kit's modification impact for the domain `lookup` names.
    pub(super) fn impact(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<(bool, bool)> {
        let st = self.lock();
        let Impact { live, config } = impact(&st.get(lookup)?.facts(), flags)?;
        Ok((live, config))
    }

    /// libvirt: virDomainSetMemoryFlags. LIVE sets the balloon target (the guest follows,
    /// BALLOON_CHANGE reports it); CONFIG edits `<currentMemory>`, with MAXIMUM `<memory>`.
    pub(crate) async fn set_memory(
        &self,
        lookup: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "qemuDomainSetMemoryFlags")?;
        let (_job, uuid) = self.job(lookup, "virDomainSetMemoryFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if flags & MAXIMUM != 0 {
            if live {
                return Err(invalid(
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            return self.edit_config(&lookup, |def| {
                def.memory_kib = kib;
                def.current_memory_kib = def.current_memory_kib.min(kib);
                Ok(())
            });
        }
        if live {
            let a = self.active(&uuid)?;
            let (max, balloon) = {
                let st = self.lock();
                let r = st
                    .get(&lookup)?
                    .run
                    .as_ref()
                    .map(|r| (r.live.memory_kib, has_balloon(&r.live)));
                r.unwrap_or((0, false))
            };
            if kib > max {
                return Err(invalid_arg("cannot set memory higher than max memory"));
            }
            if !balloon {
                return Err(invalid(
                    "Unable to change memory of active domain without the balloon device and guest OS balloon driver",
                ));
            }
            self.qmp(&a, "balloon", Some(json!({ "value": kib * 1024 })))
                .await?;
            self.update_run(&uuid, a.gen, |r| r.live.current_memory_kib = kib);
        }
        if config {
            self.edit_config(&lookup, |def| {
                if kib > def.memory_kib {
                    return Err(invalid_arg("cannot set memory higher than max memory"));
                }
                def.current_memory_kib = kib;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainSetVcpusFlags. LIVE adds vCPUs by hotplug (`device_add` of the
    /// slots `query-hotpluggable-cpus` offers, as libvirt); removing them from a running
    /// domain is not implemented (OPERATION_UNSUPPORTED).
    pub(crate) async fn set_vcpus(
        &self,
        lookup: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        set_vcpus_args(count, flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST | HOTPLUGGABLE,
            "qemuDomainSetVcpusFlags",
        )?;
        let (_job, uuid) = self.job(lookup, "virDomainSetVcpusFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        if flags & GUEST != 0 {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                "setting the guest's vCPU count through the guest agent is not supported",
            ));
        }
        if live {
            if flags & MAXIMUM != 0 {
                return Err(invalid(
                    "cannot change the maximum vCPU count of an active domain",
                ));
            }
            self.hotplug_vcpus(&uuid, count).await?;
        }
        if !config {
            return Ok(());
        }
        self.edit_config(&lookup, |def| {
            if flags & MAXIMUM != 0 {
                def.vcpus = count;
                def.current_vcpus = def.current_vcpus.min(count);
            } else {
                if count > def.vcpus {
                    return Err(invalid_arg(format!(
                        "requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {}",
                        def.vcpus
                    )));
                }
                def.current_vcpus = count;
            }
            Ok(())
        })
    }

    /// Hot-adds vCPUs until the running domain has `count`: one `device_add` per free slot of
    /// `query-hotpluggable-cpus` (lowest socket/core/thread first, ids `vcpuN` as libvirt),
    /// then the vCPU threads are re-read and the status saved.
    async fn hotplug_vcpus(&self, uuid: &Uuid, count: u32) -> DriverResult<()> {
        let a = self.active(uuid)?;
        let (max, current) = {
            let st = self.lock();
            let r = st
                .by_uuid
                .get(uuid)
                .and_then(|d| d.run.as_ref())
                .ok_or_else(|| invalid("domain is not running"))?;
            let max = r.live.vcpus.max(1);
            let cur = if r.live.current_vcpus == 0 {
                max
            } else {
                r.live.current_vcpus
            };
            (max, cur)
        };
        if count > max {
            return Err(invalid_arg(format!(
                "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {max}"
            )));
        }
        if count < current {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Qemu,
                format!(
                    "removing vCPUs from a running domain ({current} -> {count}) is not \
                     supported by virtqemud yet; use --config and restart the domain"
                ),
            ));
        }
        if count > current {
            let slots = self.qmp(&a, "query-hotpluggable-cpus", None).await?;
            let mut free: Vec<&Value> = slots
                .as_array()
                .map(|v| v.iter().filter(|s| s.get("qom-path").is_none()).collect())
                .unwrap_or_default();
            let key = |s: &Value, k: &str| {
                s.get("props")
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            free.sort_by_key(|s| {
                (
                    key(s, "socket-id"),
                    key(s, "die-id"),
                    key(s, "core-id"),
                    key(s, "thread-id"),
                )
            });
            let needed = (count - current) as usize;
            if free.len() < needed {
                return Err(invalid(format!(
                    "QEMU offers {} free vCPU slots, {needed} needed",
                    free.len()
                )));
            }
            for (i, slot) in free.iter().take(needed).enumerate() {
                let mut args = serde_json::Map::new();
                let driver = slot
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("query-hotpluggable-cpus: a slot without a type"))?;
                args.insert("driver".into(), json!(driver));
                args.insert("id".into(), json!(format!("vcpu{}", current as usize + i)));
                if let Some(props) = slot.get("props").and_then(Value::as_object) {
                    for (k, v) in props {
                        args.insert(k.clone(), v.clone());
                    }
                }
                self.qmp(&a, "device_add", Some(Value::Object(args)))
                    .await?;
            }
        }
        let cpus = self.qmp(&a, "query-cpus-fast", None).await?;
        let vcpus = super::start::vcpus_of(&cpus);
        self.update_run(uuid, a.gen, |r| {
            r.vcpus = vcpus;
            r.live.current_vcpus = count;
        });
        Ok(())
    }

    /// libvirt: virDomainGetVcpusFlags.
    pub(crate) fn vcpus_count(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | GUEST,
            "qemuDomainGetVcpusFlags",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags)?;
        let def = match (&d.run, live) {
            (Some(r), true) => &r.live,
            _ => &d.def,
        };
        Ok(if flags & MAXIMUM != 0 {
            def.vcpus
        } else {
            def.current_vcpus
        })
    }

    /// Applies `edit` to the persistent definition and stores it.
    fn edit_config(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut virt_core::model::DomainDef) -> DriverResult<()>,
    ) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let mut def = d.def.clone();
        edit(&mut def)?;
        let text = self.codec.format_domain(&def, crate::definitions::STORED);
        self.store.save(&def.name, &text).map_err(|e| {
            VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, e.to_string())
        })?;
        d.def = def;
        Ok(())
    }
}

/// How long a detach waits for DEVICE_DELETED (libvirt's 5 s).
pub(crate) const UNPLUG_WAIT: Duration = Duration::from_secs(5);

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
