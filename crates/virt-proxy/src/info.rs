//! `ConnectService/Info` on the proxy: its own facts plus those of every driver daemon it can
//! reach (asked concurrently, each within [`BACKEND_INFO_TIMEOUT`]; an unreachable daemon is
//! left out). Read-only callers ask the daemons on their read-only sockets.

use std::time::Duration;

use http_body_util::Full;
use tonic::body::Body;
use virt_core::proto::{InfoRequest, InfoResponse};
use virt_core::service::DriverRegistry;

use crate::forward::{Proxy, INFO_PATH};
use crate::grpc;

/// How long the proxy waits for one daemon's Info.
pub const BACKEND_INFO_TIMEOUT: Duration = Duration::from_secs(2);

/// The proxy's own Info (no backends).
pub fn own_info() -> InfoResponse {
    let i = crate::ProxyRegistry::new().daemon_info();
    let mut schemes = i.schemes;
    for s in ["qemu", "lxc", "xen"] {
        if !schemes.iter().any(|x| x == s) {
            schemes.push(s.to_string());
        }
    }
    InfoResponse {
        daemon: crate::DAEMON_NAME.to_string(),
        driver: i.driver,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: "virt.v1".to_string(),
        features: i.features,
        schemes,
        backends: Vec::new(),
    }
}

/// The Info of every reachable backend.
pub async fn backend_infos(proxy: &Proxy, read_only: bool) -> Vec<InfoResponse> {
    let asks = proxy.routing().backends().into_iter().map(|b| {
        let proxy = proxy.clone();
        async move {
            let socket = b.socket_for(read_only).to_path_buf();
            let body = Body::new(Full::new(grpc::encode(&InfoRequest {})));
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            headers.insert("te", http::HeaderValue::from_static("trailers"));
            let req = grpc::backend_request(INFO_PATH, &headers, body);
            let ask = async {
                let resp = proxy.shared.pool.send(&socket, req).await.ok()?;
                grpc::read_unary::<InfoResponse>(resp).await.ok()
            };
            tokio::time::timeout(BACKEND_INFO_TIMEOUT, ask)
                .await
                .ok()
                .flatten()
        }
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Answers an Info call.
pub(crate) async fn answer(proxy: &Proxy, read_only: bool) -> http::Response<Body> {
    let mut info = own_info();
    info.backends = backend_infos(proxy, read_only).await;
    grpc::message_response(&info)
}
