//! virt-proxy forwarding streams without decoding them: methods the proxy was never built
//! with (unary and bidirectional, message by message) and the one stream it reads, StreamEvents,
//! resumed across daemon restarts (in-process daemon stopped abruptly, and a real virtqemud
//! killed with SIGKILL) with no loss and no duplicates.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::event_service_client::EventServiceClient;
use virt_core::proto::{
    stream_events_response::Item, DefineDomainRequest, GetHostnameResponse, StreamEventsRequest,
};
use virt_tests::backend::{AnyUri, InProcessDaemon, ProcessDaemon};
use virt_tests::{domain_xml, raw_channel, with_uri, DaemonUnderTest};

fn qemu_xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>2</vcpu>\n  <os>\n    \
         <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n</domain>\n"
    )
}

const ALPHA: &str = "11111111-2222-3333-4444-555555555555";
const BETA: &str = "66666666-7777-8888-9999-000000000000";

#[tokio::test(flavor = "multi_thread")]
async fn a_method_the_proxy_never_knew_passes_through() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    // A "newer daemon": answers /future.v9.Echo/Shout by echoing the request message, with a
    // header and trailer saying who answered. Neither the proxy nor virt-core knows the method.
    let echo = tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
        let path = req.uri().path().to_string();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        trailers.insert("x-answered", http::HeaderValue::from_static("trailer"));
        let frames: Vec<Result<http_body::Frame<Bytes>, tonic::Status>> =
            if path == "/future.v9.Echo/Shout" {
                vec![
                    Ok(http_body::Frame::data(body)),
                    Ok(http_body::Frame::trailers(trailers)),
                ]
            } else {
                let mut t = http::HeaderMap::new();
                t.insert("grpc-status", http::HeaderValue::from_static("12"));
                vec![Ok(http_body::Frame::trailers(t))]
            };
        let mut resp = http::Response::new(tonic::body::Body::new(StreamBody::new(
            futures_util::stream::iter(frames),
        )));
        resp.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        resp.headers_mut()
            .insert("x-backend", http::HeaderValue::from_static("virtxend"));
        Ok::<_, std::convert::Infallible>(resp)
    });
    let xen = InProcessDaemon::start_service("virtxend", &root, echo).await;

    let mut grpc = tonic::client::Grpc::new(raw_channel(&proxy.socket).await);
    grpc.ready().await.expect("channel ready");
    let msg = GetHostnameResponse {
        hostname: "hello through the proxy".into(),
    };
    let resp = grpc
        .unary(
            with_uri(msg.clone(), "xen:///system"),
            http::uri::PathAndQuery::from_static("/future.v9.Echo/Shout"),
            tonic_prost::ProstCodec::<GetHostnameResponse, GetHostnameResponse>::default(),
        )
        .await
        .expect("unknown method forwarded");
    assert_eq!(
        resp.metadata().get("x-backend").expect("header"),
        "virtxend"
    );
    assert_eq!(resp.into_inner(), msg);
    xen.stop().await;
}

/// The sequence number of the next message, which must be an event.
async fn next_seq(s: &mut tonic::Streaming<virt_core::proto::StreamEventsResponse>) -> u64 {
    let m = tokio::time::timeout(Duration::from_secs(30), s.message())
        .await
        .expect("an event in time")
        .expect("stream healthy")
        .expect("stream open");
    match m.item {
        Some(Item::Event(e)) => e.sequence,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_stream_survives_a_daemon_restart_without_loss_or_duplicates() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let uri = "qemu:///system";
    let registry = AnyUri::new("QEMU");
    let qemu = InProcessDaemon::start("virtqemud", &root, registry.clone()).await;

    let mut events = EventServiceClient::new(raw_channel(&proxy.socket).await)
        .stream_events(with_uri(StreamEventsRequest::default(), uri))
        .await
        .expect("stream opens")
        .into_inner();
    let define = |name: &'static str| {
        let d = registry.driver();
        async move {
            d.define_domain(&domain_xml(name), 0).await.expect("define");
        }
    };
    define("before").await;
    let first = next_seq(&mut events).await;

    // The daemon goes away with the stream open; events happen while it is down (they are in
    // its retained ring when it comes back), then more after the restart.
    qemu.stop().await;
    define("while-down-1").await;
    define("while-down-2").await;
    let qemu = InProcessDaemon::start("virtqemud", &root, registry.clone()).await;
    define("after").await;

    let mut seen = vec![first];
    for _ in 0..3 {
        seen.push(next_seq(&mut events).await);
    }
    assert_eq!(seen, vec![first, first + 1, first + 2, first + 3]);
    // No duplicate follows: the next event is the next number.
    define("later").await;
    assert_eq!(next_seq(&mut events).await, first + 4);
    qemu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_stream_through_the_proxy_survives_kill_9_of_virtqemud() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let uri = "qemu:///system";
    let qemu = ProcessDaemon::start("virtqemud", &root);
    let channel = raw_channel(&proxy.socket).await;
    let mut events = EventServiceClient::new(channel.clone())
        .stream_events(with_uri(StreamEventsRequest::default(), uri))
        .await
        .expect("stream opens")
        .into_inner();
    let mut domains = DomainServiceClient::new(channel);
    let define =
        |c: &mut DomainServiceClient<tonic::transport::Channel>, name: &str, uuid: &str| {
            let mut c = c.clone();
            let xml = qemu_xml(name, uuid);
            async move {
                c.define_domain(with_uri(DefineDomainRequest { xml, flags: 0 }, uri))
                    .await
                    .expect("define through the proxy");
            }
        };
    define(&mut domains, "alpha", ALPHA).await;
    let first = next_seq(&mut events).await;
    assert_eq!(first, 1);

    qemu.kill9();
    let _qemu = ProcessDaemon::start("virtqemud", &root);
    // Emitted right after the restart, most likely before the proxy has reopened the stream:
    // only a resume from the last sequence delivered brings these.
    define(&mut domains, "beta", BETA).await;
    define(&mut domains, "alpha", ALPHA).await;
    assert_eq!(next_seq(&mut events).await, 2);
    assert_eq!(next_seq(&mut events).await, 3);
    define(&mut domains, "beta", BETA).await;
    assert_eq!(next_seq(&mut events).await, 4);
}

/// A response body that streams the request body back as it arrives, then `grpc-status: 0`.
struct EchoBody {
    inner: tonic::body::Body,
    done: bool,
}

impl http_body::Body for EchoBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                self.done = true;
                let mut t = http::HeaderMap::new();
                t.insert("grpc-status", http::HeaderValue::from_static("0"));
                Poll::Ready(Some(Ok(http_body::Frame::trailers(t))))
            }
            Poll::Ready(Some(Ok(f))) if f.is_data() => Poll::Ready(Some(Ok(f))),
            Poll::Ready(Some(Ok(_))) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bidirectional_call_streams_through_message_by_message() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    // A daemon method the proxy does not know, bidirectional: every request message is
    // echoed as soon as it arrives.
    let echo = tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
        let body = EchoBody {
            inner: req.into_body(),
            done: false,
        };
        let mut resp = http::Response::new(tonic::body::Body::new(body));
        resp.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        Ok::<_, std::convert::Infallible>(resp)
    });
    let xen = InProcessDaemon::start_service("virtxend", &root, echo).await;

    let mut grpc = tonic::client::Grpc::new(raw_channel(&proxy.socket).await);
    grpc.ready().await.expect("channel ready");
    let (tx, rx) = tokio::sync::mpsc::channel::<GetHostnameResponse>(4);
    let outbound =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut inbound = grpc
        .streaming(
            with_uri(outbound, "xen:///system"),
            http::uri::PathAndQuery::from_static("/future.v9.Echo/Chat"),
            tonic_prost::ProstCodec::<GetHostnameResponse, GetHostnameResponse>::default(),
        )
        .await
        .expect("bidi call forwarded")
        .into_inner();
    // Each answer must arrive while the request stream is still open: nothing is buffered
    // until the end of a stream.
    for word in ["one", "two", "three"] {
        let msg = GetHostnameResponse {
            hostname: word.into(),
        };
        tx.send(msg.clone()).await.expect("send");
        let got = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .expect("echo before the request stream ends")
            .expect("stream healthy")
            .expect("an echo");
        assert_eq!(got, msg);
    }
    drop(tx);
    let end = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .expect("end in time")
        .expect("status OK in the trailers");
    assert!(end.is_none());
    xen.stop().await;
}
