//! An in-process channel: routes served over memory pipes, for `test:///default` without a
//! daemon (tonic's `examples/src/mock/mock.rs` pattern).
//!
//! Each time the channel connects (and again if it reconnects) the connector makes a fresh
//! `tokio::io::duplex` pair, keeps one end and hands the other to a tonic server running in a
//! background task. The server applies the same per-request treatment as a daemon listener:
//! [`super::ConnectionInfo`] in every request, the read-only allowlist when `read_only`, health
//! and reflection. The server task ends when the last clone of the channel is dropped.

use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt as _;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server, Uri};

use super::readonly::ConnectionLayer;
use super::services::add_runtime_services;
use super::RuntimeError;

/// Size of each in-memory pipe's buffer.
const PIPE_BUFFER: usize = 64 * 1024;

/// Serves `routes` in-process and returns a channel connected to them. When `read_only`, the
/// calls are treated as arriving on a read-only socket.
pub async fn embedded_channel(routes: Routes, read_only: bool) -> Result<Channel, RuntimeError> {
    let (routes, _health) = add_runtime_services(routes).await;
    let (conn_tx, conn_rx) = mpsc::unbounded_channel::<tokio::io::DuplexStream>();
    let incoming = UnboundedReceiverStream::new(conn_rx).map(Ok::<_, std::io::Error>);
    let router = Server::builder()
        .layer(ConnectionLayer::new(read_only))
        .add_routes(routes);
    tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming(incoming).await {
            tracing::warn!(error = %e, "embedded server failed");
        }
    });

    let connector = tower::service_fn(move |_: Uri| {
        let conn_tx = conn_tx.clone();
        async move {
            let (client, server) = tokio::io::duplex(PIPE_BUFFER);
            conn_tx.send(server).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the embedded server has stopped",
                )
            })?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(client))
        }
    });
    // The URI is never resolved: the connector above ignores it.
    Endpoint::from_static("http://embedded.invalid")
        .connect_with_connector(connector)
        .await
        .map_err(|source| RuntimeError::Embedded { source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::connect_service_client::ConnectServiceClient;
    use crate::proto::{GetDomainCapabilitiesRequest, GetVersionRequest};
    use crate::runtime::test_support::{stub_routes, StubConnect};
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    #[tokio::test]
    async fn embedded_channel_serves_routes_health_and_connection_info() {
        let ch = embedded_channel(stub_routes(StubConnect::default()), false)
            .await
            .expect("channel");
        let mut client = ConnectServiceClient::new(ch.clone());
        let v = client
            .get_version(GetVersionRequest {})
            .await
            .expect("version");
        assert_eq!(v.into_inner().hypervisor_type, "read_only=false");
        let caps = client
            .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
            .await
            .expect("writes allowed read-write");
        assert_eq!(caps.into_inner().xml, "<domainCapabilities/>");
        let h = HealthClient::new(ch)
            .check(HealthCheckRequest {
                service: "virt.v1.DomainService".into(),
            })
            .await
            .expect("health");
        assert_eq!(h.into_inner().status(), ServingStatus::Serving);
    }

    #[tokio::test]
    async fn embedded_read_only_channel_refuses_writes() {
        let ch = embedded_channel(stub_routes(StubConnect::default()), true)
            .await
            .expect("channel");
        let mut client = ConnectServiceClient::new(ch);
        let v = client
            .get_version(GetVersionRequest {})
            .await
            .expect("reads pass");
        assert_eq!(v.into_inner().hypervisor_type, "read_only=true");
        let err = client
            .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
            .await
            .expect_err("denied");
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            err.message(),
            "operation forbidden: read only access prevents virConnectGetDomainCapabilities"
        );
    }
}
