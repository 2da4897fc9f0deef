//! Byte-for-byte comparison of `virt` with the real `virsh -c test:///default` (libvirt 9.0),
//! where virsh is installed. The one value masked is dominfo's `CPU time:`, which libvirt's test
//! driver derives from the wall clock; it is compared numerically instead.

use std::path::Path;
use std::process::{Command, Output};

const VIRSH: &str = "/usr/bin/virsh";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(["-c", "test:///default"])
        .args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Both programs' outputs, or `None` (with a notice) when virsh is not installed. Where the
/// comparison must run (CI, and `tools/test-all.sh`, which install libvirt-clients and set
/// `VIRT_REQUIRE_VIRSH=1`), a missing virsh fails the test instead of skipping it.
fn both(args: &[&str]) -> Option<(Output, Output)> {
    if !Path::new(VIRSH).exists() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "{VIRSH} is required (VIRT_REQUIRE_VIRSH is set) but not installed"
        );
        eprintln!("notice: {VIRSH} not installed; skipping the virsh comparison {args:?}");
        return None;
    }
    Some((run(env!("CARGO_BIN_EXE_virt"), args), run(VIRSH, args)))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_same(args: &[&str]) {
    let Some((ours, theirs)) = both(args) else {
        return;
    };
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "stdout of {args:?}"
    );
    assert_eq!(
        text(&ours.stderr),
        text(&theirs.stderr),
        "stderr of {args:?}"
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "status of {args:?}"
    );
}

#[test]
fn list_all_matches_virsh() {
    assert_same(&["list", "--all"]);
    assert_same(&["-q", "list", "--all"]);
    assert_same(&["list", "--name", "--uuid", "--id", "--all"]);
}

#[test]
fn domstate_reason_matches_virsh() {
    assert_same(&["domstate", "test", "--reason"]);
}

#[test]
fn domstats_matches_virsh() {
    assert_same(&["domstats", "test"]);
    assert_same(&["domstats"]);
    assert_same(&["domstats", "--state", "--list-running"]);
}

#[test]
fn dumpxml_and_capabilities_match_virsh() {
    assert_same(&["dumpxml", "test"]);
    assert_same(&["dumpxml", "--inactive", "test"]);
    assert_same(&["capabilities"]);
}

#[test]
fn nodeinfo_matches_virsh() {
    assert_same(&["nodeinfo"]);
}

#[test]
fn errors_match_virsh() {
    assert_same(&["dominfo", "nope"]);
    assert_same(&["-r", "destroy", "test"]);
}

/// Splits out the `CPU time:` value (seconds) and returns the text with it masked.
fn mask_cpu_time(s: &str) -> (String, Option<f64>) {
    let mut secs = None;
    let masked = s
        .lines()
        .map(|l| match l.strip_prefix("CPU time:       ") {
            Some(v) => {
                secs = v.trim_end_matches('s').parse().ok();
                "CPU time:       <masked>".to_string()
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (masked, secs)
}

#[test]
fn dominfo_matches_virsh_except_the_clock_derived_cpu_time() {
    let Some((ours, theirs)) = both(&["dominfo", "test"]) else {
        return;
    };
    assert_eq!(ours.status.code(), Some(0));
    let (ours_masked, ours_secs) = mask_cpu_time(&text(&ours.stdout));
    let (theirs_masked, theirs_secs) = mask_cpu_time(&text(&theirs.stdout));
    assert_eq!(ours_masked, theirs_masked);
    assert!(text(&ours.stdout).ends_with("\n\n"));
    let (ours_secs, theirs_secs) = (
        ours_secs.expect("virt prints a CPU time"),
        theirs_secs.expect("virsh prints a CPU time"),
    );
    assert!(
        (ours_secs - theirs_secs).abs() < 5.0,
        "CPU time {ours_secs} vs virsh {theirs_secs}"
    );
}

#[test]
fn domxml_to_native_matches_virsh_on_the_test_driver() {
    // The test driver has no native format (NO_SUPPORT); the CLI's own checks come first.
    assert_same(&["domxml-to-native", "qemu-argv", "--domain", "test"]);
    assert_same(&["domxml-to-native", "qemu-argv"]);
    assert_same(&["domxml-to-native", "qemu-argv", "/nonexistent/dom.xml"]);
    assert_same(&["domxml-to-native", "qemu-argv", "--domain", "nope"]);
    assert_same(&[
        "domxml-to-native",
        "qemu-argv",
        "--domain",
        "test",
        "--xml",
        "/nonexistent/dom.xml",
    ]);
    assert_same(&["-r", "domxml-to-native", "qemu-argv", "--domain", "test"]);
}

#[test]
fn guest_commands_match_virsh() {
    assert_same(&["domifaddr", "test"]);
    assert_same(&["domifaddr", "test", "--full", "--source", "agent"]);
    assert_same(&["-q", "domifaddr", "test", "--source", "arp"]);
    assert_same(&["domifaddr", "test", "--interface", "nope"]);
    assert_same(&["domifaddr", "test", "--source", "bogus"]);
    assert_same(&["domifaddr", "nope"]);
    assert_same(&["domfsfreeze", "test"]);
    assert_same(&["domfsfreeze", "test", "--mountpoint", "/boot"]);
    assert_same(&["domfsthaw", "test", "/a"]);
    assert_same(&["domtime", "test"]);
    assert_same(&["domtime", "test", "--pretty"]);
    assert_same(&["-q", "domtime", "test"]);
    assert_same(&["domtime", "test", "--time", "5"]);
    assert_same(&["domtime", "test", "--now", "--sync"]);
    assert_same(&["domtime", "test", "--time", "abc"]);
    assert_same(&["domhostname", "test"]);
    assert_same(&["domhostname", "test", "--source", "agent"]);
    assert_same(&["domhostname", "test", "--source", "foo"]);
    assert_same(&["guestinfo", "test", "--os"]);
    assert_same(&["qemu-agent-command", "test", "{\"execute\":\"guest-ping\"}"]);
    assert_same(&["qemu-agent-command", "test", "--timeout", "0", "{}"]);
    assert_same(&["qemu-agent-command", "test", "--block", "--async", "{}"]);
    assert_same(&["guest-agent-timeout", "test", "--timeout", "10"]);
    // Read-only: addresses from leases and ARP may be read, the agent may not be used.
    assert_same(&["-r", "domifaddr", "test"]);
    assert_same(&["-r", "domifaddr", "test", "--source", "agent"]);
    assert_same(&["-r", "domtime", "test"]);
    assert_same(&["-r", "domfsfreeze", "test"]);
    // Guest state carries across the commands of one connection.
    assert_same(&[
        "domfsfreeze test; domfsfreeze test --mountpoint /; domfsthaw test /boot; \
         domfsthaw test; domtime test --time 7; domtime test --pretty; destroy test; \
         domtime test; domfsfreeze test",
    ]);
}

#[test]
fn guest_addresses_of_a_defined_domain_match_virsh() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("t2.xml");
    std::fs::write(
        &file,
        "<domain type='test'><name>t2</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices>\
         <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>\
         <interface type='network'><mac address='52:54:00:00:00:02'/><source network='default'/><target dev='testnet0'/></interface>\
         <interface type='user'><mac address='52:54:00:00:00:03'/></interface>\
         </devices></domain>",
    )
    .expect("write xml");
    let script = format!(
        "define {}; start t2; domifaddr t2; domifaddr t2 --interface testnet1; domhostname t2",
        file.display()
    );
    assert_same(&[&script]);
}
