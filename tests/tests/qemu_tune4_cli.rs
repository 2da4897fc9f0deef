//! virtqemud behind `numatune` (issue 15), through the CLI (`virt -c qemu:///system`,
//! virtqemud under a temporary root) with a real TCG guest:
//!
//! - `<numatune><memory mode nodeset>` is accepted at define; `--config` edits the
//!   persistent definition only, without looking at the host's nodes (as libvirt);
//! - at start a nodeset naming a node the host lacks is refused ("NUMA node N is
//!   unavailable"); strict, preferred and interleave bind guest RAM on QEMU's `pc.ram`
//!   backend (`host-nodes`, `policy`, read from QEMU's command line), restrictive does not;
//!   strict and restrictive set the `cpuset.mems` of QEMU's cpuset cgroup;
//! - live: the nodeset changes through the cgroup for strict/restrictive guests and shows in
//!   the live XML; libvirt's refusals (a mode change, a node the host lacks, a nodeset change
//!   of a preferred guest, `--live` on a shut-off guest).
//!
//! The host of these tests has NUMA node 0 only, so node 1 stands for "a node the host lacks"
//! (the test checks that first) and the only valid nodeset is `0`.

use std::path::Path;

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE};
use virt_tests::qemu::{virt, virt_ok, QemuGuard};

fn guest_xml(name: &str, mode: &str, nodeset: &str) -> String {
    let image = test_guest().expect("test guest");
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <numatune><memory mode='{mode}' nodeset='{nodeset}'/></numatune>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial></devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
    )
}

/// The value of `name` in `numatune` output (`name : value`).
fn field(out: &str, name: &str) -> String {
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

/// QEMU's `pc.ram` backend argument.
fn ram_backend(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    String::from_utf8_lossy(&cmdline)
        .split('\0')
        .find(|a| a.contains(r#""id":"pc.ram""#))
        .expect("a pc.ram backend")
        .to_string()
}

/// The cpuset cgroup directory QEMU runs in.
fn cpuset_group(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .expect("cgroup")
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            ctrl.split(',')
                .any(|c| c == "cpuset")
                .then(|| format!("/sys/fs/cgroup/cpuset{path}"))
        })
        .expect("QEMU in a cpuset group")
}

fn start(root: &Path, guard: &mut QemuGuard, name: &str) -> i32 {
    virt_ok(root, &["start", name]);
    guard.pids = guard.pids_in_status();
    *guard.pids.first().expect("qemu pid")
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn numatune_of_a_real_guest() {
    assert!(
        Path::new("/sys/devices/system/node/node0").is_dir()
            && !Path::new("/sys/devices/system/node/node1").exists(),
        "the test expects a host with NUMA node 0 only"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let file = root.join("tn.xml");
    std::fs::write(&file, guest_xml("tn", "strict", "0")).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);

    // Shut off: the persistent <numatune>.
    let off = virt_ok(root, &["numatune", "tn"]);
    assert_eq!(field(&off, "numa_mode"), "strict", "{off}");
    assert_eq!(field(&off, "numa_nodeset"), "0", "{off}");
    fails_with(
        root,
        &["numatune", "tn", "--nodeset", "0", "--live"],
        "domain is not running",
    );
    // --config does not look at the host: node 1 is stored, and refused at start.
    virt_ok(
        root,
        &["numatune", "tn", "--mode", "interleave", "--nodeset", "0-1", "--config"],
    );
    let inactive = virt_ok(root, &["dumpxml", "tn", "--inactive"]);
    assert!(
        inactive.contains("<memory mode='interleave' nodeset='0-1'/>"),
        "{inactive}"
    );
    fails_with(
        root,
        &["start", "tn"],
        "unsupported configuration: NUMA node 1 is unavailable",
    );
    assert_eq!(virt_ok(root, &["domstate", "tn"]).trim(), "shut off");

    // interleave: guest RAM interleaved over the nodeset by QEMU's backend.
    virt_ok(root, &["numatune", "tn", "--nodeset", "0", "--config"]);
    let pid = start(root, &mut guard, "tn");
    let ram = ram_backend(pid);
    assert!(
        ram.contains(r#""host-nodes":[0],"policy":"interleave""#),
        "{ram}"
    );
    // Only strict and restrictive nodesets change live.
    fails_with(
        root,
        &["numatune", "tn", "--nodeset", "0", "--live"],
        "change of nodeset for running domain requires strict or restrictive numa mode",
    );
    virt_ok(root, &["destroy", "tn"]);

    // strict: bound on the backend and in the cpuset group.
    virt_ok(root, &["numatune", "tn", "--mode", "strict", "--config"]);
    let pid = start(root, &mut guard, "tn");
    let ram = ram_backend(pid);
    assert!(ram.contains(r#""host-nodes":[0],"policy":"bind""#), "{ram}");
    let group = cpuset_group(pid);
    assert!(group.contains("machine"), "{group}");
    let mems = std::fs::read_to_string(format!("{group}/cpuset.mems")).expect("mems");
    assert_eq!(mems.trim(), "0");
    virt_ok(root, &["destroy", "tn"]);

    // restrictive: the cgroup only; live changes of the nodeset.
    virt_ok(root, &["numatune", "tn", "--mode", "restrictive", "--config"]);
    let pid = start(root, &mut guard, "tn");
    let ram = ram_backend(pid);
    assert!(!ram.contains("host-nodes"), "{ram}");
    let group = cpuset_group(pid);
    let mems = std::fs::read_to_string(format!("{group}/cpuset.mems")).expect("mems");
    assert_eq!(mems.trim(), "0");
    let live = virt_ok(root, &["numatune", "tn"]);
    assert_eq!(field(&live, "numa_mode"), "restrictive", "{live}");
    fails_with(
        root,
        &["numatune", "tn", "--mode", "strict", "--live"],
        "can't change numatune mode for running domain",
    );
    fails_with(
        root,
        &["numatune", "tn", "--nodeset", "1", "--live"],
        "unsupported configuration: NUMA node 1 is unavailable",
    );
    fails_with(
        root,
        &["numatune", "tn", "--nodeset", "^0", "--live"],
        "Invalid nodeset of 'numatune': ^0",
    );
    fails_with(
        root,
        &["numatune", "tn", "--mode", "9", "--live"],
        "unsupported numatune mode: '9'",
    );
    // The same mode and a valid nodeset: written to cpuset.mems, shown live.
    virt_ok(
        root,
        &["numatune", "tn", "--mode", "restrictive", "--nodeset", "0", "--live"],
    );
    let mems = std::fs::read_to_string(format!("{group}/cpuset.mems")).expect("mems");
    assert_eq!(mems.trim(), "0");
    let xml = virt_ok(root, &["dumpxml", "tn"]);
    assert!(
        xml.contains("<memory mode='restrictive' nodeset='0'/>"),
        "{xml}"
    );
    // A config change of a running guest leaves the live definition alone.
    virt_ok(
        root,
        &["numatune", "tn", "--mode", "preferred", "--config"],
    );
    let live = virt_ok(root, &["numatune", "tn", "--live"]);
    assert_eq!(field(&live, "numa_mode"), "restrictive", "{live}");
    let config = virt_ok(root, &["numatune", "tn", "--config"]);
    assert_eq!(field(&config, "numa_mode"), "preferred", "{config}");
    virt_ok(root, &["destroy", "tn"]);

    // preferred at the next start.
    let pid = start(root, &mut guard, "tn");
    let ram = ram_backend(pid);
    assert!(
        ram.contains(r#""host-nodes":[0],"policy":"preferred""#),
        "{ram}"
    );
    virt_ok(root, &["destroy", "tn"]);
    virt_ok(root, &["undefine", "tn"]);
}
