//! [`Proxy`]: the tower service the proxy daemon serves. It reads the `virt-uri` metadata,
//! answers `test:` URIs with the embedded test driver and forwards everything else, frame by
//! frame, to the driver daemon that serves the URI.
//!
//! Forwarding never decodes a call: request headers (metadata), body frames and the response's
//! headers, body frames and trailers go through as hyper delivers them, so unary,
//! server-streaming and bidirectional calls all work, including methods this proxy was never
//! built with. The two exceptions are `ConnectService/Info`, which the proxy answers itself
//! ([`crate::info`]), and `EventService/StreamEvents`, which it watches to resume across daemon
//! restarts ([`crate::events`]).

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::service::Routes;
use tower::{Layer, ServiceExt};
use virt_core::runtime::readonly::ConnectionLayer;
use virt_core::runtime::ConnectionInfo;
use virt_core::service::URI_METADATA;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::grpc;
use crate::pool::{Pool, PoolError};
use crate::route::{Backend, Routing, Target};

/// Path of the one method the proxy answers itself.
pub const INFO_PATH: &str = "/virt.v1.ConnectService/Info";
/// Path of the one method whose messages the proxy reads.
pub const STREAM_EVENTS_PATH: &str = "/virt.v1.EventService/StreamEvents";

/// What every clone of the proxy service shares.
pub(crate) struct Shared {
    pub(crate) routing: Routing,
    pub(crate) pool: Pool,
    pub(crate) embedded: Routes,
}

/// The proxy's request handler (cheap to clone).
#[derive(Clone)]
pub struct Proxy {
    pub(crate) shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy routing with `routing` and serving `test:` URIs with `embedded` (the test
    /// driver's routes, without health or reflection: the runtime adds those).
    pub fn new(routing: Routing, embedded: Routes) -> Proxy {
        Proxy {
            shared: Arc::new(Shared {
                routing,
                pool: Pool::new(),
                embedded,
            }),
        }
    }

    /// The routing table.
    pub fn routing(&self) -> &Routing {
        &self.shared.routing
    }

    async fn handle(self, req: http::Request<Body>) -> http::Response<Body> {
        let read_only = req
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|c| c.read_only);
        if req.uri().path() == INFO_PATH {
            return crate::info::answer(&self, read_only).await;
        }
        let uri = match req.headers().get(URI_METADATA).map(|v| v.to_str()) {
            None => None,
            Some(Ok(u)) => Some(u.to_string()),
            Some(Err(_)) => {
                return grpc::status_response(tonic::Status::invalid_argument(
                    "virt-uri metadata is not valid ASCII",
                ))
            }
        };
        let target = match self.shared.routing.route(uri.as_deref()) {
            Ok(t) => t,
            Err(e) => return grpc::status_response(virt_core::status::to_status(&e)),
        };
        match target {
            Target::Embedded => {
                let svc = ConnectionLayer::new(read_only).layer(self.shared.embedded.clone());
                match svc.oneshot(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                }
            }
            Target::Backend(b) => {
                let uri = uri.unwrap_or_default();
                if req.uri().path() == STREAM_EVENTS_PATH {
                    return crate::events::forward(&self, &b, read_only, &uri, req).await;
                }
                let socket = b.socket_for(read_only).to_path_buf();
                match self.shared.pool.send(&socket, grpc::to_backend(req)).await {
                    Ok(resp) => resp.map(Body::new),
                    Err(e) => unavailable(&uri, &b, &socket, &e),
                }
            }
        }
    }
}

/// The error a caller gets when `backend` cannot be reached on `socket`: UNAVAILABLE
/// (NO_CONNECT in its ErrorInfo) naming the daemon and the socket.
pub fn unavailable_error(
    uri: &str,
    backend: &Backend,
    socket: &Path,
    err: &PoolError,
) -> VirtError {
    VirtError::new(
        ErrorCode::NoConnect,
        ErrorDomain::Remote,
        format!(
            "{uri}: cannot reach {} on {}: {err}",
            backend.daemon,
            socket.display()
        ),
    )
}

pub(crate) fn unavailable(
    uri: &str,
    backend: &Backend,
    socket: &Path,
    err: &PoolError,
) -> http::Response<Body> {
    let e = unavailable_error(uri, backend, socket, err);
    tracing::debug!(error = %e.message(), "backend unavailable");
    grpc::status_response(virt_core::status::to_status(&e))
}

impl tower::Service<http::Request<Body>> for Proxy {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}
