//! Real guests through the real binaries, as users run them: `virtqemud` and `virt-proxy`
//! under a temporary root, `virt -c qemu:///system define / start / console / domstats /
//! suspend / shutdown / destroy`, events through the Rust client. The guest is the cached
//! test kernel + busybox initramfs (tests/src/guest.rs) under TCG.
//!
//! Covered: boot to the ready marker read through `virt console` (which leaves on Ctrl+]);
//! stats counters that grow; suspend/resume; `kill -9` of the daemon while guests run, a
//! restart, and every guest listed running and controllable again; a guest killed while the
//! daemon is down reported shut off (crashed); ACPI shutdown ending in shut off (shutdown) with
//! the events; destroy. Every QEMU is killed at the end, pass or fail.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_client::{Connection, EventItem, EventStream};
use virt_core::events::lifecycle as lc;
use virt_core::proto::domain_event::Payload;
use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{virt_ok, QemuGuard};
use virt_tests::{workspace_bin, DaemonUnderTest};

fn guest_xml(name: &str, n: u8, kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>7e570000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <memballoon model='virtio'/></devices></domain>",
        kernel.display(),
        initrd.display()
    )
}

fn domstate(root: &Path, name: &str) -> String {
    virt_ok(root, &["domstate", name, "--reason"])
        .trim()
        .to_string()
}

fn wait_domstate(root: &Path, name: &str, want: &str, limit: Duration) -> String {
    let end = Instant::now() + limit;
    loop {
        let s = domstate(root, name);
        if s == want || Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

/// Runs `virt console NAME`, waits for READY_MARKER (or panics after 90 s), types a busy loop
/// into the guest's shell, then leaves with Ctrl+] and checks the CLI exits.
fn console_until_marker(root: &Path, name: &str) {
    let mut child = Command::new(workspace_bin("virt"))
        .args(["-c", "qemu:///system", "console", name])
        .env("VIRT_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("virt console");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if seen.contains(READY_MARKER) {
                        let _ = tx.send(seen.clone());
                    }
                }
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(90));
    let mut stdin = child.stdin.take().expect("stdin");
    // Typed into the guest's shell: a busy loop, so CPU counters move.
    stdin
        .write_all(b"\rwhile :; do :; done &\r")
        .expect("type into the console");
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(&[0x1d]).expect("Ctrl+]");
    stdin.flush().expect("flush");
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        seen.is_ok(),
        "no ready marker on the console; stderr: {err}"
    );
    let status = status.expect("virt console did not leave on Ctrl+]");
    assert!(status.success(), "virt console: {err}");
}

async fn next_lifecycle(ev: &mut EventStream, name: &str) -> (i32, i32) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ev.next()).await {
            Ok(Ok(Some(EventItem::Event(e))))
                if e.domain.as_ref().is_some_and(|d| d.name == name) =>
            {
                if let Some(Payload::Lifecycle(l)) = &e.payload {
                    return (lc::libvirt_type(l), l.detail);
                }
            }
            Ok(Ok(Some(_))) => continue,
            other => panic!("no lifecycle event for {name}: {other:?}"),
        }
    }
}

async fn next_reboot(ev: &mut EventStream, name: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ev.next()).await {
            Ok(Ok(Some(EventItem::Event(e))))
                if e.domain.as_ref().is_some_and(|d| d.name == name)
                    && matches!(e.payload, Some(Payload::Reboot(_))) =>
            {
                return;
            }
            Ok(Ok(Some(_))) => continue,
            other => panic!("no reboot event for {name}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots real guests; run with --features qemu-tests"
)]
async fn real_guests_boot_survive_a_daemon_kill_and_shut_down() {
    let image = test_guest().expect("test guest");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let daemon = ProcessDaemon::start("virtqemud", &root);
    for (name, n) in [("g1", 1), ("g2", 2)] {
        let file = root.join(format!("{name}.xml"));
        std::fs::write(&file, guest_xml(name, n, &image.kernel, &image.initrd)).expect("xml");
        virt_ok(&root, &["define", &file.display().to_string()]);
    }
    let t = Instant::now();
    virt_ok(&root, &["start", "g1"]);
    eprintln!("virt start g1: {:?}", t.elapsed());
    guard.pids = guard.pids_in_status();
    let t = Instant::now();
    console_until_marker(&root, "g1");
    eprintln!("marker {:?} after start", t.elapsed());
    assert_eq!(domstate(&root, "g1"), "running (booted)");

    let s1 = virt_ok(&root, &["domstats", "g1"]);
    let c1 = stat_value(&s1, "cpu.time").expect("cpu.time");
    assert_eq!(stat_value(&s1, "state.state"), Some(1), "{s1}");
    assert_eq!(stat_value(&s1, "balloon.maximum"), Some(131072), "{s1}");
    std::thread::sleep(Duration::from_millis(500));
    let s2 = virt_ok(&root, &["domstats", "g1"]);
    let c2 = stat_value(&s2, "cpu.time").expect("cpu.time");
    assert!(c2 > c1, "cpu.time grows: {c1} -> {c2}");

    virt_ok(&root, &["suspend", "g1"]);
    assert_eq!(domstate(&root, "g1"), "paused (user)");
    virt_ok(&root, &["resume", "g1"]);
    assert_eq!(domstate(&root, "g1"), "running (unpaused)");

    virt_ok(&root, &["start", "g2"]);
    guard.pids = guard.pids_in_status();
    let g2_pid = {
        let text = std::fs::read_to_string(root.join("run/virt/qemu/g2.xml")).expect("g2 status");
        let pid: i32 = text
            .split("pid='")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .and_then(|p| p.parse().ok())
            .expect("pid");
        pid
    };

    // The daemon dies hard; g2 dies while it is away; a new daemon takes over.
    daemon.kill9();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(g2_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill g2");
    std::thread::sleep(Duration::from_millis(200));
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let list = virt_ok(&root, &["list", "--all"]);
    assert!(
        list.lines()
            .any(|l| l.contains("g1") && l.contains("running")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("g2") && l.contains("shut off")),
        "{list}"
    );
    assert_eq!(domstate(&root, "g2"), "shut off (crashed)");
    assert_eq!(domstate(&root, "g1"), "running (unpaused)");
    virt_ok(&root, &["suspend", "g1"]);
    assert_eq!(domstate(&root, "g1"), "paused (user)");
    virt_ok(&root, &["resume", "g1"]);
    let s3 = virt_ok(&root, &["domstats", "g1"]);
    assert!(stat_value(&s3, "cpu.time").expect("cpu.time") >= c2, "{s3}");

    let sock = root.join("run/virt/virtqemud-sock");
    let conn = Connection::open(
        Some(&format!("qemu+unix:///system?socket={}", sock.display())),
        false,
    )
    .await
    .expect("connect");
    let mut ev = conn.stream_events(None, None, &[]).await.expect("events");

    // Reboot: ACPI power button, the guest powers off, the daemon resets it (REBOOT event)
    // and it boots again in the same QEMU.
    let pid_before = guard.pids_in_status();
    virt_ok(&root, &["reboot", "g1"]);
    next_reboot(&mut ev, "g1").await;
    assert_eq!(
        wait_domstate(&root, "g1", "running (booted)", Duration::from_secs(10)),
        "running (booted)"
    );
    assert_eq!(guard.pids_in_status(), pid_before, "same QEMU");
    console_until_marker(&root, "g1");

    // ACPI shutdown: the guest's acpid powers it off; SHUTDOWN then STOPPED, shut off
    // (shutdown).
    let t = Instant::now();
    virt_ok(&root, &["shutdown", "g1"]);
    assert_eq!(next_lifecycle(&mut ev, "g1").await, (lc::SHUTDOWN, 1));
    assert_eq!(
        next_lifecycle(&mut ev, "g1").await,
        (lc::STOPPED, lc::stopped::SHUTDOWN)
    );
    eprintln!("ACPI shutdown to shut off: {:?}", t.elapsed());
    assert_eq!(domstate(&root, "g1"), "shut off (shutdown)");

    // Start again, then destroy.
    virt_ok(&root, &["start", "g1"]);
    guard.pids = guard.pids_in_status();
    assert_eq!(
        next_lifecycle(&mut ev, "g1").await,
        (lc::STARTED, lc::started::BOOTED)
    );
    let t = Instant::now();
    virt_ok(&root, &["destroy", "g1"]);
    eprintln!("virt destroy g1: {:?}", t.elapsed());
    assert_eq!(
        next_lifecycle(&mut ev, "g1").await,
        (lc::STOPPED, lc::stopped::DESTROYED)
    );
    assert_eq!(
        wait_domstate(&root, "g1", "shut off (destroyed)", Duration::from_secs(5)),
        "shut off (destroyed)"
    );
    let log = std::fs::read_to_string(root.join("var/log/virt/qemu/g1.log")).expect("log");
    assert!(log.contains("shutting down, reason=shutdown"), "{log}");
    assert!(log.contains("shutting down, reason=destroyed"), "{log}");
}
