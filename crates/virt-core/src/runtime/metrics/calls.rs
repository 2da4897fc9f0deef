//! Calls by gRPC method and status code, and their latency: a tower layer around the routes.
//!
//! [`CallLayer`] wraps the daemon's routes on every listener. For each request it counts a start
//! under the method (`/virt.v1.DomainService/LookupDomain` is service `virt.v1.DomainService`,
//! method `LookupDomain`), then finds the call's gRPC status where gRPC puts it: in the response
//! headers of a trailers-only response (errors, including the read-only refusal, which never
//! reaches the service), else in the trailers at the end of the body. The call is counted, and
//! its duration observed, when the status is seen, so a stream counts when it ends. A body that
//! ends without trailers counts as `Unknown`; one dropped before its end (the client went
//! away, or shutdown cut the connection) counts as `Canceled`.
//!
//! The names follow go-grpc-prometheus, which most gRPC dashboards use:
//! `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}` and the
//! `grpc_server_handling_seconds` histogram, labelled `grpc_service` and `grpc_method`.
//!
//! The method set is bounded: a path that is not `/SERVICE/METHOD` or arrives after
//! [`MAX_METHODS`] distinct ones are known is counted under service and method `other`, so a
//! client cannot grow the daemon's memory with made-up paths.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

/// Upper bounds of the latency histogram's buckets, in seconds (local calls take tens of
/// microseconds; starting a guest takes seconds).
pub const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 60.0,
];

/// How many distinct methods are tracked before new ones count as `other`.
pub const MAX_METHODS: usize = 1024;

/// gRPC status codes by number, as go-grpc-prometheus names them (`codes.Code.String()`).
pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

const CANCELED: usize = 1;
const UNKNOWN: usize = 2;

/// The counters of one method.
#[derive(Debug, Default)]
pub struct MethodStats {
    /// Calls started.
    pub started: AtomicU64,
    /// Calls finished, by status code number (0..=16).
    pub handled: [AtomicU64; 17],
    /// Finished calls per latency bucket (not cumulative; the last is +Inf).
    pub buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of the latencies, in nanoseconds.
    pub sum_nanos: AtomicU64,
}

impl MethodStats {
    fn finish(&self, code: usize, start: Instant) {
        let code = if code < self.handled.len() {
            code
        } else {
            UNKNOWN
        };
        self.handled[code].fetch_add(1, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let secs = elapsed.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Every method's counters, shared by the layers of all listeners and the scrape.
#[derive(Debug, Default)]
pub struct CallStats {
    methods: Mutex<HashMap<String, Arc<MethodStats>>>,
}

impl CallStats {
    /// The counters for request path `path`, made on first use.
    pub fn method(&self, path: &str) -> Arc<MethodStats> {
        let key = if split_path(path).is_some() {
            path
        } else {
            "/other/other"
        };
        let mut map = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = map.get(key) {
            return m.clone();
        }
        let key = if map.len() >= MAX_METHODS {
            "/other/other"
        } else {
            key
        };
        map.entry(key.to_string()).or_default().clone()
    }

    /// A copy of the method list, sorted by path, for a scrape.
    pub fn snapshot(&self) -> Vec<(String, Arc<MethodStats>)> {
        let map = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map.iter().map(|(k, m)| (k.clone(), m.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// `/pkg.Service/Method` as (`pkg.Service`, `Method`), when it has that shape.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    };
    (ok(service) && ok(method)).then_some((service, method))
}

/// The status code in a header map (`grpc-status`), if any.
fn status_in(headers: &http::HeaderMap) -> Option<usize> {
    let v = headers.get("grpc-status")?;
    Some(v.to_str().ok()?.trim().parse::<usize>().unwrap_or(UNKNOWN))
}

/// Tower layer counting calls into a [`CallStats`]; a disabled one passes calls through.
#[derive(Clone, Debug)]
pub struct CallLayer {
    stats: Option<Arc<CallStats>>,
}

impl CallLayer {
    /// A layer counting into `stats`, or doing nothing when `None` (metrics not enabled), so
    /// that every listener's server has one type either way.
    pub fn new(stats: Option<Arc<CallStats>>) -> CallLayer {
        CallLayer { stats }
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> CallService<S> {
        CallService {
            inner,
            stats: self.stats.clone(),
        }
    }
}

/// The service made by [`CallLayer`].
#[derive(Clone, Debug)]
pub struct CallService<S> {
    inner: S,
    stats: Option<Arc<CallStats>>,
}

impl<S, B, R> Service<http::Request<B>> for CallService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<CallBody<R>>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = self.stats.as_ref().map(|stats| {
            let m = stats.method(req.uri().path());
            m.started.fetch_add(1, Ordering::Relaxed);
            m
        });
        CallFuture {
            inner: self.inner.call(req),
            pending: Some(Pending {
                method,
                start: Instant::now(),
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CallService`].
    pub struct CallFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, R, E> std::future::Future for CallFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<CallBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx));
        let mut pending = this.pending.take().unwrap_or(Pending {
            method: None,
            start: Instant::now(),
        });
        Poll::Ready(match res {
            Ok(resp) => {
                if let Some(code) = status_in(resp.headers()) {
                    pending.finish(code);
                }
                Ok(resp.map(|inner| CallBody { inner, pending }))
            }
            Err(e) => {
                pending.finish(UNKNOWN);
                Err(e)
            }
        })
    }
}

/// A call not yet counted as finished; counted `Canceled` if dropped so.
#[derive(Debug)]
pub struct Pending {
    method: Option<Arc<MethodStats>>,
    start: Instant,
}

impl Pending {
    fn finish(&mut self, code: usize) {
        if let Some(m) = self.method.take() {
            m.finish(code, self.start);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(CANCELED);
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its call when the trailers (or the end) go by.
    pub struct CallBody<R> {
        #[pin]
        inner: R,
        pending: Pending,
    }
}

impl<R: Body> Body for CallBody<R> {
    type Data = R::Data;
    type Error = R::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let res = this.inner.poll_frame(cx);
        match &res {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.pending.finish(status_in(trailers).unwrap_or(UNKNOWN));
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.pending.finish(UNKNOWN),
            Poll::Pending => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
