//! The local connection's own channel (virt-client's `H2Channel`): a `virt_client::Connection`
//! on a driver daemon's socket sends `virt-uri` with every call, carries unary calls, a server
//! stream (events) and a daemon restart under it. Which socket a URI picks is tested beside the
//! code (virt-client's connection.rs); the default path end to end in proxy_routing.rs.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::StreamBody;
use prost::Message;
use virt_client::{Connection, DomainLookup, EventItem};
use virt_tests::backend::{AnyUri, InProcessDaemon};
use virt_tests::domain_xml;

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_on_a_daemon_socket_streams_events_carries_large_answers_and_survives_a_restart(
) {
    let root = tempfile::tempdir().expect("root");
    let registry = AnyUri::new("QEMU");
    let qemu = InProcessDaemon::start("virtqemud", root.path(), registry.clone()).await;
    let uri = format!("qemu:///system?socket={}", qemu.socket.display());
    let conn = Connection::open(Some(&uri), false).await.expect("open");
    let mut events = conn
        .stream_events(None, None, &[])
        .await
        .expect("StreamEvents");
    conn.define(&domain_xml("local1"), 0).await.expect("define");
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await.expect("event stream") {
                Some(EventItem::Event(e))
                    if e.domain.as_ref().is_some_and(|d| d.name == "local1") =>
                {
                    return
                }
                Some(_) => continue,
                None => panic!("event stream ended"),
            }
        }
    })
    .await;
    assert!(got.is_ok(), "no lifecycle event for local1");
    drop(events);

    // A large answer (many domains) crosses several HTTP/2 frames and window updates.
    for i in 0..300 {
        conn.define(&domain_xml(&format!("bulk-{i:04}-{}", "x".repeat(100))), 0)
            .await
            .expect("define bulk");
    }
    let all = conn.list_all_domains(0).await.expect("list");
    assert_eq!(all.len(), 302);

    // The daemon restarts: the same connection reconnects on its next call.
    qemu.stop().await;
    let err = conn
        .lookup(&DomainLookup::Name("local1".into()))
        .await
        .expect_err("daemon down");
    assert!(!err.to_string().is_empty());
    let _qemu = InProcessDaemon::start("virtqemud", root.path(), registry).await;
    let dom = conn
        .lookup(&DomainLookup::Name("local1".into()))
        .await
        .expect("lookup after the daemon came back");
    assert_eq!(dom.name, "local1");
}

/// A daemon that answers every call as GetUri with the `virt-uri` metadata it received.
#[tokio::test(flavor = "multi_thread")]
async fn every_call_on_a_daemon_socket_carries_virt_uri_without_client_parameters() {
    let root = tempfile::tempdir().expect("root");
    let echo = tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
        let seen = req
            .headers()
            .get("virt-uri")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_string();
        let msg = virt_core::proto::GetUriResponse { uri: seen }.encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        framed.extend_from_slice(&msg);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames: Vec<Result<http_body::Frame<Bytes>, tonic::Status>> = vec![
            Ok(http_body::Frame::data(Bytes::from(framed))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let mut resp = http::Response::new(tonic::body::Body::new(StreamBody::new(
            futures_util::stream::iter(frames),
        )));
        resp.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        Ok::<_, std::convert::Infallible>(resp)
    });
    let daemon = InProcessDaemon::start_service("virtqemud", root.path(), echo).await;
    let uri = format!(
        "qemu+unix:///system?socket={}&mode=direct",
        daemon.socket.display()
    );
    let conn = Connection::open(Some(&uri), false).await.expect("open");
    for _ in 0..3 {
        assert_eq!(conn.uri().await.expect("call"), "qemu:///system");
    }
}
