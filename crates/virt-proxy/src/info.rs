//! `ConnectService/Info` on the proxy. The top-level fields describe the connection the call is
//! for, like any other call: for a URI routed to a driver daemon (given in `virt-uri`, or the
//! default URI resolved for a call without it) they are that daemon's own `Info` (so `features`
//! are the backend's); for a `test:` URI the embedded test driver's (daemon `virt-proxy`, driver
//! `TEST`); for a call without a URI when none resolves, the proxy's own (daemon `virt-proxy`,
//! no driver, no features). `backends` then lists every driver daemon the proxy can reach
//! (asked concurrently, each within [`BACKEND_INFO_TIMEOUT`]; an unreachable daemon is left
//! out). Read-only callers ask the daemons on their read-only sockets. Each daemon's answer is
//! relayed as the bytes it sent (checked to decode), so fields of a newer daemon's `Info` that
//! this proxy does not know reach the client.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use prost::encoding::WireType;
use prost::Message as _;
use tonic::body::Body;
use virt_core::proto::{InfoRequest, InfoResponse};
use virt_core::registry::DriverRegistry;

use crate::forward::{unavailable, Proxy, INFO_PATH};
use crate::grpc;
use crate::pool::PoolError;
use crate::route::{Backend, Resolved, Target};

/// How long the proxy waits for one daemon's Info.
pub const BACKEND_INFO_TIMEOUT: Duration = Duration::from_secs(2);

/// Field number of `InfoResponse.backends`.
const BACKENDS_FIELD: u32 = 7;

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

/// The proxy's Info for a call with no URI when none resolves: no driver, no features.
pub fn unrouted_info() -> InfoResponse {
    InfoResponse {
        driver: String::new(),
        features: Vec::new(),
        ..own_info()
    }
}

/// Why a backend's Info could not be had.
enum AskError {
    /// The socket or connection failed.
    Pool(PoolError),
    /// The daemon answered with an error, or with bytes that are no InfoResponse.
    Answer(tonic::Status),
}

/// Asks `backend`'s Info on the socket a caller of `read_only` uses: its protobuf bytes.
async fn ask(proxy: &Proxy, backend: &Backend, read_only: bool) -> Result<Bytes, AskError> {
    let socket = backend.socket_for(read_only).to_path_buf();
    let body = Body::new(Full::new(grpc::encode(&InfoRequest {})));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("te", http::HeaderValue::from_static("trailers"));
    let req = grpc::backend_request(INFO_PATH, &headers, body);
    let resp = proxy
        .shared
        .pool
        .send(&socket, req)
        .await
        .map_err(AskError::Pool)?;
    let raw = grpc::read_unary_payload(resp)
        .await
        .map_err(AskError::Answer)?;
    InfoResponse::decode(raw.clone())
        .map_err(|e| AskError::Answer(tonic::Status::internal(format!("undecodable Info: {e}"))))?;
    Ok(raw)
}

/// The Info of every reachable backend, as the protobuf bytes each sent.
pub async fn backend_infos(proxy: &Proxy, read_only: bool) -> Vec<Bytes> {
    let asks = proxy.routing().backends().into_iter().map(|b| {
        let proxy = proxy.clone();
        async move {
            tokio::time::timeout(BACKEND_INFO_TIMEOUT, ask(&proxy, &b, read_only))
                .await
                .ok()
                .and_then(Result::ok)
        }
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Answers an Info call for `resolved` (none: no URI given and none resolves).
pub(crate) async fn answer(
    proxy: &Proxy,
    read_only: bool,
    resolved: Option<&Resolved>,
) -> http::Response<Body> {
    let top = async {
        match resolved.map(|r| (&r.uri, &r.target)) {
            None => Ok(unrouted_info().encode_to_vec()),
            Some((_, Target::Embedded)) => Ok(own_info().encode_to_vec()),
            Some((uri, Target::Backend(b))) => match ask(proxy, b, read_only).await {
                Ok(raw) => Ok(raw.to_vec()),
                Err(AskError::Pool(e)) => Err(unavailable(uri, b, b.socket_for(read_only), &e)),
                Err(AskError::Answer(st)) => Err(grpc::status_response(st)),
            },
        }
    };
    let (top, raws) = futures_util::future::join(top, backend_infos(proxy, read_only)).await;
    match top {
        Ok(top) => grpc::payload_response(&with_backends(top, &raws)),
        Err(resp) => resp,
    }
}

/// `top` (an encoded InfoResponse) with each of `raws` (encoded InfoResponses) appended as a
/// `backends` entry.
pub fn with_backends(top: Vec<u8>, raws: &[Bytes]) -> Vec<u8> {
    let mut buf = top;
    for raw in raws {
        // `repeated InfoResponse backends = 7`: each one a length-delimited field 7.
        prost::encoding::encode_key(BACKENDS_FIELD, WireType::LengthDelimited, &mut buf);
        prost::encoding::encode_varint(raw.len() as u64, &mut buf);
        buf.extend_from_slice(raw);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_infos_are_relayed_with_fields_the_proxy_does_not_know() {
        let backend = InfoResponse {
            daemon: "virtqemud".into(),
            driver: "QEMU".into(),
            ..Default::default()
        };
        let mut raw = backend.encode_to_vec();
        // Field 99, a string "new": what a newer daemon might add.
        raw.extend_from_slice(&[0x9a, 0x06, 3, b'n', b'e', b'w']);
        let raw = Bytes::from(raw);
        let out = with_backends(own_info().encode_to_vec(), std::slice::from_ref(&raw));
        let decoded = InfoResponse::decode(out.as_slice()).expect("decodes");
        assert_eq!(decoded.daemon, crate::DAEMON_NAME);
        assert_eq!(decoded.backends, vec![backend]);
        assert!(
            out.windows(raw.len()).any(|w| w == raw.as_ref()),
            "the backend's bytes, unknown field included, are in the answer"
        );
    }
}
