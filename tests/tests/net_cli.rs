//! `virt net-*` against `virsh -c test:///default` (libvirt 9.0's test driver), byte for byte:
//! standard output, standard error and exit status of the same command strings, each run on a
//! fresh connection (so state changes stay within one command string). Needs `virsh`; without
//! it the test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.
//!
//! Not compared (libvirt 9.0's test driver answers them NO_SUPPORT, ours serves them; see
//! virt_core::test_driver::networks): net-dhcp-leases and net-port-*. They are checked on
//! their own below.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

fn run(bin: &Path, cmd: &str) -> (String, String, i32) {
    let o = Command::new(bin)
        .args(["-c", "test:///default", cmd])
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn fixtures(dir: &Path) {
    let files = [
        (
            "n1.xml",
            "<network>\n  <name>n1</name>\n  <uuid>1be403b5-9cae-48bf-abb8-084a30f833c6</uuid>\n  <forward mode='route' dev='eth0'/>\n  <ip address='10.1.0.1' prefix='24'>\n    <dhcp>\n      <range start='10.1.0.10' end='10.1.0.20'/>\n      <host mac='52:54:00:00:00:01' name='h1' ip='10.1.0.5'/>\n    </dhcp>\n  </ip>\n</network>\n",
        ),
        (
            "n2.xml",
            "<network>\n  <name>n2</name>\n  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n  <bridge name='br7'/>\n  <mtu size='9000'/>\n  <domain name='example.org'/>\n  <dns>\n    <forwarder addr='8.8.8.8'/>\n    <host ip='10.2.0.9'><hostname>foo</hostname></host>\n  </dns>\n  <ip address='10.2.0.1' netmask='255.255.0.0'/>\n  <ip family='ipv6' address='fd00::1' prefix='64'>\n    <dhcp><range start='fd00::10' end='fd00::20'/></dhcp>\n  </ip>\n</network>\n",
        ),
        (
            "nat.xml",
            "<network><name>x</name><uuid>55feb6d5-f70e-443a-b743-536b69379ed2</uuid><forward><nat><port start='1024' end='65535'/></nat></forward><mac address='52:54:00:11:22:33'/><domain name='ex' localOnly='yes'/><ip address='192.168.5.1' netmask='255.255.255.0'><dhcp><range start='192.168.5.2' end='192.168.5.9'/><bootp file='pxe.0' server='1.2.3.4'/></dhcp></ip></network>",
        ),
        (
            "iso.xml",
            "<network><name>iso</name><uuid>7380dfb6-48ba-4c9a-bb73-d10275be42d4</uuid><dns enable='no'/><ip family='ipv6' address='fd00::1' prefix='64'/></network>",
        ),
        (
            "br.xml",
            "<network><name>hb</name><uuid>3eb447e0-0557-4bde-8fbe-356da3311dcb</uuid><forward mode='bridge'/><bridge name='br0'/></network>",
        ),
        (
            "noname.xml",
            "<network><uuid>11111111-2222-3333-4444-555555555555</uuid></network>",
        ),
        (
            "badip.xml",
            "<network><name>x</name><ip address='300.1.1.1' prefix='24'/></network>",
        ),
        ("badmac.xml", "<network><name>x</name><mac address='zz'/></network>"),
        ("badname.xml", "<network><name>a/b</name></network>"),
        (
            "dupuuid.xml",
            "<network><name>other</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid></network>",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write fixture");
    }
}

#[test]
fn net_commands_match_virsh_byte_for_byte() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; net-* comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures(dir.path());
    let d = dir.path().display();
    let commands = [
        "net-list".to_string(),
        "net-list --all".into(),
        "net-list --inactive".into(),
        "net-list --table --all".into(),
        "net-list --name".into(),
        "net-list --uuid --all".into(),
        "net-list --all --uuid --name".into(),
        "net-list --persistent --transient".into(),
        "net-list --autostart".into(),
        "net-list --no-autostart --all".into(),
        "-q net-list".into(),
        "net-info default".into(),
        "net-info dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
        "net-info --network default".into(),
        "net-info nosuch".into(),
        "net-info 00000000-0000-0000-0000-000000000000".into(),
        "net-dumpxml default".into(),
        "net-dumpxml --inactive default".into(),
        "net-dumpxml nosuch".into(),
        "net-uuid default".into(),
        "net-uuid nosuch".into(),
        "net-name dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
        "net-name nosuch".into(),
        "net-name 00000000-0000-0000-0000-000000000000".into(),
        "net-start default".into(),
        "net-destroy default; net-list --all; net-destroy default; net-start default; net-list".into(),
        "net-undefine default".into(),
        "net-destroy default; net-undefine default; net-list --all".into(),
        "net-autostart default; net-list --autostart; net-info default; net-autostart --disable default; net-list --autostart".into(),
        format!("net-define {d}/n1.xml; net-dumpxml n1; net-list --all; net-list --inactive; net-info n1; net-start n1; net-list; net-autostart n1; net-list --autostart; net-list --no-autostart --all"),
        format!("net-create {d}/n2.xml; net-dumpxml n2; net-info n2; net-list --all --name; net-list --transient; net-undefine n2; net-autostart n2; net-destroy n2; net-list --all"),
        format!("net-define {d}/nat.xml; net-dumpxml x; net-define {d}/iso.xml; net-dumpxml iso; net-define {d}/br.xml; net-dumpxml hb; net-info hb"),
        format!("net-define {d}/n1.xml; net-define {d}/n1.xml; net-list --all"),
        format!("net-define {d}/dupuuid.xml"),
        format!("net-create {d}/dupuuid.xml"),
        format!("net-define {d}/noname.xml"),
        format!("net-define {d}/badip.xml"),
        format!("net-define {d}/badmac.xml"),
        format!("net-define {d}/badname.xml"),
        format!("net-define {d}/missing.xml"),
        format!("net-create {d}/missing.xml"),
        "net-start nosuch".into(),
        "net-destroy nosuch".into(),
        "net-undefine nosuch".into(),
        "net-autostart nosuch".into(),
        "-r net-destroy default".into(),
        "-r net-list --all".into(),
    ];
    let mut failures = Vec::new();
    for c in &commands {
        let args: Vec<&str> = if let Some(rest) = c.strip_prefix("-q ") {
            vec!["-q", rest]
        } else if let Some(rest) = c.strip_prefix("-r ") {
            vec!["-r", rest]
        } else {
            vec![c.as_str()]
        };
        let go = |bin: &Path| {
            let o = Command::new(bin)
                .arg("-c")
                .arg("test:///default")
                .args(&args)
                .env_remove("LIBVIRT_DEFAULT_URI")
                .output()
                .expect("run");
            (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
                o.status.code().unwrap_or(-1),
            )
        };
        let theirs = go(Path::new("virsh"));
        let mine = go(&ours);
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn leases_and_ports_on_the_test_driver() {
    let ours = workspace_bin("virt");
    let (out, err, code) = run(&ours, "net-dhcp-leases default");
    assert_eq!((err.as_str(), code), ("", 0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        " Expiry Time           MAC address         Protocol   IP address         Hostname   Client ID or DUID"
    );
    assert!(lines[2].contains("   aa:bb:cc:dd:ee:ff   ipv4       192.168.122.3/24   test       -"));
    let (out, _, code) = run(&ours, "net-dhcp-leases default --mac 52:54:00:00:00:09");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        3,
        "header, rule and the closing blank line: {out}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let port = dir.path().join("port.xml");
    std::fs::write(
        &port,
        "<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>vm1</name>\
         <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>\
         <mac address='52:54:00:7b:35:93'/></networkport>",
    )
    .expect("write");
    let p = port.display();
    let (out, err, code) = run(
        &ours,
        &format!(
            "net-port-create default {p}; net-port-list default; net-port-list default --uuid; \
             net-port-dumpxml default 5d744f21-ba4a-4d6e-bdb2-30a35ff3207d; net-dumpxml default; \
             net-port-delete default 5d744f21-ba4a-4d6e-bdb2-30a35ff3207d; net-port-list default; \
             net-port-delete default 5d744f21-ba4a-4d6e-bdb2-30a35ff3207d"
        ),
    );
    assert_eq!(code, 1, "the last delete fails: {out}{err}");
    assert_eq!(
        out,
        format!(
            "Network port 5d744f21-ba4a-4d6e-bdb2-30a35ff3207d created from {p}\n\n \
             UUID\n---------------------------------------\n \
             5d744f21-ba4a-4d6e-bdb2-30a35ff3207d\n\n\
             5d744f21-ba4a-4d6e-bdb2-30a35ff3207d\n\n\
             <networkport>\n  <uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid>\n  <owner>\n    \
             <name>vm1</name>\n    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n  </owner>\n  \
             <mac address='52:54:00:7b:35:93'/>\n  \
             <plug type='network' bridge='virbr0' macTableManager='kernel'/>\n</networkport>\n\n\
             <network connections='1'>\n  <name>default</name>\n  \
             <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n  <forward mode='nat'/>\n  \
             <bridge name='virbr0' stp='on' delay='0'/>\n  \
             <ip address='192.168.122.1' netmask='255.255.255.0'>\n    <dhcp>\n      \
             <range start='192.168.122.2' end='192.168.122.254'/>\n    </dhcp>\n  </ip>\n\
             </network>\n\n\
             Network port 5d744f21-ba4a-4d6e-bdb2-30a35ff3207d deleted\n\n \
             UUID\n-------\n\n\n"
        )
    );
    assert_eq!(
        err,
        "error: failed to get network port '5d744f21-ba4a-4d6e-bdb2-30a35ff3207d'\n\
         error: network port not found: Network port with UUID \
         5d744f21-ba4a-4d6e-bdb2-30a35ff3207d does not exist\n"
    );
}

#[test]
fn node_file_networks_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; node-file comparison skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let node = dir.path().join("node.xml");
    std::fs::write(
        &node,
        "<node>\n  <network>\n    <name>nodenet</name>\n    \
         <uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid>\n    <bridge name='br9'/>\n    \
         <ip address='10.9.9.1' prefix='24'/>\n  </network>\n</node>\n",
    )
    .expect("write node file");
    let uri = format!("test://{}", node.display());
    let cmd = "net-list --all; net-dumpxml nodenet; net-info nodenet; net-destroy nodenet; net-list --all";
    let go = |bin: &Path| {
        let o = Command::new(bin)
            .args(["-c", &uri, cmd])
            .output()
            .expect("run");
        (o.stdout, o.stderr, o.status.code())
    };
    assert_eq!(go(Path::new("virsh")), go(&workspace_bin("virt")));
}
