//! [`H2Channel`]: the gRPC channel of a local connection, one HTTP/2 connection on a UNIX
//! socket driven with `h2` directly instead of through tonic's `Channel`.
//!
//! Why: a local call is short (a 100-byte request, a 100-byte answer), so the fixed cost of the
//! client stack is most of it. tonic's `Channel` puts a `tower::buffer::Buffer` task between the
//! caller and hyper's connection task, and hyper's HTTP/2 client sends a request's HEADERS, then
//! spawns a task per request that pipes the body into a DATA frame: three task hand-offs and two
//! `writev`s per call. Here the caller's task queues HEADERS and DATA on the `h2` stream
//! itself (the body of a unary request is ready at once) and the connection task writes both in
//! one `writev`; only a streaming request body (a console's input) gets a pipe task.
//!
//! The wire stays gRPC over HTTP/2, byte for byte what any gRPC client sends: `:scheme http`,
//! `:authority localhost` (a UNIX socket has no host; the daemons accept any authority there),
//! the path and the headers tonic's generated client put on the request.
//!
//! After writing a request the connection polls its socket for the answer for a short,
//! bounded time before it sleeps ([`virt_core::busy_poll`]): on an idle machine most of a
//! local call is otherwise the two wake-ups of idle CPUs, the daemon's and ours.
//!
//! The connection is made once when the [`Connection`](crate::Connection) opens, so a missing
//! daemon is reported with its socket's path. If it breaks (the daemon restarts) the next call
//! connects again before sending, as tonic's channel reconnects; a call in flight fails.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::uri::{Authority, Scheme};
use http_body::{Body as HttpBody, Frame};
use tokio::net::UnixStream;
use tonic::body::Body;
use tower::Service;
use virt_core::busy_poll::{self, BusyPoll};

/// Errors of the channel, as tonic's generated clients take them.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Stream window: hyper's default for its HTTP/2 client (2 MiB), so that large answers
/// (a list of 10 000 domains) need no window update per 64 KiB.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// Connection window: hyper's default (5 MiB).
const CONN_WINDOW: u32 = 5 * 1024 * 1024;

/// A gRPC channel over one HTTP/2 connection on a UNIX socket. Cheap to clone; clones share
/// the connection.
#[derive(Clone, Debug)]
pub struct H2Channel {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// `None` until a lazily made channel's first call connects.
    sender: Mutex<Option<SendRequest<Bytes>>>,
}

impl H2Channel {
    /// Connects to the UNIX socket at `path` and makes the HTTP/2 handshake.
    pub async fn connect(path: &Path) -> std::io::Result<H2Channel> {
        let sender = handshake(path).await?;
        Ok(H2Channel {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                sender: Mutex::new(Some(sender)),
            }),
        })
    }

    /// A channel to the UNIX socket at `path` that connects on its first call: a connection's
    /// secondary daemons (virtnetworkd, virtstoraged) cost nothing until a call needs them, and
    /// a missing one fails that call with the socket's path.
    pub fn lazy(path: &Path) -> H2Channel {
        H2Channel {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                sender: Mutex::new(None),
            }),
        }
    }

    /// The socket this channel connects to.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    fn sender(&self) -> Option<SendRequest<Bytes>> {
        let guard = self.shared.sender.lock().unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }
}

/// Connects and hands the connection to a task of the current runtime.
async fn handshake(path: &Path) -> std::io::Result<SendRequest<Bytes>> {
    let stream = BusyPoll::new(
        UnixStream::connect(path).await?,
        busy_poll::budget_from_env(),
    );
    let (sender, conn) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "local HTTP/2 connection ended");
        }
    });
    Ok(sender)
}

impl Shared {
    /// Makes `fresh` the sender later calls (and clones of the channel) use.
    fn replace(&self, fresh: SendRequest<Bytes>) {
        let mut guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(fresh);
    }

    /// A sender ready for a new stream: the current one, or a new connection's when the
    /// current one is closed (nothing has been sent on it then, so no call is repeated) or
    /// a lazy channel has none yet.
    async fn ready(
        &self,
        sender: Option<SendRequest<Bytes>>,
    ) -> Result<SendRequest<Bytes>, BoxError> {
        let Some(mut sender) = sender else {
            // As an eager connect reports it (ClientError::Connect), as UNAVAILABLE.
            let mut fresh = handshake(&self.path).await.map_err(|e| {
                tonic::Status::unavailable(format!(
                    "failed to connect to the daemon socket '{}': {}",
                    self.path.display(),
                    crate::error::strerror(&e)
                ))
            })?;
            self.replace(fresh.clone());
            std::future::poll_fn(|cx| fresh.poll_ready(cx)).await?;
            return Ok(fresh);
        };
        match std::future::poll_fn(|cx| sender.poll_ready(cx)).await {
            Ok(()) => Ok(sender),
            Err(e) if e.is_io() || e.is_go_away() || e.is_library() || e.is_remote() => {
                let mut fresh = handshake(&self.path).await?;
                self.replace(fresh.clone());
                std::future::poll_fn(|cx| fresh.poll_ready(cx)).await?;
                Ok(fresh)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Service<http::Request<Body>> for H2Channel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness for a new stream is awaited in the call, where a broken connection can be
        // replaced.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        let sender = self.sender();
        Box::pin(async move {
            let sender = shared.ready(sender).await?;
            send(sender, req).await
        })
    }
}

/// Sends `req` on a new stream and waits for the response head.
async fn send(
    mut sender: SendRequest<Bytes>,
    req: http::Request<Body>,
) -> Result<http::Response<Body>, BoxError> {
    let (mut parts, mut body) = req.into_parts();
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(Authority::from_static("localhost"));
    parts.uri = http::Uri::from_parts(uri)?;
    let head = http::Request::from_parts(parts, ());
    // A unary request's body is one encoded message, ready now: take it without waiting.
    let (frames, done) = take_ready(&mut body);
    let (response, mut stream) = sender.send_request(head, done && frames.is_empty())?;
    let count = frames.len();
    // A server may answer (and close the stream) before it has read the request: a refused
    // send then yields to the answer already there, if there is one.
    let mut refused = None;
    for (i, frame) in frames.into_iter().enumerate() {
        let last = done && i + 1 == count;
        let sent = match frame.into_data() {
            Ok(data) => stream.send_data(data, last),
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => stream.send_trailers(trailers),
                Err(_) => Ok(()),
            },
        };
        if let Err(e) = sent {
            refused = Some(e);
            break;
        }
    }
    if !done && refused.is_none() {
        tokio::spawn(pipe(body, stream));
    }
    let response = match (response.await, refused) {
        (Ok(response), _) => response,
        (Err(e), None) => return Err(e.into()),
        (Err(_), Some(refused)) => return Err(refused.into()),
    };
    Ok(response.map(|recv| {
        Body::new(H2Body {
            recv,
            data_done: false,
        })
    }))
}

/// The frames of `body` available without waiting, and whether the body ended.
fn take_ready(body: &mut Body) -> (Vec<Frame<Bytes>>, bool) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut frames = Vec::with_capacity(1);
    loop {
        if body.is_end_stream() {
            return (frames, true);
        }
        match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frames.push(frame),
            Poll::Ready(None) => return (frames, true),
            // An error is left for the pipe to meet (it resets the stream).
            Poll::Ready(Some(Err(_))) | Poll::Pending => return (frames, false),
        }
    }
}

/// Copies the rest of a streaming request body onto its stream.
async fn pipe(mut body: Body, mut stream: SendStream<Bytes>) {
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let sent = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => stream.send_data(data, false),
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => {
                        let _ = stream.send_trailers(trailers);
                        return;
                    }
                    Err(_) => Ok(()),
                },
            },
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Err(_)) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// A response body: the stream's DATA frames, then its trailers (gRPC's status).
struct H2Body {
    recv: RecvStream,
    data_done: bool,
}

impl HttpBody for H2Body {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match self.recv.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Received bytes are handed over at once: give the window back.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => self.data_done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        match self.recv.poll_trailers(cx) {
            Poll::Ready(Ok(Some(trailers))) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

/// The channel under every generated client of a [`Connection`](crate::Connection): the local
/// [`H2Channel`], or tonic's `Channel` for the embedded test driver and remote transports.
#[derive(Clone, Debug)]
pub enum ClientChannel {
    /// A local daemon's UNIX socket.
    Local(H2Channel),
    /// The embedded test driver or a remote proxy.
    Tonic(tonic::transport::Channel),
}

impl Service<http::Request<Body>> for ClientChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            ClientChannel::Local(c) => c.poll_ready(cx),
            ClientChannel::Tonic(c) => c.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self {
            ClientChannel::Local(c) => c.call(req),
            ClientChannel::Tonic(c) => {
                let fut = c.call(req);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::network_service_client::NetworkServiceClient;

    #[tokio::test]
    async fn a_lazy_channel_to_a_missing_daemon_fails_the_call_naming_its_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("virtnetworkd-sock");
        let mut client = NetworkServiceClient::new(ClientChannel::Local(H2Channel::lazy(&path)));
        let status = client
            .list_all_networks(virt_core::proto::ListAllNetworksRequest { flags: 0 })
            .await
            .expect_err("no daemon");
        let err = crate::ClientError::from(status);
        assert_eq!(err.code(), virt_core::ErrorCode::NoConnect, "{err}");
        assert!(
            err.to_string().contains(&format!(
                "failed to connect to the daemon socket '{}': No such file or directory",
                path.display()
            )),
            "{err}"
        );
    }
}
