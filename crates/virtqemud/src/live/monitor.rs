//! libvirt-qemu's monitor passthrough (`qemu-monitor-command`), the raw QMP event feed
//! (`qemu-monitor-event`), and what libvirt reports of the monitor itself: the control state
//! (`domcontrol`) and the disks' I/O error state (`domblkerror`).
//!
//! * The passthrough takes the domain's job (libvirt's MODIFY job), taints the domain
//!   "custom-monitor" (a warning in the daemon's log and the domain's log, as libvirt writes
//!   it; nothing else here tracks taints), and sends the caller's QMP object as it is, with an
//!   id of its own; the reply line comes back compact, an error reply included. HMP text goes
//!   through `human-monitor-command`, its output returned.
//! * Every QMP event of every run is published to a broadcast channel before the driver acts
//!   on it; the service filters by domain and name.
//! * Control state: ERROR/MONITOR once the monitor connection is gone, OCCUPIED while a job
//!   holds the domain and a monitor command is in flight, JOB while a job holds it otherwise,
//!   else OK; the time is the milliseconds since the job began.
//! * Disk errors: `query-block`'s `io-status` of each disk (`failed` UNSPEC, `nospace`
//!   NO_SPACE), for the disks that are not `ok`.

use std::time::Instant;

use serde_json::Value;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::qemu_monitor::COMMAND_HMP;
use virt_core::kit::table::Entry as _;
use virt_core::proto::DomainControlState;
use virt_core::types::{ControlInfo, DomainLookup, QemuMonitorEvent};
use virt_core::uuid::Uuid;
use virt_core::{DriverResult, VirtError};

use crate::qmp::QmpEvent;
use crate::QemuDriver;

/// How many QMP events a slow qemu-monitor-event listener may fall behind before it misses some.
pub(crate) const EVENT_BACKLOG: usize = 1024;

/// virDomainDiskErrorCode of a `query-block` `io-status`.
fn disk_error_code(io_status: &str) -> u32 {
    match io_status {
        "ok" => 0,
        "nospace" => 2,
        _ => 1,
    }
}

impl QemuDriver {
    /// Hands a QMP event of run `gen` of `uuid` to the qemu-monitor-event listeners.
    pub(crate) fn publish_qmp_event(&self, uuid: &Uuid, gen: u64, e: &QmpEvent) {
        if self.qmp_events.receiver_count() == 0 {
            return;
        }
        let domain = {
            let st = self.lock();
            match st
                .by_uuid
                .get(uuid)
                .filter(|d| d.run.as_ref().is_some_and(|r| r.gen == gen))
            {
                Some(d) => d.handle(),
                None => return,
            }
        };
        let _ = self.qmp_events.send(QemuMonitorEvent {
            domain,
            event: e.event.clone(),
            seconds: e.seconds,
            micros: u32::try_from(e.microseconds).unwrap_or(0),
            details: e.details.clone(),
        });
    }

    /// libvirt: virConnectDomainQemuMonitorEventRegister.
    pub(crate) fn qemu_monitor_events(&self) -> tokio::sync::broadcast::Receiver<QemuMonitorEvent> {
        self.qmp_events.subscribe()
    }

    /// libvirt: virDomainQemuMonitorCommand.
    pub(crate) async fn qemu_monitor_passthrough(
        &self,
        lookup: &DomainLookup,
        command: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, COMMAND_HMP, "qemuDomainQemuMonitorCommandWithFiles")?;
        let (_job, uuid) = self.job(lookup, "virDomainQemuMonitorCommand").await?;
        let a = self.active(&uuid)?;
        self.taint_custom_monitor(&uuid, a.gen);
        if flags & COMMAND_HMP != 0 {
            let out = self
                .qmp(
                    &a,
                    "human-monitor-command",
                    Some(serde_json::json!({ "command-line": command })),
                )
                .await?;
            return Ok(out.as_str().unwrap_or_default().to_string());
        }
        let msg = match serde_json::from_str::<Value>(command) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(VirtError::new(
                    ErrorCode::InternalError,
                    ErrorDomain::Qemu,
                    format!("cannot parse json {command}: not a JSON object"),
                ))
            }
            Err(e) => {
                return Err(VirtError::new(
                    ErrorCode::InternalError,
                    ErrorDomain::Qemu,
                    format!("cannot parse json {command}: {e}"),
                ))
            }
        };
        let line = a
            .qmp
            .execute_raw(msg)
            .await
            .map_err(|e| e.to_virt("qemu-monitor-command"))?;
        virt_core::jsontext::compact(&line).map_err(|e| {
            VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                format!("unexpected reply from the QEMU monitor: {e}"),
            )
        })
    }

    /// libvirt's "custom-monitor" taint: a warning in the daemon's log and the domain's log.
    fn taint_custom_monitor(&self, uuid: &Uuid, gen: u64) {
        let Some((id, name, log)) =
            self.with_run(uuid, gen, |r| (r.id, r.live.name.clone(), r.log.clone()))
        else {
            return;
        };
        tracing::warn!(domain = %name, id, %uuid, "Domain id={id} name='{name}' uuid={uuid} is tainted: custom-monitor");
        crate::process::log_line(&log, &format!("Domain id={id} is tainted: custom-monitor"));
    }

    /// libvirt: virDomainGetControlInfo (no job taken, as libvirt's).
    pub(crate) fn qemu_control_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<ControlInfo> {
        self.check_flags(flags, 0, "qemuDomainGetControlInfo")?;
        let (job, qmp) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            (d.job.clone(), r.qmp.clone())
        };
        let Some(qmp) = qmp.filter(|q| !q.is_closed()) else {
            return Ok(ControlInfo {
                state: DomainControlState::Error as u32,
                // VIR_DOMAIN_CONTROL_ERROR_REASON_MONITOR
                details: 1,
                state_time: 0,
            });
        };
        let Some(since) = job.busy_since() else {
            return Ok(ControlInfo::default());
        };
        let state = if qmp.busy() {
            DomainControlState::Occupied
        } else {
            DomainControlState::Job
        };
        Ok(ControlInfo {
            state: state as u32,
            details: 0,
            state_time: u64::try_from(Instant::now().duration_since(since).as_millis())
                .unwrap_or(u64::MAX),
        })
    }

    /// libvirt: virDomainGetDiskErrors (a QUERY job, as libvirt's).
    pub(crate) async fn qemu_disk_errors(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(String, u32)>> {
        self.check_flags(flags, 0, "qemuDomainGetDiskErrors")?;
        let (_job, uuid) = self.job(lookup, "virDomainGetDiskErrors").await?;
        let a = self.active(&uuid)?;
        let targets: Vec<String> = self
            .with_run(&a.uuid, a.gen, |r| {
                r.live
                    .devices
                    .disks
                    .iter()
                    .map(|d| d.target_dev.clone())
                    .collect()
            })
            .unwrap_or_default();
        let blocks = self.qmp(&a, "query-block", None).await?;
        let mut out = Vec::new();
        for t in targets {
            // A disk without a medium has no node, and no I/O error either.
            let Ok(mut node) = self.disk_nodes(&a, std::slice::from_ref(&t)).await else {
                continue;
            };
            let node = node.remove(0);
            let status = blocks
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| b.pointer("/inserted/node-name").and_then(Value::as_str) == Some(&node))
                .and_then(|b| b.get("io-status"))
                .and_then(Value::as_str)
                .unwrap_or("ok");
            let code = disk_error_code(status);
            if code != 0 {
                out.push((t, code));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_status_maps_to_libvirts_disk_error_codes() {
        assert_eq!(disk_error_code("ok"), 0);
        assert_eq!(disk_error_code("failed"), 1);
        assert_eq!(disk_error_code("nospace"), 2);
    }
}
