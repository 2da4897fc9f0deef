//! Save, restore and managed save of a real TCG guest through the CLI (`virt -c
//! qemu:///system` and virtqemud under a temporary root), with the guest's memory checked on
//! its console: a marker is written into the guest's RAM (a file in its initramfs root);
//! `virt save` stops the guest and leaves an image; `virt restore` brings it back with the
//! marker; `virt managedsave` stops it again with a managed image (`list --all
//! --managed-save` says "saved" and `dominfo` "Managed save: yes"); `virt start` resumes
//! it from there with the marker, and the image is gone. The disk's counters
//! (`domblkstat`) grow when the guest reads its disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, QemuGuard};

fn guest_xml(kernel: &Path, initrd: &Path, disk: &Path) -> String {
    format!(
        "<domain type='qemu'><name>saveg</name>\
         <uuid>7e570000-0000-4000-8000-00000000bb01</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         </devices></domain>",
        kernel.display(),
        initrd.display(),
        disk.display()
    )
}

/// The console of running `saveg`, with a shell answering.
fn console(root: &Path, boot: bool) -> Console {
    let mut con = Console::open(&pty_of(root, "saveg"));
    if boot {
        con.until(0, Duration::from_secs(120), READY_MARKER);
    }
    // A restored guest prints nothing by itself: a first line shows its shell is there.
    let at = con.type_line("echo RE\"\"ADY-2");
    con.until(at, Duration::from_secs(60), "READY-2");
    con
}

/// (rd_req, rd_bytes) of `domblkstat saveg vda`.
fn reads(root: &Path) -> (u64, u64) {
    let out = virt_ok(root, &["domblkstat", "saveg", "vda"]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("vda {name} ")))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    (field("rd_req"), field("rd_bytes"))
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn save_restore_and_managed_save_keep_the_guests_memory() {
    let image = test_guest().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("saveg.qcow2");
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("64M")
        .status()
        .expect("qemu-img");
    assert!(st.success());
    let file = root.join("saveg.xml");
    std::fs::write(&file, guest_xml(&image.kernel, &image.initrd, &disk)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    virt_ok(root, &["start", "saveg"]);
    let mut con = console(root, true);
    con.type_line("echo kept-1 > /m");
    con.expect_marker("kept-1");

    // The disk's read counters grow when the guest reads it.
    let before = reads(root);
    con.run(
        "dd if=/dev/vda of=/dev/null bs=64k count=64",
        1,
        Duration::from_secs(60),
    );
    let after = reads(root);
    assert!(
        after.0 > before.0 && after.1 >= before.1 + 64 * 65536,
        "reads {before:?} -> {after:?}"
    );

    // save: the guest stops, its image is written; restore brings the same memory back.
    let img = root.join("saveg.save");
    let img_s = img.display().to_string();
    let out = virt_ok(root, &["save", "saveg", &img_s]);
    assert_eq!(
        out,
        "\nDomain 'saveg' saved to ".to_string() + &img_s + "\n\n"
    );
    assert_eq!(
        wait_domstate(root, "saveg", "shut off (saved)", Duration::from_secs(10)),
        "shut off (saved)"
    );
    assert!(std::fs::metadata(&img).expect("save image").len() > 1 << 20);
    let out = virt_ok(root, &["restore", &img_s]);
    assert_eq!(out, format!("Domain restored from {img_s}\n\n"));
    assert_eq!(
        wait_domstate(root, "saveg", "running (restored)", Duration::from_secs(10)),
        "running (restored)"
    );
    let mut con = console(root, false);
    con.expect_marker("kept-1");
    con.type_line("echo kept-2 > /m");
    con.expect_marker("kept-2");

    // managedsave: stopped with a managed image, which start resumes and then removes.
    let out = virt_ok(root, &["managedsave", "saveg"]);
    assert_eq!(out, "\nDomain 'saveg' state saved by libvirt\n\n");
    let list = virt_ok(root, &["list", "--all", "--managed-save"]);
    assert!(
        list.lines()
            .any(|l| l.contains("saveg") && l.trim_end().ends_with("saved")),
        "{list}"
    );
    let list = virt_ok(root, &["list", "--all", "--with-managed-save", "--name"]);
    assert_eq!(list, "saveg\n\n");
    let info = virt_ok(root, &["dominfo", "saveg"]);
    assert!(info.contains("Managed save:   yes"), "{info}");
    let out = virt_ok(root, &["start", "saveg"]);
    assert_eq!(out, "Domain 'saveg' started\n\n");
    assert_eq!(
        wait_domstate(root, "saveg", "running (restored)", Duration::from_secs(10)),
        "running (restored)"
    );
    let mut con = console(root, false);
    con.expect_marker("kept-2");
    let info = virt_ok(root, &["dominfo", "saveg"]);
    assert!(info.contains("Managed save:   no"), "{info}");

    // A second restore of the same image while the domain runs is refused.
    let (ok, _, err) = virt(root, &["restore", &img_s]);
    assert!(
        !ok && err.starts_with("error: Failed to restore domain from"),
        "{err}"
    );
    virt_ok(root, &["destroy", "saveg"]);
}
