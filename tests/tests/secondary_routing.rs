//! Network and storage calls of every local hypervisor URI reach the one virtnetworkd and
//! virtstoraged, through virt-proxy (`?mode=legacy`) as well as straight to the daemons'
//! sockets, as libvirt's secondary drivers do; without the daemon the call fails naming its
//! socket. No network is started here (the config dir exists, so virtnetworkd defines no
//! `default`): nothing touches the host's network.

use std::path::Path;
use std::process::Command;

use virt_tests::backend::ProcessDaemon;
use virt_tests::{workspace_bin, DaemonUnderTest};

fn virt(root: &Path, uri: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("virt"))
        .args(["-c", uri])
        .args(args)
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run virt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(root: &Path, uri: &str, args: &[&str]) -> String {
    let (ok, out, err) = virt(root, uri, args);
    assert!(ok, "virt -c {uri} {args:?}: {err}");
    out
}

#[test]
fn every_local_uri_reaches_the_same_network_and_storage_daemons() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();

    // No virtnetworkd yet: the call (through the proxy: no virtqemud runs) names the socket it
    // could not reach.
    let (okay, _, err) = virt(&root, "qemu:///system", &["net-list", "--all"]);
    assert!(!okay);
    let sock = root.join("run/virt/virtnetworkd-sock");
    assert!(
        err.contains(&sock.display().to_string()) && err.contains("No such file or directory"),
        "{err}"
    );

    std::fs::create_dir_all(root.join("etc/virt/network")).expect("config dir");
    let _net = ProcessDaemon::start("virtnetworkd", &root);
    let _stor = ProcessDaemon::start("virtstoraged", &root);

    let net = root.join("iso.xml");
    std::fs::write(
        &net,
        "<network><name>iso</name><bridge name='virbr77'/>\
         <ip address='192.168.177.1' netmask='255.255.255.0'/></network>",
    )
    .expect("network xml");
    let out = ok(
        &root,
        "qemu:///system?mode=legacy",
        &["net-define", &net.display().to_string()],
    );
    // virsh's line, and its blank one.
    assert_eq!(
        out,
        format!("Network iso defined from {}\n\n", net.display())
    );

    let pool = root.join("pooldir");
    ok(
        &root,
        "lxc:///system?mode=legacy",
        &[
            "pool-define-as",
            "p1",
            "dir",
            "--target",
            &pool.display().to_string(),
        ],
    );

    // Through the proxy and straight to the daemons, from any hypervisor URI: the same ones.
    for uri in [
        "qemu:///system",
        "qemu:///system?mode=legacy",
        "lxc:///system",
        "xen:///system?mode=legacy",
        "network:///system",
    ] {
        let nets = ok(&root, uri, &["net-list", "--all", "--name"]);
        assert_eq!(nets.trim(), "iso", "{uri}");
    }
    for uri in [
        "qemu:///system",
        "qemu:///system?mode=legacy",
        "lxc:///system?mode=legacy",
        "storage:///system",
    ] {
        let pools = ok(&root, uri, &["pool-list", "--all", "--name"]);
        assert_eq!(pools.trim(), "p1", "{uri}");
    }
    // Read-only connections read, through the read-only sockets.
    let nets = ok(
        &root,
        "qemu:///system",
        &["-r", "net-list", "--all", "--name"],
    );
    assert_eq!(nets.trim(), "iso");
}
