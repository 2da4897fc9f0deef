//! virtnetworkd end to end, each test inside network namespaces it creates (the daemon runs
//! under `ip netns exec`, with its own --root): real bridges, dnsmasq, nftables and a DHCP
//! client (`busybox udhcpc`) in a second namespace joined by a veth pair. Needs root, ip,
//! nft, dnsmasq and busybox; without them each test prints why and passes, unless
//! VIRT_REQUIRE_NETWORK is set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use virt_tests::workspace_bin;

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || Path::new("/usr/sbin").join(prog).exists()
}

/// Why the tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("not root".into());
    }
    for p in ["ip", "nft", "dnsmasq", "busybox"] {
        if !have(p) {
            return Some(format!("{p} not installed"));
        }
    }
    None
}

macro_rules! require {
    () => {
        if let Some(why) = missing() {
            assert!(
                std::env::var_os("VIRT_REQUIRE_NETWORK").is_none(),
                "VIRT_REQUIRE_NETWORK is set but: {why}"
            );
            eprintln!("notice: virtnetworkd test skipped: {why}");
            return;
        }
    };
}

fn sh(args: &[&str]) -> (bool, String) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run command");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// A network namespace, deleted (with every process left in it killed) on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vt{}{}{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        assert!(sh(&["ip", "netns", "add", &name]).0, "ip netns add {name}");
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }

    fn exec(&self, args: &[&str]) -> (bool, String) {
        let mut v = vec!["ip", "netns", "exec", &self.0];
        v.extend_from_slice(args);
        sh(&v)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let (_, pids) = sh(&["ip", "netns", "pids", &self.0]);
        for p in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        sh(&["ip", "netns", "del", &self.0]);
    }
}

/// virtnetworkd in a namespace, under a root of its own.
struct Daemon {
    child: Option<Child>,
    root: PathBuf,
    ns: String,
}

impl Daemon {
    fn start(ns: &Netns, root: &Path) -> Daemon {
        Daemon::start_with(ns, root, &[])
    }

    fn start_with(ns: &Netns, root: &Path, env: &[(&str, &str)]) -> Daemon {
        let sock = root.join("run/virt/virtnetworkd-sock");
        let _ = std::fs::remove_file(&sock);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(workspace_bin("virtnetworkd"))
            .arg("--root")
            .arg(root)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn virtnetworkd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "virtnetworkd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon {
            child: Some(child),
            root: root.to_path_buf(),
            ns: ns.0.clone(),
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `virt` with a command string; (stdout, stderr, success).
    fn virt(&self, cmd: &str) -> (String, String, bool) {
        let uri = format!(
            "qemu+unix:///system?socket={}",
            self.root.join("run/virt/virtnetworkd-sock").display()
        );
        let o = Command::new(workspace_bin("virt"))
            .args(["-c", &uri, cmd])
            .output()
            .expect("run virt");
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.success(),
        )
    }

    fn ok(&self, cmd: &str) -> String {
        let (out, err, ok) = self.virt(cmd);
        assert!(ok, "virt {cmd} failed: {out}{err}");
        out
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", &self.ns];
        v.extend_from_slice(args);
        sh(&v).1
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A fresh root whose CONFIG/network exists, so that no default network is defined.
fn root_without_default() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(d.path().join("etc/virt/network")).expect("mkdir");
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn dnsmasq_pid(root: &Path, net: &str) -> Option<i32> {
    let t = std::fs::read_to_string(root.join(format!("run/virt/network/{net}.json"))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&t).ok()?;
    v["dnsmasq_pid"].as_i64().map(|p| p as i32)
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

const NAT: &str = "<network>
  <name>nat1</name>
  <forward mode='nat'/>
  <bridge name='vtbr1'/>
  <ip address='10.231.7.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.231.7.100' end='10.231.7.120'/>
    </dhcp>
  </ip>
</network>
";

#[test]
fn nat_network_serves_dhcp_survives_a_daemon_crash_and_is_torn_down() {
    require!();
    let ns = Netns::new("a");
    let client = Netns::new("c");
    let root = root_without_default();
    let r = root.path();
    let mut d = Daemon::start(&ns, r);
    let f = write(r, "nat1.xml", NAT);
    d.ok(&format!("net-define {f}"));
    let start = Instant::now();
    d.ok("net-start nat1");
    eprintln!("net-start took {:?}", start.elapsed());
    // Bridge with its address, dnsmasq, nft table.
    let addr = d.ip(&["ip", "-br", "addr", "show", "dev", "vtbr1"]);
    assert!(
        addr.contains("10.231.7.1/24") && addr.contains("UP") || addr.contains("10.231.7.1/24"),
        "{addr}"
    );
    let pid = dnsmasq_pid(r, "nat1").expect("dnsmasq pid in the status");
    assert!(alive(pid), "dnsmasq {pid} runs");
    let tables = d.ip(&["nft", "list", "tables"]);
    assert!(tables.contains("table inet virtnet_nat1"), "{tables}");
    let rules = d.ip(&["nft", "list", "table", "inet", "virtnet_nat1"]);
    assert!(rules.contains("masquerade"), "{rules}");
    assert!(r.join("etc/virt/network/nat1.xml").exists());
    let xml = d.ok("net-dumpxml nat1");
    assert!(
        xml.contains("<bridge name='vtbr1' stp='on' delay='0'/>")
            && xml.contains("<mac address='52:54:00:"),
        "{xml}"
    );

    // A client on a veth attached to the bridge gets a lease in the range.
    let (ok, out) = sh(&[
        "ip", "link", "add", "vtA", "netns", &ns.0, "type", "veth", "peer", "name", "vtB", "netns",
        &client.0,
    ]);
    assert!(ok, "{out}");
    ns.exec(&["ip", "link", "set", "vtA", "master", "vtbr1", "up"]);
    client.exec(&["ip", "link", "set", "vtB", "up"]);
    let mac = client
        .exec(&["cat", "/sys/class/net/vtB/address"])
        .1
        .trim()
        .to_string();
    let (ok, out) = client.exec(&[
        "timeout",
        "30",
        "busybox",
        "udhcpc",
        "-i",
        "vtB",
        "-n",
        "-q",
        "-t",
        "10",
        "-T",
        "1",
        "-s",
        "/bin/true",
    ]);
    assert!(ok, "udhcpc: {out}");
    assert!(out.contains("lease of 10.231.7.1"), "{out}");
    let leases = d.ok("net-dhcp-leases nat1");
    assert!(
        leases.contains(&mac) && leases.contains("10.231.7.1"),
        "{leases}"
    );
    assert!(leases.contains("ipv4"), "{leases}");
    let only = d.ok(&format!("net-dhcp-leases nat1 --mac {mac}"));
    assert_eq!(only.lines().count(), 4, "{only}");

    // kill -9 and restart: still active, same dnsmasq.
    d.kill9();
    let d = Daemon::start(&ns, r);
    let info = d.ok("net-info nat1");
    assert!(info.contains("Active:         yes"), "{info}");
    assert_eq!(dnsmasq_pid(r, "nat1"), Some(pid));
    assert!(alive(pid));
    assert!(d.ok("net-dhcp-leases nat1").contains(&mac));

    // Destroy removes bridge, dnsmasq and table.
    d.ok("net-destroy nat1");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || !alive(pid),
        "dnsmasq gone"
    );
    let links = d.ip(&["ip", "-br", "link"]);
    assert!(!links.contains("vtbr1"), "{links}");
    assert!(!d.ip(&["nft", "list", "tables"]).contains("virtnet_nat1"));
    assert!(!r.join("run/virt/network/nat1.json").exists());
    assert!(d.ok("net-info nat1").contains("Active:         no"));
}

#[test]
fn failures_are_clear_and_leave_nothing_behind() {
    require!();
    let ns = Netns::new("b");
    let root = root_without_default();
    let r = root.path();
    let d = Daemon::start(&ns, r);
    // Bad XML: nothing defined.
    let bad = write(
        r,
        "bad.xml",
        "<network><name>bad</name><portgroup name='x'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {bad}"));
    assert!(
        !ok && err.contains("unsupported configuration") && err.contains("portgroup"),
        "{err}"
    );
    assert!(!r.join("etc/virt/network/bad.xml").exists());

    let f = write(r, "nat1.xml", NAT);
    d.ok(&format!("net-define {f}; net-start nat1"));
    // Overlapping subnet with an active network.
    let ov = write(
        r,
        "ov.xml",
        "<network><name>ov</name><forward mode='nat'/><bridge name='vtbr2'/><ip address='10.231.7.129' prefix='25'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {ov}; net-start ov"));
    assert!(
        !ok && err.contains("Network is already in use by network 'nat1'"),
        "{err}"
    );
    // Overlap with a host address (the route of a device's address).
    ns.exec(&[
        "ip", "link", "add", "vtdum", "type", "veth", "peer", "name", "vtdum2",
    ]);
    ns.exec(&["ip", "link", "set", "vtdum2", "up"]);
    ns.exec(&["ip", "addr", "add", "10.232.0.1/16", "dev", "vtdum"]);
    ns.exec(&["ip", "link", "set", "vtdum", "up"]);
    let host = write(
        r,
        "host.xml",
        "<network><name>host</name><bridge name='vtbr3'/><ip address='10.232.5.1' prefix='24'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {host}; net-start host"));
    assert!(
        !ok && err.contains("Network is already in use by interface vtdum"),
        "{err}"
    );
    // Bridge name in use by a host device.
    let inuse = write(
        r,
        "inuse.xml",
        "<network><name>inuse</name><bridge name='vtdum'/><ip address='10.233.0.1' prefix='24'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {inuse}; net-start inuse"));
    assert!(
        !ok && err.contains("bridge name 'vtdum' already in use"),
        "{err}"
    );
    // Bridge name of another network at define.
    let dup = write(
        r,
        "dup.xml",
        "<network><name>dup</name><bridge name='vtbr1'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {dup}"));
    assert!(
        !ok && err.contains("bridge name 'vtbr1' already in use"),
        "{err}"
    );
    // Nothing half-created: only nat1's bridge, table and dnsmasq.
    let links = d.ip(&["ip", "-br", "link"]);
    assert!(
        !links.contains("vtbr2") && !links.contains("vtbr3"),
        "{links}"
    );
    let tables = d.ip(&["nft", "list", "tables"]);
    assert_eq!(tables.trim(), "table inet virtnet_nat1", "{tables}");
    for n in ["ov", "host", "inuse"] {
        assert!(!r.join(format!("run/virt/network/{n}.json")).exists());
        assert!(d
            .ok(&format!("net-info {n}"))
            .contains("Active:         no"));
    }
    let (_, pids) = sh(&["ip", "netns", "pids", &ns.0]);
    assert_eq!(
        pids.split_whitespace().count(),
        2,
        "daemon and one dnsmasq: {pids}"
    );

    // Ports: create, list, XML with the plug, delete.
    let port = write(
        r,
        "port.xml",
        "<networkport><owner><name>vm1</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner><mac address='52:54:00:7b:35:93'/></networkport>",
    );
    let out = d.ok(&format!("net-port-create nat1 {port}"));
    let uuid = out.split_whitespace().nth(2).expect("uuid").to_string();
    assert!(d.ok("net-port-list nat1 --uuid").contains(&uuid));
    let px = d.ok(&format!("net-port-dumpxml nat1 {uuid}"));
    assert!(
        px.contains("<plug type='network' bridge='vtbr1' macTableManager='kernel'/>"),
        "{px}"
    );
    assert!(d
        .ok("net-dumpxml nat1")
        .starts_with("<network connections='1'>"));
    d.ok(&format!("net-port-delete nat1 {uuid}"));
    assert!(!d.ok("net-port-list nat1 --uuid").contains(&uuid));
    let (_, err, ok) = d.virt(&format!("net-port-delete nat1 {uuid}"));
    assert!(!ok && err.contains("does not exist"), "{err}");
    d.ok("net-destroy nat1");

    // A bridge-forward network plugs ports into the host bridge and leaves it alone.
    let hb = write(
        r,
        "hb.xml",
        "<network><name>hb</name><forward mode='bridge'/><bridge name='vthost'/></network>",
    );
    let (_, err, ok) = d.virt(&format!("net-define {hb}; net-start hb"));
    assert!(
        !ok && err.contains("host bridge 'vthost' does not exist"),
        "{err}"
    );
    ns.exec(&["ip", "link", "add", "vthost", "type", "bridge"]);
    d.ok("net-start hb");
    assert!(d.ok("net-info hb").contains("Bridge:         vthost"));
    let out = d.ok(&format!("net-port-create hb {port}"));
    let uuid = out.split_whitespace().nth(2).expect("uuid").to_string();
    let px = d.ok(&format!("net-port-dumpxml hb {uuid}"));
    assert!(px.contains("<plug type='bridge' bridge='vthost'/>"), "{px}");
    d.ok("net-destroy hb");
    assert!(
        d.ip(&["ip", "-br", "link"]).contains("vthost"),
        "the host bridge stays"
    );
}

#[test]
fn default_network_is_defined_on_first_start_on_a_free_subnet() {
    require!();
    let ns = Netns::new("d");
    // 192.168.122.0/24 is taken in this namespace: the default network takes .123.
    ns.exec(&[
        "ip", "link", "add", "vtdum", "type", "veth", "peer", "name", "vtdum2",
    ]);
    ns.exec(&["ip", "link", "set", "vtdum2", "up"]);
    ns.exec(&["ip", "addr", "add", "192.168.122.7/24", "dev", "vtdum"]);
    ns.exec(&["ip", "link", "set", "vtdum", "up"]);
    let root = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&ns, root.path());
    let list = d.ok("net-list --all");
    assert!(
        list.contains(" default   active   yes         yes"),
        "{list}"
    );
    let xml = d.ok("net-dumpxml default");
    assert!(
        xml.contains("<ip address='192.168.123.1' netmask='255.255.255.0'>"),
        "{xml}"
    );
    assert!(root
        .path()
        .join("etc/virt/network/autostart/default.xml")
        .exists());
    assert!(d
        .ip(&["ip", "-br", "addr", "show", "dev", "virbr0"])
        .contains("192.168.123.1/24"));
    d.ok("net-destroy default");
}

#[test]
fn net_event_reports_lifecycle_events_in_order() {
    require!();
    let ns = Netns::new("e");
    let root = root_without_default();
    let r = root.path();
    let d = Daemon::start(&ns, r);
    let uri = format!(
        "qemu+unix:///system?socket={}",
        r.join("run/virt/virtnetworkd-sock").display()
    );
    let watcher = Command::new(workspace_bin("virt"))
        .args([
            "-c",
            &uri,
            "net-event",
            "--event",
            "lifecycle",
            "--loop",
            "--timeout",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn net-event");
    std::thread::sleep(Duration::from_millis(500));
    let f = write(
        r,
        "iso.xml",
        "<network><name>iso</name><bridge name='vtbr9'/><ip address='10.234.0.1' prefix='24'/></network>",
    );
    d.ok(&format!(
        "net-define {f}; net-start iso; net-destroy iso; net-undefine iso"
    ));
    let out = watcher.wait_with_output().expect("net-event output");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event 'lifecycle' for network iso: Defined\n\
         event 'lifecycle' for network iso: Started\n\
         event 'lifecycle' for network iso: Stopped\n\
         event 'lifecycle' for network iso: Undefined\n\
         event loop timed out\n\
         events received: 4\n\n"
    );
}

#[test]
fn missing_dnsmasq_is_a_clear_error_with_nothing_left() {
    require!();
    let ns = Netns::new("m");
    let root = root_without_default();
    let r = root.path();
    let d = Daemon::start_with(&ns, r, &[("VIRT_DNSMASQ", "/nonexistent/dnsmasq")]);
    let f = write(r, "nat1.xml", NAT);
    let (_, err, ok) = d.virt(&format!("net-define {f}; net-start nat1"));
    assert!(
        !ok && err.contains("Cannot check dnsmasq binary dnsmasq: No such file or directory"),
        "{err}"
    );
    assert!(!d.ip(&["ip", "-br", "link"]).contains("vtbr1"));
    assert!(!d.ip(&["nft", "list", "tables"]).contains("virtnet_nat1"));
    // A network without addresses needs no dnsmasq and starts.
    let open = write(
        r,
        "open.xml",
        "<network><name>open</name><forward mode='open'/><bridge name='vtbr5'/></network>",
    );
    d.ok(&format!(
        "net-define {open}; net-start open; net-destroy open"
    ));
}
