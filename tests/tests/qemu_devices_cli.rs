//! The device and console commands on a real TCG guest, through virt-proxy and virtqemud:
//!
//! * `screenshot` returns QEMU's `screendump` of the guest's VGA as a PPM over the stream: a
//!   P6 header whose size is the VGA mode's, and exactly width x height x 3 bytes after it,
//!   written to the file given or to virsh's `NAME-DATE.ppm`;
//! * `vncdisplay` and `domdisplay` print the VNC port QEMU was given (read back from the live
//!   XML's `<graphics port=...>`, which autoport filled in);
//! * `inject-nmi` reaches the guest kernel, which reports an unknown NMI on its console;
//! * `send-key` sends Alt+SysRq+H on the guest's keyboard (translated to QEMU's key numbers),
//!   and the guest kernel answers on its console with its SysRq line; keys no code set
//!   knows are refused before QEMU is asked;
//! * `change-media` on the IDE CD-ROM (virDomainUpdateDeviceFlags: QMP tray and medium
//!   commands) changes, ejects and inserts the medium: the live XML follows, and QEMU's own
//!   open files (`/proc/PID/fd`) show which image it holds.
//!
//! Needs QEMU and the cached test guest (tests/src/guest.rs); every QEMU is killed at the end,
//! pass or fail. Listeners bind 127.0.0.1 only.

use std::io::BufRead;
use std::net::TcpStream;
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

/// The guest's serial console over TCP, line by line.
struct Console {
    _out: TcpStream,
    lines: mpsc::Receiver<String>,
}

impl Console {
    fn connect(port: u16) -> Console {
        let end = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
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
        Console {
            _out: stream,
            lines,
        }
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
}

/// A PPM's (width, height, pixel bytes) after checking its P6 header.
fn ppm(data: &[u8]) -> (usize, usize, usize) {
    // "P6\n<width> <height>\n<maxval>\n" then the pixels.
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        let start = pos;
        while pos < data.len() && !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..pos]).into_owned());
        pos += 1;
    }
    assert_eq!(fields[0], "P6", "a binary PPM");
    assert_eq!(fields[3], "255", "8 bits a channel");
    let w: usize = fields[1].parse().expect("width");
    let h: usize = fields[2].parse().expect("height");
    (w, h, data.len() - pos)
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn screenshot_displays_nmi_and_keys_reach_a_real_guest() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);
    let port = free_port();
    let image = test_guest().expect("test guest");
    let iso_a = root.join("a.iso").display().to_string();
    let iso_b = root.join("b.iso").display().to_string();
    std::fs::write(&iso_a, vec![b'a'; 64 * 1024]).expect("image a");
    std::fs::write(&iso_b, vec![b'b'; 64 * 1024]).expect("image b");
    let xml = format!(
        "<domain type='qemu'><name>shot</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel>\
         <initrd>{}</initrd><cmdline>{GUEST_CMDLINE}</cmdline></os>\
         <features><acpi/></features><devices>\
         <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\
         <source file='{iso_a}'/><target dev='hdc' bus='ide'/><readonly/></disk>\
         <serial type='tcp'><source mode='bind' host='127.0.0.1' service='{port}'/>\
         <protocol type='raw'/></serial>\
         <input type='keyboard' bus='ps2'/>\
         <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\
         <video><model type='vga'/></video></devices></domain>",
        image.kernel.display(),
        image.initrd.display()
    );
    let file = root.join("shot.xml");
    std::fs::write(&file, xml).expect("xml");
    virt_ok(&root, &["define", &file.display().to_string()]);

    // Not running: libvirt's refusals.
    let (ok, _, err) = virt(&root, &["vncdisplay", "shot"]);
    assert!(!ok);
    assert_eq!(err, "error: Domain is not running\n");
    let (ok, _, err) = virt(&root, &["inject-nmi", "shot"]);
    assert!(!ok);
    assert!(err.contains("domain is not running"), "{err}");

    virt_ok(&root, &["start", "shot"]);
    guard.pids = guard.pids_in_status();
    let console = Console::connect(port);
    console.until(READY_MARKER, Duration::from_secs(180));

    // vncdisplay / domdisplay: the port autoport gave, from the live XML.
    let live = virt_ok(&root, &["dumpxml", "shot"]);
    let vnc_port: u16 = live
        .split("<graphics type='vnc' port='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no VNC port in {live}"));
    assert!(vnc_port >= 5900, "{vnc_port}");
    let display = vnc_port - 5900;
    assert_eq!(
        virt_ok(&root, &["vncdisplay", "shot"]),
        format!("127.0.0.1:{display}\n\n")
    );
    assert_eq!(
        virt_ok(&root, &["domdisplay", "shot"]),
        format!("vnc://127.0.0.1:{display}\n")
    );
    // The port is QEMU's: a VNC server answers there with its RFB greeting.
    let mut rfb = TcpStream::connect(("127.0.0.1", vnc_port)).expect("VNC server");
    rfb.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut greeting = [0u8; 12];
    std::io::Read::read_exact(&mut rfb, &mut greeting).expect("RFB greeting");
    assert!(greeting.starts_with(b"RFB "), "{greeting:?}");
    drop(rfb);

    // screenshot to a file given: a PPM of the VGA's current mode.
    let shot = root.join("screen.ppm");
    let out = virt_ok(
        &root,
        &["screenshot", "shot", "--file", &shot.display().to_string()],
    );
    assert_eq!(
        out,
        format!(
            "Screenshot saved to {}, with type of image/x-portable-pixmap\n",
            shot.display()
        )
    );
    let data = std::fs::read(&shot).expect("screenshot file");
    let (w, h, pixels) = ppm(&data);
    assert_eq!(pixels, w * h * 3, "{w}x{h}");
    // The guest prints only on its serial port, so the VGA stays in a BIOS mode: text
    // (80x25 cells of 9x16 pixels) or one of the standard graphics modes.
    assert!(
        [(720, 400), (640, 480), (800, 600), (1024, 768), (640, 400)].contains(&(w, h)),
        "unexpected VGA size {w}x{h}"
    );
    // Without --file: NAME-DATE.ppm in the current directory, the same picture format.
    let cwd = tempfile::tempdir().expect("tempdir");
    let o = std::process::Command::new(virt_tests::workspace_bin("virt"))
        .args(["-c", "qemu:///system", "screenshot", "shot"])
        .env("VIRT_ROOT", &root)
        .current_dir(cwd.path())
        .output()
        .expect("run virt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let named: Vec<_> = std::fs::read_dir(cwd.path())
        .expect("cwd")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(
        named[0].starts_with("shot-") && named[0].ends_with(".ppm"),
        "{named:?}"
    );
    let again = std::fs::read(cwd.path().join(&named[0])).expect("named file");
    let (w2, h2, p2) = ppm(&again);
    assert_eq!((w2, h2, p2), (w, h, w * h * 3));
    // Screen 1 does not exist on one VGA head.
    let (ok, _, err) = virt(&root, &["screenshot", "shot", "--screen", "1"]);
    assert!(!ok);
    assert!(err.contains("no such screen ID"), "{err}");

    // inject-nmi: the guest kernel reports an NMI it cannot attribute.
    virt_ok(&root, &["inject-nmi", "shot"]);
    console.until("NMI received", Duration::from_secs(30));

    // send-key: Alt+SysRq+H on the PS/2 keyboard; the kernel answers on its console.
    virt_ok(
        &root,
        &["send-key", "shot", "KEY_LEFTALT", "KEY_SYSRQ", "KEY_H"],
    );
    console.until("sysrq", Duration::from_secs(30));
    // The same keys by number in another code set (atset1: 56, 84, 35).
    virt_ok(
        &root,
        &["send-key", "shot", "--codeset", "atset1", "56", "84", "35"],
    );
    console.until("sysrq", Duration::from_secs(30));
    // A USB code the key map lacks cannot be translated to QEMU's numbers.
    let (ok, _, err) = virt(&root, &["send-key", "shot", "--codeset", "usb", "300"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: internal error: cannot translate keycode 300 of usb codeset to qnum keycode\n"
    );
    // send-process-signal: QEMU guests have no process to signal, as libvirt's QEMU driver.
    let (ok, _, err) = virt(&root, &["send-process-signal", "shot", "1", "kill"]);
    assert!(!ok);
    assert!(
        err.contains("not supported by the connection driver: virDomainSendProcessSignal"),
        "{err}"
    );

    // change-media: the images QEMU holds open, by path.
    let pid = guard.pids[0];
    let open_files = || -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("QEMU's fds")
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .collect()
    };
    let cdrom_source = || -> Option<String> {
        let live = virt_ok(&root, &["dumpxml", "shot"]);
        let disk = live
            .split("<disk ")
            .find(|d| d.contains("dev='hdc'"))
            .expect("the CD-ROM in the live XML")
            .split("</disk>")
            .next()
            .expect("disk element")
            .to_string();
        disk.split("<source file='")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_string)
    };
    assert!(open_files().contains(&iso_a), "{:?}", open_files());
    assert_eq!(cdrom_source().as_deref(), Some(iso_a.as_str()));
    assert_eq!(
        virt_ok(&root, &["change-media", "shot", "hdc", &iso_b, "--update"]),
        "Successfully updated media.\n"
    );
    assert_eq!(cdrom_source().as_deref(), Some(iso_b.as_str()));
    let files = open_files();
    assert!(
        files.contains(&iso_b) && !files.contains(&iso_a),
        "{files:?}"
    );
    // The definition is left alone without --config.
    let inactive = virt_ok(&root, &["dumpxml", "shot", "--inactive"]);
    assert!(
        inactive.contains(&iso_a) && !inactive.contains(&iso_b),
        "{inactive}"
    );
    assert_eq!(
        virt_ok(&root, &["change-media", "shot", "hdc", "--eject"]),
        "Successfully ejected media.\n"
    );
    assert_eq!(cdrom_source(), None);
    let files = open_files();
    assert!(
        !files.contains(&iso_b) && !files.contains(&iso_a),
        "{files:?}"
    );
    let (ok, _, err) = virt(&root, &["change-media", "shot", "hdc", "--eject"]);
    assert!(!ok);
    assert_eq!(err, "error: The disk device 'hdc' doesn't have media\n");
    assert_eq!(
        virt_ok(&root, &["change-media", "shot", "hdc", &iso_a, "--insert"]),
        "Successfully inserted media.\n"
    );
    assert_eq!(cdrom_source().as_deref(), Some(iso_a.as_str()));
    assert!(open_files().contains(&iso_a), "{:?}", open_files());

    virt_ok(&root, &["destroy", "shot"]);
}
