//! vCPU and emulator pinning and CPU statistics of a real guest (issue 15, group "tune"):
//! `virtqemud` and `virt-proxy` under a temporary root, a two-vCPU TCG guest (the cached test
//! kernel + busybox initramfs), `virt vcpuinfo / vcpupin / emulatorpin / cpu-stats` against
//! it, each checked against what the kernel says of QEMU's threads (`/proc/PID/task/TID`):
//! their affinity after a pin, their CPU time growing. QEMU is killed at the end, pass or
//! fail.

use std::path::Path;
use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE};
use virt_tests::qemu::{virt, virt_ok, QemuGuard};
use virt_tests::DaemonUnderTest;

fn guest_xml(kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'><name>tune1</name>\
         <uuid>7e570000-0000-4000-8000-0000000000f1</uuid>\
         <memory unit='MiB'>128</memory><vcpu>2</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console></devices></domain>",
        kernel.display(),
        initrd.display()
    )
}

/// The `cpu_time` seconds `cpu-stats --total` prints.
fn total_cpu_time(out: &str) -> f64 {
    out.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("cpu_time")?
                .trim()
                .strip_suffix("seconds")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no cpu_time in {out}"))
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn vcpu_and_emulator_pinning_and_cpu_stats_of_a_real_guest() {
    let image = test_guest().expect("test guest");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let file = root.join("tune1.xml");
    std::fs::write(&file, guest_xml(&image.kernel, &image.initrd)).expect("xml");
    virt_ok(&root, &["define", &file.display().to_string()]);

    // Shut off: vcpuinfo falls back to the persistent pinning, as virsh does.
    let off = virt_ok(&root, &["vcpuinfo", "tune1"]);
    assert!(off.contains("State:          N/A"), "{off}");

    virt_ok(&root, &["start", "tune1"]);
    guard.pids = guard.pids_in_status();
    let pid = *guard.pids.first().expect("qemu pid");
    let host = virt_tests::qemu::host_cpus();
    let last = *host.last().expect("a cpu");
    let all: String = "y".repeat(host.len());

    let v0 = virt_tests::qemu::thread_named(pid, "CPU 0/TCG").expect("vCPU 0 thread");
    let v1 = virt_tests::qemu::thread_named(pid, "CPU 1/TCG").expect("vCPU 1 thread");

    // vcpuinfo: both vCPUs, running, on every host CPU, with a CPU time once they ran.
    std::thread::sleep(Duration::from_millis(500));
    let info = virt_ok(&root, &["vcpuinfo", "tune1"]);
    assert!(info.contains("VCPU:           0\n"), "{info}");
    assert!(info.contains("VCPU:           1\n"), "{info}");
    assert_eq!(info.matches("State:          running").count(), 2, "{info}");
    assert_eq!(
        info.matches(&format!("CPU Affinity:   {all}\n")).count(),
        2,
        "{info}"
    );
    assert!(info.contains("CPU time:"), "{info}");

    // vcpupin: the kernel's affinity of the vCPU thread follows; the other one stays.
    let target = last.to_string();
    virt_ok(&root, &["vcpupin", "tune1", "1", &target]);
    assert_eq!(virt_tests::qemu::thread_cpus_allowed(pid, v1), target);
    assert_ne!(
        virt_tests::qemu::thread_cpus_allowed(pid, v0),
        target,
        "vCPU 0 untouched"
    );
    let pins = virt_ok(&root, &["vcpupin", "tune1"]);
    assert!(pins.contains(&format!(" 1      {target}\n")), "{pins}");
    let pretty = virt_ok(&root, &["vcpuinfo", "tune1", "--pretty"]);
    assert!(
        pretty.contains(&format!("CPU Affinity:   {target} (out of {})", host.len())),
        "{pretty}"
    );
    let (ok, _, err) = virt(&root, &["vcpupin", "tune1", "7", "0"]);
    assert!(!ok);
    assert!(err.contains("vcpu 7 is out of range"), "{err}");

    // A persistent pin lands in the inactive XML, not on the running thread.
    virt_ok(&root, &["vcpupin", "tune1", "0", &target, "--config"]);
    let inactive = virt_ok(&root, &["dumpxml", "tune1", "--inactive"]);
    assert!(
        inactive.contains(&format!("<vcpupin vcpu='0' cpuset='{target}'/>")),
        "{inactive}"
    );
    assert_ne!(virt_tests::qemu::thread_cpus_allowed(pid, v0), target);

    // emulatorpin: QEMU's main thread (an emulator thread) follows; vCPU 0 does not.
    virt_ok(&root, &["emulatorpin", "tune1", &target]);
    assert_eq!(virt_tests::qemu::thread_cpus_allowed(pid, pid), target);
    assert_ne!(virt_tests::qemu::thread_cpus_allowed(pid, v0), target);
    let em = virt_ok(&root, &["emulatorpin", "tune1"]);
    assert!(em.contains(&format!("       *: {target}\n")), "{em}");

    // cpu-stats --total: QEMU's CPU time, growing while the guest runs.
    let t1 = total_cpu_time(&virt_ok(&root, &["cpu-stats", "tune1", "--total"]));
    std::thread::sleep(Duration::from_millis(1500));
    let t2 = total_cpu_time(&virt_ok(&root, &["cpu-stats", "tune1", "--total"]));
    assert!(t1 > 0.0 && t2 > t1, "cpu_time grows: {t1} -> {t2}");

    virt_ok(&root, &["destroy", "tune1"]);
    let (ok, _, err) = virt(&root, &["cpu-stats", "tune1", "--total"]);
    assert!(!ok);
    assert!(err.contains("domain is not running"), "{err}");
}
