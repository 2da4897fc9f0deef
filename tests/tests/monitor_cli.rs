//! The domain monitoring commands (`domblklist`, `domiflist`, `domif-getlink`, `domcontrol`,
//! `domblkerror`, `vcpucount`, `domjobabort`, `domblkthreshold`)
//! against `virsh -c test:///default` (libvirt 9.0's test driver): standard output, standard
//! error and exit status of the same command strings, each on a fresh connection. Nothing here
//! is derived from the clock, but the helpers are the ones of tune_cli.rs (runs of nine or more
//! digits compared as `N`; none of these commands prints one). Needs `virsh`; without it the
//! test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

/// Digit runs of nine or more (the clock-derived counters) as `N`.
fn mask(s: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 9 {
            out.push('N');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

fn run(bin: &Path, args: &[&str]) -> (String, String, i32) {
    let o = Command::new(bin)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run");
    (
        mask(&String::from_utf8_lossy(&o.stdout)),
        mask(&String::from_utf8_lossy(&o.stderr)),
        o.status.code().unwrap_or(-1),
    )
}

/// A domain with disks of several kinds (no source, block, directory, network, cdrom) and
/// interfaces with and without target, model, source and link state; two share a MAC.
const MANY_DEVICES: &str = "<domain type='test'>
  <name>many</name>
  <memory>1048576</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/guest/a.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='dir' device='disk'><source dir='/srv/tree'/><target dev='hdd' bus='ide'/></disk>
    <disk type='network' device='disk'><source protocol='nbd' name='export'><host name='h' port='10809'/></source><target dev='vdc' bus='virtio'/></disk>
    <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet7'/><model type='virtio'/><link state='down'/></interface>
    <interface type='network'><mac address='52:54:00:00:00:02'/><source network='default'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:03'/><model type='e1000'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:03'/></interface>
    <interface type='ethernet'><mac address='52:54:00:00:00:04'/><target dev='tap9'/><link state='up'/></interface>
  </devices>
</domain>
";

#[test]
fn monitor_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; monitor command comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("many.xml");
    std::fs::write(&xml, MANY_DEVICES).expect("write xml");
    let define = format!("define {}", xml.display());
    let many: Vec<String> = [
        "domblklist many",
        "domblklist many --details",
        "domiflist many",
        "domif-getlink many vnet7",
        "domif-getlink many 52:54:00:00:00:02",
        "domif-getlink many 52:54:00:00:00:03",
        "domif-getlink many 52:54:00:00:00:04",
        "domif-getlink many tap9",
        "domif-getlink many testnet1",
        "start many; domif-getlink many vnet7",
        "start many; domblkerror many",
        "domblkerror many",
        "vcpucount many",
        "start many; vcpucount many",
    ]
    .iter()
    .map(|c| format!("{define}; {c}"))
    .collect();
    let commands = [
        // domblklist: live and inactive XML, details, a domain with several disk kinds.
        "domblklist test",
        "domblklist --domain test",
        "domblklist 1",
        "domblklist test --details",
        "domblklist test --inactive",
        "domblklist test --inactive --details",
        "domblklist nosuch",
        "destroy test; domblklist test --details",
        // domiflist
        "domiflist test",
        "domiflist --domain test --inactive",
        "domiflist nosuch",
        "destroy test; domiflist test",
        // domif-getlink: by device, by MAC in any spelling, persistent, errors.
        "domif-getlink test testnet0",
        "domif-getlink test aa:bb:cc:dd:ee:ff",
        "domif-getlink test AA:BB:CC:DD:EE:FF",
        "domif-getlink test aa:bb:cc:dd:ee:0ff",
        "domif-getlink test aa:bb:cc:dd:ee:100",
        "domif-getlink test aa:bb:cc:dd:ee:fe",
        "domif-getlink test testnet0 --config",
        "domif-getlink test testnet0 --persistent",
        "domif-getlink --domain test --interface testnet0",
        "domif-getlink test vnet0",
        "domif-getlink test ''",
        "domif-getlink nosuch testnet0",
        "domif-getlink nosuch ''",
        "destroy test; domif-getlink test testnet0",
        // domcontrol: the test driver's states follow the guest clock (domtime --time).
        "domcontrol test",
        "domcontrol --domain 1",
        "domtime test --time 5; domcontrol test",
        "domtime test --time 12345; domcontrol test",
        "domtime test --time 30000; domcontrol test",
        "domtime test --time 30001; domcontrol test",
        "domtime test --time 30002; domcontrol test",
        "domtime test --time 30003; domcontrol test",
        "domtime test --time 60000; domcontrol test",
        "domtime test --time 0; domcontrol test",
        "suspend test; domcontrol test",
        "domcontrol nosuch",
        "destroy test; domcontrol test",
        // domblkerror: the test driver's made-up errors of a running domain.
        "domblkerror test",
        "domblkerror --domain 1",
        "suspend test; domblkerror test",
        "domblkerror nosuch",
        "destroy test; domblkerror test",
        // vcpucount: the summary, each selector, virsh's option rules, inactive domains.
        "vcpucount test",
        "vcpucount --domain test --maximum",
        "vcpucount test --active",
        "vcpucount test --live",
        "vcpucount test --config",
        "vcpucount test --current",
        "vcpucount test --guest",
        "vcpucount test --maximum --live",
        "vcpucount test --maximum --config",
        "vcpucount test --active --config",
        "vcpucount test --current --live",
        "vcpucount test --current --config",
        "vcpucount test --maximum --current",
        "vcpucount test --maximum --current --live",
        "vcpucount test --active --current --config",
        "vcpucount test --active --maximum",
        "vcpucount test --guest --config",
        "vcpucount test --guest --live",
        "setvcpus test 1 --live; vcpucount test",
        "setvcpus test 1 --config; vcpucount test",
        "destroy test; vcpucount test",
        "destroy test; vcpucount test --live",
        "destroy test; vcpucount test --maximum",
        "vcpucount nosuch",
        // domjobabort and domblkthreshold: libvirt's test driver has neither API.
        "domjobabort test",
        "domjobabort --domain test --postcopy",
        "domjobabort nosuch",
        "destroy test; domjobabort test",
        "domblkthreshold test vda 100",
        "domblkthreshold test vda 1G",
        "domblkthreshold --domain test --dev vda --threshold 5",
        "domblkthreshold test vda abc",
        "domblkthreshold test vda -1",
        "domblkthreshold test vda 1x",
        "domblkthreshold nosuch vda 1",
        "domblkthreshold nosuch vda abc",
    ];
    let mut failures = Vec::new();
    for c in commands
        .iter()
        .copied()
        .chain(many.iter().map(String::as_str))
    {
        let theirs = run(Path::new("virsh"), &[c]);
        let mine = run(&ours, &[c]);
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    // Quiet mode drops the tables' header and closing blank line; read-only connections may
    // call every one of these.
    for args in [
        &["-q", "domblklist test --details"][..],
        &["-q", "domiflist test"],
        &["-q", "domif-getlink test testnet0"],
        &["-r", "domblklist test"],
        &["-r", "domiflist test"],
        &["-r", "domif-getlink test testnet0"],
        &["-r", "domcontrol test"],
        &["-r", "domblkerror test"],
        &["-r", "vcpucount test"],
        &["-r", "domjobabort test"],
        &["-r", "domblkthreshold test vda 1"],
    ] {
        let theirs = run(Path::new("virsh"), args);
        let mine = run(&ours, args);
        if theirs != mine {
            failures.push(format!(
                "command {args:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn argument_errors_fail_before_any_call() {
    let ours = workspace_bin("virt");
    for args in [
        &["domblklist"][..],
        &["domiflist"],
        &["domif-getlink", "test"],
        &["domcontrol"],
        &["domblklist", "test", "--bogus"],
        &["domcontrol", "test", "extra"],
        &["domblkerror"],
        &["domjobabort"],
        &["domblkthreshold", "test", "vda"],
    ] {
        let (out, err, code) = run(&ours, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}
