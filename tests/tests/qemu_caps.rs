//! What virtqemud publishes about the host and what it does with devices, through the real
//! binaries as users run them (`virtqemud` and `virt-proxy` under a temporary root, `virt -c
//! qemu:///system ...`):
//!
//! * `virt capabilities` and `virt domcapabilities` (default, per machine, per emulator) come
//!   from probing the installed QEMU and are valid against libvirt's schemas
//!   (`virt-xml-validate`); unknown machines and emulators are refused naming them.
//! * `virt attach-device` / `detach-device` of a qcow2 disk on a running guest (the cached
//!   test kernel + busybox initramfs under TCG), seen in and gone from `virt dumpxml`.
//!
//! Every QEMU is killed at the end, pass or fail; every file lives under the temporary root.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{virt, virt_ok, QemuGuard};
use virt_tests::{workspace_bin, DaemonUnderTest};

/// `virt-xml-validate` on `xml` as a `kind` document; the tool is part of the test setup
/// (libvirt-clients), so its absence fails the test rather than skipping the check.
fn assert_valid(root: &Path, xml: &str, kind: &str, label: &str) {
    let file = root.join(format!("{label}.xml"));
    std::fs::write(&file, xml).expect("write document");
    let out = Command::new("virt-xml-validate")
        .arg(&file)
        .arg(kind)
        .output()
        .expect("virt-xml-validate (libvirt-clients) must be installed");
    assert!(
        out.status.success(),
        "{label} is not a valid {kind} document: {}{}\n{xml}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "probes the real QEMU; run with --features qemu-tests"
)]
fn capabilities_and_domain_capabilities_come_from_qemu_and_validate() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let emulator = "/usr/bin/qemu-system-x86_64";

    let caps = virt_ok(&root, &["capabilities"]);
    assert_valid(&root, &caps, "capability", "capabilities");
    assert!(
        caps.contains(&format!("<emulator>{emulator}</emulator>")),
        "{caps}"
    );
    assert!(caps.contains("<domain type='qemu'/>"), "{caps}");
    // libvirt's architecture names, one guest per qemu-system-ARCH (no -microvm variant).
    if Path::new("/usr/bin/qemu-system-i386").exists() {
        assert!(caps.contains("<arch name='i686'>"), "{caps}");
    }
    assert!(!caps.contains("microvm</emulator>"), "{caps}");
    assert_eq!(caps.matches("<arch name='x86_64'>").count(), 1, "{caps}");
    // Machines are probed: the pc alias names its versioned machine and its vCPU limit.
    let pc = caps
        .lines()
        .find(|l| l.contains(">pc</machine>"))
        .unwrap_or_else(|| panic!("no pc machine alias in {caps}"));
    assert!(
        pc.contains("canonical='pc-i440fx-") && pc.contains("maxCpus='255'"),
        "{pc}"
    );

    for (label, args) in [
        (
            "domcaps-default",
            vec!["domcapabilities", "--virttype", "qemu"],
        ),
        (
            "domcaps-q35",
            vec!["domcapabilities", "--virttype", "qemu", "--machine", "q35"],
        ),
        (
            "domcaps-emulator",
            vec![
                "domcapabilities",
                "--emulatorbin",
                emulator,
                "--arch",
                "x86_64",
                "--virttype",
                "qemu",
            ],
        ),
    ] {
        let dc = virt_ok(&root, &args);
        assert_valid(&root, &dc, "domaincaps", label);
        let parsed = virt_xml::caps::parse_domain_capabilities(&dc).expect("read back");
        assert_eq!(parsed.path, emulator, "{label}");
        assert_eq!(parsed.domain, "qemu", "{label}");
        assert!(parsed.vcpu_max >= 255, "{label}: the machine's limit: {dc}");
        assert!(
            parsed
                .custom_models
                .iter()
                .any(|m| m.name == "qemu64" && m.usable == Some(true)),
            "{label}: {dc}"
        );
        assert!(
            dc.contains("<mode name='host-model' supported='yes'>")
                && dc.contains("<model fallback='forbid'>max</model>"),
            "{label}: {dc}"
        );
        // Under TCG there is no host-passthrough.
        assert!(
            dc.contains("<mode name='host-passthrough' supported='no'/>"),
            "{label}: {dc}"
        );
        let bus = parsed
            .devices
            .iter()
            .find(|b| b.name == "disk")
            .and_then(|b| b.enums.iter().find(|(n, _)| n == "bus"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let ide = bus.iter().any(|b| b == "ide");
        assert_eq!(
            ide,
            label != "domcaps-q35",
            "{label}: IDE only on i440fx: {bus:?}"
        );
        assert!(bus.iter().any(|b| b == "virtio"), "{label}: {bus:?}");
    }

    let (ok, _, err) = virt(
        &root,
        &[
            "domcapabilities",
            "--virttype",
            "qemu",
            "--machine",
            "no-such-machine",
        ],
    );
    assert!(!ok);
    assert!(err.contains("'no-such-machine'"), "{err}");
    let (ok, _, err) = virt(
        &root,
        &[
            "domcapabilities",
            "--emulatorbin",
            "/usr/bin/qemu-system-nope",
        ],
    );
    assert!(!ok);
    assert!(err.contains("/usr/bin/qemu-system-nope"), "{err}");
    let (ok, _, err) = virt(&root, &["domcapabilities", "--virttype", "xen"]);
    assert!(!ok);
    assert!(err.contains("xen"), "{err}");
}

fn guest_xml(name: &str, kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
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

/// Reads `virt console NAME` until READY_MARKER (panics after 90 s), then leaves with Ctrl+].
fn wait_for_marker(root: &Path, name: &str) {
    let mut child = Command::new(workspace_bin("virt"))
        .args(["-c", "qemu:///system", "console", name])
        .env("VIRT_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("virt console");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains(READY_MARKER) {
                let _ = tx.send(());
                break;
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(90));
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(&[0x1d]).and_then(|()| stdin.flush());
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.is_ok(), "no ready marker on {name}'s console");
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn a_qcow2_disk_is_attached_and_detached_with_the_cli() {
    let image = test_guest().expect("test guest");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let _guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let file = root.join("g.xml");
    std::fs::write(&file, guest_xml("hp", &image.kernel, &image.initrd)).expect("xml");
    virt_ok(&root, &["define", &file.display().to_string()]);

    let qcow2 = root.join("extra.qcow2");
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&qcow2)
        .arg("16M")
        .status()
        .expect("qemu-img");
    assert!(made.success(), "qemu-img create failed");
    let disk = root.join("disk.xml");
    std::fs::write(
        &disk,
        format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='{}'/><target dev='vdb' bus='virtio'/></disk>",
            qcow2.display()
        ),
    )
    .expect("disk xml");
    let disk_arg = disk.display().to_string();

    virt_ok(&root, &["start", "hp"]);
    wait_for_marker(&root, "hp");

    let out = virt_ok(&root, &["attach-device", "hp", &disk_arg, "--live"]);
    assert_eq!(out, "Device attached successfully\n\n");
    let xml = virt_ok(&root, &["dumpxml", "hp"]);
    assert!(
        xml.contains(&format!("<source file='{}'", qcow2.display()))
            && xml.contains("<target dev='vdb' bus='virtio'/>"),
        "{xml}"
    );
    // Live only: the definition does not have it.
    let inactive = virt_ok(&root, &["dumpxml", "hp", "--inactive"]);
    assert!(!inactive.contains("vdb"), "{inactive}");
    // A second attach of the same target is refused, with virsh's context line.
    let (ok, _, err) = virt(&root, &["attach-device", "hp", &disk_arg, "--live"]);
    assert!(!ok);
    assert!(
        err.contains(&format!("Failed to attach device from {disk_arg}")),
        "{err}"
    );

    let out = virt_ok(&root, &["detach-device", "hp", &disk_arg, "--live"]);
    assert_eq!(out, "Device detached successfully\n\n");
    // Linux answers the ACPI unplug request; the disk leaves the live XML.
    let end = Instant::now() + Duration::from_secs(30);
    let xml = loop {
        let xml = virt_ok(&root, &["dumpxml", "hp"]);
        if !xml.contains("vdb") || Instant::now() > end {
            break xml;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!xml.contains("vdb"), "the disk is still there: {xml}");
    // Detaching it again: the device is missing.
    let (ok, _, err) = virt(&root, &["detach-device", "hp", &disk_arg, "--live"]);
    assert!(!ok);
    assert!(
        err.contains(&format!("Failed to detach device from {disk_arg}")),
        "{err}"
    );
    // --current with --live is refused before anything is sent.
    let (ok, _, err) = virt(
        &root,
        &["attach-device", "hp", &disk_arg, "--live", "--current"],
    );
    assert!(!ok);
    assert!(
        err.contains("--current and --live are mutually exclusive"),
        "{err}"
    );
    virt_ok(&root, &["destroy", "hp"]);
}
