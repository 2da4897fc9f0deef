//! An async client of the Xen Store wire protocol (Xen's `xs_wire.h`).
//!
//! One Unix-socket connection carries every request: each frame is a 16-byte header of four
//! native-endian `u32` fields (`type`, `req_id`, `tx_id`, `len`) and `len` bytes of payload
//! (at most 4096, both ways). A writer task sends whole frames (so a cancelled request never
//! leaves half a frame on the wire), and a reader task matches replies to requests by `req_id`
//! and hands `WATCH_EVENT` messages to the [`Watch`] that registered their token, so watch events
//! arrive while requests keep flowing.
//!
//! Errors are [`Error`]s naming the operation and the path; the daemon's `ERROR` replies (errno
//! names such as `ENOENT`) become [`Errno`] values.
//!
//! Read-only connections: Xen's older daemons listen on a second socket, `socket_ro`, that refuses
//! writes; Xen 4.17's C xenstored no longer creates it (read-only opens use the same socket). A
//! connection opened with [`Mode::ReadOnly`] uses `socket_ro` when it exists, else the read-write
//! socket, and in both cases refuses every modifying request itself with [`Error::ReadOnly`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The largest payload either side may send (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = 4096;
/// The daemon's read-write socket when `XENSTORED_PATH` is unset.
pub const DEFAULT_SOCKET: &str = "/var/run/xenstored/socket";
/// The read-only socket of older daemons.
pub const DEFAULT_SOCKET_RO: &str = "/var/run/xenstored/socket_ro";
/// How many times [`XenStore::transaction`] runs its body when commits keep failing with `EAGAIN`.
pub const TRANSACTION_ATTEMPTS: u32 = 32;
/// Events a [`Watch`] buffers before further ones are dropped (and counted in [`Watch::lost`]).
pub const WATCH_QUEUE: usize = 1024;

const HEADER_LEN: usize = 16;
const WRITE_QUEUE: usize = 64;

/// Message types of the wire protocol.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum MsgType {
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,
    ResetWatches = 21,
    DirectoryPart = 22,
}

impl MsgType {
    fn from_u32(v: u32) -> Option<Self> {
        use MsgType::*;
        Some(match v {
            0 => Control,
            1 => Directory,
            2 => Read,
            3 => GetPerms,
            4 => Watch,
            5 => Unwatch,
            6 => TransactionStart,
            7 => TransactionEnd,
            8 => Introduce,
            9 => Release,
            10 => GetDomainPath,
            11 => Write,
            12 => Mkdir,
            13 => Rm,
            14 => SetPerms,
            15 => WatchEvent,
            16 => Error,
            17 => IsDomainIntroduced,
            18 => Resume,
            19 => SetTarget,
            21 => ResetWatches,
            22 => DirectoryPart,
            _ => return None,
        })
    }

    /// The operation's name in errors.
    pub fn name(self) -> &'static str {
        use MsgType::*;
        match self {
            Control => "control",
            Directory => "directory",
            Read => "read",
            GetPerms => "get_perms",
            Watch => "watch",
            Unwatch => "unwatch",
            TransactionStart => "transaction_start",
            TransactionEnd => "transaction_end",
            Introduce => "introduce",
            Release => "release",
            GetDomainPath => "get_domain_path",
            Write => "write",
            Mkdir => "mkdir",
            Rm => "rm",
            SetPerms => "set_perms",
            WatchEvent => "watch_event",
            Error => "error",
            IsDomainIntroduced => "is_domain_introduced",
            Resume => "resume",
            SetTarget => "set_target",
            ResetWatches => "reset_watches",
            DirectoryPart => "directory_part",
        }
    }

    fn modifies(self) -> bool {
        use MsgType::*;
        matches!(
            self,
            Write
                | Mkdir
                | Rm
                | SetPerms
                | Introduce
                | Release
                | Resume
                | SetTarget
                | ResetWatches
                | Control
        )
    }
}

impl fmt::Display for MsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An errno name of an `ERROR` reply.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Errno {
    Einval,
    Eacces,
    Eexist,
    Eisdir,
    Enoent,
    Enomem,
    Enospc,
    Eio,
    Enotempty,
    Enosys,
    Erofs,
    Ebusy,
    Eagain,
    Eisconn,
    E2big,
    Equota,
    /// A name this client does not know.
    Other(String),
}

impl Errno {
    fn parse(name: &str) -> Self {
        match name {
            "EINVAL" => Errno::Einval,
            "EACCES" => Errno::Eacces,
            "EEXIST" => Errno::Eexist,
            "EISDIR" => Errno::Eisdir,
            "ENOENT" => Errno::Enoent,
            "ENOMEM" => Errno::Enomem,
            "ENOSPC" => Errno::Enospc,
            "EIO" => Errno::Eio,
            "ENOTEMPTY" => Errno::Enotempty,
            "ENOSYS" => Errno::Enosys,
            "EROFS" => Errno::Erofs,
            "EBUSY" => Errno::Ebusy,
            "EAGAIN" => Errno::Eagain,
            "EISCONN" => Errno::Eisconn,
            "E2BIG" => Errno::E2big,
            "EQUOTA" => Errno::Equota,
            other => Errno::Other(other.to_string()),
        }
    }

    /// The name as the daemon sends it.
    pub fn name(&self) -> &str {
        match self {
            Errno::Einval => "EINVAL",
            Errno::Eacces => "EACCES",
            Errno::Eexist => "EEXIST",
            Errno::Eisdir => "EISDIR",
            Errno::Enoent => "ENOENT",
            Errno::Enomem => "ENOMEM",
            Errno::Enospc => "ENOSPC",
            Errno::Eio => "EIO",
            Errno::Enotempty => "ENOTEMPTY",
            Errno::Enosys => "ENOSYS",
            Errno::Erofs => "EROFS",
            Errno::Ebusy => "EBUSY",
            Errno::Eagain => "EAGAIN",
            Errno::Eisconn => "EISCONN",
            Errno::E2big => "E2BIG",
            Errno::Equota => "EQUOTA",
            Errno::Other(s) => s,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Xen Store client error; each names the operation and the path (or domain) it concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be opened.
    #[error("xenstore: cannot connect to {path}: {source}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The daemon answered `ERROR`.
    #[error("xenstore {op} {path}: {errno}")]
    Daemon {
        /// The operation.
        op: MsgType,
        /// The path (or domain id) it concerned.
        path: String,
        /// The daemon's errno name.
        errno: Errno,
    },
    /// A modifying request on a read-only connection.
    #[error("xenstore {op} {path}: the connection is read-only")]
    ReadOnly {
        /// The operation.
        op: MsgType,
        /// The path it concerned.
        path: String,
    },
    /// The request would not fit a frame, or an argument cannot be encoded (a NUL in a path).
    #[error("xenstore {op} {path}: invalid request: {reason}")]
    InvalidRequest {
        /// The operation.
        op: MsgType,
        /// The path it concerned.
        path: String,
        /// Why.
        reason: String,
    },
    /// The daemon's reply was not what the protocol allows.
    #[error("xenstore {op} {path}: malformed reply: {reason}")]
    Protocol {
        /// The operation.
        op: MsgType,
        /// The path it concerned.
        path: String,
        /// Why.
        reason: String,
    },
    /// The connection is closed (by the daemon, an I/O error, a protocol violation or [`XenStore::close`]).
    #[error("xenstore {op} {path}: connection closed")]
    Closed {
        /// The operation.
        op: MsgType,
        /// The path it concerned.
        path: String,
    },
}

impl Error {
    /// The daemon's errno, for [`Error::Daemon`].
    pub fn errno(&self) -> Option<&Errno> {
        match self {
            Error::Daemon { errno, .. } => Some(errno),
            _ => None,
        }
    }

    /// Whether the daemon said `EAGAIN` (a transaction conflict).
    pub fn is_eagain(&self) -> bool {
        self.errno() == Some(&Errno::Eagain)
    }

    /// Whether the daemon said `ENOENT`.
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(&Errno::Enoent)
    }
}

/// The result of Xen Store operations.
pub type Result<T> = std::result::Result<T, Error>;

/// The access one permission entry grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `n`: none.
    None,
    /// `r`: read.
    Read,
    /// `w`: write.
    Write,
    /// `b`: read and write.
    Both,
}

/// One permission entry, `<letter><domid>`. The first entry of a node's list names its owner and
/// the access of every domain not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm {
    /// The domain.
    pub domid: u32,
    /// Its access.
    pub access: Access,
}

impl Perm {
    /// An entry.
    pub fn new(domid: u32, access: Access) -> Self {
        Perm { domid, access }
    }

    /// Parses `r0`, `n5`, ...
    pub fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let access = match chars.next()? {
            'n' => Access::None,
            'r' => Access::Read,
            'w' => Access::Write,
            'b' => Access::Both,
            _ => return None,
        };
        let rest = chars.as_str();
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Perm {
            domid: rest.parse().ok()?,
            access,
        })
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self.access {
            Access::None => 'n',
            Access::Read => 'r',
            Access::Write => 'w',
            Access::Both => 'b',
        };
        write!(f, "{c}{}", self.domid)
    }
}

/// Whether a connection may modify the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every operation.
    ReadWrite,
    /// Reads, listings, permissions reads and watches only.
    ReadOnly,
}

/// A watch event: the path that changed (or the watched special path) and the watch's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The path that fired.
    pub path: String,
    /// The token the watch was registered with.
    pub token: String,
}

struct Reply {
    kind: u32,
    payload: Vec<u8>,
}

struct WatchSlot {
    tx: mpsc::Sender<WatchEvent>,
    lost: Arc<AtomicU64>,
}

#[derive(Default)]
struct State {
    closed: bool,
    pending: HashMap<u32, oneshot::Sender<Reply>>,
    watches: HashMap<String, WatchSlot>,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding it; the maps stay usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.pending.clear();
        st.watches.clear();
    }
}

struct Inner {
    shared: Arc<Shared>,
    frames: mpsc::Sender<Vec<u8>>,
    next_req: AtomicU32,
    next_token: AtomicU32,
    mode: Mode,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
        self.reader.abort();
        self.writer.abort();
    }
}

/// A connection to the Xen Store daemon. Cloning shares the connection.
#[derive(Clone)]
pub struct XenStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for XenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XenStore")
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

/// Removes a pending request's slot when its future ends or is dropped.
struct PendingGuard<'a> {
    shared: &'a Shared,
    req_id: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.req_id);
    }
}

/// The read-write socket: `XENSTORED_PATH`, else [`DEFAULT_SOCKET`].
pub fn socket_path_rw() -> PathBuf {
    match std::env::var_os("XENSTORED_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// The read-only socket: `socket_ro` beside the read-write one when the daemon has it, else
/// the read-write socket.
pub fn socket_path_ro() -> PathBuf {
    let rw = socket_path_rw();
    let mut ro = rw.clone().into_os_string();
    ro.push("_ro");
    let ro = PathBuf::from(ro);
    if ro.exists() {
        ro
    } else {
        rw
    }
}

fn nul_strings(payload: &[u8]) -> Vec<String> {
    let body = payload.strip_suffix(b"\0").unwrap_or(payload);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

impl XenStore {
    /// Connects read-write where Xen's tools do: `XENSTORED_PATH`, else [`DEFAULT_SOCKET`].
    pub async fn connect() -> Result<Self> {
        Self::connect_path(socket_path_rw(), Mode::ReadWrite).await
    }

    /// Connects read-only: `socket_ro` beside the read-write socket when the daemon has one
    /// (older Xen), else the read-write socket, refusing modifications in this client.
    pub async fn connect_read_only() -> Result<Self> {
        Self::connect_path(socket_path_ro(), Mode::ReadOnly).await
    }

    /// Connects to the socket at `path`.
    pub async fn connect_path(path: impl AsRef<Path>, mode: Mode) -> Result<Self> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| Error::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self::from_stream(stream, mode))
    }

    /// Runs the protocol over an already connected stream.
    pub fn from_stream(stream: UnixStream, mode: Mode) -> Self {
        let (rd, wr) = stream.into_split();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let (frames, frames_rx) = mpsc::channel(WRITE_QUEUE);
        let reader = tokio::spawn(read_loop(rd, shared.clone()));
        let writer = tokio::spawn(write_loop(wr, frames_rx, shared.clone()));
        XenStore {
            inner: Arc::new(Inner {
                shared,
                frames,
                next_req: AtomicU32::new(1),
                next_token: AtomicU32::new(1),
                mode,
                reader,
                writer,
            }),
        }
    }

    /// The connection's mode.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Closes the connection: pending requests fail with [`Error::Closed`], watch streams end.
    /// Other clones of this handle see a closed connection too.
    pub fn close(&self) {
        self.inner.shared.close();
        self.inner.reader.abort();
        self.inner.writer.abort();
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.lock().closed
    }

    async fn request(
        &self,
        op: MsgType,
        tx_id: u32,
        args: &[&[u8]],
        path: &str,
    ) -> Result<Vec<u8>> {
        let ctx = |op| (op, path.to_string());
        if self.inner.mode == Mode::ReadOnly && op.modifies() {
            let (op, path) = ctx(op);
            return Err(Error::ReadOnly { op, path });
        }
        let len: usize = args.iter().map(|a| a.len()).sum();
        if len > PAYLOAD_MAX {
            let (op, path) = ctx(op);
            return Err(Error::InvalidRequest {
                op,
                path,
                reason: format!("payload of {len} bytes exceeds {PAYLOAD_MAX}"),
            });
        }
        let (tx, rx) = oneshot::channel();
        let req_id = {
            let mut st = self.inner.shared.lock();
            if st.closed {
                let (op, path) = ctx(op);
                return Err(Error::Closed { op, path });
            }
            let mut id;
            loop {
                id = self.inner.next_req.fetch_add(1, Ordering::Relaxed);
                if id != 0 && !st.pending.contains_key(&id) {
                    break;
                }
            }
            st.pending.insert(id, tx);
            id
        };
        let _guard = PendingGuard {
            shared: &self.inner.shared,
            req_id,
        };
        let mut frame = Vec::with_capacity(HEADER_LEN + len);
        frame.extend_from_slice(&(op as u32).to_ne_bytes());
        frame.extend_from_slice(&req_id.to_ne_bytes());
        frame.extend_from_slice(&tx_id.to_ne_bytes());
        frame.extend_from_slice(&(len as u32).to_ne_bytes());
        for a in args {
            frame.extend_from_slice(a);
        }
        tracing::trace!(op = op.name(), req_id, tx_id, path, "xenstore request");
        if self.inner.frames.send(frame).await.is_err() {
            let (op, path) = ctx(op);
            return Err(Error::Closed { op, path });
        }
        let reply = match rx.await {
            Ok(r) => r,
            Err(_) => {
                let (op, path) = ctx(op);
                return Err(Error::Closed { op, path });
            }
        };
        if reply.kind == MsgType::Error as u32 {
            let name = nul_strings(&reply.payload)
                .into_iter()
                .next()
                .unwrap_or_default();
            let (op, path) = ctx(op);
            return Err(Error::Daemon {
                op,
                path,
                errno: Errno::parse(&name),
            });
        }
        if reply.kind != op as u32 {
            let (op, path) = ctx(op);
            return Err(Error::Protocol {
                op,
                path,
                reason: format!("reply of type {} to a {} request", reply.kind, op),
            });
        }
        Ok(reply.payload)
    }

    fn check_path(op: MsgType, path: &str) -> Result<()> {
        if path.as_bytes().contains(&0) {
            return Err(Error::InvalidRequest {
                op,
                path: path.escape_default().to_string(),
                reason: "a path cannot contain NUL".into(),
            });
        }
        Ok(())
    }

    async fn path_op(&self, op: MsgType, tx: u32, path: &str) -> Result<Vec<u8>> {
        Self::check_path(op, path)?;
        self.request(op, tx, &[path.as_bytes(), b"\0"], path).await
    }

    async fn expect_ok(&self, op: MsgType, path: &str, payload: Vec<u8>) -> Result<()> {
        if payload == b"OK\0" || payload == b"OK" {
            Ok(())
        } else {
            Err(Error::Protocol {
                op,
                path: path.to_string(),
                reason: format!("expected OK, got {:?}", String::from_utf8_lossy(&payload)),
            })
        }
    }

    async fn read_tx(&self, tx: u32, path: &str) -> Result<Vec<u8>> {
        self.path_op(MsgType::Read, tx, path).await
    }

    async fn write_tx(&self, tx: u32, path: &str, value: &[u8]) -> Result<()> {
        Self::check_path(MsgType::Write, path)?;
        let r = self
            .request(MsgType::Write, tx, &[path.as_bytes(), b"\0", value], path)
            .await?;
        self.expect_ok(MsgType::Write, path, r).await
    }

    async fn mkdir_tx(&self, tx: u32, path: &str) -> Result<()> {
        let r = self.path_op(MsgType::Mkdir, tx, path).await?;
        self.expect_ok(MsgType::Mkdir, path, r).await
    }

    async fn rm_tx(&self, tx: u32, path: &str) -> Result<()> {
        let r = self.path_op(MsgType::Rm, tx, path).await?;
        self.expect_ok(MsgType::Rm, path, r).await
    }

    async fn directory_tx(&self, tx: u32, path: &str) -> Result<Vec<String>> {
        match self.path_op(MsgType::Directory, tx, path).await {
            Ok(r) => Ok(nul_strings(&r)),
            Err(e) if e.errno() == Some(&Errno::E2big) => self.directory_part_tx(tx, path).await,
            Err(e) => Err(e),
        }
    }

    /// A listing too large for one reply, in parts (`DIRECTORY_PART`); restarts when the node
    /// changes between parts (its generation count differs).
    async fn directory_part_tx(&self, tx: u32, path: &str) -> Result<Vec<String>> {
        let op = MsgType::DirectoryPart;
        Self::check_path(op, path)?;
        let proto = |reason: String| Error::Protocol {
            op,
            path: path.to_string(),
            reason,
        };
        'restart: for _ in 0..TRANSACTION_ATTEMPTS {
            let mut children = Vec::new();
            let mut offset: usize = 0;
            let mut gen: Option<Vec<u8>> = None;
            loop {
                let off = offset.to_string();
                let r = self
                    .request(
                        op,
                        tx,
                        &[path.as_bytes(), b"\0", off.as_bytes(), b"\0"],
                        path,
                    )
                    .await?;
                let Some(gpos) = r.iter().position(|&b| b == 0) else {
                    return Err(proto("no generation count".into()));
                };
                let g = r[..gpos].to_vec();
                match &gen {
                    None => gen = Some(g),
                    Some(prev) if *prev != g => continue 'restart,
                    Some(_) => {}
                }
                let body = &r[gpos + 1..];
                // The last part ends with an empty string (an extra NUL).
                let done = body.is_empty() || body == b"\0" || body.ends_with(b"\0\0");
                let list = if done {
                    body.strip_suffix(b"\0").unwrap_or(body)
                } else {
                    body
                };
                if !done && !list.ends_with(b"\0") {
                    return Err(proto("part does not end with NUL".into()));
                }
                if !list.is_empty() {
                    children.extend(nul_strings(list));
                }
                if done {
                    return Ok(children);
                }
                if list.is_empty() {
                    return Err(proto("empty part before the end".into()));
                }
                offset += list.len();
                if children.len() > 1_000_000 {
                    return Err(proto("listing does not end".into()));
                }
            }
        }
        Err(proto("node kept changing while listed".into()))
    }

    async fn get_perms_tx(&self, tx: u32, path: &str) -> Result<Vec<Perm>> {
        let r = self.path_op(MsgType::GetPerms, tx, path).await?;
        nul_strings(&r)
            .iter()
            .map(|s| {
                Perm::parse(s).ok_or_else(|| Error::Protocol {
                    op: MsgType::GetPerms,
                    path: path.to_string(),
                    reason: format!("bad permission {s:?}"),
                })
            })
            .collect()
    }

    async fn set_perms_tx(&self, tx: u32, path: &str, perms: &[Perm]) -> Result<()> {
        let op = MsgType::SetPerms;
        Self::check_path(op, path)?;
        if perms.is_empty() {
            return Err(Error::InvalidRequest {
                op,
                path: path.to_string(),
                reason: "no permissions (the first names the owner)".into(),
            });
        }
        let mut payload = Vec::new();
        payload.extend_from_slice(path.as_bytes());
        payload.push(0);
        for p in perms {
            payload.extend_from_slice(p.to_string().as_bytes());
            payload.push(0);
        }
        let r = self.request(op, tx, &[&payload], path).await?;
        self.expect_ok(op, path, r).await
    }

    /// The value at `path`.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.read_tx(0, path).await
    }

    /// The value at `path` as text (invalid UTF-8 replaced).
    pub async fn read_string(&self, path: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read(path).await?).into_owned())
    }

    /// Writes `value` at `path` (missing parents are created empty).
    pub async fn write(&self, path: &str, value: impl AsRef<[u8]>) -> Result<()> {
        self.write_tx(0, path, value.as_ref()).await
    }

    /// Creates `path` empty (no error if it exists).
    pub async fn mkdir(&self, path: &str) -> Result<()> {
        self.mkdir_tx(0, path).await
    }

    /// Removes `path` and everything under it.
    pub async fn rm(&self, path: &str) -> Result<()> {
        self.rm_tx(0, path).await
    }

    /// The names of `path`'s children (large listings are fetched in parts).
    pub async fn directory(&self, path: &str) -> Result<Vec<String>> {
        self.directory_tx(0, path).await
    }

    /// `path`'s permissions (the first names the owner and the default).
    pub async fn get_perms(&self, path: &str) -> Result<Vec<Perm>> {
        self.get_perms_tx(0, path).await
    }

    /// Sets `path`'s permissions (the first names the owner and the default).
    pub async fn set_perms(&self, path: &str, perms: &[Perm]) -> Result<()> {
        self.set_perms_tx(0, path, perms).await
    }

    /// The home path of domain `domid` (`/local/domain/<domid>`).
    pub async fn get_domain_path(&self, domid: u32) -> Result<String> {
        let d = domid.to_string();
        let r = self.path_op(MsgType::GetDomainPath, 0, &d).await?;
        Ok(nul_strings(&r).into_iter().next().unwrap_or_default())
    }

    /// Whether domain `domid` has been introduced to the store.
    pub async fn is_domain_introduced(&self, domid: u32) -> Result<bool> {
        let d = domid.to_string();
        let r = self.path_op(MsgType::IsDomainIntroduced, 0, &d).await?;
        match r.as_slice() {
            b"T\0" | b"T" => Ok(true),
            b"F\0" | b"F" => Ok(false),
            other => Err(Error::Protocol {
                op: MsgType::IsDomainIntroduced,
                path: d,
                reason: format!("expected T or F, got {:?}", String::from_utf8_lossy(other)),
            }),
        }
    }

    /// Introduces domain `domid` (its store ring's frame and event channel), as the toolstack does.
    pub async fn introduce(&self, domid: u32, mfn: u64, evtchn: u32) -> Result<()> {
        let (d, m, e) = (domid.to_string(), mfn.to_string(), evtchn.to_string());
        let r = self
            .request(
                MsgType::Introduce,
                0,
                &[
                    d.as_bytes(),
                    b"\0",
                    m.as_bytes(),
                    b"\0",
                    e.as_bytes(),
                    b"\0",
                ],
                &d,
            )
            .await?;
        self.expect_ok(MsgType::Introduce, &d, r).await
    }

    /// Releases domain `domid` (the toolstack's part of a domain's destruction).
    pub async fn release(&self, domid: u32) -> Result<()> {
        let d = domid.to_string();
        let r = self.path_op(MsgType::Release, 0, &d).await?;
        self.expect_ok(MsgType::Release, &d, r).await
    }

    /// Registers a watch on `path` (a node and its descendants, or `@introduceDomain` /
    /// `@releaseDomain`). The daemon fires it once at registration, then on every change.
    pub async fn watch(&self, path: &str) -> Result<Watch> {
        Self::check_path(MsgType::Watch, path)?;
        let n = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let token = format!("virtxend-{n}");
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        {
            let mut st = self.inner.shared.lock();
            if st.closed {
                return Err(Error::Closed {
                    op: MsgType::Watch,
                    path: path.to_string(),
                });
            }
            st.watches.insert(
                token.clone(),
                WatchSlot {
                    tx,
                    lost: lost.clone(),
                },
            );
        }
        let watch = Watch {
            xs: self.clone(),
            path: path.to_string(),
            token,
            rx,
            lost,
            registered: true,
        };
        let r = self
            .request(
                MsgType::Watch,
                0,
                &[path.as_bytes(), b"\0", watch.token.as_bytes(), b"\0"],
                path,
            )
            .await;
        match r {
            Ok(r) => {
                self.expect_ok(MsgType::Watch, path, r).await?;
                Ok(watch)
            }
            Err(e) => {
                let mut watch = watch;
                watch.registered = false;
                Err(e)
            }
        }
    }

    async fn unwatch_raw(&self, path: &str, token: &str) -> Result<()> {
        let r = self
            .request(
                MsgType::Unwatch,
                0,
                &[path.as_bytes(), b"\0", token.as_bytes(), b"\0"],
                path,
            )
            .await?;
        self.expect_ok(MsgType::Unwatch, path, r).await
    }

    /// Starts a transaction; end it with [`Transaction::commit`] or [`Transaction::abort`].
    pub async fn start_transaction(&self) -> Result<Transaction> {
        let r = self
            .request(MsgType::TransactionStart, 0, &[b"\0"], "")
            .await?;
        let s = nul_strings(&r).into_iter().next().unwrap_or_default();
        let id = s.parse::<u32>().map_err(|_| Error::Protocol {
            op: MsgType::TransactionStart,
            path: String::new(),
            reason: format!("bad transaction id {s:?}"),
        })?;
        Ok(Transaction {
            xs: self.clone(),
            id,
        })
    }

    /// Runs `body` in a transaction and commits it; when the commit (or an operation) fails with
    /// `EAGAIN` because another writer got there first, runs `body` again in a new transaction,
    /// up to [`TRANSACTION_ATTEMPTS`] times. Any other error aborts the transaction and is returned.
    pub async fn transaction<T, F, Fut>(&self, mut body: F) -> Result<T>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = self.start_transaction().await?;
            let err = match body(tx.clone()).await {
                Ok(v) => match tx.end(true).await {
                    Ok(()) => return Ok(v),
                    Err(e) => e,
                },
                Err(e) => {
                    // The body's error wins; aborting is best effort.
                    let _ = tx.end(false).await;
                    e
                }
            };
            if !err.is_eagain() || attempt >= TRANSACTION_ATTEMPTS {
                return Err(err);
            }
            tracing::debug!(attempt, "xenstore transaction conflict, retrying");
            tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)))).await;
        }
    }
}

/// An open transaction. Operations through it see and change the transaction's snapshot; the
/// changes take effect together at [`commit`](Transaction::commit), which fails with `EAGAIN` if
/// another writer changed what it read or wrote.
#[derive(Clone, Debug)]
pub struct Transaction {
    xs: XenStore,
    id: u32,
}

impl Transaction {
    /// The daemon's transaction id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The value at `path`.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.xs.read_tx(self.id, path).await
    }

    /// The value at `path` as text.
    pub async fn read_string(&self, path: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read(path).await?).into_owned())
    }

    /// Writes `value` at `path`.
    pub async fn write(&self, path: &str, value: impl AsRef<[u8]>) -> Result<()> {
        self.xs.write_tx(self.id, path, value.as_ref()).await
    }

    /// Creates `path` empty.
    pub async fn mkdir(&self, path: &str) -> Result<()> {
        self.xs.mkdir_tx(self.id, path).await
    }

    /// Removes `path` and everything under it.
    pub async fn rm(&self, path: &str) -> Result<()> {
        self.xs.rm_tx(self.id, path).await
    }

    /// The names of `path`'s children.
    pub async fn directory(&self, path: &str) -> Result<Vec<String>> {
        self.xs.directory_tx(self.id, path).await
    }

    /// `path`'s permissions.
    pub async fn get_perms(&self, path: &str) -> Result<Vec<Perm>> {
        self.xs.get_perms_tx(self.id, path).await
    }

    /// Sets `path`'s permissions.
    pub async fn set_perms(&self, path: &str, perms: &[Perm]) -> Result<()> {
        self.xs.set_perms_tx(self.id, path, perms).await
    }

    async fn end(&self, commit: bool) -> Result<()> {
        let flag: &[u8] = if commit { b"T\0" } else { b"F\0" };
        let r = self
            .xs
            .request(MsgType::TransactionEnd, self.id, &[flag], "")
            .await?;
        self.xs.expect_ok(MsgType::TransactionEnd, "", r).await
    }

    /// Commits; `EAGAIN` ([`Error::is_eagain`]) means a conflict: nothing was applied.
    pub async fn commit(self) -> Result<()> {
        self.end(true).await
    }

    /// Abandons the transaction's changes.
    pub async fn abort(self) -> Result<()> {
        self.end(false).await
    }
}

/// A registered watch: its events arrive through [`Watch::next`]. Dropping it unregisters it
/// (in the background, when a tokio runtime is running); [`Watch::unwatch`] does so and waits.
pub struct Watch {
    xs: XenStore,
    path: String,
    token: String,
    rx: mpsc::Receiver<WatchEvent>,
    lost: Arc<AtomicU64>,
    registered: bool,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("path", &self.path)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// The watched path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The token events carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The next event; `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        self.rx.recv().await
    }

    /// Events dropped because [`WATCH_QUEUE`] of them were waiting unread.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Unregisters the watch and waits for the daemon's answer.
    pub async fn unwatch(mut self) -> Result<()> {
        self.registered = false;
        self.xs.inner.shared.lock().watches.remove(&self.token);
        self.xs.unwatch_raw(&self.path, &self.token).await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.xs.inner.shared.lock().watches.remove(&self.token);
        if !self.registered || self.xs.is_closed() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let xs = self.xs.clone();
            let (path, token) = (self.path.clone(), self.token.clone());
            handle.spawn(async move {
                if let Err(e) = xs.unwatch_raw(&path, &token).await {
                    tracing::debug!("{e}");
                }
            });
        }
    }
}

async fn write_loop(
    mut wr: tokio::net::unix::OwnedWriteHalf,
    mut frames: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    while let Some(frame) = frames.recv().await {
        if let Err(e) = wr.write_all(&frame).await {
            tracing::warn!("xenstore: write failed, closing the connection: {e}");
            shared.close();
            return;
        }
    }
    let _ = wr.shutdown().await;
}

async fn read_loop(mut rd: tokio::net::unix::OwnedReadHalf, shared: Arc<Shared>) {
    let mut header = [0u8; HEADER_LEN];
    let mut payload = vec![0u8; PAYLOAD_MAX];
    loop {
        if let Err(e) = rd.read_exact(&mut header).await {
            if e.kind() != std::io::ErrorKind::UnexpectedEof {
                tracing::warn!("xenstore: read failed, closing the connection: {e}");
            }
            break;
        }
        let field = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[i * 4..i * 4 + 4]);
            u32::from_ne_bytes(b)
        };
        let (kind, req_id, len) = (field(0), field(1), field(3) as usize);
        if len > PAYLOAD_MAX {
            tracing::warn!(
                "xenstore: reply of {len} bytes exceeds {PAYLOAD_MAX}, closing the connection"
            );
            break;
        }
        if let Err(e) = rd.read_exact(&mut payload[..len]).await {
            tracing::warn!("xenstore: read failed, closing the connection: {e}");
            break;
        }
        let body = &payload[..len];
        if kind == MsgType::WatchEvent as u32 {
            let mut parts = body.split(|&b| b == 0);
            let (Some(p), Some(t)) = (parts.next(), parts.next()) else {
                tracing::warn!("xenstore: malformed watch event ignored");
                continue;
            };
            let ev = WatchEvent {
                path: String::from_utf8_lossy(p).into_owned(),
                token: String::from_utf8_lossy(t).into_owned(),
            };
            let st = shared.lock();
            match st.watches.get(&ev.token) {
                Some(slot) => {
                    if slot.tx.try_send(ev).is_err() {
                        slot.lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => tracing::debug!(token = ev.token, "xenstore: event of an unknown watch"),
            }
            continue;
        }
        if MsgType::from_u32(kind).is_none() {
            tracing::debug!(kind, "xenstore: reply of an unknown type");
        }
        let waiter = shared.lock().pending.remove(&req_id);
        match waiter {
            Some(w) => {
                let _ = w.send(Reply {
                    kind,
                    payload: body.to_vec(),
                });
            }
            None => tracing::debug!(req_id, "xenstore: reply to no pending request"),
        }
    }
    shared.close();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn perms_round_trip() {
        for s in ["n0", "r5", "w12", "b4294967295"] {
            assert_eq!(Perm::parse(s).map(|p| p.to_string()).as_deref(), Some(s));
        }
        for s in ["", "x0", "r", "r-1", "r1a", "r99999999999"] {
            assert_eq!(Perm::parse(s), None, "{s}");
        }
    }

    #[test]
    fn nul_string_lists() {
        assert_eq!(nul_strings(b""), Vec::<String>::new());
        assert_eq!(nul_strings(b"a\0bc\0"), vec!["a", "bc"]);
        assert_eq!(nul_strings(b"OK\0"), vec!["OK"]);
    }

    fn frame(kind: u32, req_id: u32, len: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        for v in [kind, req_id, 0, len] {
            f.extend_from_slice(&v.to_ne_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    async fn read_request(s: &mut UnixStream) -> (u32, u32, Vec<u8>) {
        let mut h = [0u8; HEADER_LEN];
        s.read_exact(&mut h).await.unwrap();
        let f = |i: usize| u32::from_ne_bytes(h[i * 4..i * 4 + 4].try_into().unwrap());
        let mut p = vec![0u8; f(3) as usize];
        s.read_exact(&mut p).await.unwrap();
        (f(0), f(1), p)
    }

    /// A misbehaving daemon: stray replies and malformed events are ignored, a reply of the wrong
    /// type is a protocol error, an oversized frame closes the connection; nothing panics.
    #[tokio::test]
    async fn bad_daemon_input() {
        let (client, mut server) = UnixStream::pair().unwrap();
        let xs = XenStore::from_stream(client, Mode::ReadWrite);
        let req = tokio::spawn({
            let xs = xs.clone();
            async move { xs.read("/a").await }
        });
        let (kind, req_id, p) = read_request(&mut server).await;
        assert_eq!((kind, p.as_slice()), (MsgType::Read as u32, &b"/a\0"[..]));
        let mut junk = Vec::new();
        junk.extend(frame(MsgType::Read as u32, req_id + 100, 1, b"x"));
        junk.extend(frame(MsgType::WatchEvent as u32, 0, 3, b"abc"));
        junk.extend(frame(
            MsgType::WatchEvent as u32,
            0,
            6,
            b"/p\0nobody\0"[..6].as_ref(),
        ));
        junk.extend(frame(999, req_id + 1, 0, b""));
        junk.extend(frame(MsgType::Write as u32, req_id, 3, b"OK\0"));
        server.write_all(&junk).await.unwrap();
        let e = req.await.unwrap().unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        assert!(e.to_string().contains("read /a"), "{e}");
        // Still usable: an ERROR reply with an unknown errno name.
        let req = tokio::spawn({
            let xs = xs.clone();
            async move { xs.rm("/b").await }
        });
        let (_, req_id, _) = read_request(&mut server).await;
        server
            .write_all(&frame(MsgType::Error as u32, req_id, 7, b"EWEIRD\0"))
            .await
            .unwrap();
        let e = req.await.unwrap().unwrap_err();
        assert_eq!(e.errno(), Some(&Errno::Other("EWEIRD".into())));
        // A frame over the limit: the connection closes, the pending request fails.
        let req = tokio::spawn({
            let xs = xs.clone();
            async move { xs.read("/c").await }
        });
        let (_, _, _) = read_request(&mut server).await;
        server
            .write_all(&frame(MsgType::Read as u32, 1, 1 << 20, b""))
            .await
            .unwrap();
        let e = req.await.unwrap().unwrap_err();
        assert!(matches!(e, Error::Closed { .. }), "{e}");
        assert!(xs.is_closed());
        assert!(matches!(
            xs.write("/d", "v").await.unwrap_err(),
            Error::Closed { .. }
        ));
    }

    /// The daemon going away ends watch streams and fails requests.
    #[tokio::test]
    async fn daemon_gone() {
        let (client, mut server) = UnixStream::pair().unwrap();
        let xs = XenStore::from_stream(client, Mode::ReadWrite);
        let w = tokio::spawn({
            let xs = xs.clone();
            async move { xs.watch("/w").await }
        });
        let (kind, req_id, p) = read_request(&mut server).await;
        assert_eq!(kind, MsgType::Watch as u32);
        let token = nul_strings(&p)[1].clone();
        let mut ev = b"/w\0".to_vec();
        ev.extend_from_slice(token.as_bytes());
        ev.push(0);
        let mut out = frame(MsgType::WatchEvent as u32, 0, ev.len() as u32, &ev);
        out.extend(frame(MsgType::Watch as u32, req_id, 3, b"OK\0"));
        server.write_all(&out).await.unwrap();
        let mut w = w.await.unwrap().unwrap();
        assert_eq!(w.next().await.unwrap().path, "/w");
        drop(server);
        assert!(w.next().await.is_none());
        assert!(matches!(
            xs.read("/x").await.unwrap_err(),
            Error::Closed { .. }
        ));
    }

    #[test]
    fn errno_names() {
        assert_eq!(Errno::parse("EAGAIN"), Errno::Eagain);
        assert_eq!(Errno::parse("EWHAT").name(), "EWHAT");
    }
}
