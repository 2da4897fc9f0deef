//! virtqemud in a container (deploy/containers): the image is built by `build.sh` (a cached
//! Debian 12 root filesystem plus this build's daemon), run by `run.sh` with the host's cgroup
//! tree, pid namespace and a run dir of the test's own, and a host client drives it through the
//! bind-mounted socket (`qemu+unix:///system?socket=...`).
//!
//! Covered: a warm image build does not debootstrap (nor import) again; a TCG guest (the cached
//! test kernel + busybox initramfs, bind-mounted at the same path) defined and started from the
//! host, its serial console read and typed into through the daemon; QEMU placed outside the
//! container's cgroups (by the daemon in libvirt's controllers, by the image's entrypoint in the
//! others) and runc removing them on stop without complaint; `podman restart`, then `podman stop` and `podman start`: each time the
//! same QEMU process runs on (alive, not a zombie), the new daemon reports the guest running,
//! its console answers again, and at the end destroy stops it.
//!
//! Needs root, podman, runc and debootstrap (tools/test-all.sh installs them); skipped with a
//! notice when something is missing, unless VIRT_REQUIRE_CONTAINERS is set. The first run
//! builds the root filesystem (debootstrap, a few minutes); later runs reuse
//! `target/containers/`.
#![cfg(feature = "container-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use virt_client::Connection;
use virt_core::types::DomainLookup;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::lxc::Cli;
use virt_tests::qemu::{running, QemuGuard};
use virt_tests::workspace_bin;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The cache of root filesystems and podman's storage: `target/containers`, beside the test
/// guest's cache (tests/src/guest.rs).
fn cache_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO).join("target"))
        .join("containers")
}

/// Why containers cannot run here, if they cannot.
fn missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    for tool in ["podman", "runc", "debootstrap"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !Path::new("/sys/fs/cgroup").exists() {
        return Some("no /sys/fs/cgroup".into());
    }
    None
}

/// Whether the test must be skipped here (and says why).
fn skip() -> bool {
    match missing() {
        None => false,
        Some(why) => {
            assert!(
                std::env::var_os("VIRT_REQUIRE_CONTAINERS").is_none(),
                "VIRT_REQUIRE_CONTAINERS is set but containers cannot run here: {why}"
            );
            eprintln!("notice: container test skipped: {why}");
            true
        }
    }
}

/// Runs a deploy/containers script (podman with the project's own configuration under
/// [`cache_dir`]): (success, stdout, stderr).
fn script(name: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(Path::new(REPO).join("deploy/containers").join(name))
        .args(args)
        .env("VIRT_CONTAINERS_DIR", cache_dir())
        .env_remove("CONTAINERS_CONF")
        .env_remove("CONTAINERS_STORAGE_CONF")
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `podman ARGS` with the same configuration: (success, stdout, stderr).
fn podman(args: &[&str]) -> (bool, String, String) {
    let dir = cache_dir();
    let out = Command::new("podman")
        .args(args)
        .env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
        .output()
        .expect("run podman");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn podman_ok(args: &[&str]) -> String {
    let (ok, out, err) = podman(args);
    assert!(ok, "podman {args:?} failed: {err}");
    out
}

/// Removes the container (and kills what QEMU the run dir names, through [`QemuGuard`]) when
/// the test ends, pass or fail.
struct ContainerGuard {
    name: String,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let (true, logs, _) = podman(&["logs", "--tail", "40", &self.name]) {
                eprintln!("--- the daemon's last lines ---\n{logs}");
            }
        }
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}

/// `virt -c qemu+unix:///system?socket=SOCK ARGS`: (success, stdout, stderr).
fn virt(uri: &str, args: &[&str]) -> (bool, String, String) {
    Cli {
        uri: uri.to_string(),
    }
    .run(args)
}

fn virt_ok(uri: &str, args: &[&str]) -> String {
    Cli {
        uri: uri.to_string(),
    }
    .ok(args)
}

/// Waits until the daemon in the container answers a call; how long it took.
fn wait_answering(uri: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (ok, _, err) = virt(uri, &["list", "--all"]);
        if ok {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "the daemon in the container did not answer within {limit:?}: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn guest_xml(name: &str, kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console></devices></domain>",
        kernel.display(),
        initrd.display()
    )
}

/// The guest's console through the daemon (ConsoleService): everything read so far.
struct GuestConsole {
    seen: Arc<Mutex<String>>,
    writer: virt_client::console::ConsoleWriter,
}

impl GuestConsole {
    async fn open(uri: &str, name: &str) -> GuestConsole {
        let conn = Connection::open(Some(uri), false)
            .await
            .expect("connect to the daemon in the container");
        let console = conn
            .open_console(&DomainLookup::Name(name.into()), None, 0)
            .await
            .expect("open the console");
        let seen = Arc::new(Mutex::new(String::new()));
        let mut reader = console.reader;
        let sink = seen.clone();
        tokio::spawn(async move {
            // The connection lives as long as the stream is read.
            let _conn = conn;
            while let Ok(Some(chunk)) = reader.recv().await {
                sink.lock()
                    .expect("console text")
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        });
        GuestConsole {
            seen,
            writer: console.writer,
        }
    }

    /// Waits until `want` shows after offset `from`.
    async fn until(&self, from: usize, want: &str, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            {
                let text = self.seen.lock().expect("console text");
                if text.get(from..).is_some_and(|t| t.contains(want)) {
                    return;
                }
                assert!(
                    Instant::now() < end,
                    "{want}: not on the console within {limit:?}:\n{text}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types a shell command whose output only a live shell spells whole (`CT""-n` echoes as
    /// typed, prints as `CT-n`) and waits for it.
    async fn answers(&self, n: u32) {
        let from = self.seen.lock().expect("console text").len();
        let line = format!("echo CT\"\"-ALIVE-{n}\r");
        assert!(
            self.writer.send(line.into_bytes()).await,
            "the console stream ended"
        );
        self.until(from, &format!("CT-ALIVE-{n}"), Duration::from_secs(60))
            .await;
    }
}

/// QEMU's pid, from the status file the daemon wrote into the bind-mounted run dir.
fn qemu_pid(guard: &QemuGuard) -> i32 {
    let pids = guard.pids_in_status();
    assert_eq!(pids.len(), 1, "one QEMU in the status files: {pids:?}");
    pids[0]
}

/// The cgroup of `pid` in the v1 hierarchy of `controller` (or the v2 one for "").
fn cgroup_of(pid: i32, controller: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("/proc/PID/cgroup");
    text.lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            ctrls
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        })
        .unwrap_or_default()
}

/// After a restart of the container: the same QEMU runs on, the new daemon says running and
/// its console answers.
async fn reattached(uri: &str, name: &str, pid: i32, guard: &QemuGuard, n: u32, what: &str) {
    assert!(running(pid), "{what}: QEMU {pid} is gone or a zombie");
    assert_eq!(
        qemu_pid(guard),
        pid,
        "{what}: another QEMU pid in the status file"
    );
    let state = virt_ok(uri, &["domstate", name]);
    assert_eq!(state.trim(), "running", "{what}: state");
    let console = GuestConsole::open(uri, name).await;
    console.answers(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_outlives_container_restarts() {
    if skip() {
        return;
    }
    let bin_dir = workspace_bin("virtqemud")
        .parent()
        .expect("target dir")
        .to_path_buf();
    // Built twice: the second build is the warm one, which neither debootstraps nor imports.
    let bin = bin_dir.to_str().expect("utf-8 target dir");
    let (ok, image, err) = script(
        "build.sh",
        &["--bin-dir", bin, "--tag", "test", "virtqemud"],
    );
    assert!(ok, "build.sh failed: {err}");
    let (ok, again, err) = script(
        "build.sh",
        &["--bin-dir", bin, "--tag", "test", "virtqemud"],
    );
    assert!(ok, "warm build.sh failed: {err}");
    assert_eq!(image.trim(), "localhost/virt/virtqemud:test");
    assert_eq!(again, image, "the warm build names the same image");
    assert!(
        err.contains("rootfs.sh: cached") && !err.contains("debootstrap"),
        "the warm build used the cached root filesystem: {err}"
    );
    assert!(
        err.contains("up to date"),
        "the warm build imported again: {err}"
    );

    let g = test_guest().expect("the test guest");
    // Resolved: a `tests/../target` path means nothing inside the container, where only the
    // guest's own directory is mounted.
    let kernel = g.kernel.canonicalize().expect("kernel path");
    let initrd = g.initrd.canonicalize().expect("initrd path");
    let guest_dir = kernel.parent().expect("guest cache dir").to_path_buf();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let run_dir = root.join("run/virt");
    let sock = run_dir.join("virtqemud-sock");
    let uri = format!("qemu+unix:///system?socket={}", sock.display());
    let guard = QemuGuard::new(root);
    let name = format!("virt-ct-{}", std::process::id());
    let _container = ContainerGuard { name: name.clone() };
    let dir = |d: &str| root.join(d).to_str().expect("utf-8").to_string();
    let guest_mount = format!("{0}:{0}:ro", guest_dir.display());
    let (ok, _, err) = script(
        "run.sh",
        &[
            "--name",
            &name,
            "--image",
            image.trim(),
            "--run-dir",
            run_dir.to_str().expect("utf-8"),
            "--etc",
            &dir("etc/virt"),
            "--lib",
            &dir("var/lib/virt"),
            "--log",
            &dir("var/log/virt"),
            "virtqemud",
            "--",
            "-v",
            &guest_mount,
        ],
    );
    assert!(ok, "run.sh failed: {err}");
    wait_answering(&uri, Duration::from_secs(60));

    let guest = "ctguest";
    let xml_path = root.join("guest.xml");
    std::fs::write(&xml_path, guest_xml(guest, &kernel, &initrd)).expect("write xml");
    virt_ok(&uri, &["define", xml_path.to_str().expect("utf-8")]);
    // The definition lives in the /etc/virt volume, on the host.
    assert!(
        root.join("etc/virt/qemu")
            .join(format!("{guest}.xml"))
            .exists(),
        "the definition is in the etc volume"
    );
    virt_ok(&uri, &["start", guest]);
    let console = GuestConsole::open(&uri, guest).await;
    console
        .until(0, READY_MARKER, Duration::from_secs(120))
        .await;
    console.answers(1).await;
    let pid = qemu_pid(&guard);
    // QEMU's log is in the /var/log/virt volume, on the host.
    let log = root.join("var/log/virt/qemu").join(format!("{guest}.log"));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("qemu-system-x86_64"),
        "QEMU's command line in {}: {log_text}",
        log.display()
    );
    // QEMU left the container's group: in the devices hierarchy (the one runc's kill of the
    // container's processes reads) it is in the guest's own group under /machine.
    let devices = cgroup_of(pid, "devices");
    assert!(
        devices.starts_with("/machine/qemu-") && devices.ends_with(".libvirt-qemu"),
        "QEMU's devices cgroup is the guest's own: {devices}"
    );
    // The entrypoint took the daemon, and so QEMU, out of the container's groups in the
    // hierarchies libvirt leaves alone (where they exist: cgroup v1).
    for ctl in ["pids", "hugetlb", "name=systemd"] {
        let group = cgroup_of(pid, ctl);
        assert!(
            !group.contains("libpod"),
            "QEMU is in the container's {ctl} group: {group}"
        );
    }
    let (_, daemon_pid, _) = podman(&["inspect", "--format", "{{.State.Pid}}", &name]);
    let daemon_devices = cgroup_of(daemon_pid.trim().parse().expect("daemon pid"), "devices");
    assert!(
        daemon_devices.contains("libpod"),
        "the daemon runs in the container's group: {daemon_devices}"
    );

    // runc removes the container's groups on stop: nothing of the guest is left in them.
    let (ok, _, err) = podman(&["restart", "-t", "10", &name]);
    assert!(ok, "podman restart failed: {err}");
    assert!(
        !err.contains("Failed to remove cgroup"),
        "a guest kept the container's cgroup: {err}"
    );
    wait_answering(&uri, Duration::from_secs(60));
    reattached(&uri, guest, pid, &guard, 2, "after podman restart").await;

    let (ok, _, err) = podman(&["stop", "-t", "10", &name]);
    assert!(ok, "podman stop failed: {err}");
    assert!(
        !err.contains("Failed to remove cgroup"),
        "a guest kept the container's cgroup: {err}"
    );
    // With the daemon gone, the guest still runs.
    std::thread::sleep(Duration::from_secs(1));
    let (_, state, _) = podman(&["inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(state.trim(), "exited", "the container stopped");
    assert!(running(pid), "QEMU {pid} survives podman stop");
    podman_ok(&["start", &name]);
    wait_answering(&uri, Duration::from_secs(60));
    reattached(&uri, guest, pid, &guard, 3, "after podman stop and start").await;

    virt_ok(&uri, &["destroy", guest]);
    let state = virt_ok(&uri, &["domstate", guest]);
    assert_eq!(state.trim(), "shut off", "after destroy");
    let end = Instant::now() + Duration::from_secs(10);
    while running(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!running(pid), "QEMU {pid} still runs after destroy");
    drop(console);
}
