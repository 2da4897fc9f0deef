//! The QEMU guest agent client: one connection to a guest's `qemu-ga`, over the UNIX socket
//! of its `org.qemu.guest_agent.0` channel, one command at a time.
//!
//! # The conversation
//!
//! The agent runs inside the guest and reads JSON commands from a virtio-serial port; QEMU
//! bridges that port to the channel's socket, which it listens on. Unlike QMP there is no
//! greeting and no session: the agent does not know a client connected, and whatever an
//! earlier client (or an earlier, timed-out command of ours) left in the pipe may still come
//! out. So every conversation starts with a resync:
//!
//! 1. send a 0xFF byte, which resets the agent's JSON parser (it is never valid UTF-8), then
//!    `{"execute":"guest-sync-delimited","arguments":{"id":N}}` with a fresh random N;
//! 2. discard everything up to the 0xFF byte the agent writes right before that reply (stale
//!    replies, and the parse error our own 0xFF may have caused, come before it);
//! 3. read lines until one is `{"return": N}`; other lines (a stale sync's answer, garbage)
//!    are skipped.
//!
//! Once in sync, a command is one line out and one line back, `{"return": ...}` or
//! `{"error": {"class": ..., "desc": ...}}`. Any failure (a timeout above all: the reply may
//! still come later) drops the sync, and the next command resyncs first.
//!
//! # Timeouts
//!
//! Each call has its own deadline (libvirt's: none for BLOCK, 5 s by default, zero for
//! NOWAIT, or seconds); the resync uses the default 5 s, or the call's own if shorter, as
//! libvirt does. A missed deadline is [`AgentError::Timeout`], never a hang, and leaves the
//! connection usable (only out of sync). A closed socket (QEMU exited, or the guest side of
//! the channel went away) is [`AgentError::Closed`].
//!
//! Some commands answer with an event rather than a reply: `guest-shutdown` powers the guest
//! off without answering. [`Agent::execute_until`] sends such a command and succeeds when the
//! caller's future (QEMU's SHUTDOWN or RESET event) completes first.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::guest::AGENT_DEFAULT_WAIT;
use virt_core::VirtError;

/// The longest reply accepted (libvirt's 10 MiB); a longer line is a protocol error.
pub const MAX_REPLY: usize = 10 << 20;

/// The target name of the agent's channel.
pub const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

/// What can go wrong talking to a guest agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The channel's socket could not be connected.
    #[error("cannot connect to the guest agent socket {}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("guest agent i/o failed")]
    Io(#[source] io::Error),
    /// No answer within the deadline.
    #[error("the guest agent did not answer in time")]
    Timeout,
    /// The socket closed before the answer came.
    #[error("the guest agent connection closed")]
    Closed,
    /// The agent sent something that is not its protocol.
    #[error("unexpected data from the guest agent: {0}")]
    Protocol(String),
    /// The agent refused the command.
    #[error("guest agent command '{command}' failed: {class}: {desc}")]
    Command {
        /// The command's name.
        command: String,
        /// The error class (`CommandNotFound`, `GenericError`, ...).
        class: String,
        /// The agent's description (libvirt's text for the class when it gave none).
        desc: String,
    },
}

impl AgentError {
    /// The agent does not have (or has disabled) the command: what libvirt's guest info skips
    /// instead of failing.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, AgentError::Command { class, .. }
            if class == "CommandNotFound" || class == "CommandDisabled")
    }

    /// The error as the driver reports it, in libvirt's terms: a refused command is
    /// INTERNAL_ERROR "unable to execute QEMU agent command 'X': desc"; no answer in time is
    /// AGENT_UNRESPONSIVE "Guest agent not available for now"; a closed connection
    /// AGENT_UNRESPONSIVE "Guest agent disappeared while executing command".
    pub fn to_virt(&self) -> VirtError {
        let (code, detail) = match self {
            AgentError::Connect { path, source } => (
                ErrorCode::AgentUnresponsive,
                format!(
                    "QEMU guest agent is not connected: cannot connect to {}: {source}",
                    path.display()
                ),
            ),
            AgentError::Io(e) => (
                ErrorCode::SystemError,
                format!("Unable to talk to the guest agent: {e}"),
            ),
            AgentError::Timeout => (
                ErrorCode::AgentUnresponsive,
                "Guest agent not available for now".to_string(),
            ),
            AgentError::Closed => (
                ErrorCode::AgentUnresponsive,
                "Guest agent disappeared while executing command".to_string(),
            ),
            AgentError::Protocol(p) => (
                ErrorCode::InternalError,
                format!("unexpected data from the guest agent: {p}"),
            ),
            AgentError::Command { command, desc, .. } => (
                ErrorCode::InternalError,
                format!("unable to execute QEMU agent command '{command}': {desc}"),
            ),
        };
        VirtError::new(code, ErrorDomain::Qemu, detail)
    }
}

/// libvirt's words for an error class the agent gave no description for.
fn class_text(class: &str) -> String {
    match class {
        "BufferOverrun" => "Buffer overrun",
        "CommandDisabled" => "The command has been disabled for this instance",
        "CommandNotFound" => "The command has not been found",
        "FdNotFound" => "File descriptor not found",
        "InvalidParameter" => "Invalid parameter",
        "InvalidParameterType" => "Invalid parameter type",
        "InvalidParameterValue" => "Invalid parameter value",
        "OpenFileFailed" => "Cannot open file",
        "QgaCommandFailed" => "Guest agent command failed",
        "QMPBadInputObjectMember" => "Bad QMP input object member",
        "QMPExtraInputObjectMember" => "Unexpected extra object member",
        "UndefinedError" => "An undefined error has occurred",
        "Unsupported" => "this feature or command is not currently supported",
        "" => "unknown QEMU command error",
        other => other,
    }
    .to_string()
}

/// An answer: the `return` member and the reply line as the agent sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The `return` member.
    pub value: Value,
    /// The whole reply line, without its newline.
    pub text: String,
}

/// One connection to a guest agent.
#[derive(Debug)]
pub struct Agent {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// Bytes of a line not complete yet (kept across a timed-out read).
    pending: Vec<u8>,
    /// Whether the last resync succeeded and nothing has gone wrong since.
    synced: bool,
    next_id: u64,
}

/// A sync id: random enough that a stale sync's answer never matches (wall clock and pid
/// mixed), and below 2^53 so any JSON reader keeps it exact.
fn first_sync_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (u64::from(std::process::id()) << 32)) & ((1 << 53) - 1)
}

/// The resync deadline for a call waiting `wait`: the default, or the call's own if shorter.
fn sync_wait(wait: Option<Duration>) -> Duration {
    match wait {
        Some(w) if w < AGENT_DEFAULT_WAIT => w,
        _ => AGENT_DEFAULT_WAIT,
    }
}

/// Runs `fut` within `wait` (`None`: no deadline).
async fn within<T>(
    wait: Option<Duration>,
    fut: impl Future<Output = Result<T, AgentError>>,
) -> Result<T, AgentError> {
    match wait {
        None => fut.await,
        Some(w) => tokio::time::timeout(w, fut)
            .await
            .unwrap_or(Err(AgentError::Timeout)),
    }
}

/// The name of the command `cmd` (its `execute` member).
fn command_name(cmd: &Value) -> String {
    cmd.get("execute")
        .and_then(Value::as_str)
        .unwrap_or("<unknown>")
        .to_string()
}

impl Agent {
    /// Connects to the agent socket at `path` (not yet in sync: the first command resyncs).
    pub async fn connect(path: &Path) -> Result<Agent, AgentError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| AgentError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let (r, w) = stream.into_split();
        Ok(Agent {
            reader: BufReader::new(r),
            writer: w,
            pending: Vec::new(),
            synced: false,
            next_id: first_sync_id(),
        })
    }

    /// Runs `cmd` (a `{"execute": ...}` object) and answers its reply, waiting at most `wait`
    /// for the resync and the reply together (`None`: as long as it takes).
    pub async fn execute(
        &mut self,
        cmd: &Value,
        wait: Option<Duration>,
    ) -> Result<Reply, AgentError> {
        self.execute_text(&cmd.to_string(), &command_name(cmd), wait)
            .await
    }

    /// [`Agent::execute`] for a command given as JSON text (sent as one line).
    pub async fn execute_text(
        &mut self,
        text: &str,
        name: &str,
        wait: Option<Duration>,
    ) -> Result<Reply, AgentError> {
        let started = tokio::time::Instant::now();
        self.ensure_sync(sync_wait(wait)).await?;
        let left = wait.map(|w| w.saturating_sub(started.elapsed()));
        let res = within(left, async {
            self.send_line(text).await?;
            self.read_reply(name).await
        })
        .await;
        if !matches!(res, Ok(_) | Err(AgentError::Command { .. })) {
            self.synced = false;
        }
        res
    }

    /// Sends a command whose reply nobody waits for (libvirt's NOWAIT): resyncs, writes it and
    /// returns; its reply, if any, is skipped by the next resync.
    pub async fn send_only(&mut self, text: &str) -> Result<(), AgentError> {
        self.ensure_sync(AGENT_DEFAULT_WAIT).await?;
        let res = within(Some(AGENT_DEFAULT_WAIT), self.send_line(text)).await;
        self.synced = false;
        res
    }

    /// Sends a command that answers with an event instead of a reply (`guest-shutdown`):
    /// success when `done` completes first, when the agent replies with success or when it
    /// hangs up (the guest going down closes the channel, sometimes before QEMU's event), the
    /// agent's refusal if it replies with an error, [`AgentError::Timeout`] after `wait`.
    pub async fn execute_until(
        &mut self,
        cmd: &Value,
        wait: Option<Duration>,
        done: impl Future<Output = ()>,
    ) -> Result<(), AgentError> {
        let name = command_name(cmd);
        self.ensure_sync(sync_wait(wait)).await?;
        self.synced = false;
        within(wait, async {
            self.send_line(&cmd.to_string()).await?;
            tokio::select! {
                r = self.read_reply(&name) => match r {
                    // The guest closed the channel on its way down before QEMU's event
                    // arrived: the command did what it was sent for. libvirt takes an end
                    // of file while it awaits the event as success too.
                    Err(AgentError::Closed) => Ok(()),
                    r => r.map(|_| ()),
                },
                () = done => Ok(()),
            }
        })
        .await
    }

    async fn ensure_sync(&mut self, wait: Duration) -> Result<(), AgentError> {
        if self.synced {
            return Ok(());
        }
        let id = self.next_id;
        self.next_id = (self.next_id + 1) & ((1 << 53) - 1);
        within(Some(wait), self.resync(id)).await?;
        self.synced = true;
        Ok(())
    }

    async fn resync(&mut self, id: u64) -> Result<(), AgentError> {
        let cmd = json!({"execute": "guest-sync-delimited", "arguments": {"id": id}});
        let mut out = vec![0xffu8];
        out.extend_from_slice(cmd.to_string().as_bytes());
        out.push(b'\n');
        self.writer.write_all(&out).await.map_err(AgentError::Io)?;
        self.skip_to_delimiter().await?;
        loop {
            let line = self.read_line().await?;
            let trimmed: Vec<u8> = line.iter().copied().skip_while(|b| *b == 0xff).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&trimmed) else {
                continue;
            };
            if v.get("return").and_then(Value::as_u64) == Some(id) {
                return Ok(());
            }
            if let Some(e) = v.get("error") {
                return Err(refusal("guest-sync-delimited", e));
            }
        }
    }

    /// Discards input up to and including the next 0xFF byte.
    async fn skip_to_delimiter(&mut self) -> Result<(), AgentError> {
        if let Some(i) = self.pending.iter().position(|b| *b == 0xff) {
            self.pending.drain(..=i);
            return Ok(());
        }
        self.pending.clear();
        loop {
            let buf = self.reader.fill_buf().await.map_err(AgentError::Io)?;
            if buf.is_empty() {
                return Err(AgentError::Closed);
            }
            if let Some(i) = buf.iter().position(|b| *b == 0xff) {
                self.reader.consume(i + 1);
                return Ok(());
            }
            let n = buf.len();
            self.reader.consume(n);
        }
    }

    async fn send_line(&mut self, text: &str) -> Result<(), AgentError> {
        let mut out = text.trim_end().as_bytes().to_vec();
        out.push(b'\n');
        self.writer.write_all(&out).await.map_err(AgentError::Io)
    }

    /// The next line (without its newline); survives cancellation (partial bytes stay in
    /// `pending`).
    async fn read_line(&mut self) -> Result<Vec<u8>, AgentError> {
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                return Ok(line);
            }
            if self.pending.len() > MAX_REPLY {
                return Err(AgentError::Protocol(format!(
                    "no complete reply in {MAX_REPLY} bytes"
                )));
            }
            let buf = self.reader.fill_buf().await.map_err(AgentError::Io)?;
            if buf.is_empty() {
                return Err(AgentError::Closed);
            }
            let n = buf.len();
            self.pending.extend_from_slice(buf);
            self.reader.consume(n);
        }
    }

    /// Reads the reply to command `name`.
    async fn read_reply(&mut self, name: &str) -> Result<Reply, AgentError> {
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if text.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&text)
                .map_err(|_| AgentError::Protocol(format!("not JSON: {text}")))?;
            if let Some(e) = v.get("error") {
                return Err(refusal(name, e));
            }
            if let Some(r) = v.get("return") {
                return Ok(Reply {
                    value: r.clone(),
                    text,
                });
            }
            if v.get("event").is_some() {
                continue;
            }
            return Err(AgentError::Protocol(format!("unknown reply: {text}")));
        }
    }
}

/// The refusal an `{"error": ...}` member describes.
fn refusal(command: &str, e: &Value) -> AgentError {
    let class = e
        .get("class")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let desc = e
        .get("desc")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| class_text(&class));
    AgentError::Command {
        command: command.to_string(),
        class,
        desc,
    }
}

pub mod replies;

#[cfg(test)]
mod tests;
