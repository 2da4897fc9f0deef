//! The units of `deploy/systemd` under a real systemd (issue 16): a Debian 12 container boots
//! systemd as PID 1 (systemd-nspawn, see `virt_tests::systemd_container`), with this build's
//! daemons in `/usr/sbin`, `virt` in `/usr/bin`, every unit of `deploy/systemd` in
//! `/etc/systemd/system` and `virtqemud.socket` and `virtqemud-ro.socket` enabled. The tests
//! drive it from inside (systemctl, journalctl, machinectl, the `virt` client) and check:
//!
//! - `systemd-analyze verify` passes on every unit, silently;
//! - the first connection starts the daemon (service inactive before, active after); it is
//!   `Type=notify`: active with our `STATUS=` line and no restart, and without `$NOTIFY_SOCKET`
//!   the same daemon, although serving, never becomes active;
//! - with `--timeout 5` in `/etc/default/virtqemud` the daemon exits idle (successfully, the
//!   sockets still listening) and the next connection starts it again;
//! - a connection on the read-only socket alone activates the daemon: reads work, a write is
//!   PERMISSION_DENIED;
//! - on a systemd host without machined (systemd-container's files removed), a running TCG
//!   guest stays in `virtqemud.service`'s cgroup and survives `systemctl restart virtqemud`
//!   (same QEMU pid, its shell still answers on the serial console) and is reattached
//!   (running, destroy works), and survives `systemctl stop virtqemud` (`KillMode=process` is
//!   what keeps it); the daemon says once, at info level, that machined is absent;
//! - with machined: `machinectl` lists the running guest as `qemu-ID-NAME`, class vm, service
//!   virtqemud, its UUID, leader QEMU's pid, in a `machine.slice` scope; a daemon restart
//!   leaves the registration alone and a destroy drops it.
//!
//! The container's first boot needs its root filesystem (debootstrap, cached under
//! `target/containers/`). Without root, nspawn or debootstrap the tests skip, unless
//! `VIRT_REQUIRE_CONTAINERS` is set (tools/test-all.sh), when they fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::Code;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{DefineDomainRequest, ListAllDomainsRequest};
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::systemd_container::{missing_parts, rootfs, Booted, Overlay, SYSTEMD_PACKAGES};
use virt_tests::{raw_channel, with_uri, workspace_bin};

/// The daemons whose units deploy/systemd holds (`systemd-analyze verify` checks that each
/// unit's `ExecStart=` binary exists).
const DAEMONS: &[&str] = &[
    "virtqemud",
    "virtxend",
    "virtlxcd",
    "virt-proxy",
    "virtnetworkd",
    "virtstoraged",
];

const URI: &str = "qemu:///system";

/// The cached root filesystem, or `None` (test skipped, reason printed) where the host
/// cannot boot a container and `VIRT_REQUIRE_CONTAINERS` is unset.
fn rootfs_or_skip() -> Option<PathBuf> {
    let required = std::env::var_os("VIRT_REQUIRE_CONTAINERS").is_some();
    if let Some(why) = missing_parts() {
        assert!(!required, "VIRT_REQUIRE_CONTAINERS is set but {why}");
        eprintln!("skipping: {why}");
        return None;
    }
    match rootfs(SYSTEMD_PACKAGES) {
        Ok(p) => Some(p),
        Err(e) if !required => {
            eprintln!("skipping: no root filesystem: {e:#}");
            None
        }
        Err(e) => panic!("VIRT_REQUIRE_CONTAINERS is set but the root filesystem failed: {e:#}"),
    }
}

fn unit_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    let mut units: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/systemd")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "service" || x == "socket")
        })
        .collect();
    units.sort();
    assert!(units.len() >= 18, "deploy/systemd lost units: {units:?}");
    units
}

/// Boots a container with the daemons, the client and the units installed, the virtqemud
/// sockets enabled and `VIRTQEMUD_ARGS` in /etc/default/virtqemud.
/// With `without_machined`, systemd-machined's files are removed: a systemd host without
/// systemd-container installed.
fn boot(lower: &Path, machine: &str, virtqemud_args: &str, without_machined: bool) -> Booted {
    let ov = Overlay::new(lower).expect("overlay on the rootfs");
    for d in DAEMONS {
        ov.install(&workspace_bin(d), &format!("/usr/sbin/{d}"), 0o755);
    }
    ov.install(&workspace_bin("virt"), "/usr/bin/virt", 0o755);
    for unit in unit_files() {
        let name = unit
            .file_name()
            .and_then(|n| n.to_str())
            .expect("unit name");
        ov.install(&unit, &format!("/etc/systemd/system/{name}"), 0o644);
    }
    ov.write(
        "/etc/default/virtqemud",
        &format!("VIRTQEMUD_ARGS=\"{virtqemud_args}\"\n"),
    );
    ov.systemctl_offline(&["enable", "virtqemud.socket", "virtqemud-ro.socket"]);
    if without_machined {
        for f in [
            "/lib/systemd/system/systemd-machined.service",
            "/lib/systemd/system/dbus-org.freedesktop.machine1.service",
            "/lib/systemd/systemd-machined",
            "/usr/share/dbus-1/system-services/org.freedesktop.machine1.service",
        ] {
            let p = ov.path(f);
            std::fs::remove_file(&p).unwrap_or_else(|e| panic!("removing {}: {e}", p.display()));
        }
    }
    Booted::boot(ov, machine).expect("the container boots systemd")
}

/// `virt -c qemu:///system ARGS` in the container.
fn virt(c: &Booted, args: &[&str]) -> virt_tests::systemd_container::Ran {
    let mut argv = vec!["virt", "-c", URI];
    argv.extend_from_slice(args);
    c.run(&argv)
}

fn virt_ok(c: &Booted, args: &[&str]) -> String {
    let r = virt(c, args);
    assert!(
        r.ok,
        "virt {args:?} failed in the container: {}{}\njournal:\n{}",
        r.stdout,
        r.stderr,
        journal(c)
    );
    r.stdout
}

fn journal(c: &Booted) -> String {
    c.run(&[
        "journalctl",
        "-u",
        "virtqemud.service",
        "--no-pager",
        "-o",
        "cat",
    ])
    .stdout
}

fn main_pid(c: &Booted) -> i32 {
    c.prop("virtqemud.service", "MainPID")
        .parse()
        .expect("MainPID is a number")
}

fn wait_state(c: &Booted, unit: &str, want: &str, limit: Duration) {
    c.wait_for(limit, &format!("{unit} to be {want}"), |c| {
        c.is_active(unit) == want
    });
}

fn assert_sockets_listen(c: &Booted) {
    for s in ["virtqemud.socket", "virtqemud-ro.socket"] {
        assert_eq!(c.is_active(s), "active", "{s}");
        assert_eq!(c.prop(s, "SubState"), "listening", "{s}");
    }
    for p in ["/run/virt/virtqemud-sock", "/run/virt/virtqemud-sock-ro"] {
        assert!(c.host_path(p).exists(), "{p} is gone");
    }
}

#[test]
#[cfg_attr(
    not(feature = "container-tests"),
    ignore = "boots systemd in a container (root, debootstrap, nspawn); run with --features container-tests"
)]
fn units_verify_activate_notify_idle_exit_and_read_only_socket() {
    let Some(lower) = rootfs_or_skip() else {
        return;
    };
    let c = boot(&lower, "virt-units", "--timeout 5", false);

    // Every unit passes systemd-analyze verify with nothing to say.
    for unit in unit_files() {
        let name = unit.file_name().and_then(|n| n.to_str()).expect("name");
        let path = format!("/etc/systemd/system/{name}");
        let r = c.run(&["systemd-analyze", "verify", &path]);
        assert!(
            r.ok && r.stderr.trim().is_empty(),
            "systemd-analyze verify {name}: {}{}",
            r.stdout,
            r.stderr
        );
    }

    // Socket activation: nothing runs until the first connection.
    assert_sockets_listen(&c);
    assert_eq!(c.is_active("virtqemud.service"), "inactive");
    assert_eq!(main_pid(&c), 0);
    let listed = virt_ok(&c, &["list", "--all"]);
    assert!(listed.contains("Name"), "{listed}");
    assert_eq!(c.is_active("virtqemud.service"), "active");

    // Type=notify: systemd saw READY=1 with our status line, from the main process.
    assert_eq!(c.prop("virtqemud.service", "Type"), "notify");
    assert_eq!(
        c.prop("virtqemud.service", "StatusText"),
        "virtqemud serving on /run/virt/virtqemud-sock, /run/virt/virtqemud-sock-ro"
    );
    assert_eq!(c.prop("virtqemud.service", "NRestarts"), "0");
    let first = main_pid(&c);
    assert!(first > 0);
    // The daemon's log reaches the journal as plain text (no terminal colours).
    let log = journal(&c);
    assert!(log.contains("ready"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in the journal:\n{log}"
    );

    // Idle exit after 5 s without clients: a clean exit, the sockets stay.
    wait_state(&c, "virtqemud.service", "inactive", Duration::from_secs(20));
    assert_eq!(c.prop("virtqemud.service", "Result"), "success");
    assert_eq!(c.prop("virtqemud.service", "ExecMainStatus"), "0");
    assert_sockets_listen(&c);
    let log = journal(&c);
    assert!(log.contains("idle timeout, exiting"), "{log}");

    // Re-activation on the next connection: a new process, still no restart counted.
    virt_ok(&c, &["list", "--all"]);
    assert_eq!(c.is_active("virtqemud.service"), "active");
    let second = main_pid(&c);
    assert!(second > 0 && second != first, "{first} then {second}");
    assert_eq!(c.prop("virtqemud.service", "NRestarts"), "0");
    wait_state(&c, "virtqemud.service", "inactive", Duration::from_secs(20));

    // The read-only socket alone activates the daemon; reads work there, writes do not.
    let ro = c.run(&["virt", "-r", "-c", URI, "list", "--all"]);
    assert!(ro.ok, "read-only list: {}{}", ro.stdout, ro.stderr);
    assert_eq!(c.is_active("virtqemud.service"), "active");
    let third = main_pid(&c);
    assert!(third != second);
    c.overlay.write(
        "/root/ro.xml",
        "<domain type='qemu'><name>ro</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os></domain>",
    );
    let denied = c.run(&["virt", "-r", "-c", URI, "define", "/root/ro.xml"]);
    assert!(!denied.ok, "define on the read-only socket succeeded");
    assert!(
        denied.stderr.contains("read only access prevents"),
        "{}",
        denied.stderr
    );
    // The same through the socket from the host, to see the gRPC code itself.
    let sock = c.host_path("/run/virt/virtqemud-sock-ro");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let mut client = DomainServiceClient::new(raw_channel(&sock).await);
            client
                .list_all_domains(with_uri(ListAllDomainsRequest { flags: 0 }, URI))
                .await
                .expect("list on the read-only socket");
            let st = client
                .define_domain(with_uri(
                    DefineDomainRequest {
                        xml: "<domain type='qemu'><name>ro</name></domain>".into(),
                        flags: 0,
                    },
                    URI,
                ))
                .await
                .expect_err("define on the read-only socket");
            assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
        });
    assert_eq!(
        main_pid(&c),
        third,
        "the read-only calls went to the same daemon"
    );
    assert_eq!(virt_ok(&c, &["list", "--all", "--name"]).trim(), "");
    wait_state(&c, "virtqemud.service", "inactive", Duration::from_secs(20));

    // READY=1 is what makes the service active: without $NOTIFY_SOCKET the same daemon serves,
    // yet systemd keeps the unit activating (and fails it on the start timeout). (NotifyAccess=
    // none would not do: systemd takes it as `main` for Type=notify.)
    // (No idle exit here: the start timeout must be what ends it.)
    c.overlay
        .write("/etc/default/virtqemud", "VIRTQEMUD_ARGS=\"--timeout 0\"\n");
    c.overlay.write(
        "/etc/systemd/system/virtqemud.service.d/no-notify.conf",
        "[Service]\nUnsetEnvironment=NOTIFY_SOCKET\nTimeoutStartSec=4\nRestart=no\n",
    );
    c.run_ok(&["systemctl", "daemon-reload"]);
    virt_ok(&c, &["list", "--all"]);
    assert_eq!(c.is_active("virtqemud.service"), "activating");
    assert_eq!(c.prop("virtqemud.service", "StatusText"), "");
    wait_state(&c, "virtqemud.service", "failed", Duration::from_secs(20));
    assert_eq!(c.prop("virtqemud.service", "Result"), "timeout");
}

/// A TCG guest of the test kernel and initramfs, copied into the container.
fn guest_xml(c: &Booted, name: &str, uuid: &str) -> String {
    let image = test_guest().expect("test guest");
    c.overlay
        .install(&image.kernel, "/var/lib/virt-test/vmlinuz", 0o644);
    c.overlay
        .install(&image.initrd, "/var/lib/virt-test/initrd", 0o644);
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type>\
         <kernel>/var/lib/virt-test/vmlinuz</kernel><initrd>/var/lib/virt-test/initrd</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console></devices></domain>"
    )
}

/// Defines and starts `name`; its QEMU pid (in the container) from the status file.
fn start_guest(c: &Booted, name: &str, uuid: &str) -> i32 {
    let xml = guest_xml(c, name, uuid);
    let file = format!("/var/lib/virt-test/{name}.xml");
    c.overlay.write(&file, &xml);
    virt_ok(c, &["define", &file]);
    virt_ok(c, &["start", name]);
    qemu_pid(c, name)
}

fn qemu_pid(c: &Booted, name: &str) -> i32 {
    let status = std::fs::read_to_string(c.host_path(&format!("/run/virt/qemu/{name}.xml")))
        .expect("the guest's status file");
    status
        .split("pid='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {status}"))
}

/// The guest's serial console (a pty of the container's devpts) once the guest booted.
fn console(c: &Booted, name: &str) -> Console {
    let xml = virt_ok(c, &["dumpxml", name]);
    let pty = xml
        .split("<source path='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no pty in {xml}"));
    let mut con = Console::open(&c.host_path(pty).display().to_string());
    con.until(0, Duration::from_secs(120), READY_MARKER);
    con
}

#[test]
#[cfg_attr(
    not(feature = "container-tests"),
    ignore = "boots systemd in a container and a TCG guest in it; run with --features container-tests"
)]
fn guests_survive_daemon_restart_and_stop() {
    let Some(lower) = rootfs_or_skip() else {
        return;
    };
    // Without machined the guest stays in the daemon's own cgroup, so what keeps it alive
    // through a stop is KillMode=process (machined's scope would otherwise; see
    // machined_lists_running_guests).
    let c = boot(&lower, "virt-guests", "--timeout 120", true);
    let name = "sdguest";
    let qemu = start_guest(&c, name, "5d6e7f80-0000-4000-8000-00000000aa01");
    assert!(c.pid_running(qemu));
    let cgroup = c.run_ok(&["cat", &format!("/proc/{qemu}/cgroup")]);
    assert!(
        cgroup
            .lines()
            .any(|l| l.ends_with("/system.slice/virtqemud.service")),
        "QEMU is not in virtqemud.service's cgroup: {cgroup}"
    );
    // The daemon said once (a second guest adds nothing) why guests are not registered, and
    // started them all the same.
    let second = start_guest(&c, "sdguest2", "5d6e7f80-0000-4000-8000-00000000aa02");
    virt_ok(&c, &["destroy", "sdguest2"]);
    c.wait_for(Duration::from_secs(20), "the second QEMU to exit", |c| {
        !c.pid_running(second)
    });
    let told: Vec<String> = journal(&c)
        .lines()
        .filter(|l| l.contains("machined"))
        .map(str::to_string)
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("INFO") && told[0].contains("systemd-machined is not available"),
        "{told:?}"
    );
    let mut con = console(&c, name);
    let before = main_pid(&c);

    // Restart: a new daemon, the same QEMU, reattached.
    c.run_ok(&["systemctl", "restart", "virtqemud.service"]);
    assert_eq!(c.is_active("virtqemud.service"), "active");
    let after = main_pid(&c);
    assert!(after > 0 && after != before, "{before} then {after}");
    assert!(c.pid_running(qemu), "QEMU {qemu} died with the restart");
    assert_eq!(qemu_pid(&c, name), qemu);
    assert_eq!(virt_ok(&c, &["domstate", name]).trim(), "running");
    con.run("echo after-restart", 1, Duration::from_secs(60));
    let log = journal(&c);
    assert!(
        log.contains("reattached to a running guest"),
        "no reattach in the journal:\n{log}"
    );

    // Stop (KillMode=process): the daemon goes, the guest stays; the sockets wait.
    c.run_ok(&["systemctl", "stop", "virtqemud.service"]);
    assert_eq!(c.is_active("virtqemud.service"), "inactive");
    assert_sockets_listen(&c);
    assert!(c.pid_running(qemu), "QEMU {qemu} died with the stop");
    con.run("echo after-stop", 2, Duration::from_secs(60));

    // The next call starts the daemon, which reattaches; destroy works on the reattached guest.
    assert_eq!(virt_ok(&c, &["domstate", name]).trim(), "running");
    assert_eq!(c.is_active("virtqemud.service"), "active");
    virt_ok(&c, &["destroy", name]);
    c.wait_for(Duration::from_secs(20), "QEMU to exit", |c| {
        !c.pid_running(qemu)
    });
    assert_eq!(virt_ok(&c, &["domstate", name]).trim(), "shut off");
    assert_eq!(c.prop("virtqemud.service", "NRestarts"), "0");
}

#[test]
#[cfg_attr(
    not(feature = "container-tests"),
    ignore = "boots systemd (with machined) in a container and a TCG guest in it; run with --features container-tests"
)]
fn machined_lists_running_guests() {
    let Some(lower) = rootfs_or_skip() else {
        return;
    };
    let c = boot(&lower, "virt-machined", "--timeout 120", false);
    let name = "mdguest";
    let uuid = "5d6e7f80-0000-4000-8000-00000000bb02";
    let qemu = start_guest(&c, name, uuid);
    let id = virt_ok(&c, &["domid", name]).trim().to_string();
    let machine = format!("qemu-{id}-{name}");

    let listed = c.run_ok(&["machinectl", "list", "--no-legend", "--no-pager"]);
    let line = listed
        .lines()
        .find(|l| l.split_whitespace().next() == Some(machine.as_str()))
        .unwrap_or_else(|| panic!("{machine} not in machinectl list:\n{listed}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols.get(1), Some(&"vm"), "{line}");
    assert_eq!(cols.get(2), Some(&"virtqemud"), "{line}");
    let show = |p: &str| {
        c.run_ok(&["machinectl", "show", &machine, "-p", p, "--value"])
            .trim()
            .to_string()
    };
    assert_eq!(show("Class"), "vm");
    assert_eq!(show("Service"), "virtqemud");
    assert_eq!(show("Leader"), qemu.to_string());
    assert_eq!(show("Id"), uuid.replace('-', ""));
    // machined's scope holds QEMU now, not the daemon's service.
    let cgroup = c.run_ok(&["cat", &format!("/proc/{qemu}/cgroup")]);
    assert!(
        cgroup.contains("machine.slice/machine-qemu\\x2d"),
        "QEMU is not in a machine scope: {cgroup}"
    );

    // A daemon restart leaves the registration alone; the new daemon unregisters on destroy.
    c.run_ok(&["systemctl", "restart", "virtqemud.service"]);
    assert_eq!(show("Leader"), qemu.to_string());
    virt_ok(&c, &["destroy", name]);
    c.wait_for(Duration::from_secs(20), "the machine to go", |c| {
        !c.run_ok(&["machinectl", "list", "--no-legend", "--no-pager"])
            .contains(&machine)
    });
    assert!(!c.pid_running(qemu));
}
