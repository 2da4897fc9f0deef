//! A real guest booted from a command line `virtqemud::command::build` made: TCG, 128 MiB,
//! the cached test kernel and initramfs, serial console on a pty. The test reads the pty
//! until the guest's ready marker, presses the ACPI power button over QMP and sees the guest
//! power itself off (SHUTDOWN from the guest; `-no-shutdown` keeps QEMU up to report it),
//! then quits QEMU as the lifecycle code will and sees the process end.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use virt_tests::guest::{test_guest, GUEST_CMDLINE, READY_MARKER};
use virtqemud::command::{build, LaunchContext};

/// Kills and reaps QEMU if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A raw QMP connection: one JSON object per line; events are collected on the side.
struct Qmp {
    out: UnixStream,
    lines: BufReader<UnixStream>,
    events: Vec<String>,
}

impl Qmp {
    fn connect(path: &Path, deadline: Instant) -> Qmp {
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("QMP socket {} never answered: {e}", path.display()),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut q = Qmp {
            out: stream.try_clone().expect("clone"),
            lines: BufReader::new(stream),
            events: Vec::new(),
        };
        let greeting = q.line();
        assert!(greeting.contains("\"QMP\""), "{greeting}");
        let caps = q.execute(r#"{"execute":"qmp_capabilities"}"#);
        assert!(caps.contains("\"return\""), "{caps}");
        q
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.lines.read_line(&mut l).expect("QMP read");
        assert!(!l.is_empty(), "QMP connection closed");
        l
    }

    /// Sends a command and answers its reply, keeping events that arrive meanwhile.
    fn execute(&mut self, cmd: &str) -> String {
        writeln!(self.out, "{cmd}").expect("QMP write");
        loop {
            let l = self.line();
            if l.contains("\"event\"") {
                self.events.push(l);
            } else {
                return l;
            }
        }
    }

    /// Waits for an event by name (seen earlier or arriving now).
    fn event(&mut self, name: &str) -> String {
        let key = format!("\"event\": \"{name}\"");
        if let Some(i) = self.events.iter().position(|e| e.contains(&key)) {
            return self.events.remove(i);
        }
        loop {
            let l = self.line();
            if l.contains(&key) {
                return l;
            }
        }
    }
}

/// The pty path QEMU gave `charserial0` (as libvirt learns it, from query-chardev).
fn serial_pty(qmp: &mut Qmp) -> String {
    let reply = qmp.execute(r#"{"execute":"query-chardev"}"#);
    let at = reply.find("\"charserial0\"").expect("charserial0 listed");
    let entry_start = reply[..at].rfind('{').expect("entry");
    let entry = &reply[entry_start..];
    let f =
        entry.find("\"filename\": \"pty:").expect("pty filename") + "\"filename\": \"pty:".len();
    entry[f..].split('"').next().expect("path").to_string()
}

/// Reads the pty on a thread into a shared buffer (the read blocks; QEMU's exit ends it).
fn tail(path: &str) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut pty = std::fs::File::open(path).expect("open the serial pty");
    let sink = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pty.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().expect("buffer").extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// A running test guest: QEMU, its monitor and its console.
struct Booted {
    qemu: Guard,
    qmp: Qmp,
    console: Arc<Mutex<Vec<u8>>>,
    dir: tempfile::TempDir,
    qmp_ready: Duration,
    booted: Duration,
}

impl Booted {
    fn console(&self) -> String {
        String::from_utf8_lossy(&self.console.lock().expect("buffer")).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("qemu.log")).unwrap_or_default()
    }

    /// Sends `quit` (what the lifecycle code does after SHUTDOWN) and waits for the exit.
    fn quit(&mut self) {
        let quit = self.qmp.execute(r#"{"execute":"quit"}"#);
        assert!(quit.contains("\"return\""), "{quit}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(s) = self.qemu.0.try_wait().expect("status") {
                break s;
            }
            assert!(Instant::now() < deadline, "QEMU did not exit after quit");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(exit.success(), "{exit}: {}", self.log());
    }
}

/// Boots the test guest (TCG, 128 MiB, serial pty) with `devices` added, from the command
/// line `build` makes, and waits for the ready marker on the console.
fn boot(devices: &str, taps: Vec<virtqemud::tap::TapDevice>) -> Booted {
    let guest = test_guest().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = format!(
        "<domain type='qemu'><name>boot-test</name><memory unit='MiB'>128</memory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>\
         <kernel>{}</kernel><initrd>{}</initrd><cmdline>{GUEST_CMDLINE}</cmdline></os>\
         <features><acpi/></features>\
         <devices><serial type='pty'/><console type='pty'/>{devices}\
         <memballoon model='virtio'/></devices></domain>",
        guest.kernel.display(),
        guest.initrd.display()
    );
    let def = virt_xml::parse_domain(&xml).expect("parse");
    let emulator = which("qemu-system-x86_64");
    let ctx = LaunchContext {
        qemu_version: virtqemud::host::emulator_version(&emulator),
        emulator,
        domain_dir: dir.path().to_path_buf(),
        monitor: dir.path().join("monitor.sock"),
        kvm_usable: false,
        taps,
        start_paused: false,
        host_model_cpu: None,
        spice_port: None,
        memory: Default::default(),
    };
    let cmd = build(&def, &ctx).expect("command line");
    let log = std::fs::File::create(dir.path().join("qemu.log")).expect("log");
    let started = Instant::now();
    let child = cmd
        .command()
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn qemu");
    let mut qemu = Guard(child);
    // The daemon's copies of the tap descriptors go now: QEMU holds the only ones.
    drop(cmd);
    drop(ctx.taps);
    let mut qmp = Qmp::connect(&ctx.monitor, Instant::now() + Duration::from_secs(10));
    let qmp_ready = started.elapsed();
    let console = tail(&serial_pty(&mut qmp));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = String::from_utf8_lossy(&console.lock().expect("buffer")).into_owned();
        if text.contains(READY_MARKER) {
            assert!(!text.contains("not loaded"), "a module failed:\n{text}");
            break;
        }
        if let Ok(Some(status)) = qemu.0.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("qemu.log")).unwrap_or_default();
            panic!("qemu exited ({status}): {log}\nconsole:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "no marker in 120 s; console:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Booted {
        qemu,
        qmp,
        console,
        dir,
        qmp_ready,
        booted: started.elapsed(),
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn guest_boots_from_built_command_line_and_powers_off_on_acpi_button() {
    let mut g = boot("", Vec::new());
    let pressed = Instant::now();
    let reply = g.qmp.execute(r#"{"execute":"system_powerdown"}"#);
    assert!(reply.contains("\"return\""), "{reply}");
    let shutdown = g.qmp.event("SHUTDOWN");
    let powered_off = pressed.elapsed();
    assert!(
        shutdown.contains("\"guest\": true"),
        "{shutdown}\n{}",
        g.console()
    );
    // -no-shutdown: QEMU is still there, stopped, for the daemon to read why.
    assert!(
        g.qemu.0.try_wait().expect("status").is_none(),
        "QEMU must stay up"
    );
    let status = g.qmp.execute(r#"{"execute":"query-status"}"#);
    assert!(status.contains("\"shutdown\""), "{status}");
    g.quit();
    // The reader thread may still hold the guest's last lines (a loaded host): give it a
    // moment before reading what the console showed.
    let end = Instant::now() + Duration::from_secs(5);
    while !g.console().contains("power button: powering off") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        g.console().contains("power button: powering off"),
        "{}",
        g.console()
    );
    eprintln!(
        "boot timings: QMP answering {:?}, marker {:?} after spawn, ACPI power-off {powered_off:?} \
         after system_powerdown",
        g.qmp_ready, g.booted
    );
}

/// Deletes the test bridge when the test ends, however it ends.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = virtqemud::tap::delete_bridge(&self.0);
    }
}

fn sys(iface: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "needs root, /dev/net/tun and QEMU; run with --features qemu-tests"
)]
fn tap_on_a_real_bridge_is_passed_to_qemu_and_carries_guest_traffic() {
    use virtqemud::tap::{create_bridge, create_tap, delete_tap, Mac};
    let bridge = Bridge(format!("vtbr{}", std::process::id() % 100_000));
    create_bridge(&bridge.0).expect("bridge");
    let mac: Mac = "52:54:00:12:34:56".parse().expect("mac");

    let err = create_tap(Some("vtnobr%d"), Some("vt-no-such-br"), &mac).expect_err("no bridge");
    assert!(
        err.detail.contains("bridge 'vt-no-such-br'"),
        "{}",
        err.detail
    );
    let leftover = std::fs::read_dir("/sys/class/net")
        .expect("sysfs")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("vtnobr"));
    assert!(!leftover, "a failed create_tap left its tap behind");

    let nic = format!(
        "<interface type='bridge'><mac address='{mac}'/><source bridge='{}'/>\
         <target dev='vttap%d'/><model type='virtio'/></interface>",
        bridge.0
    );
    let probe = virt_xml::parse_domain(&format!(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os>\
         <devices>{nic}<interface type='user'/></devices></domain>"
    ))
    .expect("parse");
    let mut taps = virtqemud::tap::taps_for(&probe).expect("taps for the definition");
    assert_eq!(
        taps.len(),
        1,
        "one tap for the bridge NIC, none for the user NIC"
    );
    let tap = taps.remove(0);
    let name = tap.name.clone();
    assert!(name.starts_with("vttap") && !name.contains('%'), "{name}");
    assert_eq!(sys(&name, "address").as_deref(), Some("fe:54:00:12:34:56"));
    assert_eq!(sys(&name, "tun_flags").as_deref(), Some("0x5002"));
    assert_eq!(sys(&name, "mtu"), sys(&bridge.0, "mtu"));
    let master = std::fs::read_link(format!("/sys/class/net/{name}/master")).expect("enslaved");
    assert!(master.ends_with(&bridge.0), "{master:?}");
    let flags = sys(&name, "flags").expect("flags");
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).expect("hex");
    assert_eq!(flags & 1, 1, "tap is up");

    let mut g = boot(&nic, vec![tap]);
    // The guest brings eth0 up; its IPv6 router solicitations arrive on the tap.
    wait_for("guest packets on the tap", 30, || {
        sys(&name, "statistics/rx_packets").is_some_and(|n| n != "0")
    });
    let rx = g
        .qmp
        .execute(r#"{"execute":"query-rx-filter","arguments":{"name":"net0"}}"#);
    assert!(rx.contains("52:54:00:12:34:56"), "{rx}");

    // QEMU still holds the tap: delete_tap detaches and downs it; QEMU's exit removes it.
    delete_tap(&name).expect("delete while held");
    assert!(sys(&name, "master").is_none());
    assert!(!std::path::Path::new(&format!("/sys/class/net/{name}/master")).exists());
    let flags = sys(&name, "flags").expect("still exists");
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).expect("hex");
    assert_eq!(flags & 1, 0, "tap is down");
    g.quit();
    wait_for("the tap to vanish with QEMU", 5, || {
        sys(&name, "flags").is_none()
    });
    delete_tap(&name).expect("deleting a vanished tap is fine");
}

fn which(name: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

/// Every device kind `build` emits, on a q35 machine, in one definition.
fn rich_xml(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "<domain type='qemu'><name>rich</name><memory unit='MiB'>256</memory>\
         <maxMemory slots='2' unit='MiB'>1024</maxMemory>\
         <vcpu current='2'>4</vcpu>\
         <os><type arch='x86_64' machine='q35'>hvm</type><bootmenu enable='yes' timeout='100'/></os>\
         <features><acpi/><apic/><vmport state='off'/></features>\
         <cpu mode='maximum'><topology sockets='2' dies='1' cores='2' threads='1'/></cpu>\
         <clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/>\
         <timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>\
         <on_reboot>destroy</on_reboot>\
         <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='writeback' discard='unmap'/>\
         <source file='{d}/a.qcow2'/><target dev='vda' bus='virtio'/><boot order='2'/>\
         <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></disk>\
         <disk type='file' device='disk'><driver name='qemu' type='raw' cache='unsafe'/>\
         <source file='{d}/b.raw'/><target dev='sda' bus='sata'/><serial>B-SERIAL</serial></disk>\
         <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{d}/c.raw'/><target dev='sdb' bus='scsi'/><readonly/></disk>\
         <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\
         <target dev='sdc' bus='sata'/></disk>\
         <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\
         <source file='{d}/d.iso'/><target dev='sdd' bus='scsi'/><boot order='1'/></disk>\
         <controller type='pci' index='0' model='pcie-root'/>\
         <controller type='pci' index='1' model='pcie-root-port'><target chassis='1' port='0x10'/>\
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/></controller>\
         <controller type='pci' index='2' model='pcie-root-port'><target chassis='2' port='0x11'/>\
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/></controller>\
         <controller type='usb' index='0' model='qemu-xhci' ports='15'/>\
         <controller type='scsi' index='0' model='virtio-scsi'/>\
         <interface type='user'><mac address='52:54:00:00:00:0a'/><model type='virtio'/>\
         <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></interface>\
         <interface type='user'><mac address='52:54:00:00:00:0b'/><model type='e1000'/></interface>\
         <serial type='pty'/><serial type='file'><source path='{d}/serial1.log'/></serial>\
         <console type='pty'/>\
         <input type='tablet' bus='usb'/>\
         <graphics type='vnc' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>\
         <video><model type='virtio' heads='1' primary='yes'/></video>\
         <memballoon model='virtio' autodeflate='on'/>\
         <rng model='virtio'><rate bytes='1024' period='1000'/><backend model='builtin'/></rng>\
         </devices></domain>"
    )
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "starts a real QEMU; run with --features qemu-tests"
)]
fn rich_q35_definition_starts_in_real_qemu_with_every_device_under_its_alias() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = |name: &str, fmt: &str| {
        let out = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", fmt])
            .arg(dir.path().join(name))
            .arg("16M")
            .output()
            .expect("qemu-img");
        assert!(out.status.success(), "{out:?}");
    };
    img("a.qcow2", "qcow2");
    img("b.raw", "raw");
    img("c.raw", "raw");
    img("d.iso", "raw");
    let xml = rich_xml(dir.path());
    let def = virt_xml::parse_domain(&xml).expect("parse");
    use virt_core::xml::DomainXmlCodec;
    virt_xml::LibvirtXml
        .check_honoured(&def, &virtqemud::command::honoured())
        .expect("define would accept it");
    let emulator = which("qemu-system-x86_64");
    let ctx = LaunchContext {
        qemu_version: virtqemud::host::emulator_version(&emulator),
        emulator,
        domain_dir: dir.path().to_path_buf(),
        monitor: dir.path().join("monitor.sock"),
        kvm_usable: false,
        taps: Vec::new(),
        start_paused: true,
        host_model_cpu: None,
        spice_port: None,
        memory: Default::default(),
    };
    let cmd = build(&def, &ctx).expect("command line");
    let log = std::fs::File::create(dir.path().join("qemu.log")).expect("log");
    let child = cmd
        .command()
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn");
    let mut qemu = Guard(child);
    let log = || std::fs::read_to_string(dir.path().join("qemu.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ctx.monitor.exists() {
        if let Ok(Some(s)) = qemu.0.try_wait() {
            panic!(
                "QEMU refused the command line ({s}):\n{}\n{}",
                log(),
                cmd.render()
            );
        }
        assert!(Instant::now() < deadline, "no monitor socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut qmp = Qmp::connect(&ctx.monitor, deadline);
    let status = qmp.execute(r#"{"execute":"query-status"}"#);
    assert!(status.contains("\"prelaunch\""), "-S: {status}");
    let peripherals =
        qmp.execute(r#"{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}"#);
    for alias in [
        "virtio-disk0",
        "sata0-0-0",
        "sata0-0-2",
        "scsi0-0-0-1",
        "scsi0-0-0-3",
        "pci.1",
        "pci.2",
        "usb",
        "scsi0",
        "net0",
        "net1",
        "serial0",
        "serial1",
        "input0",
        "video0",
        "balloon0",
        "rng0",
    ] {
        assert!(
            peripherals.contains(&format!("\"name\": \"{alias}\"")),
            "{alias} missing from {peripherals}"
        );
    }
    let blocks = qmp.execute(r#"{"execute":"query-block"}"#);
    // Numbered from the last disk to the first as libvirt numbers them: the empty cdrom
    // (sata0-0-2) uses number 3 up without a node.
    for node in [
        "libvirt-5-format",
        "libvirt-4-format",
        "libvirt-2-format",
        "libvirt-1-format",
    ] {
        assert!(blocks.contains(node), "{node} missing from {blocks}");
    }
    let vnc = qmp.execute(r#"{"execute":"query-vnc"}"#);
    assert!(vnc.contains("\"service\": \"59"), "{vnc}");
    let cpus = qmp.execute(r#"{"execute":"query-cpus-fast"}"#);
    assert_eq!(cpus.matches("\"cpu-index\"").count(), 2, "{cpus}");
    let quit = qmp.execute(r#"{"execute":"quit"}"#);
    assert!(quit.contains("\"return\""), "{quit}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while qemu.0.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "QEMU did not quit");
        std::thread::sleep(Duration::from_millis(5));
    }
}
