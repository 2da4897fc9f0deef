//! The QEMU guest agent end to end: real guests (TCG, the cached kernel with the agent
//! initramfs of tests/src/guest.rs, which runs the host's qemu-ga inside) behind the real
//! `virtqemud` and `virt-proxy`, driven by `virt -c qemu:///system`.
//!
//! Guest `ga` (agent, QEMU user networking, an ext4 disk at /mnt): the channel's generated
//! socket in the live XML only and `state='connected'`; `domifaddr --source agent` with `lo`
//! and the user-network address; `guestinfo`, `domhostname`, `domtime` resynced from the RTC,
//! set and set to now (the guest's clock, never the host's), `domfsfreeze`/`domfsthaw` round trip,
//! `qemu-agent-command`, read-only refusal, then `shutdown --mode agent` to shut off
//! (shutdown) with the channel directory gone; AGENT_LIFECYCLE events when the guest opens
//! and closes the channel. Guest `gb` (agent stopped with SIGSTOP through
//! the agent itself): AGENT_UNRESPONSIVE within the asked timeout, and a default `shutdown`
//! that falls back from the silent agent to ACPI. Guests `gc` (channel, nothing in the guest
//! opens it) and `gd` (no channel): "not connected" and "not configured" at once. Every QEMU
//! is killed at the end, pass or fail.
//!
//! Networking is QEMU user networking only (slirp inside QEMU); nothing leaves the host.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use virt_client::{Connection, EventItem, EventStream};
use virt_core::proto::domain_event::Payload;
use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{
    test_guest_with_agent, GuestImage, AGENT_GUEST_ADDR, AGENT_GUEST_HOSTNAME, GUEST_CMDLINE,
};
use virt_tests::qemu::{virt, virt_ok, wait_domstate, wait_for_agent, QemuGuard};
use virt_tests::DaemonUnderTest;

const AGENT_CHANNEL: &str =
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>";

/// A guest booting the agent image (`extra` devices added).
fn linux_xml(name: &str, n: u8, image: &GuestImage, extra: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>a6e00000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>160</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         {AGENT_CHANNEL}{extra}</devices></domain>",
        image.kernel.display(),
        image.initrd.display()
    )
}

/// A guest that never boots an OS (SeaBIOS finds nothing), with `devices`.
fn firmware_xml(name: &str, n: u8, devices: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>a6e00000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices>{devices}</devices></domain>"
    )
}

fn define_and_start(root: &Path, name: &str, xml: &str) {
    let file = root.join(format!("{name}.xml"));
    std::fs::write(&file, xml).expect("write xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    virt_ok(root, &["start", name]);
}

/// `Time: N` of `domtime NAME` as N.
fn guest_time(root: &Path, name: &str) -> i64 {
    let out = virt_ok(root, &["domtime", name]);
    out.trim()
        .strip_prefix("Time: ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("domtime printed {out:?}"))
}

fn host_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The next AGENT_LIFECYCLE event of `name`: (state, reason).
async fn next_agent_event(ev: &mut EventStream, name: &str) -> (i32, i32) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ev.next()).await {
            Ok(Ok(Some(EventItem::Event(e))))
                if e.domain.as_ref().is_some_and(|d| d.name == name) =>
            {
                if let Some(Payload::AgentLifecycle(a)) = &e.payload {
                    return (a.state, a.reason);
                }
            }
            Ok(Ok(Some(_))) => continue,
            other => panic!("no agent-lifecycle event for {name}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots real guests; run with --features qemu-tests"
)]
async fn the_guest_agent_answers_through_the_daemon_and_its_absence_is_reported_at_once() {
    let image = test_guest_with_agent().expect("test guest with agent");
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let mut guard = QemuGuard::new(&root);
    let _daemon = ProcessDaemon::start("virtqemud", &root);

    let daemon_sock = root.join("run/virt/virtqemud-sock");
    let conn = Connection::open(
        Some(&format!(
            "qemu+unix:///system?socket={}",
            daemon_sock.display()
        )),
        false,
    )
    .await
    .expect("connect");
    let mut ev = conn.stream_events(None, None, &[]).await.expect("events");

    let disk = virt_tests::qemu::ext4_image(&root.join("ext4-disk.img"));
    let ga_devices = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <interface type='user'><mac address='52:54:00:6a:00:01'/><model type='virtio'/></interface>",
        disk.display()
    );
    define_and_start(&root, "ga", &linux_xml("ga", 1, &image, &ga_devices));
    define_and_start(&root, "gb", &linux_xml("gb", 2, &image, ""));
    define_and_start(&root, "gc", &firmware_xml("gc", 3, AGENT_CHANNEL));
    define_and_start(&root, "gd", &firmware_xml("gd", 4, ""));
    guard.pids = guard.pids_in_status();

    // No agent behind the channel, or no channel: refused at once, with libvirt's words.
    let t = Instant::now();
    let (ok, _, err) = virt(&root, &["domifaddr", "gc", "--source", "agent"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Failed to query for interfaces addresses\n\
         error: Guest agent is not responding: QEMU guest agent is not connected\n"
    );
    let (ok, _, err) = virt(&root, &["domtime", "gd"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: argument unsupported: QEMU guest agent is not configured\n"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let gc_xml = virt_ok(&root, &["dumpxml", "gc"]);
    assert!(
        gc_xml
            .contains("<target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>"),
        "{gc_xml}"
    );
    // Leases come from libvirt networks, which no NIC here is on: none, as libvirt.
    assert_eq!(
        virt_ok(&root, &["-q", "domifaddr", "gd", "--source", "lease"]),
        ""
    );
    let (ok, _, err) = virt(&root, &["domhostname", "gd", "--source", "lease"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: failed to get hostname\n\
         error: no hostname found: no hostname found for domain gd\n"
    );

    // ga: the agent opens its channel (AGENT_LIFECYCLE connected, reason channel) and answers.
    assert_eq!(next_agent_event(&mut ev, "ga").await, (1, 2));
    let addrs = wait_for_agent(&root, "ga");
    assert!(
        addrs.contains(" lo         00:00:00:00:00:00    ipv4         127.0.0.1/8\n"),
        "{addrs}"
    );
    assert!(
        addrs.contains(&format!(
            " eth0       52:54:00:6a:00:01    ipv4         {AGENT_GUEST_ADDR}/24\n"
        )),
        "{addrs}"
    );
    let full = virt_ok(
        &root,
        &[
            "domifaddr",
            "ga",
            "--source",
            "agent",
            "--full",
            "--interface",
            "lo",
        ],
    );
    assert!(
        full.lines()
            .skip(2)
            .all(|l| l.is_empty() || l.starts_with(" lo ")),
        "{full}"
    );

    let live = virt_ok(&root, &["dumpxml", "ga"]);
    let sock = root.join("run/virt/qemu/channel/target/domain-1-ga/org.qemu.guest_agent.0");
    assert!(
        live.contains(&format!("<source mode='bind' path='{}'/>", sock.display())),
        "{live}"
    );
    assert!(
        live.contains("<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"),
        "{live}"
    );
    let inactive = virt_ok(&root, &["dumpxml", "--inactive", "ga"]);
    assert!(!inactive.contains("channel/target"), "{inactive}");
    assert!(!inactive.contains("state="), "{inactive}");

    assert_eq!(
        virt_ok(&root, &["domhostname", "ga"]),
        format!("{AGENT_GUEST_HOSTNAME}\n\n")
    );
    let info = virt_ok(&root, &["guestinfo", "ga"]);
    for want in [
        format!("hostname            : {AGENT_GUEST_HOSTNAME}\n"),
        "fs.0.mountpoint     : /mnt\n".to_string(),
        "fs.0.fstype         : ext4\n".to_string(),
        "if.count            : 2\n".to_string(),
        "timezone.offset     : 0\n".to_string(),
    ] {
        assert!(info.contains(&want), "{want:?} missing from:\n{info}");
    }
    let os = virt_ok(&root, &["guestinfo", "ga", "--os"]);
    // libvirt's order: no os-release in the guest, so machine, kernel release and version.
    let keys: Vec<&str> = os.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(
        keys,
        ["os.machine", "os.kernel-release", "os.kernel-version", ""],
        "{os}"
    );
    assert!(os.contains("os.kernel-release   : 6.1.0-"), "{os}");

    // The guest's clock: resynced from its RTC (the host's time), set far away and read
    // back, then set to the host's time. The host clock is never touched.
    virt_ok(&root, &["domtime", "ga", "--sync"]);
    let synced = guest_time(&root, "ga");
    assert!((synced - host_time()).abs() < 120, "guest {synced}");
    virt_ok(&root, &["domtime", "ga", "--time", "2000000000"]);
    let set = guest_time(&root, "ga");
    assert!((set - 2_000_000_000).abs() < 30, "guest {set}");
    virt_ok(&root, &["domtime", "ga", "--now"]);
    let now = guest_time(&root, "ga");
    assert!((now - host_time()).abs() < 30, "guest {now}");

    // Freeze and thaw the ext4 at /mnt.
    assert_eq!(
        virt_ok(&root, &["domfsfreeze", "ga"]),
        "Froze 1 filesystem(s)\n\n"
    );
    assert_eq!(
        virt_ok(
            &root,
            &[
                "qemu-agent-command",
                "ga",
                r#"{"execute":"guest-fsfreeze-status"}"#
            ]
        ),
        "{\"return\":\"frozen\"}\n\n"
    );
    let (ok, _, err) = virt(&root, &["domfsthaw", "ga", "/mnt"]);
    assert!(!ok);
    assert!(
        err.ends_with("error: argument unsupported: specifying mountpoints is not supported\n"),
        "{err}"
    );
    assert_eq!(
        virt_ok(&root, &["domfsthaw", "ga"]),
        "Thawed 1 filesystem(s)\n\n"
    );
    assert_eq!(
        virt_ok(
            &root,
            &[
                "qemu-agent-command",
                "ga",
                "--pretty",
                r#"{"execute":"guest-ping"}"#
            ]
        ),
        "{\n  \"return\": {\n\n  }\n}\n\n\n"
    );
    let (ok, _, err) = virt(
        &root,
        &["qemu-agent-command", "ga", r#"{"execute":"guest-nope"}"#],
    );
    assert!(!ok);
    assert_eq!(
        err,
        "error: internal error: unable to execute QEMU agent command 'guest-nope': \
         The command guest-nope has not been found\n"
    );

    // Read-only connections may not use the agent.
    let ro = Command::new(virt_tests::workspace_bin("virt"))
        .args([
            "-r",
            "-c",
            "qemu:///system",
            "domifaddr",
            "ga",
            "--source",
            "agent",
        ])
        .env("VIRT_ROOT", &root)
        .output()
        .expect("virt -r");
    assert!(!ro.status.success());
    assert!(
        String::from_utf8_lossy(&ro.stderr)
            .contains("read only access prevents virDomainInterfaceAddresses"),
        "{}",
        String::from_utf8_lossy(&ro.stderr)
    );

    // gb: stop its agent through the agent; calls then time out within what they asked.
    wait_for_agent(&root, "gb");
    virt_ok(
        &root,
        &[
            "qemu-agent-command",
            "gb",
            r#"{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","sleep 1; kill -STOP $(pidof qemu-ga)"]}}"#,
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    let (ok, _, err) = virt(
        &root,
        &[
            "qemu-agent-command",
            "gb",
            "--timeout",
            "2",
            r#"{"execute":"guest-ping"}"#,
        ],
    );
    let took = t.elapsed();
    assert!(!ok);
    assert_eq!(
        err,
        "error: Guest agent is not responding: Guest agent not available for now\n"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    // The default shutdown tries the connected (but silent) agent, then ACPI.
    let t = Instant::now();
    virt_ok(&root, &["shutdown", "gb"]);
    assert_eq!(
        wait_domstate(&root, "gb", "shut off (shutdown)", Duration::from_secs(90)),
        "shut off (shutdown)"
    );
    eprintln!("gb: agent then ACPI shutdown took {:?}", t.elapsed());

    // ga: power off through the agent; the channel closes with the guest.
    virt_ok(&root, &["shutdown", "ga", "--mode", "agent"]);
    assert_eq!(next_agent_event(&mut ev, "ga").await, (2, 2));
    assert_eq!(
        wait_domstate(&root, "ga", "shut off (shutdown)", Duration::from_secs(60)),
        "shut off (shutdown)"
    );
    // The stop path publishes "shut off" as it takes the run out of the table and then
    // releases what the run held (QEMU reaped, swtpm, taps, the private and channel dirs):
    // the dirs go within moments of the state change, not necessarily before it.
    let chan_dir = root.join("run/virt/qemu/channel/target/domain-1-ga");
    let deadline = Instant::now() + Duration::from_secs(10);
    while (sock.exists() || chan_dir.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!sock.exists(), "the channel socket outlived the guest");
    assert!(!chan_dir.exists(), "the channel dir outlived the guest");
    virt_ok(&root, &["destroy", "gc"]);
    virt_ok(&root, &["destroy", "gd"]);
}
