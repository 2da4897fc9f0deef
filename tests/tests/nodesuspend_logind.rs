//! `virt nodesuspend` when logind is on the system bus: virtqemud asks
//! `org.freedesktop.login1.Manager.CanSuspend` / `CanHibernate` / `CanHybridSleep` (as libvirt's
//! virNodeSuspendSupportsTargetLogind) and not pm-utils' `pm-is-supported`.
//!
//! The bus is a dbus-daemon of the test's own; on it this test serves a stand-in for logind
//! (no systemd runs here, and the host's own logind must not be the one asked): Suspend-to-RAM
//! "yes", Suspend-to-Disk "no", Hybrid "challenge". PATH holds logging stand-ins for
//! pm-is-supported, rtcwake and the suspend commands, except pm-suspend-hybrid.
//!
//! Checked: Disk is refused (logind says no) and Hybrid too (logind says challenge, which
//! libvirt takes as supported, but its command is missing); RAM is accepted, sets the RTC alarm;
//! pm-is-supported never runs.
//!
//! Needs dbus-daemon: otherwise the test prints why and passes, unless VIRT_REQUIRE_POLKIT (the
//! D-Bus tests' switch) is set.
#![cfg(feature = "system-tests")]

use std::path::Path;

use virt_tests::backend::ProcessDaemon;
use virt_tests::qemu::virt;

struct Logind;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Logind {
    #[zbus(name = "CanSuspend")]
    fn can_suspend(&self) -> String {
        "yes".into()
    }
    #[zbus(name = "CanHibernate")]
    fn can_hibernate(&self) -> String {
        "no".into()
    }
    #[zbus(name = "CanHybridSleep")]
    fn can_hybrid_sleep(&self) -> String {
        "challenge".into()
    }
}

fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test(flavor = "multi_thread")]
async fn nodesuspend_asks_logind_before_pm_utils() {
    let have_dbus = virt_tests::dbus::available();
    if !have_dbus {
        assert!(
            std::env::var_os("VIRT_REQUIRE_POLKIT").is_none(),
            "VIRT_REQUIRE_POLKIT is set but dbus-daemon is missing"
        );
        eprintln!("notice: logind test skipped: dbus-daemon is missing");
        return;
    }
    let root = tempfile::tempdir().expect("root");
    let r = root.path();
    let bus = virt_tests::dbus::SystemBus::start(r);
    let address = bus.address.clone();
    let _logind = zbus::connection::Builder::address(address.as_str())
        .expect("address")
        .name("org.freedesktop.login1")
        .expect("name")
        .serve_at("/org/freedesktop/login1", Logind)
        .expect("serve")
        .build()
        .await
        .expect("logind stand-in on the bus");

    let bin = r.join("fakebin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let log = r.join("power.log");
    let l = log.display().to_string();
    script(
        &bin,
        "pm-is-supported",
        &format!("echo \"pm-is-supported $*\" >> {l}"),
    );
    script(&bin, "rtcwake", &format!("echo \"rtcwake $*\" >> {l}"));
    script(&bin, "pm-suspend", &format!("echo pm-suspend >> {l}"));
    script(&bin, "pm-hibernate", &format!("echo pm-hibernate >> {l}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vroot = r.join("virt");
    let daemon = ProcessDaemon::start_with_env(
        "virtqemud",
        &vroot,
        &[("PATH", &path), ("DBUS_SYSTEM_BUS_ADDRESS", &address)],
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let cli = |args: &'static [&'static str]| {
        let vroot = vroot.clone();
        async move {
            tokio::task::spawn_blocking(move || virt(&vroot, args))
                .await
                .expect("virt")
        }
    };

    let (ok, _, err) = cli(&["nodesuspend", "disk", "120"]).await;
    assert!(!ok);
    assert_eq!(
        err,
        "error: The host was not suspended\nerror: argument unsupported: Suspend-to-Disk\n"
    );
    let (ok, _, err) = cli(&["nodesuspend", "hybrid", "120"]).await;
    assert!(!ok);
    assert_eq!(
        err,
        "error: The host was not suspended\nerror: argument unsupported: Hybrid-Suspend\n"
    );
    let (ok, _, err) = cli(&["nodesuspend", "mem", "120"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        read(),
        "rtcwake -m no -s 120\n",
        "logind answered, not pm-utils"
    );
    drop(daemon);
}
