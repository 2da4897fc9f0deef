//! The issue's end-to-end case: a real TCG guest on libvirt's `default` NAT network and on a
//! qcow2 volume of a `dir` pool, through `virt -c qemu:///system` with virtqemud, virtnetworkd
//! and virtstoraged running under one temporary root.
//!
//! Everything runs in a network namespace this test makes (the thread unshares its network
//! namespace before it starts any daemon; every process it spawns inherits it), so the
//! bridge, dnsmasq, the nftables rules and the guest's packets never leave it.
//!
//! Checked: virtnetworkd defines and starts `default` by itself; the guest's busybox `udhcpc`
//! gets a lease in the network's range; the guest reaches the host's address on the bridge;
//! `net-dhcp-leases` and `domifaddr --source lease` show the lease; the volume is a block
//! device of the volume's size in the guest; `kill -9` of virtnetworkd leaves the guest's
//! networking working and a restarted virtnetworkd still has the network active with the
//! lease; destroying the guest gives its network port back.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{pty_of, virt, virt_ok, QemuGuard};

const MAC: &str = "52:54:00:12:00:01";

fn guest_xml(kernel: &Path, initrd: &Path) -> String {
    format!(
        "<domain type='qemu'><name>netg</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices>\
         <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
         <source pool='p' volume='v.qcow2'/><target dev='vda' bus='virtio'/></disk>\
         <interface type='network'><mac address='{MAC}'/><source network='default'/>\
         <model type='virtio'/></interface>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         </devices></domain>",
        kernel.display(),
        initrd.display()
    )
}

/// The guest's serial console: what it printed so far, and a way to type.
struct Console {
    pty: std::fs::File,
    seen: mpsc::Receiver<String>,
    text: String,
}

impl Console {
    fn open(path: &str) -> Console {
        let pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open the pty");
        let mut reader = pty.try_clone().expect("clone the pty");
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Console {
            pty,
            seen,
            text: String::new(),
        }
    }

    /// Reads until `pred` finds what it wants in the text since `from`, or panics.
    fn until<T>(
        &mut self,
        from: usize,
        limit: Duration,
        what: &str,
        pred: impl Fn(&str) -> Option<T>,
    ) -> T {
        let end = Instant::now() + limit;
        loop {
            if let Some(t) = pred(&self.text[from.min(self.text.len())..]) {
                return t;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(s) => self.text.push_str(&s),
                Err(_) => panic!(
                    "{what}: not on the console within {limit:?}:\n{}",
                    self.text
                ),
            }
        }
    }

    /// Types `line` into the guest's shell; the console offset before it. The shell echoes
    /// the line: markers a test waits for are typed split (`PI""NG-OK`) so that only the
    /// command's output spells them whole.
    fn type_line(&mut self, line: &str) -> usize {
        while let Ok(s) = self.seen.try_recv() {
            self.text.push_str(&s);
        }
        let at = self.text.len();
        self.pty
            .write_all(format!("{line}\r").as_bytes())
            .expect("type");
        at
    }
}

fn word_after(text: &str, marker: &str) -> Option<String> {
    let rest = text.split(marker).nth(1)?;
    let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (rest.contains('\n') && !word.is_empty()).then_some(word)
}

fn in_own_network_namespace() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare the network namespace");
    let up = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip");
    assert!(up.success(), "ip link set lo up");
}

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn a_guest_on_the_default_network_and_a_volume_gets_a_lease_and_its_disk() {
    for tool in ["dnsmasq", "nft", "qemu-img", "ip", "qemu-system-x86_64"] {
        assert!(
            have(tool),
            "{tool} is missing (tools/test-all.sh installs it)"
        );
    }
    let image = test_guest().expect("test guest");
    in_own_network_namespace();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let net = ProcessDaemon::start("virtnetworkd", root);
    let _stor = ProcessDaemon::start("virtstoraged", root);
    let _qemu = ProcessDaemon::start("virtqemud", root);

    // libvirt's default network, defined and started by virtnetworkd's first start.
    let info = virt_ok(root, &["net-info", "default"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Active:") && l.ends_with("yes")),
        "{info}"
    );
    let xml = virt_ok(root, &["net-dumpxml", "default"]);
    let host_ip = xml
        .split("<ip address='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("the network's address")
        .to_string();
    let prefix = host_ip.rsplit_once('.').expect("IPv4").0.to_string();

    // A qcow2 volume in a dir pool.
    let pool = root.join("pool");
    virt_ok(
        root,
        &[
            "pool-define-as",
            "p",
            "dir",
            "--target",
            &pool.display().to_string(),
        ],
    );
    virt_ok(root, &["pool-build", "p"]);
    virt_ok(root, &["pool-start", "p"]);
    virt_ok(
        root,
        &["vol-create-as", "p", "v.qcow2", "64M", "--format", "qcow2"],
    );

    let file = root.join("netg.xml");
    std::fs::write(&file, guest_xml(&image.kernel, &image.initrd)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    virt_ok(root, &["start", "netg"]);
    let live = virt_ok(root, &["dumpxml", "netg"]);
    assert!(
        live.contains("<source network='default' portid='") && live.contains("bridge='"),
        "{live}"
    );
    let inactive = virt_ok(root, &["dumpxml", "netg", "--inactive"]);
    assert!(
        inactive.contains("<source pool='p' volume='v.qcow2'/>") && !inactive.contains("portid"),
        "{inactive}"
    );

    let mut con = Console::open(&pty_of(root, "netg"));
    con.until(0, Duration::from_secs(120), "the ready marker", |t| {
        t.contains(READY_MARKER).then_some(())
    });
    let at = con.type_line("udhcpc -i eth0 -n -q -t 30 -T 1 -s /etc/udhcpc.script");
    let ip = con.until(at, Duration::from_secs(60), "a DHCP lease", |t| {
        word_after(t, "DHCP-BOUND ")
    });
    assert!(
        ip.starts_with(&format!("{prefix}.")) && ip != host_ip,
        "{ip} is not a guest address of {host_ip}'s network"
    );
    let at = con.type_line(&format!(
        "ping -c 1 -W 5 {host_ip} >/dev/null && echo PI\"\"NG-OK; echo SI\"\"ZE-$(cat /sys/block/vda/size)"
    ));
    let sectors = con.until(at, Duration::from_secs(30), "the disk size", |t| {
        word_after(t, "SIZE-")
    });
    assert!(
        con.text[at..].contains("PING-OK"),
        "the guest did not reach {host_ip}:\n{}",
        &con.text[at..]
    );
    assert_eq!(sectors, (64u64 * 1024 * 1024 / 512).to_string(), "vda size");

    let leases = virt_ok(root, &["net-dhcp-leases", "default"]);
    assert!(leases.contains(MAC) && leases.contains(&ip), "{leases}");
    let addrs = virt_ok(root, &["domifaddr", "netg", "--source", "lease"]);
    assert!(
        addrs.contains(MAC) && addrs.contains(&format!("{ip}/24")),
        "{addrs}"
    );

    // A second network interface plugged live gets a port of its own; unplugged, gives it back.
    let port_count = |root: &Path| {
        virt_ok(root, &["net-port-list", "default", "--uuid"])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    assert_eq!(port_count(root), 1);
    let nic = root.join("nic2.xml");
    std::fs::write(
        &nic,
        "<interface type='network'><mac address='52:54:00:12:00:02'/>\
         <source network='default'/><model type='virtio'/></interface>",
    )
    .expect("nic xml");
    let nic = nic.display().to_string();
    virt_ok(root, &["attach-device", "netg", &nic, "--live"]);
    assert_eq!(port_count(root), 2);
    virt_ok(root, &["detach-device", "netg", &nic, "--live"]);
    let end = Instant::now() + Duration::from_secs(30);
    while port_count(root) != 1 {
        assert!(
            Instant::now() < end,
            "the unplugged interface kept its port"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // virtnetworkd dies: the guest's network keeps working; its successor reattaches.
    net.kill9();
    let at = con.type_line(&format!(
        "ping -c 1 -W 5 {host_ip} >/dev/null && echo AG\"\"AIN-OK || echo AG\"\"AIN-FAILED"
    ));
    con.until(at, Duration::from_secs(30), "the second ping", |t| {
        (t.contains("AGAIN-OK") || t.contains("AGAIN-FAILED")).then_some(())
    });
    assert!(con.text[at..].contains("AGAIN-OK"), "{}", &con.text[at..]);
    let _net = ProcessDaemon::start("virtnetworkd", root);
    let info = virt_ok(root, &["net-info", "default"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Active:") && l.ends_with("yes")),
        "{info}"
    );
    let leases = virt_ok(root, &["net-dhcp-leases", "default"]);
    assert!(leases.contains(&ip), "{leases}");

    // The guest's port goes with it.
    let ports = virt_ok(root, &["net-port-list", "default"]);
    assert!(ports.lines().count() >= 3, "{ports}");
    virt_ok(root, &["destroy", "netg"]);
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out, _) = virt(root, &["net-port-list", "default", "--uuid"]);
        if ok && out.trim().is_empty() {
            break;
        }
        assert!(Instant::now() < end, "the port outlived the guest: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
