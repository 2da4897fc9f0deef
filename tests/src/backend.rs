//! A driver daemon run inside the test process: the shared runtime serving the test driver
//! under a daemon's name (`virtqemud`, `virtlxcd`) at that daemon's sockets under a root, for
//! proxy tests that need backends to route to, stop abruptly and restart with their state
//! (events keep their numbering, as a real daemon's persistent event bus does).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use virt_core::driver::prelude::*;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::runtime::{Daemon, Mode, Paths, RuntimeError};
use virt_core::test_driver::TestRegistry;
use virt_core::VirtError;

/// A registry that serves every URI with one test driver, reporting `driver` in Info.
pub struct AnyUri {
    test: TestRegistry,
    driver: &'static str,
}

impl AnyUri {
    /// A fresh test-driver state reported as driver `driver` (`QEMU`, `LXC`).
    pub fn new(driver: &'static str) -> Arc<AnyUri> {
        Arc::new(AnyUri {
            test: TestRegistry::new(Arc::new(virt_xml::LibvirtXml)),
            driver,
        })
    }

    /// The driver, to act on it directly (define a domain while the daemon is down).
    pub fn driver(&self) -> Arc<dyn Driver> {
        self.test
            .driver_for(Some("test:///default"))
            .expect("the default test driver opens")
    }
}

impl DriverRegistry for AnyUri {
    fn driver_for(&self, _uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        Ok(self.driver())
    }

    fn daemon_info(&self) -> DaemonInfo {
        let mut i = self.test.daemon_info();
        i.driver = self.driver.to_string();
        i
    }
}

/// A running in-process daemon.
pub struct InProcessDaemon {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RuntimeError>>>,
    /// Its read-write socket.
    pub socket: PathBuf,
    /// Its read-only socket.
    pub socket_ro: PathBuf,
}

impl InProcessDaemon {
    /// Serves `registry` as daemon `name` under `root` (system layout) and waits until it
    /// answers on its socket.
    pub async fn start(name: &str, root: &Path, registry: Arc<AnyUri>) -> InProcessDaemon {
        let routes = virt_core::service::routes(registry, name);
        let daemon = Daemon::new(name, Paths::resolve(Some(root), Mode::System))
            .with_shutdown_grace(Duration::ZERO);
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon.serve_with_shutdown(routes, || false, async {
            let _ = rx.await;
        }));
        InProcessDaemon::wait(name, root, stop, task).await
    }

    /// Serves a raw HTTP service (any methods) as daemon `name` under `root`.
    pub async fn start_service<S>(name: &str, root: &Path, svc: S) -> InProcessDaemon
    where
        S: virt_core::runtime::HttpService,
        S::Future: Send + 'static,
    {
        let daemon = Daemon::new(name, Paths::resolve(Some(root), Mode::System))
            .with_shutdown_grace(Duration::ZERO);
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon.serve_service_with_shutdown(svc, || false, async {
            let _ = rx.await;
        }));
        InProcessDaemon::wait(name, root, stop, task).await
    }

    async fn wait(
        name: &str,
        root: &Path,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<(), RuntimeError>>,
    ) -> InProcessDaemon {
        let paths = Paths::resolve(Some(root), Mode::System);
        let (socket, socket_ro) = (paths.socket(name), paths.socket_ro(name));
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::UnixStream::connect(&socket_ro).await.is_err() {
            assert!(Instant::now() < deadline, "{name} did not start in time");
            assert!(!task.is_finished(), "{name} stopped while starting");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        InProcessDaemon {
            stop: Some(stop),
            task: Some(task),
            socket,
            socket_ro,
        }
    }

    /// Stops the daemon with no grace: every open connection and stream is cut, as when the
    /// process dies; its sockets are gone when this returns.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .expect("daemon task")
                .expect("daemon stopped cleanly");
        }
    }
}

impl Drop for InProcessDaemon {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A daemon binary of the workspace (`virtqemud`) run under a root it shares with others (the
/// proxy's), killed on drop.
pub struct ProcessDaemon {
    child: std::process::Child,
    /// Its read-write socket.
    pub socket: PathBuf,
    /// Its read-only socket.
    pub socket_ro: PathBuf,
}

impl ProcessDaemon {
    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `name --root ROOT` and waits until it answers on its read-only socket.
    pub fn start(name: &str, root: &Path) -> ProcessDaemon {
        ProcessDaemon::start_with_env(name, root, &[])
    }

    /// [`ProcessDaemon::start`] with `env` added to the daemon's environment.
    pub fn start_with_env(name: &str, root: &Path, env: &[(&str, &str)]) -> ProcessDaemon {
        ProcessDaemon::spawn(name, root, env, None)
    }

    /// [`ProcessDaemon::start_with_env`] with the daemon's log (stderr) going to the file `log`.
    pub fn start_logging(
        name: &str,
        root: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> ProcessDaemon {
        ProcessDaemon::spawn(name, root, env, Some(log))
    }

    fn spawn(name: &str, root: &Path, env: &[(&str, &str)], log: Option<&Path>) -> ProcessDaemon {
        let mut cmd = std::process::Command::new(crate::workspace_bin(name));
        cmd.arg("--root")
            .arg(root)
            .envs(env.iter().copied())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(std::process::Stdio::null());
        if let Some(log) = log {
            cmd.stderr(std::fs::File::create(log).expect("daemon log file"));
        }
        let child = cmd.spawn().expect("spawn daemon");
        let paths = Paths::resolve(Some(root), Mode::System);
        let (socket, socket_ro) = (paths.socket(name), paths.socket_ro(name));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket_ro).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        ProcessDaemon {
            child,
            socket,
            socket_ro,
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProcessDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
