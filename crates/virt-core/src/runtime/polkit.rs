//! polkit authorization of UNIX-socket clients (`auth_unix_rw = "polkit"`,
//! `auth_unix_ro = "polkit"` in the daemon's config file, see [`super::config`]).
//!
//! With polkit on for a socket, the first call on each connection asks polkit, on the system
//! bus (`DBUS_SYSTEM_BUS_ADDRESS`, else `/var/run/dbus/system_bus_socket`), through
//! `org.freedesktop.PolicyKit1.Authority.CheckAuthorization`, whether the process at the other
//! end may do `org.libvirt.unix.manage` (read-write socket) or `org.libvirt.unix.monitor`
//! (read-only socket). The subject is a `unix-process`: the peer's pid and uid from
//! `SO_PEERCRED` and the process's start time from `/proc/PID/stat` (so a reused pid is not
//! mistaken for the client). The answer is kept for the connection: later calls on it are not
//! asked again, as libvirt authorizes a connection once at open. Calls that arrive while the
//! question is out wait for the same answer. An answer that could not be had (polkit
//! unreachable) is not kept: the next call asks again.
//!
//! What a client gets (the gRPC code, and the libvirt error in the status's `ErrorInfo`):
//!
//! | polkit says | code | libvirt error | message |
//! |---|---|---|---|
//! | authorized | the call runs | | |
//! | not authorized | PERMISSION_DENIED | AUTH_FAILED | `authentication failed: access denied by policy for action 'ACTION' (pid P, uid U)` |
//! | not authorized, challenge | PERMISSION_DENIED | AUTH_UNAVAILABLE | `authentication unavailable: no polkit agent available to authenticate action 'ACTION'` |
//! | dismissed by the user | PERMISSION_DENIED | AUTH_CANCELLED | `authentication cancelled: user cancelled authentication process for action 'ACTION'` |
//! | no answer (bus or polkitd missing, error, no reply in 25 s) | UNAVAILABLE | AUTH_UNAVAILABLE | `authentication unavailable: cannot ask polkit for action 'ACTION' on the system bus ADDRESS: WHY` |
//! | (peer not identifiable) | PERMISSION_DENIED | AUTH_FAILED | `authentication failed: cannot identify the client process for action 'ACTION'` |
//!
//! As libvirt (`remote_daemon_dispatch.c`, `virpolkit.c`):
//! - root (uid 0) is never asked: "so that root is not denied when some piece of polkit is not
//!   running"; the bypass is logged;
//! - the call sets `AllowUserInteraction`, so an authentication agent registered for the
//!   client's session may prompt (pkttyagent, a desktop agent);
//! - no details are passed, the cancellation id is empty;
//! - the D-Bus call waits D-Bus's default 25 s for a reply.
//!
//! Where we differ: libvirt asks once, at `virConnectOpen`, through its AUTH_POLKIT RPC, and the
//! client's open fails; gRPC has no open, so we ask at the connection's first call and refuse
//! every call of a refused connection with the same status (so `virt` reports the refusal
//! under the failed command, "error: Failed to list domains", where virsh says "error: failed
//! to connect to the hypervisor"). libvirt's denial message is
//! "authentication failed: access denied by policy" without the action; ours names it (and the
//! pid and uid), and is PERMISSION_DENIED rather than the UNAUTHENTICATED the AUTH_* errors map
//! to otherwise, because the caller is known and refused. A polkit that cannot be reached gives
//! UNAVAILABLE here, where libvirt reports the D-Bus error as an authentication failure. libvirt
//! never asks about its read-only socket unless `auth_unix_ro = "polkit"` either; the same here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::Either;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, UdsConnectInfo};
use tonic::{Code, Status};
use tower::{Layer, Service};

use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// The action the read-write socket asks for.
pub const ACTION_MANAGE: &str = "org.libvirt.unix.manage";
/// The action the read-only socket asks for.
pub const ACTION_MONITOR: &str = "org.libvirt.unix.monitor";
/// How long a CheckAuthorization call may take (connecting included): D-Bus's default reply
/// timeout, which libvirt's call uses too.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(25);
/// The system bus when `DBUS_SYSTEM_BUS_ADDRESS` is not set.
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/var/run/dbus/system_bus_socket";

/// The process asking: from `SO_PEERCRED`, with its start time from `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Process id.
    pub pid: u32,
    /// Start time, clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
    /// User id.
    pub uid: u32,
}

/// What polkit answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Authorized.
    Allowed,
    /// Not authorized.
    Denied,
    /// Not authorized, but would be after authenticating (no agent answered the challenge).
    Challenge,
    /// The user dismissed the authentication dialog.
    Dismissed,
}

/// polkit could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum PolkitError {
    /// The D-Bus connection or call failed.
    #[error("{0}")]
    Bus(#[from] zbus::Error),
    /// No reply in time.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
}

/// A client of polkit's authority on the system bus; the bus connection is opened on first use
/// and opened again after it failed.
#[derive(Debug)]
pub struct Polkit {
    conn: tokio::sync::Mutex<Option<zbus::Connection>>,
    timeout: Duration,
    address: Option<String>,
}

impl Default for Polkit {
    fn default() -> Self {
        Polkit::new(CHECK_TIMEOUT)
    }
}

impl Polkit {
    /// A client whose calls give up after `timeout`.
    pub fn new(timeout: Duration) -> Polkit {
        Polkit {
            conn: tokio::sync::Mutex::new(None),
            timeout,
            address: None,
        }
    }

    /// A client of the bus at `address` (a D-Bus address, `unix:path=...`) instead of the
    /// system bus.
    pub fn with_address(mut self, address: &str) -> Polkit {
        self.address = Some(address.to_string());
        self
    }

    /// The bus asked: the one given, else the system bus as zbus resolves it
    /// (`DBUS_SYSTEM_BUS_ADDRESS`, else the default path).
    pub fn bus_address(&self) -> String {
        self.address.clone().unwrap_or_else(|| {
            std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
                .ok()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| DEFAULT_SYSTEM_BUS.to_string())
        })
    }

    /// Asks whether `subject` may do `action`.
    pub async fn check(&self, action: &str, subject: Subject) -> Result<Answer, PolkitError> {
        match tokio::time::timeout(self.timeout, self.check_inner(action, subject)).await {
            Ok(r) => {
                if r.is_err() {
                    // A broken connection is not reused; a fresh one is tried next time.
                    *self.conn.lock().await = None;
                }
                r
            }
            Err(_) => {
                *self.conn.lock().await = None;
                Err(PolkitError::Timeout(self.timeout))
            }
        }
    }

    async fn connection(&self) -> Result<zbus::Connection, PolkitError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = match &self.address {
            Some(a) => {
                zbus::connection::Builder::address(a.as_str())?
                    .build()
                    .await?
            }
            None => zbus::Connection::system().await?,
        };
        *guard = Some(c.clone());
        Ok(c)
    }

    async fn check_inner(&self, action: &str, subject: Subject) -> Result<Answer, PolkitError> {
        use zbus::zvariant::Value;
        let conn = self.connection().await?;
        let process: HashMap<&str, Value<'_>> = HashMap::from([
            ("pid", Value::U32(subject.pid)),
            ("start-time", Value::U64(subject.start_time)),
            ("uid", Value::I32(subject.uid as i32)),
        ]);
        let details: HashMap<&str, &str> = HashMap::new();
        // CheckAuthorizationFlags: AllowUserInteraction = 1, as libvirt asks.
        let flags: u32 = 1;
        let body = (("unix-process", process), action, details, flags, "");
        let reply = conn
            .call_method(
                Some("org.freedesktop.PolicyKit1"),
                "/org/freedesktop/PolicyKit1/Authority",
                Some("org.freedesktop.PolicyKit1.Authority"),
                "CheckAuthorization",
                &body,
            )
            .await?;
        let ((authorized, challenge, details),): ((bool, bool, HashMap<String, String>),) =
            reply.body().deserialize()?;
        Ok(if authorized {
            Answer::Allowed
        } else if details.get("polkit.dismissed").is_some_and(|v| v == "true") {
            Answer::Dismissed
        } else if challenge {
            Answer::Challenge
        } else {
            Answer::Denied
        })
    }
}

/// What is known of a UNIX-socket connection: its peer's credentials and, once asked, polkit's
/// verdict. tonic puts it in every request's extensions (it is the connection's
/// [`Connected::ConnectInfo`]); all requests of one connection share the verdict.
#[derive(Clone, Debug)]
pub struct UnixPeer {
    /// `SO_PEERCRED` of the connection.
    pub cred: Option<tokio::net::unix::UCred>,
    verdict: Arc<tokio::sync::OnceCell<Result<(), Status>>>,
}

impl UnixPeer {
    /// A connection from `cred`, not yet authorized.
    pub fn new(cred: Option<tokio::net::unix::UCred>) -> UnixPeer {
        UnixPeer {
            cred,
            verdict: Arc::new(tokio::sync::OnceCell::new()),
        }
    }
}

/// An accepted UNIX stream carrying its [`UnixPeer`].
pub struct PeerConn<IO> {
    io: IO,
    peer: UnixPeer,
}

impl<IO> std::fmt::Debug for PeerConn<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConn")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<IO: Connected<ConnectInfo = UdsConnectInfo>> PeerConn<IO> {
    /// Wraps `io`, reading its peer credentials.
    pub fn new(io: IO) -> PeerConn<IO> {
        let peer = UnixPeer::new(io.connect_info().peer_cred);
        PeerConn { io, peer }
    }
}

impl<IO> Connected for PeerConn<IO>
where
    IO: Connected<ConnectInfo = UdsConnectInfo>,
{
    type ConnectInfo = UnixPeer;

    fn connect_info(&self) -> UnixPeer {
        self.peer.clone()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for PeerConn<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PeerConn<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// One socket's gate: the polkit client and the action asked for.
#[derive(Debug)]
pub struct Gate {
    polkit: Arc<Polkit>,
    action: &'static str,
}

impl Gate {
    /// A gate asking `polkit` for `action`.
    pub fn new(polkit: Arc<Polkit>, action: &'static str) -> Gate {
        Gate { polkit, action }
    }

    /// The connection's verdict: kept from an earlier call, or asked now.
    pub async fn authorize(&self, peer: Option<&UnixPeer>) -> Result<(), Status> {
        let Some(peer) = peer else {
            return Err(self.unidentified());
        };
        peer.verdict
            .get_or_try_init(|| self.ask(peer.cred))
            .await?
            .clone()
    }

    /// The verdict for `cred` (`Ok`, to keep for the connection), or why polkit could not be
    /// asked (`Err`, not kept).
    async fn ask(
        &self,
        cred: Option<tokio::net::unix::UCred>,
    ) -> Result<Result<(), Status>, Status> {
        let action = self.action;
        let Some(cred) = cred else {
            return Ok(Err(self.unidentified()));
        };
        let pid = cred.pid().and_then(|p| u32::try_from(p).ok());
        if cred.uid() == 0 {
            tracing::info!(
                pid = pid.unwrap_or(0),
                action,
                "bypass polkit auth for privileged client (uid 0)"
            );
            return Ok(Ok(()));
        }
        let Some(pid) = pid else {
            return Ok(Err(self.unidentified()));
        };
        let Some(stat) = crate::procfs::stat(pid as i32).filter(|s| s.start_time > 0) else {
            tracing::warn!(
                pid,
                action,
                "failing polkit auth: no start time for the client process"
            );
            return Ok(Err(self.unidentified()));
        };
        let subject = Subject {
            pid,
            start_time: stat.start_time,
            uid: cred.uid(),
        };
        self.ask_subject(subject).await
    }

    /// polkit's verdict on `subject` (kept), or why it could not be asked (not kept).
    async fn ask_subject(&self, subject: Subject) -> Result<Result<(), Status>, Status> {
        let action = self.action;
        let Subject { pid, uid, .. } = subject;
        match self.polkit.check(action, subject).await {
            Ok(Answer::Allowed) => {
                tracing::info!(action, pid, uid, "policy allowed action");
                Ok(Ok(()))
            }
            Ok(answer) => {
                tracing::info!(action, pid, uid, ?answer, "policy denied action");
                Ok(Err(refusal(action, answer, subject)))
            }
            Err(e) => {
                let bus = self.polkit.bus_address();
                tracing::warn!(action, pid, uid, %bus, error = %e, "cannot ask polkit");
                let err = VirtError::new(
                    ErrorCode::AuthUnavailable,
                    ErrorDomain::Polkit,
                    format!("cannot ask polkit for action '{action}' on the system bus {bus}: {e}"),
                );
                Err(crate::status::to_status_with(&err, Code::Unavailable))
            }
        }
    }

    fn unidentified(&self) -> Status {
        let err = VirtError::new(
            ErrorCode::AuthFailed,
            ErrorDomain::Polkit,
            format!(
                "cannot identify the client process for action '{}'",
                self.action
            ),
        );
        crate::status::to_status_with(&err, Code::PermissionDenied)
    }
}

/// The status of a refusal: PERMISSION_DENIED naming the action, the libvirt error as libvirt
/// raises it for that answer (see the module doc).
pub fn refusal(action: &str, answer: Answer, subject: Subject) -> Status {
    let (code, detail) = match answer {
        Answer::Challenge => (
            ErrorCode::AuthUnavailable,
            format!("no polkit agent available to authenticate action '{action}'"),
        ),
        Answer::Dismissed => (
            ErrorCode::AuthCancelled,
            format!("user cancelled authentication process for action '{action}'"),
        ),
        Answer::Denied | Answer::Allowed => (
            ErrorCode::AuthFailed,
            format!(
                "access denied by policy for action '{action}' (pid {}, uid {})",
                subject.pid, subject.uid
            ),
        ),
    };
    let err = VirtError::new(code, ErrorDomain::Polkit, detail);
    crate::status::to_status_with(&err, Code::PermissionDenied)
}

/// Tower layer asking a [`Gate`] before a call goes on; without a gate, a pass-through.
#[derive(Clone, Debug, Default)]
pub struct PolkitLayer {
    gate: Option<Arc<Gate>>,
}

impl PolkitLayer {
    /// A layer asking `gate` (`None`: no authorization).
    pub fn new(gate: Option<Arc<Gate>>) -> PolkitLayer {
        PolkitLayer { gate }
    }
}

impl<S> Layer<S> for PolkitLayer {
    type Service = PolkitService<S>;

    fn layer(&self, inner: S) -> PolkitService<S> {
        PolkitService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service made by [`PolkitLayer`].
#[derive(Clone, Debug)]
pub struct PolkitService<S> {
    inner: S,
    gate: Option<Arc<Gate>>,
}

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for PolkitService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Either<BoxFut<Result<http::Response<R>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(gate) = self.gate.clone() else {
            return Either::Right(self.inner.call(req));
        };
        let peer = req.extensions().get::<UnixPeer>().cloned();
        // The connection's verdict is known: no allocation, no wait.
        if let Some(Ok(())) = peer.as_ref().and_then(|p| p.verdict.get()) {
            return Either::Right(self.inner.call(req));
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Either::Left(Box::pin(async move {
            match gate.authorize(peer.as_ref()).await {
                Ok(()) => inner.call(req).await,
                Err(status) => Ok(status.into_http()),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    fn subject() -> Subject {
        Subject {
            pid: 4242,
            start_time: 7,
            uid: 1000,
        }
    }

    #[test]
    fn refusals_are_permission_denied_naming_the_action() {
        let st = refusal(ACTION_MANAGE, Answer::Denied, subject());
        assert_eq!(st.code(), Code::PermissionDenied);
        assert_eq!(
            st.message(),
            "authentication failed: access denied by policy for action 'org.libvirt.unix.manage' (pid 4242, uid 1000)"
        );
        let info = st.get_details_error_info().expect("error info");
        assert_eq!(info.reason, "AUTH_FAILED");
        assert_eq!(info.metadata["error_domain"], "POLKIT");

        let st = refusal(ACTION_MONITOR, Answer::Challenge, subject());
        assert_eq!(st.code(), Code::PermissionDenied);
        assert_eq!(
            st.message(),
            "authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.monitor'"
        );
        assert_eq!(
            st.get_details_error_info().expect("info").reason,
            "AUTH_UNAVAILABLE"
        );
        let st = refusal(ACTION_MANAGE, Answer::Dismissed, subject());
        assert_eq!(
            st.get_details_error_info().expect("info").reason,
            "AUTH_CANCELLED"
        );
        assert!(st.message().contains("'org.libvirt.unix.manage'"));
    }

    #[tokio::test]
    async fn root_is_not_asked_and_an_unknown_peer_is_refused() {
        // A polkit on a bus that does not exist: asking it would fail.
        let gate = Gate::new(
            Arc::new(Polkit::new(Duration::from_millis(100))),
            ACTION_MANAGE,
        );
        let st = gate.authorize(None).await.expect_err("no peer");
        assert_eq!(st.code(), Code::PermissionDenied);
        assert_eq!(
            st.message(),
            "authentication failed: cannot identify the client process for action 'org.libvirt.unix.manage'"
        );
        let st = gate
            .authorize(Some(&UnixPeer::new(None)))
            .await
            .expect_err("no credentials");
        assert_eq!(st.code(), Code::PermissionDenied);

        // Our own socket pair: the peer is this process, uid 0 when the tests run as root.
        let (a, _b) = tokio::net::UnixStream::pair().expect("pair");
        let cred = a.peer_cred().expect("peer cred");
        if cred.uid() == 0 {
            gate.authorize(Some(&UnixPeer::new(Some(cred))))
                .await
                .expect("root bypasses polkit");
        }
    }

    #[tokio::test]
    async fn an_unreachable_bus_is_unavailable_naming_the_bus_and_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = format!("unix:path={}/no-bus", dir.path().display());
        let polkit = Polkit::new(Duration::from_secs(2)).with_address(&addr);
        let gate = Gate::new(Arc::new(polkit), ACTION_MANAGE);
        let st = gate
            .ask_subject(subject())
            .await
            .expect_err("no bus: not a verdict to keep");
        assert_eq!(st.code(), Code::Unavailable);
        let want = format!(
            "authentication unavailable: cannot ask polkit for action 'org.libvirt.unix.manage' on the system bus {addr}: "
        );
        assert!(st.message().starts_with(&want), "{}", st.message());
        assert_eq!(
            st.get_details_error_info().expect("info").reason,
            "AUTH_UNAVAILABLE"
        );
    }

    #[tokio::test]
    async fn a_bus_that_never_answers_times_out() {
        // A listener that accepts and says nothing: the D-Bus handshake never completes.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mute-bus");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let polkit = Polkit::new(Duration::from_millis(300))
            .with_address(&format!("unix:path={}", path.display()));
        let started = std::time::Instant::now();
        let err = polkit
            .check(ACTION_MANAGE, subject())
            .await
            .expect_err("mute bus");
        assert!(matches!(err, PolkitError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
