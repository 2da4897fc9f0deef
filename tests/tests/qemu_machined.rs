//! virtqemud where systemd-machined is absent (this host: no systemd as PID 1, no system bus):
//! guests start and stop as usual, and the daemon says once, in its log, that it runs them
//! unregistered and why. Registration with a real machined is tested where systemd boots, in
//! a container (`systemd_units.rs`).
//!
//! Two kinds of absence: no bus at all (nothing listens at `DBUS_SYSTEM_BUS_ADDRESS`), and a
//! real dbus-daemon on which nobody owns `org.freedesktop.machine1`.

use std::path::Path;
use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::qemu::{virt_ok, wait_domstate, QemuGuard};

/// A guest without a kernel or disk: SeaBIOS finds nothing to boot and idles; enough for a
/// QEMU process to register.
fn bare_xml(name: &str, n: u8) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>7e570000-0000-4000-8000-0000000016{n:02x}</uuid>\
         <memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
    )
}

fn log_lines(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// Starts two guests under a virtqemud whose system bus is `bus`, stops them, and returns the
/// daemon's log.
fn two_guests_without_machined(root: &Path, bus: &str) -> String {
    let _guard = QemuGuard::new(root);
    let log = root.join("virtqemud.log");
    let daemon = ProcessDaemon::start_logging(
        "virtqemud",
        root,
        &[("DBUS_SYSTEM_BUS_ADDRESS", bus), ("RUST_LOG", "info")],
        &log,
    );
    for (i, name) in ["mch1", "mch2"].iter().enumerate() {
        let file = root.join(format!("{name}.xml"));
        std::fs::write(&file, bare_xml(name, i as u8)).expect("xml");
        virt_ok(root, &["create", &file.display().to_string()]);
        let state = wait_domstate(root, name, "running (booted)", Duration::from_secs(20));
        assert_eq!(
            state, "running (booted)",
            "{name} runs although machined is absent"
        );
    }
    for name in ["mch1", "mch2"] {
        virt_ok(root, &["destroy", name]);
    }
    drop(daemon);
    std::fs::read_to_string(&log).expect("daemon log")
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "starts real QEMU processes; run with --features qemu-tests"
)]
fn without_a_system_bus_guests_run_unregistered_and_the_daemon_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let bus = format!("unix:path={}", root.join("no-such-bus").display());
    let log = two_guests_without_machined(root, &bus);
    let n = log_lines(
        &root.join("virtqemud.log"),
        "systemd-machined is not available",
    );
    assert_eq!(
        n, 1,
        "one line about machined's absence, not one per guest:\n{log}"
    );
    assert!(
        log.contains("no system D-Bus") && log.contains("machinectl will not list them"),
        "the line says why and what it means:\n{log}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "starts real QEMU processes; run with --features qemu-tests"
)]
fn on_a_bus_without_machined_guests_run_unregistered_and_the_daemon_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let bus = virt_tests::dbus::SystemBus::start(root);
    let log = two_guests_without_machined(root, &bus.address);
    drop(bus);
    let n = log_lines(
        &root.join("virtqemud.log"),
        "systemd-machined is not available",
    );
    assert_eq!(n, 1, "one line about machined's absence:\n{log}");
    assert!(
        log.contains("org.freedesktop.DBus.Error.ServiceUnknown"),
        "the line names the bus's answer:\n{log}"
    );
}
