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
//! And `domiftune`, with a guest on a private bridge (no uplink: its traffic never leaves the
//! host): the `<bandwidth>` of the definition is applied with `tc` on the tap at start (an htb
//! class shaping the guest's inbound, an ingress police filter for its outbound), the class
//! counters move when the guest pings the bridge's address, live changes rewrite the rules
//! (a direction given as 0 removes them), `--config` edits only the persistent definition;
//! unknown interfaces and `floor` are refused.
//!
//! And `perf`: `<perf>` events enabled at define are opened on QEMU at start (descriptors
//! the daemon holds: `anon_inode:[perf_event]` in its fd table), live enable/disable opens
//! and closes them, hardware events fail as libvirt's do on a host without a CPU PMU (this
//! VM has none), `--config` edits the persistent definition only.
//!
//! The host of these tests has NUMA node 0 only, so node 1 stands for "a node the host lacks"
//! (the test checks that first) and the only valid nodeset is `0`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::console::Console;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, QemuGuard};

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
    virt_tests::qemu::fails_with(
        root,
        &["numatune", "tn", "--nodeset", "0", "--live"],
        "domain is not running",
    );
    // --config does not look at the host: node 1 is stored, and refused at start.
    virt_ok(
        root,
        &[
            "numatune",
            "tn",
            "--mode",
            "interleave",
            "--nodeset",
            "0-1",
            "--config",
        ],
    );
    let inactive = virt_ok(root, &["dumpxml", "tn", "--inactive"]);
    assert!(
        inactive.contains("<memory mode='interleave' nodeset='0-1'/>"),
        "{inactive}"
    );
    virt_tests::qemu::fails_with(
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
    virt_tests::qemu::fails_with(
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
    virt_ok(
        root,
        &["numatune", "tn", "--mode", "restrictive", "--config"],
    );
    let pid = start(root, &mut guard, "tn");
    let ram = ram_backend(pid);
    assert!(!ram.contains("host-nodes"), "{ram}");
    let group = cpuset_group(pid);
    let mems = std::fs::read_to_string(format!("{group}/cpuset.mems")).expect("mems");
    assert_eq!(mems.trim(), "0");
    let live = virt_ok(root, &["numatune", "tn"]);
    assert_eq!(field(&live, "numa_mode"), "restrictive", "{live}");
    virt_tests::qemu::fails_with(
        root,
        &["numatune", "tn", "--mode", "strict", "--live"],
        "can't change numatune mode for running domain",
    );
    virt_tests::qemu::fails_with(
        root,
        &["numatune", "tn", "--nodeset", "1", "--live"],
        "unsupported configuration: NUMA node 1 is unavailable",
    );
    virt_tests::qemu::fails_with(
        root,
        &["numatune", "tn", "--nodeset", "^0", "--live"],
        "Invalid nodeset of 'numatune': ^0",
    );
    virt_tests::qemu::fails_with(
        root,
        &["numatune", "tn", "--mode", "9", "--live"],
        "unsupported numatune mode: '9'",
    );
    // The same mode and a valid nodeset: written to cpuset.mems, shown live.
    virt_ok(
        root,
        &[
            "numatune",
            "tn",
            "--mode",
            "restrictive",
            "--nodeset",
            "0",
            "--live",
        ],
    );
    let mems = std::fs::read_to_string(format!("{group}/cpuset.mems")).expect("mems");
    assert_eq!(mems.trim(), "0");
    let xml = virt_ok(root, &["dumpxml", "tn"]);
    assert!(
        xml.contains("<memory mode='restrictive' nodeset='0'/>"),
        "{xml}"
    );
    // A config change of a running guest leaves the live definition alone.
    virt_ok(root, &["numatune", "tn", "--mode", "preferred", "--config"]);
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

/// A private bridge with an address on the host, removed on drop.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?}");
}

/// Whether the kernel has what libvirt's rules use: the sfq qdisc, the fw classifier and the
/// police action (this test host's kernel has none of them built in, and no modules).
fn kernel_shapes() -> bool {
    let Ok(out) = Command::new("sh")
        .args(["-c", "zcat /proc/config.gz"])
        .output()
    else {
        return true;
    };
    let config = String::from_utf8_lossy(&out.stdout);
    if config.is_empty() {
        return true;
    }
    [
        "CONFIG_NET_SCH_SFQ",
        "CONFIG_NET_CLS_FW",
        "CONFIG_NET_ACT_POLICE",
    ]
    .iter()
    .all(|k| config.contains(&format!("{k}=y")) || config.contains(&format!("{k}=m")))
}

/// `tc ARGS` output.
fn tc(args: &[&str]) -> String {
    let out = Command::new("tc").args(args).output().expect("tc");
    assert!(out.status.success(), "tc {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The bytes `tc -s class show` counts as sent through class 1:1.
fn class_sent(tap: &str) -> u64 {
    let out = tc(&["-s", "class", "show", "dev", tap]);
    out.split("Sent ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Sent counter in {out}"))
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest and makes a bridge (root); run with --features qemu-tests"
)]
fn domiftune_of_a_real_guest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let n = std::process::id() % 200 + 20;
    let bridge = Bridge(format!("tnbr{}", std::process::id() % 100_000));
    ip(&["link", "add", &bridge.0, "type", "bridge"]);
    let host_addr = format!("10.252.{n}.1");
    ip(&["addr", "add", &format!("{host_addr}/24"), "dev", &bridge.0]);
    ip(&["link", "set", &bridge.0, "up"]);
    let tap = format!("tntap{n}");
    let image = test_guest().expect("test guest");
    let xml = format!(
        "<domain type='qemu'><name>tb</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices>\
         <interface type='bridge'><mac address='52:54:00:7b:00:01'/><source bridge='{}'/>\
         <target dev='{tap}'/><model type='virtio'/>\
         <bandwidth><inbound average='1000' peak='2000' burst='256'/>\
         <outbound average='500'/></bandwidth></interface>\
         <interface type='user'><mac address='52:54:00:7b:00:02'/><model type='virtio'/></interface>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         </devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
        bridge.0
    );
    let file = root.join("tb.xml");
    std::fs::write(&file, xml).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);

    // Shut off: the persistent <bandwidth>, by target and by MAC.
    let off = virt_ok(root, &["domiftune", "tb", &tap]);
    assert_eq!(field(&off, "inbound.average"), "1000", "{off}");
    assert_eq!(field(&off, "inbound.peak"), "2000", "{off}");
    assert_eq!(field(&off, "inbound.burst"), "256", "{off}");
    assert_eq!(field(&off, "outbound.average"), "500", "{off}");
    let by_mac = virt_ok(root, &["domiftune", "tb", "52:54:00:7b:00:01"]);
    assert_eq!(by_mac, off);
    virt_tests::qemu::fails_with(
        root,
        &["domiftune", "tb", "nope"],
        "'nope' is not a known interface",
    );
    virt_tests::qemu::fails_with(
        root,
        &["domiftune", "tb", &tap, "--inbound", "100", "--live"],
        "domain is not running",
    );
    virt_tests::qemu::fails_with(
        root,
        &[
            "domiftune",
            "tb",
            "52:54:00:7b:00:02",
            "--inbound",
            "100",
            "--config",
        ],
        "setting bandwidth on interfaces of type 'user' is not implemented yet",
    );

    // --config on a shut-off guest.
    virt_ok(
        root,
        &["domiftune", "tb", &tap, "--outbound", "600", "--config"],
    );
    let inactive = virt_ok(root, &["dumpxml", "tb", "--inactive"]);
    assert!(inactive.contains("<outbound average='600'/>"), "{inactive}");
    virt_ok(
        root,
        &["domiftune", "tb", &tap, "--outbound", "500", "--config"],
    );

    if !kernel_shapes() {
        // Without sfq, fw and police the rules cannot be made: the start fails on the first
        // rule the kernel lacks (libvirt's behaviour on such a kernel), and so do live
        // changes of a guest started without <bandwidth>, leaving its live XML alone.
        let (ok, _, err) = virt(root, &["start", "tb"]);
        assert!(!ok, "start succeeded without sfq");
        assert!(
            err.contains(&format!(
                "Child process (tc qdisc add dev {tap} parent 1:1 handle 2: sfq perturb 10) unexpected exit status 2"
            )),
            "{err}"
        );
        assert_eq!(virt_ok(root, &["domstate", "tb"]).trim(), "shut off");
        virt_ok(
            root,
            &[
                "domiftune",
                "tb",
                &tap,
                "--inbound",
                "0",
                "--outbound",
                "0",
                "--config",
            ],
        );
        virt_ok(root, &["start", "tb"]);
        guard.pids = guard.pids_in_status();
        virt_tests::qemu::fails_with(
            root,
            &["domiftune", "tb", &tap, "--outbound", "500", "--live"],
            &format!("Child process (tc filter add dev {tap} parent ffff: protocol all u32"),
        );
        virt_tests::qemu::fails_with(
            root,
            &["domiftune", "tb", &tap, "--inbound", "1000", "--live"],
            "sfq perturb 10) unexpected exit status 2",
        );
        let xml = virt_ok(root, &["dumpxml", "tb"]);
        assert!(!xml.contains("<bandwidth"), "{xml}");
        virt_ok(root, &["destroy", "tb"]);
        virt_ok(root, &["undefine", "tb"]);
        return;
    }

    // Started: the rules on the tap.
    virt_ok(root, &["start", "tb"]);
    guard.pids = guard.pids_in_status();
    let class = tc(&["class", "show", "dev", &tap]);
    assert!(class.contains("class htb 1:1 root"), "{class}");
    assert!(
        class.contains("rate 8Mbit ceil 16Mbit burst 256Kb"),
        "{class}"
    );
    let qdisc = tc(&["qdisc", "show", "dev", &tap]);
    assert!(qdisc.contains("qdisc htb 1: root"), "{qdisc}");
    assert!(qdisc.contains("qdisc sfq 2: parent 1:1"), "{qdisc}");
    assert!(qdisc.contains("qdisc ingress ffff:"), "{qdisc}");
    let police = tc(&["filter", "show", "dev", &tap, "parent", "ffff:"]);
    assert!(police.contains("police"), "{police}");
    assert!(police.contains("rate 4Mbit burst 500Kb"), "{police}");
    let fw = tc(&["filter", "show", "dev", &tap, "parent", "1:0"]);
    assert!(fw.contains("fw"), "{fw}");

    // The guest pings the bridge: the echo replies go through the shaping class.
    let mut con = Console::open(&pty_of(root, "tb"));
    con.until(0, Duration::from_secs(120), READY_MARKER);
    let sent0 = class_sent(&tap);
    con.run(
        &format!(
            "ip link set eth0 up && ip addr add 10.252.{n}.2/24 dev eth0 && ping -c 3 -W 2 {host_addr} >/dev/null"
        ),
        1,
        Duration::from_secs(60),
    );
    let sent1 = class_sent(&tap);
    assert!(sent1 >= sent0 + 3 * 98, "class 1:1 sent {sent0} -> {sent1}");

    // Live: a new inbound rate; the outbound stays.
    virt_ok(
        root,
        &["domiftune", "tb", &tap, "--inbound", "3000", "--live"],
    );
    let class = tc(&["class", "show", "dev", &tap]);
    assert!(class.contains("rate 24Mbit"), "{class}");
    assert!(!class.contains("ceil 16Mbit"), "{class}");
    let police = tc(&["filter", "show", "dev", &tap, "parent", "ffff:"]);
    assert!(police.contains("rate 4Mbit"), "{police}");
    let live = virt_ok(root, &["domiftune", "tb", &tap]);
    assert_eq!(field(&live, "inbound.average"), "3000", "{live}");
    assert_eq!(field(&live, "inbound.peak"), "0", "{live}");
    assert_eq!(field(&live, "outbound.average"), "500", "{live}");
    let config = virt_ok(root, &["domiftune", "tb", &tap, "--config"]);
    assert_eq!(field(&config, "inbound.average"), "1000", "{config}");
    // Outbound 0 removes the police rule.
    virt_ok(
        root,
        &["domiftune", "tb", &tap, "--outbound", "0", "--live"],
    );
    let qdisc = tc(&["qdisc", "show", "dev", &tap]);
    assert!(!qdisc.contains("ingress"), "{qdisc}");
    assert!(qdisc.contains("qdisc htb 1: root"), "{qdisc}");
    let xml = virt_ok(root, &["dumpxml", "tb"]);
    assert!(xml.contains("<inbound average='3000'/>"), "{xml}");
    assert!(!xml.contains("<outbound"), "{xml}");
    // Both 0: no <bandwidth>, no rules.
    virt_ok(root, &["domiftune", "tb", &tap, "--inbound", "0", "--live"]);
    let qdisc = tc(&["qdisc", "show", "dev", &tap]);
    assert!(!qdisc.contains("htb"), "{qdisc}");
    let xml = virt_ok(root, &["dumpxml", "tb"]);
    assert!(!xml.contains("<bandwidth"), "{xml}");
    virt_tests::qemu::fails_with(
        root,
        &["domiftune", "tb", &tap, "--inbound", "100,0,0,50", "--live"],
        "'floor'",
    );
    // --config while running: the persistent definition only.
    virt_ok(
        root,
        &["domiftune", "tb", &tap, "--outbound", "700", "--config"],
    );
    let qdisc = tc(&["qdisc", "show", "dev", &tap]);
    assert!(!qdisc.contains("ingress"), "{qdisc}");
    let inactive = virt_ok(root, &["dumpxml", "tb", "--inactive"]);
    assert!(inactive.contains("<outbound average='700'/>"), "{inactive}");
    assert!(
        inactive.contains("<inbound average='1000' peak='2000' burst='256'/>"),
        "{inactive}"
    );
    virt_ok(root, &["destroy", "tb"]);
    virt_ok(root, &["undefine", "tb"]);
}

/// How many perf event descriptors process `pid` holds.
fn perf_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .is_ok_and(|l| l.to_string_lossy() == "anon_inode:[perf_event]")
        })
        .count()
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn perf_events_of_a_real_guest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut guard = QemuGuard::new(root);
    let daemon = ProcessDaemon::start("virtqemud", root);
    let image = test_guest().expect("test guest");
    let xml = format!(
        "<domain type='qemu'><name>tp</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <perf><event name='task_clock' enabled='yes'/><event name='page_faults' enabled='no'/></perf>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial></devices></domain>",
        image.kernel.display(),
        image.initrd.display(),
    );
    let file = root.join("tp.xml");
    std::fs::write(&file, xml).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    let off = virt_ok(root, &["perf", "tp"]);
    assert_eq!(field(&off, "task_clock"), "enabled", "{off}");
    assert_eq!(field(&off, "page_faults"), "disabled", "{off}");
    virt_tests::qemu::fails_with(
        root,
        &["perf", "tp", "--enable", "cpu_clock", "--live"],
        "domain is not running",
    );
    assert_eq!(perf_fds(daemon.pid()), 0);

    // Start: the defined event is open on QEMU.
    virt_ok(root, &["start", "tp"]);
    guard.pids = guard.pids_in_status();
    assert_eq!(perf_fds(daemon.pid()), 1);
    let live = virt_ok(root, &["perf", "tp"]);
    assert_eq!(field(&live, "task_clock"), "enabled", "{live}");
    assert_eq!(field(&live, "cpu_clock"), "disabled", "{live}");

    // Live: software events open and close.
    virt_ok(
        root,
        &["perf", "tp", "--enable", "cpu_clock,context_switches"],
    );
    assert_eq!(perf_fds(daemon.pid()), 3);
    let live = virt_ok(root, &["perf", "tp"]);
    assert_eq!(field(&live, "cpu_clock"), "enabled", "{live}");
    assert_eq!(field(&live, "context_switches"), "enabled", "{live}");
    virt_ok(root, &["perf", "tp", "--disable", "task_clock,cpu_clock"]);
    assert_eq!(perf_fds(daemon.pid()), 1);
    let live = virt_ok(root, &["perf", "tp", "--live"]);
    assert_eq!(field(&live, "task_clock"), "disabled", "{live}");
    assert_eq!(field(&live, "context_switches"), "enabled", "{live}");
    let xml = virt_ok(root, &["dumpxml", "tp"]);
    assert!(
        xml.contains("<event name='context_switches' enabled='yes'/>"),
        "{xml}"
    );
    assert!(
        xml.contains("<event name='task_clock' enabled='no'/>"),
        "{xml}"
    );
    // The persistent definition is untouched by live changes.
    let config = virt_ok(root, &["perf", "tp", "--config"]);
    assert_eq!(field(&config, "task_clock"), "enabled", "{config}");
    assert_eq!(field(&config, "context_switches"), "disabled", "{config}");

    // No CPU PMU in this VM: hardware events fail as libvirt's do.
    let pmu = Path::new("/sys/bus/event_source/devices/cpu").exists();
    let (ok, _, err) = virt(root, &["perf", "tp", "--enable", "cpu_cycles"]);
    if pmu {
        assert!(ok, "{err}");
        assert_eq!(perf_fds(daemon.pid()), 2);
        virt_ok(root, &["perf", "tp", "--disable", "cpu_cycles"]);
    } else {
        assert!(!ok);
        assert!(
            err.contains("unable to open host cpu perf event for cpu_cycles"),
            "{err}"
        );
        assert_eq!(perf_fds(daemon.pid()), 1);
    }
    // RDT events need /sys/devices/intel_cqm (gone from current kernels).
    if !Path::new("/sys/devices/intel_cqm/type").exists() {
        virt_tests::qemu::fails_with(
            root,
            &["perf", "tp", "--enable", "cmt"],
            "unable to open host cpu perf event for cmt",
        );
    }

    // --config while running; a stop closes the events; the next start opens the new set.
    virt_ok(root, &["perf", "tp", "--enable", "page_faults", "--config"]);
    assert_eq!(perf_fds(daemon.pid()), 1);
    virt_ok(root, &["destroy", "tp"]);
    assert_eq!(perf_fds(daemon.pid()), 0);
    virt_ok(root, &["start", "tp"]);
    guard.pids = guard.pids_in_status();
    assert_eq!(perf_fds(daemon.pid()), 2);
    let live = virt_ok(root, &["perf", "tp"]);
    assert_eq!(field(&live, "page_faults"), "enabled", "{live}");
    virt_ok(root, &["destroy", "tp"]);
    assert_eq!(perf_fds(daemon.pid()), 0);
    virt_ok(root, &["undefine", "tp"]);
}
