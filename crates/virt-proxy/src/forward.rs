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
//!
//! A call without `virt-uri` goes to the default URI ([`Routing::resolve`]); a call that has
//! no `virt-uri` but a key that looks like a misspelling of it (`virt_uri`, `uri`) is refused
//! with INVALID_ARGUMENT naming the right key. Every response the proxy routed carries a
//! `virt-uri` header (initial metadata) with the URI the call was served for, so a client that
//! sent none learns which connection it got.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::service::Routes;
use tower::{Layer, ServiceExt};
use virt_core::readonly::ConnectionInfo;
use virt_core::readonly::ConnectionLayer;
use virt_core::registry::URI_METADATA;
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

    async fn handle(self, mut req: http::Request<Body>) -> http::Response<Body> {
        let read_only = req
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|c| c.read_only);
        let uri = match uri_metadata(req.headers()) {
            Ok(u) => u,
            Err(status) => return grpc::status_response(status),
        };
        let resolved = self.shared.routing.resolve(uri.as_deref(), read_only);
        if req.uri().path() == INFO_PATH {
            // Info answers even when no URI resolves: then with the proxy's own facts.
            let resolved = match (resolved, &uri) {
                (Ok(r), _) => Some(r),
                (Err(_), None) => None,
                (Err(e), Some(_)) => {
                    return grpc::status_response(virt_core::status::to_status(&e))
                }
            };
            let mut resp = crate::info::answer(&self, read_only, resolved.as_ref()).await;
            if let Some(r) = &resolved {
                tag(&mut resp, &r.uri);
            }
            return resp;
        }
        let resolved = match resolved {
            Ok(r) => self.shared.routing.for_method(r, req.uri().path()),
            Err(e) => return grpc::status_response(virt_core::status::to_status(&e)),
        };
        // The daemon (or the embedded driver) sees the URI the call is for, also when the
        // proxy resolved it.
        if uri.is_none() {
            if let Ok(v) = http::HeaderValue::from_str(&resolved.uri) {
                req.headers_mut().insert(URI_METADATA, v);
            }
        }
        let uri = resolved.uri;
        let mut resp = match resolved.target {
            Target::Embedded => {
                let svc = ConnectionLayer::new(read_only).layer(self.shared.embedded.clone());
                match svc.oneshot(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                }
            }
            Target::Backend(b) if req.uri().path() == STREAM_EVENTS_PATH => {
                crate::events::forward(&self, &b, read_only, &uri, req).await
            }
            Target::Backend(b) => {
                let socket = b.socket_for(read_only).to_path_buf();
                match self.shared.pool.send(&socket, grpc::to_backend(req)).await {
                    Ok(resp) => resp.map(Body::new),
                    Err(e) => unavailable(&uri, &b, &socket, &e),
                }
            }
        };
        tag(&mut resp, &uri);
        resp
    }
}

/// Adds the `virt-uri` response header: the URI the call was served for.
fn tag(resp: &mut http::Response<Body>, uri: &str) {
    if let Ok(v) = http::HeaderValue::from_str(uri) {
        resp.headers_mut().insert(URI_METADATA, v);
    }
}

/// The call's `virt-uri` (none when absent or empty). Errors: INVALID_ARGUMENT when it is not
/// ASCII, or when it is absent and a key that looks like a misspelling of it is present
/// (`virt_uri`, `uri`, `virt-url`, ...), naming the right key.
fn uri_metadata(headers: &http::HeaderMap) -> Result<Option<String>, tonic::Status> {
    match headers.get(URI_METADATA).map(|v| v.to_str()) {
        Some(Ok(u)) if !u.is_empty() => return Ok(Some(u.to_string())),
        Some(Ok(_)) => return Ok(None),
        Some(Err(_)) => {
            return Err(tonic::Status::invalid_argument(
                "virt-uri metadata is not valid ASCII",
            ))
        }
        None => {}
    }
    let Some(key) = headers
        .keys()
        .map(|k| k.as_str())
        .find(|k| looks_like_uri_key(k))
    else {
        return Ok(None);
    };
    let e = VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::Remote,
        format!(
            "metadata key '{key}' is not read: the connection URI goes in the 'virt-uri' \
             metadata key, e.g. virt-uri: qemu:///system"
        ),
    );
    Err(virt_core::status::to_status(&e))
}

/// Whether metadata key `key` (lower case, as HTTP/2 carries it) looks like a misspelt
/// `virt-uri`: with separators dropped it is `uri`, `url`, or starts with `virt` or `libvirt`
/// and ends with `uri` or `url` (`virt_uri`, `virturi`, `virt-url`, `libvirt-uri`).
pub fn looks_like_uri_key(key: &str) -> bool {
    let squashed: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
    let uri_like = squashed.ends_with("uri") || squashed.ends_with("url");
    matches!(
        squashed.as_str(),
        "uri" | "url" | "connecturi" | "connectionuri"
    ) || (uri_like && (squashed.starts_with("virt") || squashed.starts_with("libvirt")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_uri_keys_are_recognised_and_other_keys_are_not() {
        for k in [
            "virt_uri",
            "uri",
            "virt-url",
            "virturi",
            "virt.uri",
            "libvirt-uri",
            "url",
            "connect-uri",
        ] {
            assert!(looks_like_uri_key(k), "{k}");
        }
        for k in [
            "virt-uri-x",
            "user-agent",
            "x-security",
            "grpc-timeout",
            "te",
            "content-type",
            "x-request-id",
        ] {
            assert!(!looks_like_uri_key(k), "{k}");
        }
    }

    #[test]
    fn a_misspelt_key_without_virt_uri_is_invalid_argument_naming_virt_uri() {
        let mut h = http::HeaderMap::new();
        h.insert("virt_uri", http::HeaderValue::from_static("qemu:///system"));
        let st = uri_metadata(&h).expect_err("misspelt");
        assert_eq!(st.code(), tonic::Code::InvalidArgument);
        assert!(
            st.message().contains("metadata key 'virt_uri' is not read"),
            "{}",
            st.message()
        );
        assert!(st.message().contains("'virt-uri'"), "{}", st.message());
        // With virt-uri present, other keys do not matter; an empty one means none.
        h.insert(
            URI_METADATA,
            http::HeaderValue::from_static("qemu:///system"),
        );
        assert_eq!(
            uri_metadata(&h).expect("ok").as_deref(),
            Some("qemu:///system")
        );
        let mut empty = http::HeaderMap::new();
        empty.insert(URI_METADATA, http::HeaderValue::from_static(""));
        assert_eq!(uri_metadata(&empty).expect("ok"), None);
    }
}
