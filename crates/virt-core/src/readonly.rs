//! Read-only enforcement (ARCHITECTURE decision 4) and the per-request [`ConnectionInfo`].
//!
//! The allowlist is `proto/readonly-allowlist.txt`, compiled in: one fully-qualified method per
//! line (`virt.v1.DomainService/LookupDomain`), `#` comments. [`ConnectionLayer`] wraps the
//! daemon's routes on every listener: it inserts [`ConnectionInfo`] into the request's extensions
//! and, on a read-only listener, answers any method not on the list itself with
//! PERMISSION_DENIED "operation forbidden: read only access prevents METHOD", carrying a
//! `google.rpc.ErrorInfo` (reason OPERATION_DENIED, domain `virt`, metadata code 29 and
//! error_domain DOMAIN), so the service never sees the call. Checks that depend on a request's flags (GetDomainXml with
//! SECURE) stay in the handlers, which read [`ConnectionInfo::read_only`].

use std::collections::HashSet;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready};
use tonic::Status;
use tower::{Layer, Service};

use crate::error::VirtError;

/// What is known about the connection a request came in on. Inserted into every request's
/// `http::Extensions` by [`ConnectionLayer`] (on a daemon's listeners, on the embedded channel,
/// and on the client side of every connection); a handler reads it with
/// `request.extensions().get::<ConnectionInfo>()` to know whether the caller is read-only
/// (e.g. GetDomainXml refuses the SECURE flag to read-only callers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The request arrived on a read-only listener.
    pub read_only: bool,
}

/// The allowlist file, as compiled into the binary.
pub const ALLOWLIST: &str = include_str!("../../../proto/readonly-allowlist.txt");

/// The methods a read-only connection may call, as `package.Service/Method`.
pub fn allowed_methods() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        ALLOWLIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether the gRPC request path (`/virt.v1.DomainService/LookupDomain`) is allowed read-only.
pub fn is_allowed(path: &str) -> bool {
    allowed_methods().contains(path.strip_prefix('/').unwrap_or(path))
}

/// The status a read-only caller gets for `path`: [`VirtError::read_only`] naming libvirt's API
/// for the method, as libvirt's message does ("read only access prevents virDomainDestroy"),
/// or the gRPC method for one without a libvirt counterpart; through the crate's one error
/// mapping ([`crate::status::to_status`]).
pub fn denied_status(path: &str) -> Status {
    let method = path.rsplit('/').next().unwrap_or(path);
    let api = crate::api_names::libvirt_api(method).unwrap_or(method);
    crate::status::to_status(&VirtError::read_only(api))
}

/// Tower layer that tags requests with [`ConnectionInfo`] and enforces the allowlist on
/// read-only connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLayer {
    read_only: bool,
    enforce: bool,
}

impl ConnectionLayer {
    /// A layer for a listener that is read-only or not.
    pub fn new(read_only: bool) -> ConnectionLayer {
        ConnectionLayer {
            read_only,
            enforce: true,
        }
    }

    /// A layer that only tags requests with [`ConnectionInfo`] and leaves read-only
    /// enforcement to the service (virt-proxy, which forwards read-only calls to a daemon's
    /// read-only socket and lets that daemon refuse them).
    pub fn tag_only(read_only: bool) -> ConnectionLayer {
        ConnectionLayer {
            read_only,
            enforce: false,
        }
    }
}

impl<S> Layer<S> for ConnectionLayer {
    type Service = ConnectionService<S>;

    fn layer(&self, inner: S) -> ConnectionService<S> {
        ConnectionService {
            inner,
            info: ConnectionInfo {
                read_only: self.read_only,
            },
            enforce: self.enforce,
        }
    }
}

/// The service made by [`ConnectionLayer`].
#[derive(Clone, Debug)]
pub struct ConnectionService<S> {
    inner: S,
    info: ConnectionInfo,
    enforce: bool,
}

impl<S, B, R> Service<http::Request<B>> for ConnectionService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Either<Ready<Result<http::Response<R>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if self.enforce && self.info.read_only && !is_allowed(req.uri().path()) {
            tracing::debug!(path = req.uri().path(), "refused on read-only connection");
            let status = denied_status(req.uri().path());
            return Either::Left(futures_util::future::ready(Ok(status.into_http())));
        }
        req.extensions_mut().insert(self.info);
        Either::Right(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use tonic::Code;
    use tonic_types::StatusExt;

    #[test]
    fn every_allowlisted_virt_method_exists_in_the_schema() {
        let fds = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut schema = HashSet::new();
        for file in &fds.file {
            let package = file.package();
            for svc in &file.service {
                for m in &svc.method {
                    schema.insert(format!("{package}.{}/{}", svc.name(), m.name()));
                }
            }
        }
        let virt: Vec<_> = allowed_methods()
            .iter()
            .filter(|m| m.starts_with("virt.v1."))
            .collect();
        assert!(virt.len() > 10, "allowlist lost its virt.v1 methods");
        for m in virt {
            assert!(schema.contains(*m), "allowlisted {m} is not in proto/");
        }
    }

    #[test]
    fn write_methods_are_not_allowed_and_reads_are() {
        assert!(is_allowed("/virt.v1.DomainService/LookupDomain"));
        assert!(is_allowed("/grpc.health.v1.Health/Check"));
        assert!(!is_allowed("/virt.v1.DomainService/DefineDomain"));
        assert!(!is_allowed("/virt.v1.ConnectService/GetDomainCapabilities"));
        // libvirt's ACL for virConnectDomainXMLToNative is connect:write.
        assert!(!is_allowed("/virt.v1.ConnectService/DomainXmlToNative"));
        assert!(!is_allowed("/virt.v1.DomainService/"));
    }

    #[test]
    fn denied_status_carries_operation_denied_error_info() {
        let st = denied_status("/virt.v1.DomainService/DefineDomain");
        assert_eq!(st.code(), Code::PermissionDenied);
        assert_eq!(
            st.message(),
            "operation forbidden: read only access prevents virDomainDefineXML"
        );
        let info = st.get_details_error_info().expect("error info");
        assert_eq!(info.reason, "OPERATION_DENIED");
        assert_eq!(info.domain, "virt");
        assert_eq!(info.metadata["error_domain"], "DOMAIN");
        assert_eq!(info.metadata.get("code").map(String::as_str), Some("29"));
    }

    #[tokio::test]
    async fn layer_tags_requests_and_refuses_writes_when_read_only() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen2 = seen.clone();
        let inner = tower::service_fn(move |req: http::Request<()>| {
            *seen2.lock().expect("lock") = req.extensions().get::<ConnectionInfo>().copied();
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::from("inner"))) }
        });
        let mut svc = ConnectionLayer::new(true).layer(inner);
        let req = |p: &str| http::Request::builder().uri(p).body(()).expect("request");

        let resp = svc.call(req("/virt.v1.DomainService/DefineDomain")).await;
        let resp = resp.expect("infallible");
        assert_eq!(resp.body(), "");
        assert_eq!(resp.headers()["grpc-status"], "7");
        assert!(seen.lock().expect("lock").is_none(), "inner must not run");

        let resp = svc.call(req("/virt.v1.DomainService/LookupDomain")).await;
        assert_eq!(resp.expect("infallible").body(), "inner");
        assert_eq!(
            *seen.lock().expect("lock"),
            Some(ConnectionInfo { read_only: true })
        );

        let mut rw = ConnectionLayer::new(false).layer(tower::service_fn(
            |req: http::Request<()>| async move {
                let ro = req
                    .extensions()
                    .get::<ConnectionInfo>()
                    .map(|c| c.read_only);
                Ok::<_, std::convert::Infallible>(http::Response::new(format!("{ro:?}")))
            },
        ));
        let resp = rw.call(req("/virt.v1.DomainService/DefineDomain")).await;
        assert_eq!(resp.expect("infallible").body(), "Some(false)");

        let mut tag = ConnectionLayer::tag_only(true).layer(tower::service_fn(
            |req: http::Request<()>| async move {
                let ro = req
                    .extensions()
                    .get::<ConnectionInfo>()
                    .map(|c| c.read_only);
                Ok::<_, std::convert::Infallible>(http::Response::new(format!("{ro:?}")))
            },
        ));
        let resp = tag.call(req("/virt.v1.DomainService/DefineDomain")).await;
        assert_eq!(resp.expect("infallible").body(), "Some(true)");
    }
}
