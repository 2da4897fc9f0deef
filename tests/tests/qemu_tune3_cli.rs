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
//!   destroy` makes the guest's reboot a power-off (QMP `set-action`);
//! - `blkiotune`: a `--config` device throttle applied at start and live changes, both seen
//!   in the files of QEMU's blkio cgroup (`/proc/PID/cgroup`), 0 removing a rule; the weight
//!   where the host's schedulers have one, libvirt's refusal where they do not;
//! - `iothreadinfo` / `iothreadadd` / `iothreaddel` / `iothreadpin` / `iothreadset`: the
//!   persistent `<iothreads>` and pins, and live the QEMU threads (`IO iothreadN` in
//!   `/proc/PID/task`): their affinity after a pin, a hot-added one appearing and a removed
//!   one ending, the polling properties read back with `qom-get`; libvirt's refusals (an
//!   IOThread a disk uses, unknown and duplicate ids).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, QemuGuard};

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
    virt_tests::qemu::qcow2(&disk, "64M");
    let file = root.join("tq3.xml");
    std::fs::write(&file, guest_xml("tq3", &disk)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);

    // Shut off: the persistent throttle, and libvirt's refusals.
    let off = virt_ok(root, &["blkdeviotune", "tq3", "vda"]);
    assert_eq!(tune(&off, "total_bytes_sec"), "0", "{off}");
    virt_tests::qemu::fails_with(
        root,
        &["blkdeviotune", "tq3", "vda", "--live"],
        "domain is not running",
    );
    virt_tests::qemu::fails_with(
        root,
        &["blkdeviotune", "tq3", "vdz"],
        "disk 'vdz' was not found in the domain config",
    );
    virt_tests::qemu::fails_with(
        root,
        &["blkdeviotune", "tq3", "vdz", "--total-bytes-sec", "5"],
        "missing persistent configuration for disk 'vdz'",
    );
    virt_tests::qemu::fails_with(
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
    virt_tests::qemu::fails_with(
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

    virt_tests::qemu::fails_with(
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
    virt_tests::qemu::fails_with(
        root,
        &["blkdeviotune", "tq3", "vda", "--total-bytes-sec-max", "1M"],
        "value 'total_bytes_sec_max' cannot be smaller than 'total_bytes_sec'",
    );
    virt_tests::qemu::fails_with(
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
    virt_tests::qemu::fails_with(
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
    virt_tests::qemu::fails_with(
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

/// The `(id, affinity)` rows of `iothreadinfo`.
fn iothread_rows(out: &str) -> Vec<(u32, String)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?.parse().ok()?;
            Some((id, w.next()?.to_string()))
        })
        .collect()
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn iothreads_of_a_real_guest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("tq3io.qcow2");
    virt_tests::qemu::qcow2(&disk, "16M");
    let xml = guest_xml("tq3io", &disk)
        .replace("0000000003f1", "0000000003f2")
        .replace("<vcpu>1</vcpu>", "<vcpu>1</vcpu><iothreads>2</iothreads>")
        .replace("type='qcow2'/>", "type='qcow2' iothread='1'/>");
    let file = root.join("tq3io.xml");
    std::fs::write(&file, xml).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    let host = virt_tests::qemu::host_cpus();
    let last = host.last().expect("a cpu").to_string();

    // Shut off: the persistent IOThreads.
    let ids = |out: &str| {
        iothread_rows(out)
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&virt_ok(root, &["iothreadinfo", "tq3io"])), vec![1, 2]);
    virt_ok(root, &["iothreadadd", "tq3io", "3", "--config"]);
    virt_ok(root, &["iothreadpin", "tq3io", "3", &last, "--config"]);
    let info = virt_ok(root, &["iothreadinfo", "tq3io", "--config"]);
    assert!(iothread_rows(&info).contains(&(3, last.clone())), "{info}");
    let inactive = virt_ok(root, &["dumpxml", "tq3io", "--inactive"]);
    assert!(
        inactive.contains(&format!("<iothreadpin iothread='3' cpuset='{last}'/>")),
        "{inactive}"
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreaddel", "tq3io", "1", "--config"],
        "cannot remove IOThread 1 since it is being used by disk 'vda'",
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreadadd", "tq3io", "2", "--config"],
        "an IOThread is already using iothread_id '2'",
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreadinfo", "tq3io", "--live"],
        "domain is not running",
    );

    // blkiotune --config: a throttle on a host block device, applied at start.
    let host_dev = "/dev/vda";
    let majmin = {
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(host_dev)
            .expect("a host block device")
            .rdev();
        format!(
            "{}:{}",
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev)
        )
    };
    virt_ok(
        root,
        &[
            "blkiotune",
            "tq3io",
            "--device-write-bytes-sec",
            &format!("{host_dev},1048576"),
            "--config",
        ],
    );
    let inactive = virt_ok(root, &["dumpxml", "tq3io", "--inactive"]);
    assert!(
        inactive.contains("<write_bytes_sec>1048576</write_bytes_sec>"),
        "{inactive}"
    );
    virt_tests::qemu::fails_with(
        root,
        &["blkiotune", "tq3io", "--weight", "500", "--live"],
        "domain is not running",
    );

    // Running: QEMU's IOThreads, their threads' affinity.
    virt_ok(root, &["start", "tq3io"]);
    guard.pids = guard.pids_in_status();
    let pid = *guard.pids.first().expect("qemu pid");

    // blkiotune live: the files of QEMU's blkio group.
    let group = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .expect("cgroup")
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            ctrl.split(',')
                .any(|c| c == "blkio")
                .then(|| format!("/sys/fs/cgroup/blkio{path}"))
        })
        .expect("QEMU in a blkio group");
    assert!(group.contains("machine"), "{group}");
    let file = |f: &str| std::fs::read_to_string(format!("{group}/{f}")).unwrap_or_default();
    assert!(
        file("blkio.throttle.write_bps_device").contains(&format!("{majmin} 1048576")),
        "applied at start: {}",
        file("blkio.throttle.write_bps_device")
    );
    virt_ok(
        root,
        &[
            "blkiotune",
            "tq3io",
            "--device-read-iops-sec",
            &format!("{host_dev},500"),
        ],
    );
    assert!(
        file("blkio.throttle.read_iops_device").contains(&format!("{majmin} 500")),
        "{}",
        file("blkio.throttle.read_iops_device")
    );
    let out = virt_ok(root, &["blkiotune", "tq3io"]);
    assert!(
        out.contains(&format!("device_read_iops_sec: {host_dev},500\n")),
        "{out}"
    );
    virt_ok(
        root,
        &[
            "blkiotune",
            "tq3io",
            "--device-read-iops-sec",
            &format!("{host_dev},0"),
        ],
    );
    assert!(
        !file("blkio.throttle.read_iops_device").contains(&majmin),
        "0 removes the rule: {}",
        file("blkio.throttle.read_iops_device")
    );
    let weighted = ["blkio.bfq.weight", "blkio.weight"]
        .iter()
        .any(|f| Path::new(&format!("{group}/{f}")).exists());
    let (ok, _, err) = virt(root, &["blkiotune", "tq3io", "--weight", "500"]);
    if weighted {
        assert!(ok, "{err}");
    } else {
        assert!(
            !ok && err.contains("blkio weight is valid only for bfq or cfq scheduler"),
            "{err}"
        );
    }
    let not_block = root.join("tq3io.xml").display().to_string();
    virt_tests::qemu::fails_with(
        root,
        &[
            "blkiotune",
            "tq3io",
            "--device-read-bytes-sec",
            &format!("{not_block},5"),
        ],
        &format!("path '{not_block}' must be a block device"),
    );
    let io2 = virt_tests::qemu::thread_named(pid, "IO iothread2").expect("IOThread 2");
    let io3 = virt_tests::qemu::thread_named(pid, "IO iothread3")
        .expect("IOThread 3 (added with --config)");
    assert_eq!(
        virt_tests::qemu::thread_cpus_allowed(pid, io3),
        last,
        "the defined pin applied at start"
    );
    let info = virt_ok(root, &["iothreadinfo", "tq3io"]);
    assert_eq!(ids(&info), vec![1, 2, 3], "{info}");

    virt_ok(root, &["iothreadpin", "tq3io", "2", &last]);
    assert_eq!(virt_tests::qemu::thread_cpus_allowed(pid, io2), last);
    let info = virt_ok(root, &["iothreadinfo", "tq3io"]);
    assert!(iothread_rows(&info).contains(&(2, last.clone())), "{info}");
    virt_tests::qemu::fails_with(
        root,
        &["iothreadpin", "tq3io", "7", "0"],
        "iothread 7 not found",
    );

    // Hot-add and hot-remove: the thread comes and goes.
    virt_ok(root, &["iothreadadd", "tq3io", "4"]);
    assert!(
        virt_tests::qemu::thread_named(pid, "IO iothread4").is_some(),
        "IOThread 4 runs"
    );
    assert_eq!(
        ids(&virt_ok(root, &["iothreadinfo", "tq3io"])),
        vec![1, 2, 3, 4]
    );
    let xml = virt_ok(root, &["dumpxml", "tq3io"]);
    assert!(xml.contains("<iothreads>4</iothreads>"), "{xml}");
    virt_ok(root, &["iothreaddel", "tq3io", "4"]);
    wait_until(Duration::from_secs(10), "IOThread 4 to end", || {
        virt_tests::qemu::thread_named(pid, "IO iothread4").is_none()
    });
    assert_eq!(
        ids(&virt_ok(root, &["iothreadinfo", "tq3io"])),
        vec![1, 2, 3]
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreaddel", "tq3io", "1"],
        "cannot remove IOThread 1 since it is being used by disk 'vda'",
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreaddel", "tq3io", "9"],
        "cannot find IOThread '9' in iothreadids list",
    );
    virt_tests::qemu::fails_with(
        root,
        &["iothreadadd", "tq3io", "2"],
        "an IOThread is already using iothread_id '2'",
    );

    // iothreadset: QEMU's object properties change.
    virt_ok(
        root,
        &[
            "iothreadset",
            "tq3io",
            "2",
            "--poll-max-ns",
            "12345",
            "--poll-grow",
            "3",
        ],
    );
    let get = |prop: &str| {
        virt_ok(
            root,
            &[
                "qemu-monitor-command",
                "tq3io",
                "--return-value",
                &format!(
                    r#"{{"execute":"qom-get","arguments":{{"path":"/objects/iothread2","property":"{prop}"}}}}"#
                ),
            ],
        )
        .trim()
        .to_string()
    };
    assert_eq!(get("poll-max-ns"), "12345");
    assert_eq!(get("poll-grow"), "3");
    virt_tests::qemu::fails_with(
        root,
        &["iothreadset", "tq3io", "9", "--poll-max-ns", "1"],
        "cannot find IOThread '9' in iothreadids",
    );
    virt_ok(root, &["destroy", "tq3io"]);
}
