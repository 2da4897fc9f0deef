//! An in-process channel: routes served over memory pipes, for `test:///default` without a
//! daemon (tonic's `examples/src/mock/mock.rs` pattern).
//!
//! Each time the channel connects (and again if it reconnects) the connector makes a fresh
//! `tokio::io::duplex` pair, keeps one end and hands the other to a tonic server running in a
//! background task. The server applies the same per-request treatment as a daemon listener:
//! [`crate::readonly::ConnectionInfo`] in every request and the read-only allowlist when
//! `read_only`. It serves the routes it is given and nothing else: health and reflection are
//! for processes that other programs probe, which belong to the daemon runtime (feature
//! `server`); nothing outside this process can reach an embedded channel. The server task ends
//! when the last clone of the channel is dropped.

use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt as _;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server, Uri};

use crate::readonly::ConnectionLayer;

/// Size of each in-memory pipe's buffer.
const PIPE_BUFFER: usize = 64 * 1024;

/// Serves `routes` in-process and returns a channel connected to them. When `read_only`, the
/// calls are treated as arriving on a read-only socket. Errors: the channel could not connect
/// to its in-process server.
pub async fn embedded_channel(
    routes: Routes,
    read_only: bool,
) -> Result<Channel, tonic::transport::Error> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::connect_service_client::ConnectServiceClient;
    use crate::proto::{GetDomainCapabilitiesRequest, GetVersionRequest};
    use crate::service::test_support::{stub_routes, StubConnect};

    #[tokio::test]
    async fn embedded_channel_serves_routes_and_connection_info() {
        let ch = embedded_channel(stub_routes(StubConnect::default()), false)
            .await
            .expect("channel");
        let mut client = ConnectServiceClient::new(ch);
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
