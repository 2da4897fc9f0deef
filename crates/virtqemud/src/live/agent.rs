//! A running guest's link to its agent: when an agent call may run (libvirt's
//! qemuDomainAgentAvailable), the agent job, and shutdown/reboot through the agent.
//!
//! # Agent jobs
//!
//! As in libvirt, agent calls do not take the domain's job: a slow or silent agent must not
//! block destroy, suspend or stats. They take the run's agent job instead (one agent
//! conversation at a time; waiting gives up after 30 s with OPERATION_TIMEOUT "cannot acquire
//! state change lock (held by agent=virDomainFSFreeze)"), and every agent command has its own
//! deadline (the domain's agent timeout, 5 s unless set), so the agent job is never held for
//! longer than that. The connection is opened on the first call after the guest opened its
//! end of the channel, kept while it works, and dropped when the channel closes, the socket
//! fails or the run ends.
//!
//! # Availability
//!
//! In order: the domain must be active (OPERATION_INVALID "domain is not running"); its
//! definition must have the agent channel (ARGUMENT_UNSUPPORTED "QEMU guest agent is not
//! configured"); the guest must have that channel open (AGENT_UNRESPONSIVE "QEMU guest agent
//! is not connected"); the channel must be a socket QEMU listens on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{Notify, OwnedMutexGuard};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::enums::{CharSourceMode, CharType};
use virt_core::model::DomainDef;
use virt_core::state::DomainState;
use virt_core::types::DomainLookup;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::channels::agent_channel;
use super::JOB_WAIT;
use crate::agent::{Agent, AgentError, Reply};
use crate::QemuDriver;

/// How long a shutdown or reboot through the agent waits for the guest to go down
/// (libvirt's VIR_DOMAIN_QEMU_AGENT_COMMAND_SHUTDOWN).
pub(crate) const AGENT_SHUTDOWN_WAIT: Duration = Duration::from_secs(60);

/// A run's agent connection (opened on first use; its lock is the agent job) and the QMP
/// events agent-answered commands wait for.
#[derive(Debug, Default)]
pub(crate) struct AgentLink {
    conn: Arc<tokio::sync::Mutex<Option<Agent>>>,
    holder: Mutex<&'static str>,
    /// QEMU reported SHUTDOWN (the guest powered off).
    pub shutdown: Notify,
    /// QEMU reported RESET (the guest rebooted).
    pub reset: Notify,
}

impl AgentLink {
    /// Takes the agent job for `api`, waiting up to 30 s as a domain job does.
    async fn lock(&self, api: &'static str) -> Result<OwnedMutexGuard<Option<Agent>>, VirtError> {
        match tokio::time::timeout(JOB_WAIT, self.conn.clone().lock_owned()).await {
            Ok(g) => {
                *self.holder.lock().expect("agent holder lock poisoned") = api;
                Ok(g)
            }
            Err(_) => {
                let held = *self.holder.lock().expect("agent holder lock poisoned");
                Err(VirtError::new(
                    ErrorCode::OperationTimeout,
                    ErrorDomain::Qemu,
                    format!("cannot acquire state change lock (held by agent={held})"),
                ))
            }
        }
    }

    /// Drops the connection unless a call is using it (that call then fails on its own).
    pub fn disconnect(&self) {
        if let Ok(mut g) = self.conn.try_lock() {
            *g = None;
        }
    }
}

/// One agent conversation: the connection under the agent job, and the domain's wait.
pub(crate) struct AgentSession {
    conn: OwnedMutexGuard<Option<Agent>>,
    /// The domain's agent timeout as a deadline (`None`: block).
    pub wait: Option<Duration>,
    /// The live definition when the session began.
    pub live: DomainDef,
    pub link: Arc<AgentLink>,
    pub uuid: Uuid,
    pub gen: u64,
}

impl AgentSession {
    fn agent(&mut self) -> &mut Agent {
        self.conn
            .as_mut()
            .expect("the session opened the connection")
    }

    /// Forgets a connection that failed for good (the next call reconnects).
    fn settle<T>(&mut self, res: &Result<T, AgentError>) {
        if matches!(
            res,
            Err(AgentError::Closed | AgentError::Io(_) | AgentError::Protocol(_))
        ) {
            *self.conn = None;
        }
    }

    /// Runs `cmd` with the domain's wait; the raw error, for callers that tell an
    /// unsupported command apart.
    pub async fn call(&mut self, cmd: &Value) -> Result<Reply, AgentError> {
        let wait = self.wait;
        let res = self.agent().execute(cmd, wait).await;
        self.settle(&res);
        res
    }

    /// [`AgentSession::call`] with the error in libvirt's terms.
    pub async fn run(&mut self, cmd: &Value) -> Result<Value, VirtError> {
        self.call(cmd)
            .await
            .map(|r| r.value)
            .map_err(|e| e.to_virt())
    }

    /// Runs a raw command text waiting `wait`; the reply line.
    pub async fn run_text(
        &mut self,
        text: &str,
        name: &str,
        wait: Option<Duration>,
    ) -> Result<Reply, VirtError> {
        let res = self.agent().execute_text(text, name, wait).await;
        self.settle(&res);
        res.map_err(|e| e.to_virt())
    }

    /// Sends a raw command text without waiting for its reply.
    pub async fn send_only(&mut self, text: &str) -> Result<(), VirtError> {
        let res = self.agent().send_only(text).await;
        self.settle(&res);
        res.map_err(|e| e.to_virt())
    }

    /// `guest-shutdown` in `mode`, done when QEMU reports the guest went down (SHUTDOWN, or
    /// RESET for a reboot).
    async fn shutdown(&mut self, mode: &str) -> Result<(), VirtError> {
        let link = self.link.clone();
        let reboot = mode == "reboot";
        let down = link.shutdown.notified();
        let reset = link.reset.notified();
        tokio::pin!(down, reset);
        down.as_mut().enable();
        reset.as_mut().enable();
        let done = async move {
            if reboot {
                tokio::select! {
                    () = down => {},
                    () = reset => {},
                }
            } else {
                down.await;
            }
        };
        let cmd = json!({"execute": "guest-shutdown", "arguments": {"mode": mode}});
        let res = self
            .agent()
            .execute_until(&cmd, Some(AGENT_SHUTDOWN_WAIT), done)
            .await;
        self.settle(&res);
        res.map_err(|e| e.to_virt())
    }
}

fn agent_error(code: ErrorCode, detail: &str) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail)
}

/// The socket of the agent channel, or why there is none to use.
fn agent_socket(live: &DomainDef) -> Result<PathBuf, VirtError> {
    let (_, ch) = agent_channel(live).ok_or_else(|| {
        agent_error(
            ErrorCode::ArgumentUnsupported,
            "QEMU guest agent is not configured",
        )
    })?;
    if ch.target.state.as_deref() != Some("connected") {
        return Err(agent_error(
            ErrorCode::AgentUnresponsive,
            "QEMU guest agent is not connected",
        ));
    }
    match (&ch.source.char_type, &ch.source.path, ch.source.mode) {
        (CharType::Unix, Some(p), Some(CharSourceMode::Bind)) => Ok(PathBuf::from(p)),
        _ => Err(agent_error(
            ErrorCode::ArgumentUnsupported,
            "the QEMU guest agent channel must be a unix socket QEMU listens on",
        )),
    }
}

impl QemuDriver {
    /// Opens an agent conversation with the running domain `lookup` for `api` (see the
    /// module docs for the checks), connecting to the agent when not connected yet.
    pub(crate) async fn agent_session(
        &self,
        lookup: &DomainLookup,
        api: &'static str,
    ) -> Result<AgentSession, VirtError> {
        let (link, path, timeout, live, uuid, gen) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let run = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            let path = agent_socket(&run.live)?;
            (
                run.agent.clone(),
                path,
                d.agent_timeout,
                run.live.clone(),
                d.def.uuid,
                run.gen,
            )
        };
        let mut conn = link.lock(api).await?;
        if conn.is_none() {
            *conn = Some(Agent::connect(&path).await.map_err(|e| e.to_virt())?);
        }
        Ok(AgentSession {
            conn,
            wait: timeout.wait(),
            live,
            link,
            uuid,
            gen,
        })
    }

    /// Whether the running domain `lookup` has its agent channel connected (libvirt's
    /// `priv->agent` test for the default shutdown method).
    pub(crate) fn agent_connected(&self, lookup: &DomainLookup) -> bool {
        let st = self.lock();
        st.get(lookup)
            .ok()
            .and_then(|d| d.run.as_ref())
            .is_some_and(|r| agent_socket(&r.live).is_ok())
    }

    /// Shutdown (or reboot) through the agent: the guest must be running; `guest-shutdown`
    /// in mode powerdown or reboot, done when QEMU reports it (libvirt's
    /// qemuDomainShutdownFlagsAgent / qemuDomainRebootAgent).
    pub(crate) async fn agent_power(
        &self,
        lookup: &DomainLookup,
        reboot: bool,
        api: &'static str,
    ) -> Result<(), VirtError> {
        let running = {
            let st = self.lock();
            let d = st.get(lookup)?;
            d.run.as_ref().map(|r| r.state.state)
        };
        if running != Some(DomainState::Running) {
            return Err(VirtError::operation_invalid("domain is not running"));
        }
        let mut s = self.agent_session(lookup, api).await?;
        // A host reboot in flight (fake reboot) must not turn this power-off into a reset.
        self.with_run(&s.uuid, s.gen, |r| r.fake_reboot = false);
        s.shutdown(if reboot { "reboot" } else { "powerdown" })
            .await
    }
}
