//! CPU models and host memory against a real virtqemud (`virt -c qemu:///system` through
//! virt-proxy under a temporary root): `cpu-models` lists the models QEMU itself reports
//! (`qemu-system-x86_64 -cpu help`, read here independently), `hypervisor-cpu-compare` finds
//! the host-model CPU of `domcapabilities` identical to what the hypervisor provides, an older
//! model a subset, and a CPU asking for a feature the hypervisor lacks incompatible (and
//! `cpu-compare` the same against the host's emulator);
//! `freepages` and `allocpages` read and change this host's huge page pools in sysfs (restored
//! afterwards), `node-memory-tune` its KSM tunables; `hypervisor-cpu-baseline` answers a model
//! QEMU runs. No guest is needed.

use std::path::Path;
use std::process::Command;

use virt_tests::backend::ProcessDaemon;
use virt_tests::qemu::{virt, virt_ok};
use virt_tests::DaemonUnderTest;

fn read(p: &str) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
        .trim()
        .to_string()
}

/// The model names `qemu-system-x86_64 -cpu help` lists (`x86 NAME  (alias ...)` lines).
fn qemu_models() -> Vec<String> {
    let out = Command::new("qemu-system-x86_64")
        .args(["-machine", "none", "-cpu", "help"])
        .output()
        .expect("run qemu-system-x86_64");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("x86 "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "runs virtqemud; run with --features qemu-tests"
)]
fn cpu_models_compare_and_host_memory_on_this_host() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let files = tempfile::tempdir().expect("tempdir");

    // cpu-models: QEMU's own list (-cpu help also shows `host`/`max`/`base`, which
    // query-cpu-definitions lists as well on x86).
    let mut ours: Vec<String> = virt_ok(&root, &["cpu-models", "x86_64"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let mut theirs = qemu_models();
    ours.sort();
    theirs.sort();
    assert!(ours.contains(&"qemu64".to_string()), "{ours:?}");
    let missing: Vec<&String> = theirs.iter().filter(|m| !ours.contains(m)).collect();
    let extra: Vec<&String> = ours.iter().filter(|m| !theirs.contains(m)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "QEMU lists but virt does not: {missing:?}; virt lists but QEMU does not: {extra:?}"
    );
    // An architecture no installed emulator serves answers from libvirt's CPU map; an unknown
    // one is refused as libvirt refuses it.
    let ppc = virt_ok(&root, &["cpu-models", "ppc64"]);
    if !Path::new("/usr/bin/qemu-system-ppc64").exists() {
        assert!(ppc.starts_with("POWER6\nPOWER7\n"), "{ppc}");
    }
    let (ok, _, err) = virt(&root, &["cpu-models", "foo"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: failed to get CPU model names\nerror: invalid argument: cannot find architecture foo\n"
    );

    // hypervisor-cpu-compare: the host-model CPU, given as the domain capabilities file
    // itself (virsh's extraction of the supported host-model mode) and as a <cpu>.
    let domcaps = virt_ok(&root, &["domcapabilities"]);
    assert!(
        domcaps.contains("<mode name='host-model' supported='yes'>"),
        "{domcaps}"
    );
    let caps_file = write(files.path(), "domcaps.xml", &domcaps);
    let out = virt_ok(&root, &["hypervisor-cpu-compare", &caps_file]);
    assert_eq!(
        out,
        format!(
            "CPU described in {caps_file} is identical to the CPU provided by hypervisor on the host\n\n"
        )
    );
    let mode = domcaps
        .split("<mode name='host-model' supported='yes'>")
        .nth(1)
        .and_then(|r| r.split("</mode>").next())
        .expect("host-model");
    let host_cpu = write(files.path(), "host.xml", &format!("<cpu>{mode}</cpu>"));
    let out = virt_ok(&root, &["hypervisor-cpu-compare", &host_cpu, "--error"]);
    assert!(out.contains("is identical to the CPU provided"), "{out}");
    // A model domcapabilities calls usable: the hypervisor's CPU is a superset of it
    // (`host`, `max` and `base` are QEMU's own; a named model is what a user compares.)
    let usable = domcaps
        .split("<model usable='yes'")
        .skip(1)
        .filter_map(|r| r.split('>').nth(1))
        .filter_map(|r| r.split('<').next())
        .find(|m| !matches!(*m, "host" | "max" | "base"))
        .unwrap_or_else(|| panic!("no usable model in {domcaps}"))
        .to_string();
    let old = write(
        files.path(),
        "old.xml",
        &format!("<cpu mode='custom' match='exact'><model>{usable}</model></cpu>"),
    );
    let (ok, out, err) = virt(&root, &["hypervisor-cpu-compare", &old, "--error"]);
    assert!(ok, "{usable}: {out}{err}");
    assert_eq!(
        out,
        format!(
            "The CPU provided by hypervisor on the host is a superset of CPU described in {old}\n\n"
        )
    );
    // A feature no x86 CPU has: incompatible (exit 1, nothing on stderr), or with --error
    // libvirt's CPU_INCOMPATIBLE error naming it.
    let bad = write(
        files.path(),
        "bad.xml",
        &format!(
            "<cpu><model>{usable}</model><feature policy='require' name='no-such-feature'/></cpu>"
        ),
    );
    let (ok, out, err) = virt(&root, &["hypervisor-cpu-compare", &bad]);
    assert!(!ok);
    assert_eq!(
        out,
        format!(
            "CPU described in {bad} is incompatible with the CPU provided by hypervisor on the host\n\n"
        )
    );
    assert_eq!(err, "");
    let (ok, _, err) = virt(&root, &["hypervisor-cpu-compare", &bad, "--error"]);
    assert!(!ok);
    assert_eq!(
        err,
        format!(
            "error: Failed to compare hypervisor CPU with {bad}\nerror: the CPU is incompatible \
             with host CPU: Host CPU does not provide required features: no-such-feature\n"
        )
    );
    let (ok, _, err) = virt(
        &root,
        &["hypervisor-cpu-compare", &old, "--virttype", "xen"],
    );
    assert!(!ok);
    assert!(err.contains("unknown virttype: xen"), "{err}");

    // cpu-compare: the same comparison with the host's emulator and default virt type.
    assert_eq!(
        virt_ok(&root, &["cpu-compare", &host_cpu]),
        format!("CPU described in {host_cpu} is identical to host CPU\n\n")
    );
    assert_eq!(
        virt_ok(&root, &["cpu-compare", &old]),
        format!("Host CPU is a superset of CPU described in {old}\n\n")
    );
    let (ok, out, _) = virt(&root, &["cpu-compare", &bad]);
    assert!(!ok);
    assert_eq!(
        out,
        format!("CPU described in {bad} is incompatible with host CPU\n\n")
    );

    // cpu-baseline (libvirt's CPU map, as the QEMU driver answers it).
    let two = write(
        files.path(),
        "two.xml",
        "<cpu><arch>x86_64</arch><model>Haswell</model></cpu>\
         <cpu><arch>x86_64</arch><model>Nehalem</model></cpu>",
    );
    assert_eq!(
        virt_ok(&root, &["cpu-baseline", &two]),
        "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Nehalem</model>\n</cpu>\n\n"
    );

    // hypervisor-cpu-baseline: a model QEMU runs is its own baseline.
    // (A model of libvirt's CPU map that this accelerator runs: which depends on the host.)
    let mapped = [
        "qemu64", "kvm64", "qemu32", "pentium3", "pentium2", "pentium", "486",
    ]
    .into_iter()
    .find(|m| domcaps.contains(&format!("<model usable='yes' vendor='unknown'>{m}</model>")))
    .expect("an old model is usable");
    assert_eq!(
        virt_ok(&root, &["hypervisor-cpu-baseline", "--model", mapped]),
        format!(
            "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>{mapped}</model>\n</cpu>\n\n"
        )
    );
    // Two CPUs of that model, one with an extra feature: the feature is not common to both.
    let pair = write(
        files.path(),
        "pair.xml",
        &format!(
            "<cpu><model>{mapped}</model><feature name='vmx'/></cpu><cpu><model>{mapped}</model></cpu>"
        ),
    );
    assert_eq!(
        virt_ok(&root, &["hypervisor-cpu-baseline", "--file", &pair]),
        format!(
            "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>{mapped}</model>\n</cpu>\n\n"
        )
    );
    let (ok, _, err) = virt(
        &root,
        &["-r", "hypervisor-cpu-baseline", "--model", "qemu64"],
    );
    assert!(!ok);
    assert!(
        err.ends_with("read only access prevents virConnectBaselineHypervisorCPU\n"),
        "{err}"
    );

    // freepages: the host's and node 0's free 2 MiB pages and its free 4 KiB pages.
    let pool = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    let node_pool = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB";
    let free = read(&format!("{node_pool}/free_hugepages"));
    assert_eq!(
        virt_ok(&root, &["freepages", "--cellno", "0", "--pagesize", "2M"]),
        format!("2048KiB: {free}\n\n")
    );
    // --all walks the capabilities' page sizes (the system page, then the kernel's huge page
    // sizes) and NUMA cells; virtqemud's capabilities list no <topology> yet, so no cell.
    let caps = virt_ok(&root, &["capabilities"]);
    assert!(
        caps.contains("<pages unit='KiB' size='4'/>\n      <pages unit='KiB' size='2048'/>"),
        "{caps}"
    );
    let all = virt_ok(&root, &["freepages", "--all"]);
    if caps.contains("<cell id='0'>") {
        assert!(all.starts_with("Node 0:\n4KiB: "), "{all}");
        assert!(all.contains(&format!("\n2048KiB: {free}\n")), "{all}");
    } else {
        assert_eq!(all, "\n");
    }
    assert_eq!(
        virt_ok(
            &root,
            &["freepages", "--cellno", "-1", "--pagesize", "2048"]
        ),
        format!("2048KiB: {}\n\n", read(&format!("{pool}/free_hugepages")))
    );
    let (ok, _, err) = virt(&root, &["freepages", "--cellno", "0", "--pagesize", "3"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: operation failed: page size 3 is not available on node 0\n"
    );

    // allocpages: one more 2 MiB page in node 0's pool, then the pool as it was.
    let before: u64 = read(&format!("{node_pool}/nr_hugepages"))
        .parse()
        .expect("nr");
    // The kernel may find no free 2 MiB of contiguous memory (a busy or fragmented host):
    // then libvirt's error says how many it got, and the pool is set back all the same.
    let (ok, _, err) = virt(&root, &["allocpages", "2M", "1", "--cellno", "0", "--add"]);
    let grown: u64 = read(&format!("{node_pool}/nr_hugepages"))
        .parse()
        .expect("nr");
    let restore = before.to_string();
    virt_ok(&root, &["allocpages", "2048", &restore, "--cellno", "0"]);
    if ok {
        assert_eq!(grown, before + 1);
    } else {
        assert_eq!(
            err,
            format!(
                "error: operation failed: Unable to allocate {} pages. Allocated only {grown}\n",
                before + 1
            )
        );
    }
    assert_eq!(read(&format!("{node_pool}/nr_hugepages")), restore);
    let (ok, _, err) = virt(&root, &["allocpages", "4", "1"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: system pages pool can't be modified\n"
    );

    // node-memory-tune: the KSM files, then a tunable set (to the value it has, so the host
    // is left as it was) and read back.
    let ksm = "/sys/kernel/mm/ksm";
    let shown = virt_ok(&root, &["node-memory-tune"]);
    let sleep = read(&format!("{ksm}/sleep_millisecs"));
    assert!(shown.starts_with("Shared memory:\n"), "{shown}");
    assert!(
        shown.contains(&format!(
            "\tshm_pages_to_scan {}\n",
            read(&format!("{ksm}/pages_to_scan"))
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("\tshm_sleep_millisecs {sleep}\n")),
        "{shown}"
    );
    virt_ok(
        &root,
        &["node-memory-tune", "--shm-sleep-millisecs", &sleep],
    );
    assert_eq!(read(&format!("{ksm}/sleep_millisecs")), sleep);
    let (ok, _, err) = virt(
        &root,
        &["-r", "node-memory-tune", "--shm-sleep-millisecs", "1"],
    );
    assert!(!ok);
    assert!(
        err.ends_with("read only access prevents virNodeSetMemoryParameters\n"),
        "{err}"
    );

    // What libvirt's QEMU driver needs hardware or a host suspend for ends with the driver's
    // unsupported error here.
    let (ok, _, err) = virt(&root, &["nodesevinfo"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Unable to get host SEV information\nerror: this function is not supported by the \
         connection driver: virNodeGetSEVInfo\n"
    );
}
