//! Issue 10's devices on real guests, through the real daemon: what only a running QEMU can
//! show.
//!
//! * A serial console on a TCP server (`<serial type='tcp'><source mode='bind' host='127.0.0.1'>`):
//!   the test connects to it, reads the guest's boot up to its ready marker and types
//!   commands into the guest's shell. Through it the guest shows the link states its NICs got
//!   (`<link state='down'/>` is `set_link` after the start: carrier 0 in the guest), and
//!   panics (`echo c > /proc/sysrq-trigger` with the ISA pvpanic device): with
//!   `<on_crash>restart</on_crash>` the domain goes CRASHED (PANICKED), then runs again
//!   (RUNNING / CRASHED) and the guest boots a second time on the same connection; with
//!   `coredump-destroy` a memory dump is written and the domain is shut off (crashed).
//! * `<on_reboot>destroy</on_reboot>`: a guest's `reboot -f` leaves it shut off (shutdown).
//! * A VNC password (`passwd=`, set over the monitor after the start): the VNC server offers
//!   only VNC authentication, takes the password (DES challenge-response, computed with the
//!   `openssl` command) and refuses another; with `passwdValidTo` in the past it refuses the
//!   right one too. The live XML hides the password unless the secure flag is asked.
//!
//! Needs QEMU, the cached test guest (tests/src/guest.rs) and `openssl`; every QEMU is killed
//! at the end, pass or fail. Listeners bind 127.0.0.1 only; the guests' user-mode NICs reach
//! nothing beyond QEMU.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virt_tests::qemu::{virt, virt_ok, QemuGuard};
use virt_tests::DaemonUnderTest;

/// A free TCP port on 127.0.0.1 (bound and released: a small window for someone else).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn guest_xml(name: &str, port: u16, on_crash: &str) -> String {
    let image = test_guest().expect("test guest");
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel>\
         <initrd>{}</initrd><cmdline>{GUEST_CMDLINE}</cmdline></os>\
         <features><acpi/></features><on_crash>{on_crash}</on_crash>\
         <devices>\
         <interface type='user'><mac address='52:54:00:de:0a:01'/><model type='virtio'/>\
         <link state='down'/></interface>\
         <interface type='user'><mac address='52:54:00:de:0a:02'/><model type='virtio'/>\
         <link state='up'/></interface>\
         <serial type='tcp'><source mode='bind' host='127.0.0.1' service='{port}'/>\
         <protocol type='raw'/></serial>\
         <panic model='isa'/></devices></domain>",
        image.kernel.display(),
        image.initrd.display()
    )
}

/// The guest's console over TCP: what it printed so far, and a way to type.
struct Console {
    out: TcpStream,
    lines: mpsc::Receiver<String>,
}

impl Console {
    fn connect(port: u16) -> Console {
        let end = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < end => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the serial console on 127.0.0.1:{port} never answered: {e}"),
            }
        };
        let reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in reader.lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Console { out: stream, lines }
    }

    /// Lines until one contains `want`; panics after `limit` with what was seen.
    fn until(&self, want: &str, limit: Duration) -> Vec<String> {
        let end = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let done = l.contains(want);
                    seen.push(l);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no '{want}' on the console within {limit:?}: {seen:#?}"),
            }
        }
    }

    fn type_line(&mut self, text: &str) {
        self.out
            .write_all(format!("{text}\n").as_bytes())
            .expect("type into the console");
    }
}

fn domstate(root: &Path, name: &str) -> String {
    virt_ok(root, &["domstate", name, "--reason"])
        .trim()
        .to_string()
}

fn wait_domstate(root: &Path, name: &str, want: &str, limit: Duration) -> String {
    let end = Instant::now() + limit;
    loop {
        let s = domstate(root, name);
        if s == want || Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots real guests; run with --features qemu-tests"
)]
fn tcp_console_link_states_and_panics_follow_the_definition() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let guests = [
        ("crashy", p1, "restart"),
        ("dumpy", p2, "coredump-destroy"),
        ("rebooty", p3, "destroy"),
    ];
    for (name, port, on_crash) in guests {
        let mut xml = guest_xml(name, port, on_crash);
        if name == "rebooty" {
            xml = xml.replace("<on_crash>", "<on_reboot>destroy</on_reboot><on_crash>");
        }
        let file = root.join(format!("{name}.xml"));
        std::fs::write(&file, xml).expect("xml");
        virt_ok(&root, &["define", &file.display().to_string()]);
        virt_ok(&root, &["start", name]);
    }
    guard.pids = guard.pids_in_status();
    let mut c1 = Console::connect(p1);
    let mut c2 = Console::connect(p2);
    let mut c3 = Console::connect(p3);
    for c in [&c1, &c2, &c3] {
        c.until(READY_MARKER, Duration::from_secs(180));
    }

    // on_reboot destroy (set-action after the start): a guest reboot powers it off.
    c3.type_line("reboot -f");
    assert_eq!(
        wait_domstate(
            &root,
            "rebooty",
            "shut off (shutdown)",
            Duration::from_secs(60)
        ),
        "shut off (shutdown)"
    );

    // Link states: the first NIC's link was taken down after the start.
    c1.type_line(
        "ifconfig eth1 up; for i in /sys/class/net/eth*; do \
         echo LINK $(cat $i/address) $(cat $i/carrier); done; echo LINKS-$((40+2))",
    );
    // The shell echoes what is typed: the marker is one the echo does not contain.
    let seen = c1.until("LINKS-42", Duration::from_secs(30));
    let carrier = |mac: &str| {
        seen.iter()
            .find_map(|l| l.strip_prefix(&format!("LINK {mac} ")))
            .map(str::trim)
            .map(String::from)
            .unwrap_or_else(|| panic!("no link line for {mac}: {seen:#?}"))
    };
    assert_eq!(carrier("52:54:00:de:0a:01"), "0", "link down");
    assert_eq!(carrier("52:54:00:de:0a:02"), "1", "link up");

    // on_crash restart: the panic is reported, the guest boots again on the same console.
    c1.type_line("echo c > /proc/sysrq-trigger");
    c1.until(READY_MARKER, Duration::from_secs(120));
    assert_eq!(domstate(&root, "crashy"), "running (crashed)");
    let log = std::fs::read_to_string(root.join("var/log/virt/qemu/crashy.log")).expect("log");
    assert!(
        !log.contains("shutting down"),
        "the same QEMU runs on: {log}"
    );

    // on_crash coredump-destroy: a dump, then shut off (crashed).
    c2.type_line("echo c > /proc/sysrq-trigger");
    assert_eq!(
        wait_domstate(
            &root,
            "dumpy",
            "shut off (crashed)",
            Duration::from_secs(60)
        ),
        "shut off (crashed)"
    );
    let dumps: Vec<_> = std::fs::read_dir(root.join("var/lib/virt/qemu/dump"))
        .expect("the dump dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-dumpy-"))
        .collect();
    assert_eq!(dumps.len(), 1, "one dump");
    let mut head = [0u8; 4];
    std::fs::File::open(dumps[0].path())
        .and_then(|mut f| f.read_exact(&mut head))
        .expect("read the dump");
    assert_eq!(&head, b"\x7fELF", "an ELF core");
    assert!(
        dumps[0].metadata().expect("stat").len() > 64 << 20,
        "the guest's memory is in it"
    );
    virt_ok(&root, &["destroy", "crashy"]);
}

/// The VNC authentication response: the challenge DES-encrypted with the password (8 bytes,
/// zero-padded, each byte's bits reversed, as VNC does), by `openssl`.
fn vnc_response(password: &str, challenge: &[u8; 16]) -> Vec<u8> {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new("openssl")
        .args(["enc", "-des-ecb", "-nopad", "-K", &hex])
        .args(["-provider", "legacy", "-provider", "default"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is needed for the VNC authentication test");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(challenge)
        .expect("write the challenge");
    let out = child.wait_with_output().expect("openssl");
    assert!(
        out.status.success() && out.stdout.len() == 16,
        "openssl des-ecb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One RFB 3.8 handshake with VNC authentication: the security types offered, and whether
/// `password` was accepted.
fn vnc_login(port: u16, password: &str) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to VNC");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut version = [0u8; 12];
    s.read_exact(&mut version).expect("RFB version");
    assert_eq!(&version, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").expect("version");
    let mut n = [0u8; 1];
    s.read_exact(&mut n).expect("type count");
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types).expect("types");
    if !types.contains(&2) {
        return (types, false);
    }
    s.write_all(&[2]).expect("choose VNC auth");
    let mut challenge = [0u8; 16];
    s.read_exact(&mut challenge).expect("challenge");
    s.write_all(&vnc_response(password, &challenge))
        .expect("response");
    let mut result = [0u8; 4];
    s.read_exact(&mut result).expect("result");
    (types, u32::from_be_bytes(result) == 0)
}

fn vnc_port(root: &Path, name: &str) -> u16 {
    let xml = virt_ok(root, &["dumpxml", name]);
    xml.split("<graphics type='vnc' port='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no VNC port in {xml}"))
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "runs real guests; run with --features qemu-tests"
)]
fn vnc_passwords_are_set_through_the_monitor_and_expire() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    for (name, valid_to) in [
        ("vncpw", "2099-01-01T00:00:00"),
        ("vncold", "2011-05-31T16:11:22"),
    ] {
        let xml = format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='s3cret' \
             passwdValidTo='{valid_to}' keymap='en-us'/></devices></domain>"
        );
        let file = root.join(format!("{name}.xml"));
        std::fs::write(&file, xml).expect("xml");
        virt_ok(&root, &["define", &file.display().to_string()]);
        virt_ok(&root, &["start", name]);
    }
    guard.pids = guard.pids_in_status();
    let cmdline = std::fs::read_to_string(format!("/proc/{}/cmdline", guard.pids[0]))
        .expect("QEMU's command line");
    assert!(
        !cmdline.contains("s3cret"),
        "the password is not on the command line"
    );

    let port = vnc_port(&root, "vncpw");
    let (types, ok) = vnc_login(port, "s3cret");
    assert_eq!(types, [2], "VNC authentication only");
    assert!(ok, "the password is taken");
    assert!(!vnc_login(port, "wrong").1, "another is refused");
    assert!(
        !vnc_login(vnc_port(&root, "vncold"), "s3cret").1,
        "an expired password is refused"
    );

    let live = virt_ok(&root, &["dumpxml", "vncpw"]);
    assert!(!live.contains("passwd="), "{live}");
    let secure = virt_ok(&root, &["dumpxml", "--security-info", "vncpw"]);
    assert!(secure.contains("passwd='s3cret'"), "{secure}");
    for name in ["vncpw", "vncold"] {
        let (ok, _, err) = virt(&root, &["destroy", name]);
        assert!(ok, "{err}");
    }
}
