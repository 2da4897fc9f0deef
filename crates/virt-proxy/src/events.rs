//! `EventService/StreamEvents` through the proxy: the one call whose messages it reads, so that
//! a daemon restart does not end or hole a client's event stream.
//!
//! The proxy forwards the backend's stream message by message and remembers the highest
//! sequence number delivered (an event's `sequence`, a gap's `last_missing`). When the backend
//! stream breaks (the daemon died or was restarted: the connection fails, or the stream ends
//! UNAVAILABLE) it reopens it with `from_sequence = last + 1`, retrying with backoff for as long
//! as the client stays, and goes on forwarding. The daemon numbers events across restarts and
//! replays retained ones from `from_sequence`, so the client sees every event once; events the
//! daemon no longer retains arrive as an EventGap, as on any resume. An event at or below the
//! last sequence delivered is dropped, so a replay never duplicates. Any other end of the
//! backend stream (its trailers) is the client's.
//!
//! Limit: a stream opened for live events only (no `from_sequence`) that breaks before it has
//! delivered any event is reopened live-only too, since the proxy has no number to resume
//! from; events emitted between the break and the reopening are then not replayed.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use prost::Message as _;
use tokio::sync::mpsc;
use tonic::body::Body;
use tonic::{Code, Status};
use virt_core::proto::{stream_events_response::Item, StreamEventsRequest, StreamEventsResponse};

use crate::forward::{unavailable, Proxy};
use crate::grpc::{self, Deframer};
use crate::route::Backend;

/// First pause before reopening a broken stream.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest pause between reopening attempts.
const RETRY_MAX: Duration = Duration::from_secs(2);
/// Messages buffered between the backend and a slow client.
const QUEUE: usize = 64;

type Sent = Result<Frame<Bytes>, Status>;

/// Forwards a StreamEvents call to `backend`, resuming it across daemon restarts.
pub(crate) async fn forward(
    proxy: &Proxy,
    backend: &Backend,
    read_only: bool,
    uri: &str,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let (parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map_or(crate::forward::STREAM_EVENTS_PATH, |p| p.as_str())
        .to_string();
    let mut headers = parts.headers;
    headers.remove(http::header::HOST);
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return grpc::status_response(e),
    };
    let socket = backend.socket_for(read_only).to_path_buf();
    let send = |body: Bytes| {
        let req = grpc::backend_request(&pq, &headers, Body::new(Full::new(body)));
        proxy.shared.pool.send(&socket, req)
    };
    let resp = match send(body.clone()).await {
        Ok(r) => r,
        Err(e) => return unavailable(uri, backend, &socket, &e),
    };
    // Without a decodable request the proxy cannot resume: plain pass-through.
    let Some(request) = grpc::single_message::<StreamEventsRequest>(body) else {
        return resp.map(Body::new);
    };
    if grpc::head_status(resp.headers()).is_some() {
        return resp.map(Body::new);
    }
    let (head, first) = resp.into_parts();
    let (tx, rx) = mpsc::channel::<Sent>(QUEUE);
    let pump = Pump {
        proxy: proxy.clone(),
        socket,
        pq,
        headers,
        request,
        tx,
        last: None,
    };
    tokio::spawn(pump.run(first));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    http::Response::from_parts(head, Body::new(StreamBody::new(stream)))
}

/// How one backend stream ended.
enum End {
    /// The client went away: stop.
    ClientGone,
    /// The backend stream broke: reopen it.
    Broken,
    /// The backend ended the call: pass its trailers on and stop.
    Trailers(HeaderMap),
}

/// The task moving one client's events from backend streams to the client.
struct Pump {
    proxy: Proxy,
    socket: std::path::PathBuf,
    pq: String,
    headers: HeaderMap,
    request: StreamEventsRequest,
    tx: mpsc::Sender<Sent>,
    last: Option<u64>,
}

impl Pump {
    async fn run(mut self, first: Incoming) {
        let mut body = first;
        loop {
            match self.relay(&mut body).await {
                End::ClientGone => return,
                End::Trailers(t) => {
                    let _ = self.tx.send(Ok(Frame::trailers(t))).await;
                    return;
                }
                End::Broken => {
                    tracing::info!(backend = %self.socket.display(), last = ?self.last,
                        "event stream broke, resuming");
                }
            }
            match self.reopen().await {
                Some(b) => body = b,
                None => return,
            }
        }
    }

    /// Forwards one backend stream until it ends.
    async fn relay(&mut self, body: &mut Incoming) -> End {
        let mut deframer = Deframer::default();
        loop {
            let frame = tokio::select! {
                () = self.tx.closed() => return End::ClientGone,
                f = body.frame() => f,
            };
            let frame = match frame {
                None => return End::Broken,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "backend event stream failed");
                    return End::Broken;
                }
                Some(Ok(f)) => f,
            };
            let frame = match frame.into_data() {
                Ok(data) => {
                    deframer.push(&data);
                    while let Some(msg) = deframer.next_message() {
                        if !self.deliverable(msg.payload.as_ref()) {
                            continue;
                        }
                        if self.tx.send(Ok(Frame::data(msg.frame))).await.is_err() {
                            return End::ClientGone;
                        }
                    }
                    continue;
                }
                Err(f) => f,
            };
            if let Ok(trailers) = frame.into_trailers() {
                let status = Status::from_header_map(&trailers);
                if status.is_some_and(|s| s.code() == Code::Unavailable) {
                    return End::Broken;
                }
                return End::Trailers(trailers);
            }
        }
    }

    /// Whether a message is new to the client; records its sequence number.
    fn deliverable(&mut self, payload: Option<&Bytes>) -> bool {
        let Some(msg) = payload.and_then(|p| StreamEventsResponse::decode(p.clone()).ok()) else {
            return true;
        };
        let seq = match msg.item {
            Some(Item::Event(e)) => e.sequence,
            Some(Item::Gap(g)) => g.last_missing,
            None => return true,
        };
        if self.last.is_some_and(|l| seq <= l) {
            return false;
        }
        self.last = Some(seq);
        true
    }

    /// Reopens the backend stream from the last sequence delivered; `None` when the client
    /// left or the daemon answered with an error other than UNAVAILABLE (passed on).
    async fn reopen(&mut self) -> Option<Incoming> {
        let mut pause = RETRY_FIRST;
        loop {
            tokio::select! {
                () = self.tx.closed() => return None,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(RETRY_MAX);
            let mut request = self.request.clone();
            if let Some(last) = self.last {
                request.from_sequence = Some(last + 1);
            }
            let body = Body::new(Full::new(grpc::encode(&request)));
            let req = grpc::backend_request(&self.pq, &self.headers, body);
            let resp = match self.proxy.shared.pool.send(&self.socket, req).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "event stream backend still away");
                    continue;
                }
            };
            match grpc::head_status(resp.headers()) {
                None => return Some(resp.into_body()),
                Some(s) if s.code() == Code::Unavailable => continue,
                Some(_) => {
                    let _ = self
                        .tx
                        .send(Ok(Frame::trailers(resp.headers().clone())))
                        .await;
                    return None;
                }
            }
        }
    }
}
