//! Helpers for the runtime's tests: a client channel to a daemon's UNIX socket and the
//! stub's answer over it (the stub is [`crate::service::test_support::StubConnect`]).

use std::path::Path;

use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::proto::connect_service_client::ConnectServiceClient;
use crate::proto::GetVersionRequest;
pub use crate::service::test_support::{stub_routes, StubConnect};

/// A channel to the gRPC server on the UNIX socket `path`.
pub async fn unix_channel(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_path_buf();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
}

/// The stub's GetVersion answer over `ch`: `read_only=BOOL`.
pub async fn version_tag(ch: &Channel) -> String {
    ConnectServiceClient::new(ch.clone())
        .get_version(GetVersionRequest {})
        .await
        .expect("GetVersion")
        .into_inner()
        .hypervisor_type
}
