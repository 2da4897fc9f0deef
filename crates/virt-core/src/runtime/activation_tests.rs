//! Socket activation and sd_notify end to end: the test binary re-runs itself, as a daemon,
//! under systemd's `systemd-socket-activate`, with a real `NOTIFY_SOCKET`.
//!
//! `systemd-socket-activate` comes with Debian's `systemd` package (`apt-get install -y
//! systemd`). Without it the test fails, unless `VIRT_TEST_SKIP_SYSTEMD=1` says to skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::UnixDatagram;

use super::{Daemon, DaemonArgs};
use crate::proto::connect_service_client::ConnectServiceClient;
use crate::proto::GetDomainCapabilitiesRequest;
use crate::runtime::test_support::{stub_routes, unix_channel, version_tag, StubConnect};

const NAME: &str = "virttest";
const CHILD_ENV: &str = "VIRT_RUNTIME_ACTIVATION_CHILD_ROOT";

/// Runs the daemon when started by [`socket_activation_through_systemd_socket_activate`];
/// does nothing otherwise.
#[test]
#[ignore = "entry point of the child of socket_activation_through_systemd_socket_activate"]
fn activation_child() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let args = DaemonArgs {
            root: Some(PathBuf::from(root)),
            ..DaemonArgs::default()
        };
        Daemon::from_args(NAME, &args)
            .expect("no config file: defaults")
            .serve(stub_routes(StubConnect::default()), || false)
            .await
            .expect("activated daemon serves and stops cleanly");
    });
}

/// Kills and reaps the child if the test fails half-way.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn socket_activate_binary() -> Option<PathBuf> {
    let found = [
        "/usr/bin/systemd-socket-activate",
        "/bin/systemd-socket-activate",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() && std::env::var_os("VIRT_TEST_SKIP_SYSTEMD").is_none() {
        panic!("systemd-socket-activate not found: apt-get install -y systemd");
    }
    found
}

async fn wait_for(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never appeared", path.display());
}

async fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(30), sock.recv(&mut buf))
        .await
        .expect("notification in time")
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn socket_activation_through_systemd_socket_activate() {
    let Some(activate) = socket_activate_binary() else {
        eprintln!("skipped: VIRT_TEST_SKIP_SYSTEMD is set and systemd-socket-activate is absent");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let (rw, ro) = (dir.path().join("act-rw"), dir.path().join("act-ro"));
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify");

    // The read-only socket comes first: roles must follow the names, not the order.
    let child = Command::new(activate)
        .arg("-l")
        .arg(&ro)
        .arg("-l")
        .arg(&rw)
        .arg(format!("--fdname={NAME}-ro.socket:{NAME}.socket"))
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .arg(format!("--setenv={CHILD_ENV}={}", root.display()))
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "runtime::activation_tests::activation_child",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn systemd-socket-activate");
    let mut child = Reap(Some(child));
    wait_for(&rw).await;

    // The first connection makes systemd-socket-activate exec the daemon.
    let rw_ch = unix_channel(&rw).await.expect("rw channel");
    assert_eq!(version_tag(&rw_ch).await, "read_only=false");
    let ready = recv(&notify).await;
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(ready.contains(&rw.display().to_string()), "{ready}");

    let ro_ch = unix_channel(&ro).await.expect("ro channel");
    assert_eq!(version_tag(&ro_ch).await, "read_only=true");
    let denied = ConnectServiceClient::new(ro_ch)
        .get_domain_capabilities(GetDomainCapabilitiesRequest::default())
        .await
        .expect_err("read-only socket refuses writes");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    let run_dir = root.join("run/virt");
    assert!(run_dir.is_dir(), "the daemon made its tree");
    assert!(
        !run_dir.join(format!("{NAME}-sock")).exists(),
        "no socket of its own"
    );

    // systemd-socket-activate execs the daemon, so the child pid is the daemon's.
    let mut c = child.0.take().expect("child");
    let pid = nix::unistd::Pid::from_raw(c.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(recv(&notify).await.starts_with("STOPPING=1\n"));
    let status = tokio::task::spawn_blocking(move || c.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "daemon exit status {status:?}");
    assert!(
        rw.exists() && ro.exists(),
        "passed sockets are systemd's to remove"
    );
}
