//! UEFI and TPM guests through the real binaries: `virtqemud` and `virt-proxy` under a
//! temporary root, `virt -c qemu:///system ...`, the cached test kernel + busybox initramfs
//! under TCG.
//!
//! Covered: the test kernel booted directly by OVMF (`<os firmware='efi'>` with secure boot
//! off, the firmware picked from the installed descriptors) to its ready marker on the serial
//! console, timed against the same guest under SeaBIOS; `virt undefine` refusing a domain
//! with an NVRAM store, `--keep-nvram` and `--nvram`; a TPM guest whose swtpm survives a
//! `kill -9` of the daemon, is stopped by the next daemon's `virt destroy`, and whose state
//! `--keep-tpm` keeps and a plain undefine removes. Every QEMU and swtpm is killed at the
//! end, pass or fail.

use std::path::Path;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE};
use virt_tests::qemu::{running, until_marker, virt, virt_ok, QemuGuard};
use virt_tests::DaemonUnderTest;

/// The test guest on q35 with `os_attrs` and `os_inner` in `<os>` and `devices` added.
fn guest_xml(name: &str, os_attrs: &str, os_inner: &str, devices: &str) -> String {
    let image = test_guest().expect("test guest");
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
         <os {os_attrs}><type arch='x86_64' machine='q35'>hvm</type>{os_inner}\
         <kernel>{}</kernel><initrd>{}</initrd><cmdline>{GUEST_CMDLINE}</cmdline></os>\
         <features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>{devices}</devices></domain>",
        image.kernel.display(),
        image.initrd.display()
    )
}

fn define(root: &Path, name: &str, xml: &str) {
    let file = root.join(format!("{name}.xml"));
    std::fs::write(&file, xml).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
}

fn status_text(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join(format!("run/virt/qemu/{name}.xml"))).expect("status")
}

/// The swtpm pid a status file names.
fn swtpm_pid(root: &Path, name: &str) -> i32 {
    status_text(root, name)
        .split("<swtpm pid='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .and_then(|p| p.parse().ok())
        .expect("swtpm pid in the status file")
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots real guests; run with --features qemu-tests"
)]
fn the_test_kernel_boots_under_ovmf_and_the_nvram_follows_the_undefine_flags() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let no_sb = "<firmware><feature enabled='no' name='secure-boot'/></firmware>";
    define(
        &root,
        "uefi",
        &guest_xml("uefi", "firmware='efi'", no_sb, ""),
    );
    define(&root, "bios", &guest_xml("bios", "", "", ""));
    let limit = Duration::from_secs(240);

    let t = Instant::now();
    virt_ok(&root, &["start", "bios"]);
    guard.pids = guard.pids_in_status();
    let bios = until_marker(&root, "bios", t, limit);
    virt_ok(&root, &["destroy", "bios"]);

    let t = Instant::now();
    virt_ok(&root, &["start", "uefi"]);
    guard.pids = guard.pids_in_status();
    let uefi = until_marker(&root, "uefi", t, limit);
    eprintln!("TCG, q35, start to ready marker: SeaBIOS {bios:?}, OVMF {uefi:?}");
    let live = virt_ok(&root, &["dumpxml", "uefi"]);
    assert!(
        live.contains("<loader readonly='yes' type='pflash'>") && live.contains("OVMF"),
        "{live}"
    );
    let store = root.join("var/lib/virt/qemu/nvram/uefi_VARS.fd");
    assert!(
        live.contains(&format!(">{}</nvram>", store.display())),
        "{live}"
    );
    virt_ok(&root, &["destroy", "uefi"]);
    assert!(store.exists());

    let (ok, _, err) = virt(&root, &["undefine", "uefi"]);
    assert!(!ok);
    assert!(err.contains("cannot undefine domain with nvram"), "{err}");
    let (ok, _, err) = virt(&root, &["undefine", "uefi", "--nvram", "--keep-nvram"]);
    assert!(!ok && err.contains("mutually exclusive"), "{err}");
    virt_ok(&root, &["undefine", "uefi", "--keep-nvram"]);
    assert!(store.exists(), "kept");
    define(
        &root,
        "uefi",
        &guest_xml("uefi", "firmware='efi'", no_sb, ""),
    );
    virt_ok(&root, &["undefine", "uefi", "--nvram"]);
    assert!(!store.exists(), "removed");
    virt_ok(&root, &["undefine", "bios"]);
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots real guests; run with --features qemu-tests"
)]
fn a_tpm_guests_swtpm_survives_a_daemon_kill_and_goes_with_the_guest() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let daemon = ProcessDaemon::start("virtqemud", &root);
    let tpm = "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>";
    let xml = guest_xml("tpm", "", "", tpm).replace(
        "<name>tpm</name>",
        "<name>tpm</name><uuid>7e570000-0000-4000-8000-0000000000f1</uuid>",
    );
    define(&root, "tpm", &xml);
    let t = Instant::now();
    virt_ok(&root, &["start", "tpm"]);
    eprintln!(
        "virt start with swtpm (first, manufacturing): {:?}",
        t.elapsed()
    );
    guard.pids = guard.pids_in_status();
    guard.pids.extend(guard.swtpm_pids_in_status());
    let swtpm = swtpm_pid(&root, "tpm");
    assert!(running(swtpm));
    until_marker(&root, "tpm", Instant::now(), Duration::from_secs(240));
    let state = root.join("var/lib/virt/swtpm/7e570000-0000-4000-8000-0000000000f1/tpm2");
    assert!(state.join("tpm2-00.permall").exists());

    daemon.kill9();
    assert!(running(swtpm), "swtpm outlives the daemon");
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    assert_eq!(
        virt_ok(&root, &["domstate", "tpm"]).trim(),
        "running",
        "reattached"
    );
    assert_eq!(swtpm_pid(&root, "tpm"), swtpm);
    virt_ok(&root, &["destroy", "tpm"]);
    let end = Instant::now() + Duration::from_secs(5);
    while running(swtpm) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(swtpm), "swtpm went with the guest");
    assert!(state.exists(), "state kept across runs");
    let t = Instant::now();
    virt_ok(&root, &["start", "tpm"]);
    eprintln!("virt start with swtpm (state exists): {:?}", t.elapsed());
    guard.pids.extend(guard.pids_in_status());
    guard.pids.extend(guard.swtpm_pids_in_status());
    virt_ok(&root, &["destroy", "tpm"]);
    virt_ok(&root, &["undefine", "tpm", "--keep-tpm"]);
    assert!(state.exists(), "--keep-tpm");
    define(&root, "tpm", &xml);
    virt_ok(&root, &["undefine", "tpm"]);
    assert!(!state.exists(), "removed by default");
}
