//! Jobs, core dumps and guest power management of a real TCG guest through the CLI (`virt -c
//! qemu:///system`, virtqemud under a temporary root). One guest `jobg` (the agent image of
//! tests/src/guest.rs, `<pm>` with suspend-to-mem enabled):
//!
//! - `domjobinfo` with no job says "None"; `domjobabort` then says no job is active;
//! - `dump --memory-only` gives an ELF core (ET_CORE, a PT_NOTE and a PT_LOAD segment),
//!   the guest is paused meanwhile and runs again after ("running (unpaused)");
//!   `domjobinfo --completed` reports the finished dump (Completed, Dump, memory figures),
//!   `--keep-completed` keeps it and a plain `--completed` read clears it;
//! - `--format kdump-zlib` gives makedumpfile's flattened file with the kdump header; `--format` without
//!   `--memory-only` is refused as virsh refuses it;
//! - `dompmsuspend mem` suspends the guest to RAM through its agent (`domstate`
//!   "pmsuspended"), `dompmwakeup` wakes it ("running (event wakeup)") and its console answers;
//!   `dompmwakeup` of a running guest is refused;
//! - `domjobabort` of a running save (the guest's RAM filled with random data first):
//!   the save fails as "canceled by client", its file is gone, the guest runs on
//!   ("running (save canceled)") and `domjobinfo --completed` says Cancelled;
//! - an internal snapshot (`snapshot-create-as`) is seen by domjobinfo while it runs
//!   (Unbounded, operation Snapshot) and refuses an abort;
//! - `dump --live` leaves the guest running; `dump --reset` reboots it (its ready marker
//!   again on the console);
//! - `save --verbose` prints virsh's final progress line; `domjobinfo --completed` after it
//!   says Completed / Save with the memory figures of the migration stream;
//! - after `restore`, `dump --crash` leaves the guest "shut off (crashed)" and the file is the
//!   migration stream (QEMU's "QEVM" magic).

use std::path::Path;
use std::time::{Duration, Instant};

use virt_client::Connection;
use virt_core::types::{DomainLookup, TypedParam, TypedValue};

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest_with_agent, GuestImage, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, wait_domstate, wait_for_agent, QemuGuard};

fn guest_xml(image: &GuestImage, disk: &Path) -> String {
    format!(
        "<domain type='qemu'><name>jobg</name>\
         <uuid>7e570000-0000-4000-8000-00000000cc01</uuid>\
         <memory unit='MiB'>160</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <pm><suspend-to-mem enabled='yes'/><suspend-to-disk enabled='no'/></pm>\
         <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\
         </devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
        disk.display()
    )
}

/// A line of `text` starting with `label`, its value trimmed.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        .trim()
}

/// Checks an ELF64 core: magic, ET_CORE, and program headers with a PT_NOTE and a PT_LOAD.
fn check_elf_core(path: &Path) {
    let data = std::fs::read(path).expect("read the dump");
    assert!(data.len() > 64, "dump too short: {}", data.len());
    assert_eq!(&data[..4], b"\x7fELF", "ELF magic");
    assert_eq!(data[4], 2, "ELFCLASS64");
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().expect("8 bytes"));
    assert_eq!(u16_at(16), 4, "e_type ET_CORE");
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    let types: Vec<u32> = (0..phnum as usize)
        .map(|i| {
            let o = phoff + i * phentsize;
            u32::from_le_bytes(data[o..o + 4].try_into().expect("4 bytes"))
        })
        .collect();
    assert!(types.contains(&4), "a PT_NOTE segment: {types:?}");
    assert!(types.contains(&1), "a PT_LOAD segment: {types:?}");
    // The guest's 160 MiB of RAM are in the PT_LOAD segments.
    assert!(data.len() > 150 << 20, "dump size {}", data.len());
}

/// The console of running `jobg`, with a shell answering `tag`.
fn console_answers(root: &Path, tag: &str) {
    let mut con = Console::open(&pty_of(root, "jobg"));
    let at = con.type_line(&format!("echo {tag}\"\"-OK"));
    con.until(at, Duration::from_secs(60), &format!("{tag}-OK"));
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn dumps_jobs_and_power_management_of_a_real_guest() {
    let image = test_guest_with_agent().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let file = root.join("jobg.xml");
    let disk = root.join("jobg.qcow2");
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("64M")
        .status()
        .expect("qemu-img");
    assert!(st.success());
    std::fs::write(&file, guest_xml(&image, &disk)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    virt_ok(root, &["start", "jobg"]);
    let mut con = Console::open(&pty_of(root, "jobg"));
    con.until(0, Duration::from_secs(180), READY_MARKER);
    drop(con);
    wait_for_agent(root, "jobg");

    // No job: None, and nothing to abort.
    assert_eq!(
        virt_ok(root, &["domjobinfo", "jobg"]),
        "Job type:         None        \n\n"
    );
    let (ok, _, err) = virt(root, &["domjobabort", "jobg"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: no job is active on the domain\n"
    );

    // A memory-only ELF dump; the guest runs again afterwards.
    let elf = root.join("jobg.elf");
    let elf_s = elf.display().to_string();
    let out = virt_ok(root, &["dump", "jobg", &elf_s, "--memory-only"]);
    assert_eq!(out, format!("\nDomain 'jobg' dumped to {elf_s}\n\n"));
    check_elf_core(&elf);
    assert_eq!(
        virt_ok(root, &["domstate", "jobg", "--reason"]),
        "running (unpaused)\n\n"
    );
    let done = virt_ok(
        root,
        &["domjobinfo", "jobg", "--completed", "--keep-completed"],
    );
    assert_eq!(field(&done, "Job type:"), "Completed");
    assert_eq!(field(&done, "Operation:"), "Dump");
    assert!(field(&done, "Time elapsed:").ends_with("ms"), "{done}");
    assert_eq!(field(&done, "Memory remaining:"), "0.000 B", "{done}");
    assert!(field(&done, "Memory total:").ends_with("MiB"), "{done}");
    // Kept once, then read and cleared.
    assert_eq!(virt_ok(root, &["domjobinfo", "jobg", "--completed"]), done);
    assert_eq!(
        virt_ok(root, &["domjobinfo", "jobg", "--completed"]),
        "Job type:         None        \n\n"
    );
    let raw = virt_ok(root, &["domjobinfo", "jobg", "--rawstats"]);
    assert_eq!(raw, "Job type: 0\n\n\n");

    // kdump-zlib: the kdump signature heads the file.
    let kd = root.join("jobg.kdump");
    let kd_s = kd.display().to_string();
    virt_ok(
        root,
        &[
            "dump",
            "jobg",
            &kd_s,
            "--memory-only",
            "--format",
            "kdump-zlib",
        ],
    );
    // QEMU 7.2 writes makedumpfile's flattened format: a 4096-byte header signed
    // "makedumpfile", then (offset, size, data) records, the first the kdump header at 0.
    let head = std::fs::read(&kd).expect("kdump file");
    assert_eq!(&head[..12], b"makedumpfile", "flattened format signature");
    assert_eq!(
        &head[4096..4104],
        &0u64.to_be_bytes(),
        "first record at offset 0"
    );
    assert_eq!(&head[4112..4120], b"KDUMP   ", "kdump signature");
    let (ok, _, err) = virt(root, &["dump", "jobg", &kd_s, "--format", "kdump-zlib"]);
    assert!(!ok);
    assert_eq!(err, "error: --format only works with --memory-only\n");

    // S3 through the agent, and back.
    let (ok, _, err) = virt(root, &["dompmwakeup", "jobg"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Domain 'jobg' could not be woken up\nerror: Requested operation is not valid: \
         Unable to wake up domain which is not in PMSuspended state\n"
    );
    let (ok, _, err) = virt(root, &["dompmsuspend", "jobg", "disk"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Domain 'jobg' could not be suspended\nerror: Operation not supported: \
         S4 state is disabled for this domain\n"
    );
    let out = virt_ok(root, &["dompmsuspend", "jobg", "mem"]);
    assert_eq!(out, "Domain 'jobg' successfully suspended\n\n");
    assert_eq!(
        wait_domstate(
            root,
            "jobg",
            "pmsuspended (unknown)",
            Duration::from_secs(30)
        ),
        "pmsuspended (unknown)"
    );
    let out = virt_ok(root, &["dompmwakeup", "jobg"]);
    assert_eq!(out, "Domain 'jobg' successfully woken up\n\n");
    assert_eq!(
        wait_domstate(
            root,
            "jobg",
            "running (event wakeup)",
            Duration::from_secs(30)
        ),
        "running (event wakeup)"
    );
    console_answers(root, "WOKEN");
    wait_for_agent(root, "jobg");

    // domjobabort of a running save: 64 MiB of random data in the guest's RAM make the
    // stream long enough to catch it running (through the API, polled without a process
    // start in between); the save fails as canceled by the client and the guest runs on.
    // Should the save still win the race, the guest is restored and it is tried again.
    Console::open(&pty_of(root, "jobg")).run(
        "dd if=/dev/urandom of=/fill bs=1M count=64 2>/dev/null",
        1,
        Duration::from_secs(120),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sock = root.join("run/virt/virtqemud-sock");
    let conn = rt
        .block_on(Connection::open(
            Some(&format!("qemu+unix:///system?socket={}", sock.display())),
            false,
        ))
        .expect("connect");
    let lookup = DomainLookup::Name("jobg".into());
    let aborted_img = root.join("jobg.aborted");
    let aborted_s = aborted_img.display().to_string();
    let mut caught = false;
    for _attempt in 0..3 {
        let (r, img) = (root.to_path_buf(), aborted_s.clone());
        let saver = std::thread::spawn(move || virt(&r, &["save", "jobg", &img]));
        let end = Instant::now() + Duration::from_secs(60);
        while !saver.is_finished() && Instant::now() < end {
            // Abort well before the end of the stream (a cancel racing the last pages
            // loses, in QEMU as under libvirt).
            let far = |ps: &[TypedParam]| {
                ps.iter().any(|p| {
                    p.field == "memory_remaining"
                        && matches!(p.value, TypedValue::ULLong(v) if v > 32 << 20)
                })
            };
            if let Ok((2, ps)) = rt.block_on(conn.job_stats(&lookup, 0)) {
                if !far(&ps) {
                    continue;
                }
                rt.block_on(conn.abort_job(&lookup, 0)).expect("abort");
                caught = true;
                break;
            }
        }
        let (ok, _, err) = saver.join().expect("save thread");
        if caught {
            assert!(!ok, "the aborted save succeeded");
            assert_eq!(
                err,
                format!(
                    "error: Failed to save domain 'jobg' to {aborted_s}
error: operation \
                     aborted: domain save job: canceled by client
"
                )
            );
            break;
        }
        assert!(ok, "{err}");
        virt_ok(root, &["restore", &aborted_s]);
    }
    assert!(caught, "the save never ran long enough to be aborted");
    assert!(!aborted_img.exists(), "the aborted image is removed");
    assert_eq!(
        wait_domstate(
            root,
            "jobg",
            "running (save canceled)",
            Duration::from_secs(10)
        ),
        "running (save canceled)"
    );
    assert_eq!(
        virt_ok(
            root,
            &["domjobinfo", "jobg", "--completed", "--keep-completed"]
        ),
        "Job type:         Cancelled   \n\n"
    );
    let any = virt_ok(root, &["domjobinfo", "jobg", "--completed", "--anystats"]);
    assert_eq!(field(&any, "Operation:"), "Save", "{any}");
    console_answers(root, "ABORTED");

    // An internal snapshot runs as a job: domjobinfo sees it (Unbounded, Snapshot) while it
    // runs; it cannot be aborted midway.
    let (r, mut seen) = (root.to_path_buf(), 0u32);
    let snapper = std::thread::spawn(move || virt(&r, &["snapshot-create-as", "jobg", "s1"]));
    let mut refused = String::new();
    while !snapper.is_finished() {
        if let Ok((2, ps)) = rt.block_on(conn.job_stats(&lookup, 0)) {
            let op = ps
                .iter()
                .find(|p| p.field == "operation")
                .map(|p| p.value.clone());
            if op == Some(TypedValue::Int(6)) {
                seen += 1;
                if refused.is_empty() {
                    refused = rt
                        .block_on(conn.abort_job(&lookup, 0))
                        .expect_err("a snapshot job is not aborted")
                        .to_string();
                }
            }
        }
    }
    let (ok, out, err) = snapper.join().expect("snapshot thread");
    assert!(ok, "{err}");
    assert_eq!(out, "Domain snapshot s1 created\n");
    assert!(seen > 0, "the snapshot job was never seen");
    assert_eq!(
        refused,
        "Requested operation is not valid: cannot abort a snapshot job"
    );

    // --live: the guest is not paused by the driver and runs after; --reset: the guest
    // boots again (its ready marker on the console) once the dump is written.
    let live = root.join("jobg.live");
    let live_s = live.display().to_string();
    virt_ok(root, &["dump", "jobg", &live_s, "--memory-only", "--live"]);
    check_elf_core(&live);
    assert!(
        virt_ok(root, &["domstate", "jobg"]).starts_with("running"),
        "running after a live dump"
    );
    let mut con = Console::open(&pty_of(root, "jobg"));
    let at = con.type_line("echo BEFORE\"\"-RESET");
    con.until(at, Duration::from_secs(60), "BEFORE-RESET");
    let at = con.type_line("");
    virt_ok(root, &["dump", "jobg", &live_s, "--memory-only", "--reset"]);
    con.until(at, Duration::from_secs(180), READY_MARKER);
    drop(con);
    wait_for_agent(root, "jobg");

    // save --verbose: virsh's final progress line; the completed job is the save.
    let img = root.join("jobg.save");
    let img_s = img.display().to_string();
    let (ok, _, stderr) = virt(root, &["save", "jobg", &img_s, "--verbose"]);
    assert!(ok, "{stderr}");
    assert!(stderr.ends_with("\rSave: [100 %]"), "{stderr:?}");
    let done = virt_ok(root, &["domjobinfo", "jobg", "--completed"]);
    assert_eq!(field(&done, "Job type:"), "Completed");
    assert_eq!(field(&done, "Operation:"), "Save");
    assert_eq!(field(&done, "Data remaining:"), "0.000 B", "{done}");
    assert!(field(&done, "Memory processed:").ends_with("MiB"), "{done}");
    assert!(field(&done, "Page size:").starts_with("4096"), "{done}");
    // Not running: only --completed answers.
    let (ok, _, err) = virt(root, &["domjobinfo", "jobg"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: domain is not running\n"
    );

    // dump --crash after a restore: the migration stream, and the guest shut off (crashed).
    virt_ok(root, &["restore", &img_s]);
    let core = root.join("jobg.core");
    let core_s = core.display().to_string();
    let out = virt_ok(root, &["dump", "jobg", &core_s, "--crash"]);
    assert_eq!(out, format!("\nDomain 'jobg' dumped to {core_s}\n\n"));
    assert_eq!(
        virt_ok(root, &["domstate", "jobg", "--reason"]),
        "shut off (crashed)\n\n"
    );
    let head = std::fs::read(&core).expect("core file");
    assert_eq!(&head[..4], b"QEVM", "QEMU migration stream magic");
    assert!(head.len() > 1 << 20, "core size {}", head.len());
}
