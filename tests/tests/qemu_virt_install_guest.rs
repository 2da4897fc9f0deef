//! The guest virt-install writes for a current Linux with UEFI and a TPM
//! ([`virt_tests::virt_install`]: q35 with pcie-root-ports, qemu-xhci, virtio disk and NIC,
//! SPICE + QXL + the spicevmc channel + two USB redirections, the guest agent's channel, a
//! TPM 2.0 CRB on swtpm, ICH9 sound, UEFI with secure boot off), unchanged but for the test
//! kernel added to `<os>`, through the real `virt-proxy` and `virtqemud` and
//! `virt -c qemu:///system`:
//!
//! * it defines and boots under OVMF (picked from the firmware descriptors) to the test
//!   guest's ready marker on its serial console, with swtpm running beside QEMU;
//! * its live XML names every device (`virtio-disk0`, `net0`, `channel0`, `tpm0`, `redir1`, ...)
//!   with the addresses assigned at define and validates against libvirt's schema
//!   (`virt-xml-validate`);
//! * the guest agent answers: `domifaddr --source agent` shows the guest's address, and
//!   `shutdown --mode agent` powers it off (shut off, shutdown), swtpm going with it.
//!
//! Every QEMU and swtpm is killed at the end, pass or fail. Networking is QEMU user networking
//! (slirp inside QEMU): nothing leaves the host.

use std::process::Command;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest_with_agent, AGENT_GUEST_ADDR};
use virt_tests::qemu::{running, until_marker, virt_ok, wait_domstate, wait_for_agent, QemuGuard};
use virt_tests::virt_install::{boot_test_kernel, ext4_qcow2, guest_xml};
use virt_tests::DaemonUnderTest;

/// Every device of the virt-install guest, by the name it runs under.
const ALIASES: &[&str] = &[
    "virtio-disk0",
    "usb",
    "pcie.0",
    "pci.1",
    "pci.14",
    "ide",
    "virtio-serial0",
    "net0",
    "serial0",
    "channel0",
    "channel1",
    "input0",
    "input1",
    "input2",
    "tpm0",
    "sound0",
    "video0",
    "redir0",
    "redir1",
    "balloon0",
    "rng0",
];

fn swtpm_pid(root: &std::path::Path, name: &str) -> i32 {
    let status = std::fs::read_to_string(root.join(format!("run/virt/qemu/{name}.xml")))
        .expect("status file");
    status
        .split("<swtpm pid='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no swtpm in the status file:\n{status}"))
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn the_virt_install_guest_boots_under_uefi_with_tpm_spice_and_its_agent() {
    let image = test_guest_with_agent().expect("agent test guest");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let _guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let name = "vi-linux2022";
    let disk = root.join("vi-disk.qcow2");
    ext4_qcow2(&disk, 32).expect("disk image");
    let xml = boot_test_kernel(&guest_xml(name, &disk), &image);
    let file = root.join("vi.xml");
    std::fs::write(&file, &xml).expect("xml");
    virt_ok(&root, &["define", &file.display().to_string()]);

    let started = Instant::now();
    virt_ok(&root, &["start", name]);
    let returned = started.elapsed();
    let booted = until_marker(&root, name, started, Duration::from_secs(240));
    eprintln!("start returned after {returned:?}, ready marker after {booted:?}");

    // The live XML: every device named and addressed, firmware resolved, a SPICE port.
    let live = virt_ok(&root, &["dumpxml", name]);
    for alias in ALIASES {
        assert!(
            live.contains(&format!("<alias name='{alias}'/>")),
            "no alias {alias} in:\n{live}"
        );
    }
    assert!(
        live.contains(
            "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
        ),
        "secure boot off picks the plain OVMF build:\n{live}"
    );
    assert!(live.contains("_VARS.fd</nvram>"), "{live}");
    assert!(
        live.contains("<graphics type='spice' port='59"),
        "a SPICE port is picked:\n{live}"
    );
    let pci = live.matches("<address type='pci'").count();
    // 14 root ports, USB, SATA, virtio-serial, disk, NIC, sound, video, balloon, RNG.
    assert_eq!(pci, 23, "every PCI device is addressed:\n{live}");
    let live_file = root.join("vi-live.xml");
    std::fs::write(&live_file, &live).expect("live xml");
    let check = Command::new("virt-xml-validate")
        .arg(&live_file)
        .arg("domain")
        .output()
        .expect("run virt-xml-validate (libvirt-clients, libxml2-utils)");
    assert!(
        check.status.success(),
        "the live XML does not validate: {}{}\n{live}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let swtpm = swtpm_pid(&root, name);
    assert!(running(swtpm), "swtpm {swtpm} runs beside QEMU");

    // The agent answers, and powers the guest off.
    let addrs = wait_for_agent(&root, name);
    assert!(addrs.contains(AGENT_GUEST_ADDR), "{addrs}");
    virt_ok(&root, &["shutdown", name, "--mode", "agent"]);
    let state = wait_domstate(&root, name, "shut off (shutdown)", Duration::from_secs(60));
    assert_eq!(state, "shut off (shutdown)");
    let end = Instant::now() + Duration::from_secs(10);
    while running(swtpm) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!running(swtpm), "swtpm stops with the guest");
    virt_ok(&root, &["undefine", name, "--nvram"]);
}
