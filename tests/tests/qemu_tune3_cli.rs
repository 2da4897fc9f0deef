//! virtqemud behind the third group of tuning commands (issue 15), through the CLI (`virt -c
//! qemu:///system`, virtqemud under a temporary root) with a real TCG guest:
//!
//! - `blkdeviotune`: a `--config` throttle lands in the persistent `<iotune>` and is applied
//!   at start (read back from QEMU's `query-block`); a live change reaches QEMU and the live
//!   XML, and slows the guest's writes to the disk; libvirt's errors (unknown disk, total with
//!   read/write, too large a value, `--live` on a shut-off guest);
//! - `domblkthreshold`: a threshold on the disk, crossed by the guest's `dd`, comes back as
//!   the BLOCK_THRESHOLD event `virt event --event block-threshold` prints; unknown disks and a
//!   shut-off guest are refused;
//! - `set-lifecycle-action`: `--config` edits the persistent definition only; live `reboot
//!   destroy` makes the guest's reboot a power-off (QMP `set-action`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, QemuGuard};

fn qcow2(path: &Path, size: &str) {
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(path)
        .arg(size)
        .status()
        .expect("qemu-img");
    assert!(st.success());
}

fn guest_xml(name: &str, disk: &Path) -> String {
    let image = test_guest().expect("test guest");
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>7e570000-0000-4000-8000-0000000003f1</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         </devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
        disk.display()
    )
}

/// The value of `name` in `blkdeviotune` output (`name: value`, the colon padded).
fn tune(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

fn fails_with(root: &Path, args: &[&str], want: &str) {
    let (ok, _, err) = virt(root, args);
    assert!(!ok, "{args:?} succeeded");
    assert!(err.contains(want), "{args:?}: {err}");
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn block_throttle_threshold_and_lifecycle_actions_of_a_real_guest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("tq3.qcow2");
    qcow2(&disk, "64M");
    let file = root.join("tq3.xml");
    std::fs::write(&file, guest_xml("tq3", &disk)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);

    // Shut off: the persistent throttle, and libvirt's refusals.
    let off = virt_ok(root, &["blkdeviotune", "tq3", "vda"]);
    assert_eq!(tune(&off, "total_bytes_sec"), "0", "{off}");
    fails_with(
        root,
        &["blkdeviotune", "tq3", "vda", "--live"],
        "domain is not running",
    );
    fails_with(
        root,
        &["blkdeviotune", "tq3", "vdz"],
        "disk 'vdz' was not found in the domain config",
    );
    fails_with(
        root,
        &["blkdeviotune", "tq3", "vdz", "--total-bytes-sec", "5"],
        "missing persistent configuration for disk 'vdz'",
    );
    fails_with(
        root,
        &[
            "blkdeviotune",
            "tq3",
            "vda",
            "--total-bytes-sec",
            "2000000000000000",
        ],
        "block I/O throttle limit value must be no more than 1000000000000000",
    );
    virt_ok(
        root,
        &[
            "blkdeviotune",
            "tq3",
            "vda",
            "--total-bytes-sec",
            "64M",
            "--total-iops-sec",
            "5000",
            "--config",
        ],
    );
    let inactive = virt_ok(root, &["dumpxml", "tq3", "--inactive"]);
    assert!(
        inactive.contains("<total_bytes_sec>67108864</total_bytes_sec>"),
        "{inactive}"
    );
    fails_with(
        root,
        &["domblkthreshold", "tq3", "vda", "1M"],
        "domain is not running",
    );

    // Started: the defined throttle was applied; what blkdeviotune reads is QEMU's.
    virt_ok(root, &["start", "tq3"]);
    let mut con = Console::open(&pty_of(root, "tq3"));
    con.until(0, Duration::from_secs(120), READY_MARKER);
    let live = virt_ok(root, &["blkdeviotune", "tq3", "vda"]);
    assert_eq!(tune(&live, "total_bytes_sec"), "67108864", "{live}");
    assert_eq!(tune(&live, "total_iops_sec"), "5000", "{live}");
    // QEMU's default group is the device's own (never empty once throttled).
    assert_ne!(tune(&live, "group_name"), "", "{live}");

    fails_with(
        root,
        &[
            "blkdeviotune",
            "tq3",
            "vda",
            "--total-bytes-sec",
            "1M",
            "--write-bytes-sec",
            "1M",
        ],
        "total and read/write of bytes_sec cannot be set at the same time",
    );
    fails_with(
        root,
        &["blkdeviotune", "tq3", "vda", "--total-bytes-sec-max", "1M"],
        "value 'total_bytes_sec_max' cannot be smaller than 'total_bytes_sec'",
    );
    fails_with(
        root,
        &["blkdeviotune", "tq3", "vdz"],
        "disk 'vdz' not found in domain",
    );
    // Writes limited to 1 MiB/s: the guest's 4 MiB take seconds. Setting one of the
    // bytes_sec limits resets the other two (total), the iops ones are kept until reset.
    virt_ok(
        root,
        &["blkdeviotune", "tq3", "vda", "--write-bytes-sec", "1M"],
    );
    let live = virt_ok(root, &["blkdeviotune", "tq3", "vda"]);
    assert_eq!(tune(&live, "total_iops_sec"), "5000", "{live}");
    virt_ok(
        root,
        &["blkdeviotune", "tq3", "vda", "--total-iops-sec", "0"],
    );
    let live = virt_ok(root, &["blkdeviotune", "tq3", "vda", "--live"]);
    assert_eq!(tune(&live, "write_bytes_sec"), "1048576", "{live}");
    assert_eq!(tune(&live, "total_bytes_sec"), "0", "{live}");
    let xml = virt_ok(root, &["dumpxml", "tq3"]);
    assert!(
        xml.contains("<write_bytes_sec>1048576</write_bytes_sec>"),
        "{xml}"
    );
    let config = virt_ok(root, &["blkdeviotune", "tq3", "vda", "--config"]);
    assert_eq!(tune(&config, "total_bytes_sec"), "67108864", "{config}");
    let t0 = Instant::now();
    con.run(
        "dd if=/dev/zero of=/dev/vda bs=64k count=64 oflag=direct 2>/dev/null",
        1,
        Duration::from_secs(120),
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "4 MiB at 1 MiB/s took {took:?}"
    );
    // Unthrottled again: all zero removes the throttle.
    virt_ok(
        root,
        &["blkdeviotune", "tq3", "vda", "--write-bytes-sec", "0"],
    );
    let live = virt_ok(root, &["blkdeviotune", "tq3", "vda"]);
    assert_eq!(tune(&live, "write_bytes_sec"), "0", "{live}");

    // domblkthreshold: the guest writes past 8 MiB, the event names the disk.
    fails_with(
        root,
        &["domblkthreshold", "tq3", "vdz", "1M"],
        "failed to find disk 'vdz'",
    );
    let events = Command::new(virt_tests::workspace_bin("virt"))
        .args(["-c", "qemu:///system", "event", "--domain", "tq3"])
        .args(["--event", "block-threshold", "--loop", "--timeout", "60"])
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .stdout(Stdio::piped())
        .spawn()
        .expect("virt event");
    std::thread::sleep(Duration::from_millis(1500));
    virt_ok(root, &["domblkthreshold", "tq3", "vda", "8M"]);
    con.run(
        "dd if=/dev/zero of=/dev/vda bs=1M count=12 oflag=direct 2>/dev/null",
        2,
        Duration::from_secs(120),
    );
    // Ends the watcher early (it would run until its timeout): the events came already.
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-INT", &events.id().to_string()])
        .status();
    let out = events.wait_with_output().expect("virt event output");
    let text = String::from_utf8_lossy(&out.stdout);
    let head = "event 'block-threshold' for domain 'tq3': dev: vda(";
    assert!(
        text.contains(&format!("{head}{}) 8388608 ", disk.display())),
        "{text}"
    );
    assert!(
        text.contains("event 'block-threshold' for domain 'tq3': dev: vda["),
        "{text}"
    );

    // set-lifecycle-action: --config only in the persistent definition.
    virt_ok(
        root,
        &[
            "set-lifecycle-action",
            "tq3",
            "poweroff",
            "restart",
            "--config",
        ],
    );
    let inactive = virt_ok(root, &["dumpxml", "tq3", "--inactive"]);
    assert!(
        inactive.contains("<on_poweroff>restart</on_poweroff>"),
        "{inactive}"
    );
    let xml = virt_ok(root, &["dumpxml", "tq3"]);
    assert!(xml.contains("<on_poweroff>destroy</on_poweroff>"), "{xml}");
    fails_with(
        root,
        &[
            "set-lifecycle-action",
            "tq3",
            "poweroff",
            "coredump-destroy",
        ],
        "Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action",
    );
    // Live: a reboot becomes a power-off.
    virt_ok(root, &["set-lifecycle-action", "tq3", "reboot", "destroy"]);
    let xml = virt_ok(root, &["dumpxml", "tq3"]);
    assert!(xml.contains("<on_reboot>destroy</on_reboot>"), "{xml}");
    con.type_line("reboot -f");
    wait_domstate(root, "tq3", "shut off", Duration::from_secs(60));
    let inactive = virt_ok(root, &["dumpxml", "tq3", "--inactive"]);
    assert!(
        inactive.contains("<on_reboot>restart</on_reboot>"),
        "the persistent reboot action stays: {inactive}"
    );
}
