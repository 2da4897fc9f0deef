//! The guest agent's file system and user commands on a real guest (TCG, the cached kernel
//! with the agent initramfs of tests/src/guest.rs, which runs the host's qemu-ga inside)
//! behind the real `virtqemud`, driven by `virt -c qemu:///system`:
//!
//! - `domfsinfo` lists the ext4 disk the guest mounted at /mnt, under its target `vda` (the
//!   agent's PCI address matched to the definition's disk);
//! - `domfstrim` runs, and a mount point is refused with libvirt's words;
//! - `set-user-password` changes root's entry in the guest's /etc/shadow (checked in the
//!   guest: the stored hash is the hash of the password given), and `--encrypted` stores the
//!   hash as given;
//! - `set-user-sshkeys` appends, removes and resets root's keys, `get-user-sshkeys` lists
//!   them, and the guest's /root/.ssh/authorized_keys holds what was set;
//! - an unknown guest user is the agent's error, named with the command.
//!
//! The QEMU is killed at the end, pass or fail.

use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest_with_agent, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_for_agent, QemuGuard};
use virt_tests::DaemonUnderTest;

const KEY1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOneForTheVirtTestGuest0000000000 one@test";
const KEY2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyTwoForTheVirtTestGuest0000000000 two@test";

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn file_systems_passwords_and_ssh_keys_through_the_agent() {
    let image = test_guest_with_agent().expect("test guest with agent");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);

    let disk = virt_tests::qemu::ext4_image(&root.join("ext4-disk.img"));
    let xml = format!(
        "<domain type='qemu'><name>fsg</name>\
         <uuid>a6e00000-0000-4000-8000-0000000000f1</uuid>\
         <memory unit='MiB'>160</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\
         </devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
        disk.display()
    );
    let file = root.join("fsg.xml");
    std::fs::write(&file, xml).expect("write xml");
    virt_ok(&root, &["define", &file.display().to_string()]);
    virt_ok(&root, &["start", "fsg"]);
    guard.pids = guard.pids_in_status();
    let mut con = Console::open(&pty_of(&root, "fsg"));
    con.until(0, Duration::from_secs(120), READY_MARKER);
    wait_for_agent(&root, "fsg");

    // domfsinfo: the ext4 disk at /mnt, on the definition's vda.
    let out = virt_ok(&root, &["domfsinfo", "fsg"]);
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("/mnt "))
        .unwrap_or_else(|| panic!("no /mnt in {out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, ["/mnt", "vda", "ext4", "vda"], "{out}");
    assert!(
        out.starts_with(" Mountpoint   Name   Type   Target\n---"),
        "{out}"
    );

    // domfstrim: runs; a mount point is not supported, as libvirt's QEMU driver says.
    assert_eq!(
        virt_ok(&root, &["domfstrim", "fsg", "--minimum", "0"]),
        "\n"
    );
    let (ok, _, err) = virt(&root, &["domfstrim", "fsg", "--mountpoint", "/mnt"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Unable to invoke fstrim\n\
         error: argument unsupported: Specifying mount point is not supported for now\n"
    );

    // set-user-password: the guest's shadow entry is the hash of the password given.
    assert_eq!(
        virt_ok(
            &root,
            &["set-user-password", "fsg", "root", "Virt s3cret:x"]
        ),
        "Password set successfully for root in fsg\n"
    );
    let at = con.type_line(
        "h=$(sed -n 's/^root:\\([^:]*\\):.*/\\1/p' /etc/shadow); s=$(echo \"$h\" | cut -d'$' -f3); \
         [ \"$(mkpasswd -m sha512 'Virt s3cret:x' \"$s\")\" = \"$h\" ] && echo PW\"\"-MATCHES",
    );
    con.until(at, Duration::from_secs(30), "PW-MATCHES");
    let hash = "$6$virtsalt$Q3x0v0J9H9n1m0YwWq7Yk1";
    virt_ok(
        &root,
        &[
            "set-user-password",
            "fsg",
            "--user",
            "root",
            "--password",
            hash,
            "--encrypted",
        ],
    );
    let at = con.type_line(
        "grep -c '^root:$6$virtsalt$Q3x0v0J9H9n1m0YwWq7Yk1:' /etc/shadow | sed 's/^/SH/'",
    );
    con.until(at, Duration::from_secs(30), "SH1");

    // SSH keys: append two, remove one, reset to none.
    let keys = root.join("keys");
    std::fs::write(&keys, format!("{KEY1}\n\n{KEY2}\n")).expect("write keys");
    let keys = keys.display().to_string();
    virt_ok(&root, &["set-user-sshkeys", "fsg", "root", "--file", &keys]);
    // One key a line, in the agent's order (qemu-ga 7.2 lists the file's last key first).
    let out = virt_ok(&root, &["get-user-sshkeys", "fsg", "root"]);
    let mut listed: Vec<&str> = out.lines().collect();
    assert_eq!(listed.pop(), Some(""), "{out:?}: the closing blank line");
    listed.sort_unstable();
    assert_eq!(listed, [KEY1, KEY2], "{out:?}");
    let at = con.type_line("grep -c 'two@test' /root/.ssh/authorized_keys | sed 's/^/AK/'");
    con.until(at, Duration::from_secs(30), "AK1");
    let one = root.join("one");
    std::fs::write(&one, format!("{KEY1}\n")).expect("write key");
    virt_ok(
        &root,
        &[
            "set-user-sshkeys",
            "fsg",
            "root",
            "--remove",
            "--file",
            &one.display().to_string(),
        ],
    );
    assert_eq!(
        virt_ok(&root, &["get-user-sshkeys", "fsg", "root"]),
        format!("{KEY2}\n\n")
    );
    virt_ok(
        &root,
        &["set-user-sshkeys", "fsg", "--user", "root", "--reset"],
    );
    assert_eq!(virt_ok(&root, &["get-user-sshkeys", "fsg", "root"]), "\n");
    let (ok, _, err) = virt(&root, &["set-user-sshkeys", "fsg", "root"]);
    assert!(!ok);
    assert_eq!(err, "error: Option --file is required\n");

    // A user the guest does not have: the agent's refusal, named with its command.
    let (ok, _, err) = virt(&root, &["get-user-sshkeys", "fsg", "nosuchuser"]);
    assert!(!ok);
    assert!(
        err.contains("unable to execute QEMU agent command 'guest-ssh-get-authorized-keys'"),
        "{err}"
    );

    virt_ok(&root, &["destroy", "fsg"]);
    let (ok, _, err) = virt(&root, &["domfsinfo", "fsg"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Unable to get filesystem information\n\
         error: Requested operation is not valid: domain is not running\n"
    );
}
