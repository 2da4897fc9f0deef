//! virtqemud as a user runs it: the real binary under a temporary root, reached with the Rust
//! client and the `virt` CLI over its socket. Definitions on disk, a SIGKILL and a restart that
//! brings them back, event numbering that continues across the restart, damaged files that do
//! not stop the daemon, and the refusals of what this driver cannot do yet.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_client::{Connection, EventItem, EventStream};
use virt_core::events::lifecycle as lc;
use virt_core::proto::domain_event::Payload;
use virt_core::state::{reason, DomainState};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;
use virt_tests::workspace_bin;

/// A virtqemud process serving `qemu:///system` under a root that outlives it.
struct Qemud {
    child: Child,
    socket: PathBuf,
}

impl Qemud {
    /// Starts virtqemud with `--root root --system` and waits for its sockets.
    fn start(root: &Path) -> Qemud {
        let run = root.join("run/virt");
        let socket = run.join("virtqemud-sock");
        // A killed daemon leaves its socket files; wait for fresh ones.
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(run.join("virtqemud-sock-ro"));
        let child = Command::new(workspace_bin("virtqemud"))
            .arg("--root")
            .arg(root)
            .arg("--system")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn virtqemud");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(socket.exists() && run.join("virtqemud-sock-ro").exists()) {
            assert!(
                Instant::now() < deadline,
                "virtqemud did not create its sockets"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Qemud { child, socket }
    }

    fn uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket.display())
    }

    async fn connect(&self) -> Connection {
        Connection::open(Some(&self.uri()), false)
            .await
            .expect("open qemu:///system through the socket")
    }

    /// SIGKILL: no shutdown step runs.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL virtqemud");
        self.child.wait().expect("reap virtqemud");
    }
}

impl Drop for Qemud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

fn qemu_xml(virt_type: &str, name: &str, uuid: &str) -> String {
    format!(
        "<domain type='{virt_type}'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>2</vcpu>\n  <os>\n    \
         <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n</domain>\n"
    )
}

const ALPHA: &str = "11111111-2222-3333-4444-555555555555";
const BETA: &str = "66666666-7777-8888-9999-000000000000";

fn config_dir(root: &Path) -> PathBuf {
    root.join("etc/virt/qemu")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn listed(c: &Connection) -> Vec<(String, DomainState, i32)> {
    c.list_all_domains(0)
        .await
        .expect("list")
        .into_iter()
        .map(|s| {
            let d = s.domain.expect("domain");
            let st = s.state.expect("state");
            (d.name, DomainState::from_number(st.state), st.reason)
        })
        .collect()
}

/// (sequence, libvirt lifecycle type, detail, domain name) of the next item, which must be a
/// lifecycle event.
async fn next_lifecycle(s: &mut EventStream) -> (u64, i32, i32, String) {
    let item = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("an event arrives")
        .expect("stream ok")
        .expect("stream open");
    match item {
        EventItem::Event(e) => match e.payload {
            Some(Payload::Lifecycle(l)) => (
                e.sequence,
                lc::libvirt_type(&l),
                l.detail,
                e.domain.expect("domain").name,
            ),
            other => panic!("expected a lifecycle event, got {other:?}"),
        },
        EventItem::Gap { first, last } => panic!("unexpected gap {first}..{last}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_are_files_and_come_back_after_sigkill() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    c.define(&qemu_xml("kvm", "alpha", ALPHA), 0)
        .await
        .expect("define alpha");
    c.define(&qemu_xml("qemu", "beta", BETA), 0)
        .await
        .expect("define beta");
    let shutoff = (DomainState::Shutoff, reason::shutoff::UNKNOWN);
    assert_eq!(
        listed(&c).await,
        [
            ("alpha".to_string(), shutoff.0, shutoff.1),
            ("beta".to_string(), shutoff.0, shutoff.1)
        ]
    );
    let (dom, info) = c.domain_info(&name("alpha")).await.expect("dominfo");
    assert_eq!((dom.uuid.as_str(), dom.id), (ALPHA, None));
    assert_eq!(
        (info.max_memory_kib, info.memory_kib, info.vcpus),
        (262_144, 262_144, 2)
    );
    assert_eq!(info.os_type, "hvm");
    assert!(info.persistent && !info.autostart);
    let st = info.state.expect("state");
    assert_eq!((DomainState::from_number(st.state), st.reason), shutoff);

    // The file on disk is the whole definition, as dumpxml --security-info prints it; the
    // live and inactive XML of a shut-off domain are the same; no temporary file is left.
    let xml = c.domain_xml(&name("alpha"), 1).await.expect("dumpxml");
    assert!(xml.starts_with("<domain type='kvm'>"), "{xml}");
    assert!(xml.contains(&format!("<uuid>{ALPHA}</uuid>")), "{xml}");
    let on_disk = std::fs::read_to_string(config_dir(root.path()).join("alpha.xml"))
        .expect("alpha.xml written");
    assert_eq!(on_disk, xml);
    assert_eq!(
        c.domain_xml(&name("alpha"), 2).await.expect("inactive"),
        xml
    );
    assert_eq!(
        names_in(&config_dir(root.path())),
        ["alpha.xml", "beta.xml"]
    );

    c.set_autostart(&name("alpha"), true)
        .await
        .expect("autostart");
    let link = config_dir(root.path()).join("autostart/alpha.xml");
    assert!(std::fs::symlink_metadata(&link)
        .expect("autostart link")
        .file_type()
        .is_symlink());

    daemon.kill();
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    assert_eq!(
        listed(&c)
            .await
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    assert_eq!(c.domain_xml(&name("alpha"), 1).await.expect("dumpxml"), xml);
    assert!(c.get_autostart(&name("alpha")).await.expect("autostart"));
    assert!(!c.get_autostart(&name("beta")).await.expect("autostart"));
    let d = c
        .lookup(&DomainLookup::Any(BETA.into()))
        .await
        .expect("by uuid");
    assert_eq!(d.name, "beta");

    c.undefine(&name("alpha"), 0).await.expect("undefine");
    assert_eq!(
        names_in(&config_dir(root.path())),
        ["autostart", "beta.xml"]
    );
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "autostart link removed"
    );
    let err = c.domain_info(&name("alpha")).await.expect_err("gone");
    assert_eq!(err.code(), ErrorCode::NoDomain);
}

#[tokio::test(flavor = "multi_thread")]
async fn event_numbering_continues_across_a_restart() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    let mut stream = c.stream_events(None, None, &[]).await.expect("subscribe");
    c.define(&qemu_xml("kvm", "alpha", ALPHA), 0)
        .await
        .expect("define");
    c.define(&qemu_xml("kvm", "alpha", ALPHA), 0)
        .await
        .expect("redefine");
    let defined = lc::DEFINED;
    assert_eq!(
        next_lifecycle(&mut stream).await,
        (1, defined, lc::defined::ADDED, "alpha".into())
    );
    let (last_seen, ..) = next_lifecycle(&mut stream).await;
    assert_eq!(last_seen, 2);

    daemon.kill();
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    // Events the client missed while it was away.
    c.define(&qemu_xml("qemu", "beta", BETA), 0)
        .await
        .expect("define beta");
    c.undefine(&name("alpha"), 0).await.expect("undefine");
    let mut resumed = c
        .stream_events(Some(last_seen + 1), None, &[])
        .await
        .expect("resume");
    assert_eq!(
        next_lifecycle(&mut resumed).await,
        (3, defined, lc::defined::ADDED, "beta".into())
    );
    assert_eq!(
        next_lifecycle(&mut resumed).await,
        (4, lc::UNDEFINED, lc::undefined::REMOVED, "alpha".into())
    );
    c.define(&qemu_xml("qemu", "beta", BETA), 0)
        .await
        .expect("redefine beta");
    assert_eq!(
        next_lifecycle(&mut resumed).await,
        (5, defined, lc::defined::UPDATED, "beta".into())
    );
    // The events from before the restart are still in the ring.
    let mut from_start = c.stream_events(Some(1), None, &[]).await.expect("replay");
    assert_eq!(
        next_lifecycle(&mut from_start).await,
        (1, defined, lc::defined::ADDED, "alpha".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_definition_files_are_skipped_not_fatal() {
    let root = tempfile::tempdir().expect("root");
    let dir = config_dir(root.path());
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("broken.xml"), "<domain type='kvm'><name>broken").expect("write");
    std::fs::write(dir.join("other.xml"), qemu_xml("kvm", "mismatch", ALPHA)).expect("write");
    std::fs::write(
        dir.join("xen.xml"),
        qemu_xml("xen", "xen", "aaaaaaaa-2222-3333-4444-555555555555"),
    )
    .expect("write");
    std::fs::write(dir.join("good.xml"), qemu_xml("qemu", "good", BETA)).expect("write");
    std::fs::write(dir.join(".good.xml.tmp.999"), "<dom").expect("write");
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    assert_eq!(
        listed(&c)
            .await
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>(),
        ["good"]
    );
    // Skipped files are left for the administrator; the crash leftover is cleaned up.
    assert_eq!(
        names_in(&dir),
        ["broken.xml", "good.xml", "other.xml", "xen.xml"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_this_driver_cannot_do_is_refused_clearly() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;

    let err = c
        .define(&qemu_xml("xen", "x", ALPHA), 0)
        .await
        .expect_err("xen type refused");
    assert_eq!(err.code(), ErrorCode::ConfigUnsupported);
    let v = err.virt_error().expect("virt error");
    assert!(
        v.violations.iter().any(|v| v.path == "/domain/@type"),
        "{:?}",
        v.violations
    );
    assert!(!config_dir(root.path()).join("x.xml").exists());

    c.define(&qemu_xml("kvm", "alpha", ALPHA), 0)
        .await
        .expect("define");
    let err = c
        .define(&qemu_xml("kvm", "alpha", BETA), 0)
        .await
        .expect_err("same name, other uuid");
    assert_eq!(err.code(), ErrorCode::OperationFailed);
    let err = c
        .define(&qemu_xml("kvm", "renamed", ALPHA), 0)
        .await
        .expect_err("same uuid, other name");
    assert_eq!(err.code(), ErrorCode::OperationFailed);
    assert_eq!(names_in(&config_dir(root.path())), ["alpha.xml"]);

    let err = c.suspend(&name("alpha")).await.expect_err("not running");
    assert_eq!(err.code(), ErrorCode::OperationInvalid);
    assert!(err.to_string().contains("domain is not running"), "{err}");
    let err = c.destroy(&name("alpha"), 0).await.expect_err("not running");
    assert_eq!(err.code(), ErrorCode::OperationInvalid);

    let other = format!("qemu+unix:///session?socket={}", daemon.socket.display());
    let s = Connection::open(Some(&other), false).await.expect("open");
    let err = s.list_all_domains(0).await.expect_err("wrong instance");
    assert_eq!(err.code(), ErrorCode::NoConnect);
    assert!(err.to_string().contains("qemu:///session"), "{err}");

    let info = c.info().await.expect("info");
    assert_eq!(
        (info.daemon.as_str(), info.driver.as_str()),
        ("virtqemud", "QEMU")
    );
    assert!(info.features.iter().any(|f| f == "events.resume"));
    let v = c.version().await.expect("version");
    assert_eq!(v.hypervisor_type, "QEMU");
}

#[test]
fn virt_cli_lists_through_the_socket() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let file = root.path().join("alpha.xml");
    std::fs::write(&file, qemu_xml("kvm", "alpha", ALPHA)).expect("write");
    let virt = |args: &[&str]| {
        let out = Command::new(workspace_bin("virt"))
            .arg("-c")
            .arg(daemon.uri())
            .args(args)
            .output()
            .expect("run virt");
        assert!(out.status.success(), "virt {args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    virt(&["define", file.to_str().expect("utf-8 path")]);
    let list = virt(&["list", "--all"]);
    let row: Vec<&str> = list
        .lines()
        .find(|l| l.contains("alpha"))
        .expect("alpha listed")
        .split_whitespace()
        .collect();
    assert_eq!(row, ["-", "alpha", "shut", "off"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_only_socket_reads_and_refuses_writes() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    daemon
        .connect()
        .await
        .define(&qemu_xml("kvm", "alpha", ALPHA), 0)
        .await
        .expect("define");
    let ro_socket = daemon.socket.with_file_name("virtqemud-sock-ro");
    // Opened as read-write on purpose: the daemon, not the client, must refuse.
    let uri = format!("qemu+unix:///system?socket={}", ro_socket.display());
    let ro = Connection::open(Some(&uri), false).await.expect("open ro");
    assert_eq!(listed(&ro).await.len(), 1);
    assert!(ro.domain_xml(&name("alpha"), 0).await.is_ok());
    let err = ro
        .define(&qemu_xml("kvm", "beta", BETA), 0)
        .await
        .expect_err("write on the read-only socket");
    assert_eq!(err.code(), ErrorCode::OperationDenied);
    let err = ro.undefine(&name("alpha"), 0).await.expect_err("write");
    assert_eq!(err.code(), ErrorCode::OperationDenied);
    assert_eq!(names_in(&config_dir(root.path())), ["alpha.xml"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_facts_say_what_define_accepts() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let c = daemon.connect().await;
    let node = c.node_info().await.expect("node info");
    assert!(node.cpus >= 1 && node.memory_kib > 0, "{node:?}");
    let caps = c.capabilities().await.expect("capabilities");
    assert!(
        caps.contains(&format!("<arch>{}</arch>", node.model)),
        "{caps}"
    );
    let emulator = format!("/usr/bin/qemu-system-{}", node.model);
    if Path::new(&emulator).exists() {
        // One hvm guest per installed emulator, with the types define accepts.
        assert!(
            caps.contains(&format!("<emulator>{emulator}</emulator>")),
            "{caps}"
        );
        assert!(caps.contains("<domain type='qemu'/>"), "{caps}");
        let req = virt_core::proto::GetDomainCapabilitiesRequest {
            virt_type: "qemu".into(),
            ..Default::default()
        };
        let dc = c
            .domain_capabilities(req)
            .await
            .expect("domain capabilities");
        assert!(dc.contains("<domain>qemu</domain>"), "{dc}");
        // The default machine (pc-i440fx) as probed: 255 vCPUs, the figure GetMaxVcpus gives.
        let max = c.max_vcpus("qemu").await.expect("max vcpus");
        assert_eq!(max, 255);
        assert!(dc.contains(&format!("<vcpu max='{max}'/>")), "{dc}");
    } else {
        // No emulator to probe: libvirt's fixed answer for TCG.
        assert_eq!(c.max_vcpus("qemu").await.expect("max vcpus"), 16);
    }
    let req = virt_core::proto::GetDomainCapabilitiesRequest {
        virt_type: "xen".into(),
        ..Default::default()
    };
    let err = c.domain_capabilities(req).await.expect_err("xen");
    assert_eq!(err.code(), ErrorCode::InvalidArg);
}

#[test]
fn tunables_and_device_stats_of_an_inactive_domain() {
    let root = tempfile::tempdir().expect("root");
    let daemon = Qemud::start(root.path());
    let file = root.path().join("alpha.xml");
    std::fs::write(&file, qemu_xml("kvm", "alpha", ALPHA)).expect("write");
    let virt = |cmd: &str| {
        let out = Command::new(workspace_bin("virt"))
            .arg("-c")
            .arg(daemon.uri())
            .arg(cmd)
            .output()
            .expect("run virt");
        (
            String::from_utf8(out.stdout).expect("utf-8"),
            String::from_utf8(out.stderr).expect("utf-8"),
            out.status.code(),
        )
    };
    virt(&format!("define {}", file.display()));
    let unlimited =
        "hard_limit     : unlimited\nsoft_limit     : unlimited\nswap_hard_limit: unlimited\n\n";
    assert_eq!(virt("memtune alpha").0, unlimited);
    let (out, err, code) = virt("memtune alpha --hard-limit 1G --soft-limit 512M; memtune alpha");
    assert_eq!((err.as_str(), code), ("", Some(0)), "{out}");
    assert_eq!(
        out,
        "\nhard_limit     : 1048576\nsoft_limit     : 524288\nswap_hard_limit: unlimited\n\n"
    );
    let (_, err, code) = virt("memtune alpha --hard-limit 100 --swap-hard-limit 50");
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: Unable to change memory parameters\nerror: invalid argument: memory hard_limit tunable value must be lower than or equal to swap_hard_limit\n"
    );
    let (_, err, _) = virt("memtune alpha --min-guarantee 5");
    assert!(
        err.contains("parameter 'min_guarantee' not supported"),
        "{err}"
    );
    let (_, err, _) = virt("memtune alpha --live");
    assert!(err.contains("domain is not running"), "{err}");

    let (out, err, code) = virt("schedinfo alpha");
    assert_eq!((err.as_str(), code), ("", Some(0)), "{out}");
    assert!(
        out.starts_with("Scheduler      : posix\ncpu_shares     : 0\n"),
        "{out}"
    );
    let (out, err, code) =
        virt("schedinfo alpha --config --set cpu_shares=512 --set vcpu_quota=-1");
    assert_eq!((err.as_str(), code), ("", Some(0)), "{out}");
    assert!(out.contains("cpu_shares     : 512\n"), "{out}");
    assert!(out.contains("vcpu_quota     : -1\n"), "{out}");
    let (_, err, _) = virt("schedinfo alpha --config --set vcpu_period=10");
    assert!(
        err.contains("value of 'vcpu_period' is out of range [1000, 1000000]"),
        "{err}"
    );
    let (_, err, _) = virt("schedinfo alpha --set weight=1");
    assert!(err.contains("invalid scheduler option: weight"), "{err}");
    let xml = virt("dumpxml alpha").0;
    assert!(xml.contains("<shares>512</shares>"), "{xml}");
    assert!(
        xml.contains("<hard_limit unit='KiB'>1048576</hard_limit>"),
        "{xml}"
    );

    let (_, err, code) = virt("domifstat alpha vnet0");
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: Failed to get interface stats alpha vnet0\nerror: Requested operation is not valid: domain is not running\n"
    );
    let (_, err, _) = virt("domblkstat alpha vda");
    assert_eq!(
        err,
        "error: Requested operation is not valid: domain is not running\n"
    );
}
