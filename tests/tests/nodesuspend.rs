//! `virt nodesuspend` against the real virtqemud, with libvirt's rules (virt_core::nodesuspend):
//! the host's power management is the one boundary faked here, since suspending the machine
//! that runs the tests is not an option. The daemon runs with a PATH whose first directory
//! holds `pm-is-supported` (Suspend-to-RAM only), `rtcwake` and `pm-suspend` scripts that log
//! their arguments; a second daemon's PATH has no pm-utils at all.
//!
//! Checked: an unsupported target and a too-short duration are refused with libvirt's words
//! (target first, as libvirt checks); a suspend sets the RTC alarm at once and runs
//! `pm-suspend` about ten seconds later, after the call has returned; a second call meanwhile
//! is "already in progress"; one after the suspend ran is accepted again; without pm-utils
//! every target is unsupported. The daemons get no system bus, so logind is never asked.

use std::path::Path;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::qemu::virt;
use virt_tests::DaemonUnderTest;

fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn refused(root: &Path, args: &[&str], want: &str) {
    let (ok, _, err) = virt(root, args);
    assert!(!ok, "{args:?} succeeded");
    assert_eq!(
        err,
        format!("error: The host was not suspended\nerror: {want}\n"),
        "{args:?}"
    );
}

#[test]
fn nodesuspend_follows_libvirts_rules_with_pm_utils_faked() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let bin = root.join("fakebin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let log = root.join("power.log");
    let log_s = log.display().to_string();
    script(
        &bin,
        "pm-is-supported",
        &format!("echo \"pm-is-supported $*\" >> {log_s}\n[ \"$1\" = --suspend ]"),
    );
    script(&bin, "rtcwake", &format!("echo \"rtcwake $*\" >> {log_s}"));
    script(&bin, "pm-suspend", &format!("echo pm-suspend >> {log_s}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // No system bus: a host's logind would answer before the faked pm-utils are asked
    // (tests/tests/nodesuspend_logind.rs covers logind).
    let no_bus = format!("unix:path={}/no-system-bus", root.display());
    let daemon = ProcessDaemon::start_with_env(
        "virtqemud",
        &root,
        &[("PATH", &path), ("DBUS_SYSTEM_BUS_ADDRESS", &no_bus)],
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();

    refused(
        &root,
        &["nodesuspend", "disk", "120"],
        "argument unsupported: Suspend-to-Disk",
    );
    refused(
        &root,
        &["nodesuspend", "hybrid", "30"],
        "argument unsupported: Hybrid-Suspend",
    );
    refused(
        &root,
        &["nodesuspend", "mem", "30"],
        "invalid argument: Suspend duration is too short, must be at least 60 seconds",
    );
    // The probe ran once, for the three targets; nothing was set up yet.
    assert_eq!(
        read(),
        "pm-is-supported --suspend\npm-is-supported --hibernate\npm-is-supported --suspend-hybrid\n"
    );

    let t = Instant::now();
    let (ok, out, err) = virt(&root, &["nodesuspend", "mem", "120"]);
    assert!(ok, "{err}");
    assert_eq!(out, "\n");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(read().ends_with("rtcwake -m no -s 120\n"), "{}", read());
    refused(
        &root,
        &["nodesuspend", "mem", "60"],
        "Requested operation is not valid: Suspend operation already in progress",
    );
    assert!(!read().contains("pm-suspend"), "suspended before the delay");
    let end = Instant::now() + Duration::from_secs(30);
    while !read().contains("pm-suspend") {
        assert!(Instant::now() < end, "pm-suspend never ran: {}", read());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t.elapsed() >= Duration::from_secs(9), "{:?}", t.elapsed());
    // Once the suspend ran (and the host "woke"), the next one is accepted.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, _, err) = virt(
            &root,
            &["nodesuspend", "--target", "mem", "--duration", "61"],
        );
        if ok {
            break;
        }
        assert!(err.contains("already in progress"), "{err}");
        assert!(Instant::now() < end, "still in progress");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(read().ends_with("rtcwake -m no -s 61\n"), "{}", read());
    drop(daemon);

    // Without pm-utils nothing is supported.
    let proxy2 = DaemonUnderTest::proxy(&[]);
    let root2 = proxy2.root.path().to_path_buf();
    let empty = root2.join("emptybin");
    std::fs::create_dir_all(&empty).expect("dir");
    let path2 = format!("{}:/usr/bin:/bin", empty.display());
    // Debian does not install pm-utils; a host that has it would answer otherwise.
    if Path::new("/usr/sbin/pm-is-supported").exists()
        || Path::new("/usr/bin/pm-is-supported").exists()
    {
        eprintln!("notice: pm-utils installed on this host; the no-pm-utils case is skipped");
        return;
    }
    let no_bus2 = format!("unix:path={}/no-system-bus", root2.display());
    let _daemon2 = ProcessDaemon::start_with_env(
        "virtqemud",
        &root2,
        &[("PATH", &path2), ("DBUS_SYSTEM_BUS_ADDRESS", &no_bus2)],
    );
    refused(
        &root2,
        &["nodesuspend", "mem", "120"],
        "argument unsupported: Suspend-to-RAM",
    );
}
