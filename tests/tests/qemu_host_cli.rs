//! The Host and Hypervisor group against a real virtqemud (`virt -c qemu:///system` through
//! virt-proxy under a temporary root): `nodecpumap`, `nodecpustats`, `freecell`,
//! `nodememstats` and `sysinfo`
//! answer this host's facts, read independently here from /proc and /sys, and refuse what
//! libvirt refuses. No guest is needed.

use std::path::Path;

use virt_tests::backend::ProcessDaemon;
use virt_tests::qemu::{virt, virt_ok};
use virt_tests::DaemonUnderTest;

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The members of a kernel list (`0-3,5`).
fn list(t: &str) -> Vec<usize> {
    t.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .flat_map(|p| match p.split_once('-') {
            Some((a, b)) => (a.parse().expect("test step")..=b.parse().expect("test step"))
                .collect::<Vec<usize>>(),
            None => vec![p.parse().expect("test step")],
        })
        .collect()
}

/// (user+nice, system+irq+softirq, idle, iowait) ticks of a /proc/stat line.
fn ticks(header: &str) -> [u64; 4] {
    let stat = read("/proc/stat");
    let line = stat
        .lines()
        .find(|l| l.starts_with(header))
        .expect("cpu line");
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().expect("test step"))
        .collect();
    [v[0] + v[1], v[2] + v[5] + v[6], v[3], v[4]]
}

/// The four counters `nodecpustats` prints, in nanoseconds, in (user, system, idle, iowait).
fn printed(out: &str) -> [u64; 4] {
    let mut r = [0; 4];
    for (i, label) in ["user:", "system:", "idle:", "iowait:"].iter().enumerate() {
        let line = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {out}"));
        assert_eq!(line.len(), 36, "virsh's %-15s %20llu layout: {line:?}");
        r[i] = line[15..].trim().parse().expect("test step");
    }
    r
}

fn check_cpu_stats(root: &Path, args: &[&str], header: &str) {
    let tick_ns = 1_000_000_000 / 100; // USER_HZ is 100 on Linux
    let before = ticks(header);
    let out = virt_ok(root, args);
    let after = ticks(header);
    let got = printed(&out);
    for i in 0..4 {
        assert!(
            before[i] * tick_ns <= got[i] && got[i] <= after[i] * tick_ns,
            "{args:?} field {i}: {} not within [{}, {}]\n{out}",
            got[i],
            before[i] * tick_ns,
            after[i] * tick_ns
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "runs virtqemud; run with --features qemu-tests"
)]
fn host_commands_answer_this_hosts_facts() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let _daemon = ProcessDaemon::start("virtqemud", &root);

    // nodecpumap: the kernel's present and online CPUs.
    let present = list(&read("/sys/devices/system/cpu/present"));
    let online = list(&read("/sys/devices/system/cpu/online"));
    let n = present.iter().max().expect("test step") + 1;
    let map: String = (0..n)
        .map(|c| if online.contains(&c) { 'y' } else { '-' })
        .collect();
    assert_eq!(
        virt_ok(&root, &["nodecpumap"]),
        format!(
            "CPUs present:   {n}\nCPUs online:    {}\nCPU map:        {map}\n\n",
            online.len()
        )
    );

    // nodecpustats: /proc/stat's counters, all CPUs and one, between two reads of ours.
    check_cpu_stats(&root, &["nodecpustats"], "cpu ");
    check_cpu_stats(&root, &["nodecpustats", "--cpu", "0"], "cpu0 ");
    let (ok, out, err) = virt(&root, &["nodecpustats", "--cpu", "4096"]);
    assert!(!ok, "{out}");
    assert_eq!(
        err,
        "error: Unable to get node cpu stats\nerror: Invalid cpuNum in virHostCPUGetStatsLinux\n"
    );
    let pct = virt_ok(&root, &["nodecpustats", "--percent"]);
    assert!(pct.starts_with("usage:          "), "{pct}");
    assert!(!pct.contains("nan"), "{pct}");

    // freecell: the nodes' MemFree, per node and in total; a node beyond the last refused.
    let nodes = list(&read("/sys/devices/system/node/online"));
    let last = *nodes.iter().max().expect("test step");
    let node_free = |n: usize| -> u64 {
        let t = read(&format!("/sys/devices/system/node/node{n}/meminfo"));
        let l = t
            .lines()
            .find(|l| l.contains("MemFree:"))
            .expect("test step");
        l.split_whitespace()
            .rev()
            .nth(1)
            .expect("test step")
            .parse()
            .expect("test step")
    };
    let near = |got: u64, want: u64| got.abs_diff(want) <= want / 5 + 65536;
    let total: u64 = nodes.iter().map(|n| node_free(*n)).sum();
    let out = virt_ok(&root, &["freecell"]);
    let got: u64 = out
        .strip_prefix("Total: ")
        .and_then(|r| r.strip_suffix(" KiB\n\n"))
        .unwrap_or_else(|| panic!("{out:?}"))
        .parse()
        .expect("test step");
    assert!(near(got, total), "freecell {got} KiB, MemFree {total} KiB");
    let out = virt_ok(&root, &["freecell", "--cellno", "0"]);
    let got: u64 = out
        .strip_prefix("0: ")
        .and_then(|r| r.strip_suffix(" KiB\n\n"))
        .unwrap_or_else(|| panic!("{out:?}"))
        .parse()
        .expect("test step");
    assert!(near(got, node_free(0)), "cell 0 {got} KiB");
    let beyond = (last + 1).to_string();
    let (ok, _, err) = virt(&root, &["freecell", "--cellno", &beyond]);
    assert!(!ok);
    assert_eq!(
        err,
        format!("error: internal error: start cell {beyond} out of range (0-{last})\n")
    );
    let (ok, _, err) = virt(&root, &["freecell", "--cellno", "-1"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: startCell in virNodeGetCellsFreeMemory must be zero or greater\n"
    );

    // nodememstats: /proc/meminfo's MemTotal (fixed) for the host and node 0's for cell 0.
    let kib = |text: &str, key: &str| -> u64 {
        let l = text
            .lines()
            .find(|l| l.split(':').next().expect("test step").ends_with(key))
            .expect("test step");
        l.split_whitespace()
            .rev()
            .nth(1)
            .expect("test step")
            .parse()
            .expect("test step")
    };
    let out = virt_ok(&root, &["nodememstats"]);
    let total = kib(&read("/proc/meminfo"), "MemTotal");
    assert!(
        out.starts_with(&format!("total   {total:>20} KiB\nfree    ")),
        "{out}"
    );
    assert!(
        out.contains("\nbuffers ") && out.contains("\ncached  "),
        "{out}"
    );
    let out = virt_ok(&root, &["nodememstats", "--cell", "0"]);
    let node0 = kib(&read("/sys/devices/system/node/node0/meminfo"), "MemTotal");
    assert!(
        out.starts_with(&format!("total   {node0:>20} KiB\n")),
        "{out}"
    );
    let (ok, _, err) = virt(&root, &["nodememstats", "--cell", &beyond]);
    assert!(!ok);
    assert_eq!(
        err,
        format!(
            "error: Unable to get number of memory stats\nerror: cellNum in \
             virHostMemGetStats must be less than or equal to {last}\n"
        )
    );

    // sysinfo: the kernel's SMBIOS files when there are any (this machine may have none).
    let (ok, out, err) = virt(&root, &["sysinfo"]);
    if Path::new("/sys/class/dmi/id").is_dir() {
        assert!(ok, "{err}");
        assert!(out.starts_with("<sysinfo type='smbios'>\n"), "{out}");
        let vendor = std::fs::read_to_string("/sys/class/dmi/id/bios_vendor").unwrap_or_default();
        if !vendor.trim().is_empty() {
            assert!(out.contains("<entry name='vendor'>"), "{out}");
        }
    } else {
        assert!(!ok, "{out}");
        assert_eq!(
            err,
            "error: failed to get sysinfo\nerror: internal error: SMBIOS data is not available: \
             /sys/class/dmi/id does not exist\n"
        );
    }

    // Read-only connections may ask all of these.
    let ro = std::process::Command::new(virt_tests::workspace_bin("virt"))
        .args(["-r", "-c", "qemu:///system", "nodecpumap"])
        .env("VIRT_ROOT", &root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("test step");
    assert!(
        ro.status.success(),
        "{}",
        String::from_utf8_lossy(&ro.stderr)
    );
}
