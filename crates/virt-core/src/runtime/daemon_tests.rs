//! Tests of [`Daemon`] over real UNIX sockets in temporary roots, including socket activation
//! through systemd's own `systemd-socket-activate`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;

use super::*;
use crate::paths::Mode;
use crate::proto::connect_service_client::ConnectServiceClient;
use crate::proto::{GetDomainCapabilitiesRequest, GetHostnameRequest};
use crate::runtime::test_support::{stub_routes, unix_channel, version_tag, StubConnect};

const NAME: &str = "virttest";

/// A daemon under a temp root, with a notify socket the test reads.
struct Harness {
    _dir: tempfile::TempDir,
    paths: Paths,
    notify: UnixDatagram,
    notify_path: PathBuf,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::resolve(Some(&dir.path().join("root")), Mode::System);
        let notify_path = dir.path().join("notify");
        let notify = UnixDatagram::bind(&notify_path).expect("bind notify");
        Harness {
            _dir: dir,
            paths,
            notify,
            notify_path,
        }
    }

    fn daemon(&self) -> Daemon {
        Daemon::new(NAME, self.paths.clone())
            .with_notifier(Notifier::to(self.notify_path.to_string_lossy()))
    }

    async fn next_notification(&self) -> String {
        recv_notification(&self.notify).await
    }
}

async fn recv_notification(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(20), sock.recv(&mut buf))
        .await
        .expect("notification in time")
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Starts `daemon` serving the stub; returns the shutdown trigger and the serve task.
fn start(
    daemon: Daemon,
    stub: StubConnect,
    busy: impl Fn() -> bool + Send + Sync + 'static,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), RuntimeError>>,
) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(daemon.serve_with_shutdown(stub_routes(stub), busy, async {
        let _ = rx.await;
    }));
    (tx, task)
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

async fn health(ch: &Channel, service: &str) -> ServingStatus {
    HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status()
}

#[tokio::test]
async fn serve_binds_both_sockets_enforces_read_only_and_answers_health() {
    let h = Harness::new();
    let (stop, task) = start(h.daemon(), StubConnect::default(), || false);
    let ready = h.next_notification().await;
    assert!(
        ready.starts_with("READY=1\nSTATUS=virttest serving on "),
        "{ready}"
    );

    let (rw_path, ro_path) = (h.paths.socket(NAME), h.paths.socket_ro(NAME));
    assert_eq!(mode_of(&rw_path), 0o600);
    assert_eq!(mode_of(&ro_path), 0o666);
    let rw = unix_channel(&rw_path).await.expect("rw channel");
    let ro = unix_channel(&ro_path).await.expect("ro channel");

    assert_eq!(version_tag(&rw).await, "read_only=false");
    assert_eq!(version_tag(&ro).await, "read_only=true");
    let caps = ConnectServiceClient::new(rw.clone())
        .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
        .await
        .expect("allowed read-write");
    assert_eq!(caps.into_inner().xml, "<domainCapabilities/>");
    let denied = ConnectServiceClient::new(ro.clone())
        .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
        .await
        .expect_err("denied read-only");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        denied.message(),
        "operation forbidden: read only access prevents virConnectGetDomainCapabilities"
    );
    let info = denied.get_details_error_info().expect("error info");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("OPERATION_DENIED", "virt")
    );

    for ch in [&rw, &ro] {
        assert_eq!(health(ch, "").await, ServingStatus::Serving);
        assert_eq!(
            health(ch, "virt.v1.DomainService").await,
            ServingStatus::Serving
        );
    }

    stop.send(()).expect("daemon running");
    task.await.expect("join").expect("clean stop");
    assert!(h.next_notification().await.starts_with("STOPPING=1\n"));
    assert!(!rw_path.exists() && !ro_path.exists(), "sockets unlinked");
}

#[tokio::test]
async fn reflection_lists_the_virt_services_on_the_read_only_socket() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let h = Harness::new();
    let (stop, task) = start(h.daemon(), StubConnect::default(), || false);
    h.next_notification().await;
    let ro = unix_channel(&h.paths.socket_ro(NAME)).await.expect("ro");
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(ro)
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflection allowed read-only")
        .into_inner();
    let resp = stream.message().await.expect("message").expect("one");
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection answer {resp:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"virt.v1.DomainService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    stop.send(()).expect("running");
    task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn session_mode_without_root_has_no_read_only_socket() {
    let h = Harness::new();
    let paths = Paths {
        mode: Mode::Session,
        root: None,
        ..h.paths.clone()
    };
    let daemon = Daemon::new(NAME, paths.clone())
        .with_notifier(Notifier::to(h.notify_path.to_string_lossy()));
    let (stop, task) = start(daemon, StubConnect::default(), || false);
    h.next_notification().await;
    assert!(paths.socket(NAME).exists());
    assert!(!paths.socket_ro(NAME).exists());
    stop.send(()).expect("running");
    task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_second_daemon_on_the_same_socket_is_refused() {
    let h = Harness::new();
    let (stop, task) = start(h.daemon(), StubConnect::default(), || false);
    h.next_notification().await;
    let err = h
        .daemon()
        .serve_with_shutdown(stub_routes(StubConnect::default()), || false, async {})
        .await
        .expect_err("second daemon refused");
    assert_eq!(
        err.to_string(),
        format!(
            "daemon already running on {}",
            h.paths.socket(NAME).display()
        )
    );
    // the first daemon still answers
    let rw = unix_channel(&h.paths.socket(NAME)).await.expect("rw");
    assert_eq!(version_tag(&rw).await, "read_only=false");
    stop.send(()).expect("running");
    task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn idle_timeout_waits_for_clients_and_busy_then_exits() {
    let h = Harness::new();
    let busy = Arc::new(AtomicBool::new(true));
    let b = busy.clone();
    let daemon = h
        .daemon()
        .with_idle_timeout(Some(Duration::from_millis(300)));
    let (_stop, mut task) = start(daemon, StubConnect::default(), move || {
        b.load(Ordering::SeqCst)
    });
    h.next_notification().await;

    let still_running = |t: &tokio::task::JoinHandle<_>| !t.is_finished();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(still_running(&task), "busy daemon must not idle-exit");

    busy.store(false, Ordering::SeqCst);
    let client = unix_channel(&h.paths.socket(NAME)).await.expect("rw");
    assert_eq!(version_tag(&client).await, "read_only=false");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        still_running(&task),
        "a connected client keeps the daemon up"
    );

    drop(client);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), &mut task)
        .await
        .expect("idle exit")
        .expect("join")
        .expect("clean stop");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(h.next_notification().await.starts_with("STOPPING=1\n"));
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_call_finish() {
    let h = Harness::new();
    let stub = StubConnect {
        slow: Duration::from_millis(800),
    };
    let (stop, task) = start(h.daemon(), stub, || false);
    h.next_notification().await;
    let rw = unix_channel(&h.paths.socket(NAME)).await.expect("rw");
    let call = tokio::spawn(async move {
        ConnectServiceClient::new(rw)
            .get_hostname(GetHostnameRequest {})
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("running");
    let answer = call.await.expect("join").expect("in-flight call completes");
    assert_eq!(answer.into_inner().hostname, "slow");
    task.await.expect("join").expect("clean stop");
    assert!(
        unix_channel(&h.paths.socket(NAME)).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn shutdown_cuts_calls_still_running_after_the_grace_period() {
    let h = Harness::new();
    let stub = StubConnect {
        slow: Duration::from_secs(600),
    };
    let daemon = h.daemon().with_shutdown_grace(Duration::from_millis(300));
    let (stop, task) = start(daemon, stub, || false);
    h.next_notification().await;
    let rw = unix_channel(&h.paths.socket(NAME)).await.expect("rw");
    let call = tokio::spawn(async move {
        ConnectServiceClient::new(rw)
            .get_hostname(GetHostnameRequest {})
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("running");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shutdown not held by the slow call")
        .expect("join")
        .expect("clean stop");
    let res = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("call ends")
        .expect("join");
    assert!(res.is_err(), "the cut call fails: {res:?}");
}

#[tokio::test]
async fn serve_service_hands_every_call_to_the_service_tagged_but_unrefused() {
    let h = Harness::new();
    // The stub's routes, behind a plain tower service: the runtime must not enforce the
    // allowlist itself (the service does), but must still tag the requests and answer health.
    let routes = stub_routes(StubConnect::default());
    let svc = tower::ServiceBuilder::new().service(routes);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(
        h.daemon()
            .serve_service_with_shutdown(svc, || false, async {
                let _ = rx.await;
            }),
    );
    let ready = h.next_notification().await;
    assert!(ready.starts_with("READY=1"), "{ready}");
    let ro = unix_channel(&h.paths.socket_ro(NAME))
        .await
        .expect("ro channel");
    assert_eq!(version_tag(&ro).await, "read_only=true");
    let caps = ConnectServiceClient::new(ro.clone())
        .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
        .await
        .expect("the service, not the runtime, decides");
    assert_eq!(caps.into_inner().xml, "<domainCapabilities/>");
    assert_eq!(health(&ro, "").await, ServingStatus::Serving);
    let _ = tx.send(());
    task.await.expect("task").expect("clean stop");
    assert!(!h.paths.socket(NAME).exists());
}
