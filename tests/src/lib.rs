//! Shared harness of the workspace-level tests: run a real daemon binary under a temporary
//! root, wait for its socket, and stop it when the test ends.

pub mod backend;
pub mod console;
pub mod dbus;
pub mod guest;
pub mod lxc;
pub mod pki;
pub mod qemu;
pub mod realworld;
pub mod systemd_container;
pub mod virsh;
pub mod virt_install;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory: `CARGO_TARGET_DIR`, else `target/` beside the workspace,
/// as an absolute path without `..` (paths under it go into containers, `systemctl --root`
/// and guests' XML, where `tests/../target` does not resolve).
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the tests crate sits in the workspace")
                .join("target")
        });
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Path of a binary of this workspace, built by cargo for the current profile. Builds the
/// workspace's binaries when it is missing (a plain `cargo test -p virt-tests` does not build
/// other packages' binaries); one build at a time per test process.
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    let path = dir.join(name);
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--workspace",
            "--bins",
            "--manifest-path",
            manifest,
        ]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the workspace binaries failed"
        );
        assert!(path.exists(), "{} was not built", path.display());
    }
    path
}

/// A daemon running under a temporary root; killed on drop.
pub struct DaemonUnderTest {
    child: Child,
    /// The root (`--root`), holding etc/, var/ and run/.
    pub root: tempfile::TempDir,
    /// Its read-write socket.
    pub socket: PathBuf,
    /// Its read-only socket.
    pub socket_ro: PathBuf,
}

impl DaemonUnderTest {
    /// Starts `virt-proxy` (the test driver's daemon) with extra arguments.
    pub fn proxy(extra: &[&str]) -> DaemonUnderTest {
        DaemonUnderTest::start("virt-proxy", extra)
    }

    /// Starts daemon binary `name` under a fresh root and waits for both sockets.
    pub fn start(name: &str, extra: &[&str]) -> DaemonUnderTest {
        let root = tempfile::tempdir().expect("temp root");
        let run = root.path().join("run/virt");
        let child = Command::new(workspace_bin(name))
            .arg("--root")
            .arg(root.path())
            .args(extra)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        let socket = run.join(format!("{name}-sock"));
        let socket_ro = run.join(format!("{name}-sock-ro"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(socket.exists() && socket_ro.exists()) {
            assert!(
                Instant::now() < deadline,
                "{name} did not create its sockets in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        DaemonUnderTest {
            child,
            root,
            socket,
            socket_ro,
        }
    }

    /// A connection URI for `test:///default` through this daemon's socket.
    pub fn test_uri(&self, read_only: bool) -> String {
        let s = if read_only {
            &self.socket_ro
        } else {
            &self.socket
        };
        format!("test+unix:///default?socket={}", s.display())
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
        self.child.wait().expect("wait for daemon")
    }
}

impl Drop for DaemonUnderTest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small persistent domain definition for tests.
pub fn domain_xml(name: &str) -> String {
    format!(
        "<domain type='test'>\n  <name>{name}</name>\n  <memory unit='MiB'>128</memory>\n  \
         <vcpu>1</vcpu>\n  <os>\n    <type arch='i686'>hvm</type>\n  </os>\n</domain>\n"
    )
}

/// A raw tonic channel to a daemon socket, for tests that inspect gRPC statuses themselves.
pub async fn raw_channel(socket: &Path) -> tonic::transport::Channel {
    let path = socket.to_path_buf();
    tonic::transport::Endpoint::try_from("http://[::]:50051")
        .expect("static endpoint")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
        .expect("connect to daemon socket")
}

/// A request carrying the `virt-uri` metadata.
pub fn with_uri<T>(msg: T, uri: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("virt-uri", uri.parse().expect("ascii uri"));
    req
}

/// The `google.rpc.ErrorInfo` reason and metadata of a status.
pub fn error_info(status: &tonic::Status) -> (String, std::collections::HashMap<String, String>) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .expect("status carries google.rpc.ErrorInfo");
    (info.reason, info.metadata)
}
