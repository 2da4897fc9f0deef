//! Snapshots and block jobs of a real TCG guest through `virt -c qemu:///system` and
//! virtqemud (the test kernel + busybox initramfs of tests/src/guest.rs, with a qcow2 disk).
//!
//! Internal snapshot of the running guest: a marker is written into the guest's RAM (a file
//! in its initramfs root) and read back on the serial console; the snapshot is taken; the
//! marker is changed; revert; the console shows the first marker again (the change is gone).
//! The snapshot tree (current, parent, list --tree, --roots, --leaves), the stored XML, the
//! metadata surviving a daemon restart, undefine refusing a domain with snapshots, revert
//! to a shut-off snapshot of the stopped guest (qemu-img), and delete (--children,
//! --metadata) are checked too.
//!
//! Block jobs of a running guest, with markers the guest writes to its disk (`/dev/vda`)
//! read back from the image files on the host: an external disk-only snapshot (the disk's
//! source becomes the overlay, later writes land there, not in the base); `blockcommit
//! --active --pivot` back into the base (the base has them, the source is the base again);
//! `blockcopy --pivot` to a new image (it has the disk's data and gets later writes);
//! `blockpull` of an overlay's backing data; `blockresize`, seen by the guest; `blockjob`
//! with no job.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, QemuGuard};

fn guest_xml(name: &str, kernel: &Path, initrd: &Path, disk: &Path) -> String {
    let n = if name == "snapg" { 1 } else { 2 };
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>7e570000-0000-4000-8000-00000000aa0{n}</uuid>\
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

/// The guest's serial console: what it printed so far, and a way to type.
struct Console {
    pty: std::fs::File,
    seen: mpsc::Receiver<String>,
    text: String,
}

impl Console {
    fn open(path: &str) -> Console {
        let pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open the pty");
        let mut reader = pty.try_clone().expect("clone the pty");
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Console {
            pty,
            seen,
            text: String::new(),
        }
    }

    /// Reads until `want` shows in the text since `from`, or panics.
    fn until(&mut self, from: usize, limit: Duration, want: &str) {
        let end = Instant::now() + limit;
        loop {
            if self.text[from.min(self.text.len())..].contains(want) {
                return;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(s) => self.text.push_str(&s),
                Err(_) => panic!(
                    "{want}: not on the console within {limit:?}:\n{}",
                    self.text
                ),
            }
        }
    }

    /// Types `line` into the guest's shell; the console offset before it.
    fn type_line(&mut self, line: &str) -> usize {
        while let Ok(s) = self.seen.try_recv() {
            self.text.push_str(&s);
        }
        let at = self.text.len();
        self.pty
            .write_all(format!("{line}\r").as_bytes())
            .expect("type");
        at
    }

    /// Prints the marker file between brackets (typed split, so only the output spells the
    /// bracketed word whole) and waits for `[want]`.
    fn expect_marker(&mut self, want: &str) {
        let at = self.type_line("echo \"<\"\"<$(cat /m)>\"\">\"");
        self.until(at, Duration::from_secs(60), &format!("<<{want}>>"));
    }
}

fn img_snapshots(path: &Path) -> String {
    let out = Command::new("qemu-img")
        .args(["snapshot", "-U", "-l"])
        .arg(path)
        .output()
        .expect("qemu-img");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn boot(root: &Path, name: &str) -> Console {
    virt_ok(root, &["start", name]);
    let mut con = Console::open(&pty_of(root, name));
    con.until(0, Duration::from_secs(120), READY_MARKER);
    // A shell prompt is there once the marker is: a first line settles it.
    let at = con.type_line("echo RE\"\"ADY-2");
    con.until(at, Duration::from_secs(30), "READY-2");
    con
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn internal_snapshots_of_a_running_guest_revert_its_memory() {
    let image = test_guest().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("snapg.qcow2");
    virt_tests::qemu::qcow2(&disk, "64M");
    let file = root.join("snapg.xml");
    std::fs::write(
        &file,
        guest_xml("snapg", &image.kernel, &image.initrd, &disk),
    )
    .expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);

    // Shut off: a qemu-img snapshot of the disk.
    let out = virt_ok(
        root,
        &[
            "snapshot-create-as",
            "snapg",
            "off1",
            "--description",
            "first, shut off",
        ],
    );
    assert_eq!(out, "Domain snapshot off1 created\n");
    assert!(
        img_snapshots(&disk).contains("off1"),
        "{}",
        img_snapshots(&disk)
    );

    let mut con = boot(root, "snapg");
    con.type_line("echo one > /m");
    con.expect_marker("one");

    // Running: RAM and disk by snapshot-save.
    let out = virt_ok(
        root,
        &[
            "snapshot-create-as",
            "snapg",
            "run1",
            "--description",
            "marker one",
        ],
    );
    assert_eq!(out, "Domain snapshot run1 created\n");
    assert_eq!(
        wait_domstate(root, "snapg", "running (unpaused)", Duration::from_secs(10)),
        "running (unpaused)"
    );
    con.type_line("echo two > /m");
    con.expect_marker("two");

    virt_ok(root, &["snapshot-revert", "snapg", "run1"]);
    assert_eq!(
        wait_domstate(
            root,
            "snapg",
            "running (from snapshot)",
            Duration::from_secs(10)
        ),
        "running (from snapshot)"
    );
    // The change is gone: the guest's memory is back to marker one.
    con.expect_marker("one");

    // The tree: off1 <- run1 (current); a second running snapshot under run1.
    assert_eq!(
        virt_ok(root, &["snapshot-current", "snapg", "--name"]),
        "run1\n"
    );
    assert_eq!(
        virt_ok(root, &["snapshot-parent", "snapg", "run1"]),
        "off1\n"
    );
    virt_ok(root, &["snapshot-create-as", "snapg", "run2"]);
    let tree = virt_ok(root, &["snapshot-list", "snapg", "--tree"]);
    let lines: Vec<&str> = tree
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        ["off1", "  |", "  +- run1", "      |", "      +- run2"],
        "{tree}"
    );
    assert_eq!(
        virt_ok(root, &["snapshot-list", "snapg", "--roots", "--name"]),
        "off1\n\n"
    );
    assert_eq!(
        virt_ok(root, &["snapshot-list", "snapg", "--leaves", "--name"]),
        "run2\n\n"
    );
    assert_eq!(
        virt_ok(root, &["snapshot-list", "snapg", "--active", "--name"]),
        "run1\nrun2\n\n"
    );
    let xml = virt_ok(root, &["snapshot-dumpxml", "snapg", "run1"]);
    for part in [
        "<name>run1</name>",
        "<description>marker one</description>",
        "<state>running</state>",
        "<parent>\n    <name>off1</name>\n  </parent>",
        "<memory snapshot='internal'/>",
        "<disk name='vda' snapshot='internal'/>",
        "<domain type='qemu'>",
    ] {
        assert!(xml.contains(part), "{part} not in {xml}");
    }
    let stored = root.join("var/lib/virt/qemu/snapshot/snapg/run1.xml");
    let stored =
        std::fs::read_to_string(&stored).unwrap_or_else(|e| panic!("{}: {e}", stored.display()));
    assert!(stored.contains("<active>0</active>"), "{stored}");
    let info = virt_ok(root, &["snapshot-info", "snapg", "run2"]);
    assert!(info.contains("Current:        yes"), "{info}");
    assert!(info.contains("State:          running"), "{info}");
    let imgs = img_snapshots(&disk);
    for s in ["off1", "run1", "run2"] {
        assert!(imgs.contains(s), "{s} not in {imgs}");
    }

    // Deleting run2 (running): gone from the image and the metadata; run1 current again.
    virt_ok(root, &["snapshot-delete", "snapg", "run2"]);
    assert!(!img_snapshots(&disk).contains("run2"));
    assert_eq!(
        virt_ok(root, &["snapshot-current", "snapg", "--name"]),
        "run1\n"
    );

    // The metadata outlives the daemon.
    daemon.kill9();
    let daemon = ProcessDaemon::start("virtqemud", root);
    assert_eq!(
        virt_ok(root, &["snapshot-list", "snapg", "--name"]),
        "off1\nrun1\n\n"
    );
    assert_eq!(
        virt_ok(root, &["snapshot-current", "snapg", "--name"]),
        "run1\n"
    );

    // Back to the shut-off snapshot: the guest stops.
    virt_ok(root, &["snapshot-revert", "snapg", "off1"]);
    assert_eq!(domstate(root, "snapg"), "shut off (from snapshot)");
    // And to the running one from shut off: it runs with marker one in its memory.
    virt_ok(root, &["snapshot-revert", "snapg", "run1"]);
    assert_eq!(domstate(root, "snapg"), "running (from snapshot)");
    let mut con = Console::open(&pty_of(root, "snapg"));
    con.expect_marker("one");
    virt_ok(root, &["destroy", "snapg"]);

    // Undefine refuses while snapshots exist.
    let (ok, _, err) = virt(root, &["undefine", "snapg"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Failed to undefine domain 'snapg'\nerror: Requested operation is not valid: cannot delete inactive domain with 2 snapshots\n"
    );
    // --children from the root removes both (qemu-img -d on the stopped guest's disk).
    virt_ok(root, &["snapshot-delete", "snapg", "off1", "--children"]);
    assert_eq!(virt_ok(root, &["snapshot-list", "snapg", "--name"]), "\n");
    let imgs = img_snapshots(&disk);
    assert!(!imgs.contains("off1") && !imgs.contains("run1"), "{imgs}");
    // --metadata keeps the image's snapshot.
    virt_ok(root, &["snapshot-create-as", "snapg", "meta"]);
    virt_ok(root, &["snapshot-delete", "snapg", "meta", "--metadata"]);
    assert!(img_snapshots(&disk).contains("meta"));
    virt_ok(root, &["snapshot-create-as", "snapg", "again"]);
    virt_ok(root, &["undefine", "snapg", "--snapshots-metadata"]);
    assert!(!root.join("var/lib/virt/qemu/snapshot/snapg").exists());
    drop(daemon);
}

fn domstate(root: &Path, name: &str) -> String {
    virt_ok(root, &["domstate", name, "--reason"])
        .trim()
        .to_string()
}

/// The first line of the guest-visible data of image `path` (read with `qemu-img dd`
/// sharing the running guest's image).
fn image_head(path: &Path) -> String {
    let raw = path.with_extension("head");
    let st = Command::new("qemu-img")
        .args(["dd", "-U", "-O", "raw", "bs=512", "count=1"])
        .arg(format!("if={}", path.display()))
        .arg(format!("of={}", raw.display()))
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img dd {}", path.display());
    let data = std::fs::read(&raw).expect("read head");
    let _ = std::fs::remove_file(&raw);
    String::from_utf8_lossy(&data)
        .split('\n')
        .next()
        .unwrap_or_default()
        .trim_matches('\0')
        .to_string()
}

fn image_info(path: &Path) -> String {
    let out = Command::new("qemu-img")
        .args(["info", "-U"])
        .arg(path)
        .output()
        .expect("qemu-img");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `marker` as the first line of the guest's /dev/vda and waits until it is synced.
fn write_disk(con: &mut Console, marker: &str) {
    let at = con.type_line(&format!(
        "echo {marker} | dd of=/dev/vda conv=fsync 2>/dev/null; echo WR\"\"OTE-{marker}"
    ));
    con.until(at, Duration::from_secs(60), &format!("WROTE-{marker}"));
}

fn source_of(root: &Path, name: &str) -> String {
    let xml = virt_ok(root, &["dumpxml", name]);
    xml.split("<source file='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no disk source in {xml}"))
        .to_string()
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn block_jobs_move_a_running_guests_disk() {
    let image = test_guest().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let base = root.join("blkg.qcow2");
    virt_tests::qemu::qcow2(&base, "64M");
    let file = root.join("blkg.xml");
    std::fs::write(
        &file,
        guest_xml("blkg", &image.kernel, &image.initrd, &base),
    )
    .expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    let mut con = boot(root, "blkg");
    write_disk(&mut con, "MARK1");
    assert_eq!(image_head(&base), "MARK1");

    // External disk-only snapshot: the overlay takes the writes.
    let out = virt_ok(root, &["snapshot-create-as", "blkg", "ext1", "--disk-only"]);
    assert_eq!(out, "Domain snapshot ext1 created\n");
    let overlay = root.join("blkg.ext1");
    assert_eq!(source_of(root, "blkg"), overlay.display().to_string());
    let info = image_info(&overlay);
    assert!(
        info.contains(&format!("backing file: {}", base.display())),
        "{info}"
    );
    // The live XML shows the base under the overlay.
    let live = virt_ok(root, &["dumpxml", "blkg"]);
    let chain = format!(
        "<backingStore type='file' index='2'>\n        <format type='qcow2'/>\n        <source file='{}'/>\n        <backingStore/>\n      </backingStore>",
        base.display()
    );
    assert!(live.contains(&chain), "{chain} not in {live}");
    let inactive = virt_ok(root, &["dumpxml", "blkg", "--inactive"]);
    assert!(!inactive.contains("<backingStore"), "{inactive}");
    assert!(inactive.contains(&format!("<source file='{}'/>", overlay.display())));
    let xml = virt_ok(root, &["snapshot-dumpxml", "blkg", "ext1"]);
    assert!(xml.contains("<state>disk-snapshot</state>"), "{xml}");
    assert!(
        xml.contains(&format!("<source file='{}'/>", overlay.display())),
        "{xml}"
    );
    write_disk(&mut con, "MARK2");
    assert_eq!(image_head(&overlay), "MARK2");
    assert_eq!(image_head(&base), "MARK1");

    // Active commit with pivot: the base has MARK2 and is the disk again.
    let (ok, out, err) = virt(
        root,
        &[
            "blockcommit",
            "blkg",
            "vda",
            "--active",
            "--pivot",
            "--verbose",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "\nSuccessfully pivoted\n");
    assert!(err.ends_with("Block commit: [100 %]"), "{err:?}");
    assert_eq!(source_of(root, "blkg"), base.display().to_string());
    assert!(!virt_ok(root, &["dumpxml", "blkg"]).contains("<backingStore"));
    assert_eq!(image_head(&base), "MARK2");
    assert_eq!(
        virt_ok(root, &["blockjob", "blkg", "vda"]),
        "No current block job for vda\n"
    );
    write_disk(&mut con, "MARK3");
    assert_eq!(image_head(&base), "MARK3");

    // Copy with pivot: the copy has the data and takes the writes from now on.
    let copy = root.join("copy.qcow2");
    let out = virt_ok(
        root,
        &[
            "blockcopy",
            "blkg",
            "vda",
            &copy.display().to_string(),
            "--pivot",
        ],
    );
    assert_eq!(out, "\nSuccessfully pivoted\n");
    assert_eq!(source_of(root, "blkg"), copy.display().to_string());
    assert_eq!(image_head(&copy), "MARK3");
    write_disk(&mut con, "MARK4");
    assert_eq!(image_head(&copy), "MARK4");
    assert_eq!(image_head(&base), "MARK3");

    // Pull: an overlay's backing data copied up into it, the backing file dropped.
    virt_ok(root, &["snapshot-create-as", "blkg", "ext2", "--disk-only"]);
    let overlay2 = root.join("copy.ext2");
    assert_eq!(source_of(root, "blkg"), overlay2.display().to_string());
    assert!(image_info(&overlay2).contains("backing file:"));
    let out = virt_ok(root, &["blockpull", "blkg", "vda", "--wait"]);
    assert_eq!(out, "\nPull complete\n");
    let info = image_info(&overlay2);
    assert!(!info.contains("backing file:"), "{info}");
    assert!(!virt_ok(root, &["dumpxml", "blkg"]).contains("<backingStore"));
    // QEMU writes its image metadata out when the guest flushes.
    let at = con
        .type_line("dd if=/dev/null of=/dev/vda conv=notrunc,fsync 2>/dev/null; echo FL\"\"USHED");
    con.until(at, Duration::from_secs(30), "FLUSHED");
    assert_eq!(image_head(&overlay2), "MARK4");

    // Resize: the guest sees the new size (in 512-byte sectors).
    let out = virt_ok(root, &["blockresize", "blkg", "vda", "128M"]);
    assert_eq!(out, "Block device 'vda' is resized\n");
    assert!(image_info(&overlay2).contains("virtual size: 128 MiB"));
    let at = con.type_line("echo SZ\"\"=$(cat /sys/block/vda/size)");
    con.until(at, Duration::from_secs(30), "SZ=262144");

    // No job: abort is refused as libvirt refuses it.
    let (ok, _, err) = virt(root, &["blockjob", "blkg", "vda", "--abort"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: disk vda does not have an active block job\n"
    );
    virt_ok(root, &["destroy", "blkg"]);
}
