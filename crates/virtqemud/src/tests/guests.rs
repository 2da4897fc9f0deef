//! Driver-level tests with a real `qemu-system-x86_64` (TCG, diskless guests that sit in
//! SeaBIOS): start, state from events, suspend/resume seen by QEMU, reset, destroy timing,
//! crash detection, transient domains, start failures, console sessions, hotplug, and
//! reattaching after the driver goes away. Every QEMU is killed at the end, pass or fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use virt_core::driver::prelude::*;
use virt_core::events::lifecycle as lc;
use virt_core::events::{EventItem, EventSubscription};
use virt_core::proto::domain_event::Payload;
use virt_core::runtime::{Mode, Paths};
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use crate::process;
use crate::status_file::StatusDir;
use crate::QemuDriver;

/// Kills every QEMU a test root's status files name (and any pid registered), then removes
/// the cgroups of that root's guests, on drop.
pub(super) struct Guard {
    run: PathBuf,
    cgroup_prefix: Option<String>,
    pids: std::sync::Mutex<Vec<process::Pid>>,
}

impl Guard {
    pub(super) fn new(root: &Path) -> Guard {
        Guard {
            run: root.join("run/virt/qemu"),
            cgroup_prefix: virt_core::cgroup::machine_prefix(
                &Paths::resolve(Some(root), Mode::System),
                "qemu",
            ),
            pids: Default::default(),
        }
    }

    pub(super) fn note(&self, p: process::Pid) {
        self.pids.lock().expect("pids").push(p);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut pids = self.pids.lock().expect("pids").clone();
        for (_, st) in StatusDir::new(&self.run).load_all() {
            if let Ok(st) = st {
                pids.push(st.pid);
            }
        }
        for p in pids {
            if process::is_alive(p) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            for _ in 0..200 {
                process::reap(p.pid);
                if !process::is_alive(p) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Some(prefix) = &self.cgroup_prefix {
            virt_core::cgroup::sweep(prefix);
        }
    }
}

pub(super) fn open(root: &Path) -> Arc<QemuDriver> {
    QemuDriver::open(
        &Paths::resolve(Some(root), Mode::System),
        Arc::new(virt_xml::LibvirtXml),
    )
}

fn guest_xml(name: &str, n: u8) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>64</memory><currentMemory unit='MiB'>64</currentMemory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>\
         <devices><serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <memballoon model='virtio'/></devices></domain>"
    )
}

pub(super) fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

async fn state(d: &QemuDriver, n: &str) -> StateReason {
    d.domain_state(&name(n), 0).await.expect("state").1
}

/// The next lifecycle event (type, detail), skipping other payloads; fails after 20 s.
async fn next_lifecycle(sub: &mut EventSubscription) -> (i32, i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(EventItem::Event(e))) => {
                if let Payload::Lifecycle(l) = &e.payload {
                    return (lc::libvirt_type(l), l.detail);
                }
            }
            other => panic!("no lifecycle event: {other:?}"),
        }
    }
}

async fn next_payload(sub: &mut EventSubscription, want: fn(&Payload) -> bool) -> Payload {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(EventItem::Event(e))) if want(&e.payload) => return e.payload.clone(),
            Ok(Some(_)) => continue,
            other => panic!("event not seen: {other:?}"),
        }
    }
}

async fn qmp_status(d: &QemuDriver, n: &str) -> String {
    let uuid = d.lock().get(&name(n)).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let v = a
        .qmp
        .execute("query-status", None)
        .await
        .expect("query-status");
    v.get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

pub(super) fn pid_of(d: &QemuDriver, n: &str) -> process::Pid {
    d.lock()
        .get(&name(n))
        .expect("dom")
        .run
        .as_ref()
        .expect("running")
        .proc
        .pid()
}

async fn wait_state(d: &QemuDriver, n: &str, want: DomainState) -> StateReason {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = match d.domain_state(&name(n), 0).await {
            Ok((_, s)) => s,
            Err(e) => panic!("state of {n}: {e:?}"),
        };
        if s.state == want || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn start_suspend_resume_reset_destroy_follow_libvirt() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    assert_eq!(next_lifecycle(&mut sub).await, (lc::DEFINED, 0));
    let t = Instant::now();
    let h = d.create_domain(&name("g1"), 0).await.expect("start");
    let start_ms = t.elapsed().as_millis();
    guard.note(pid_of(&d, "g1"));
    eprintln!("start took {start_ms} ms");
    assert_eq!(h.id, Some(1));
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Running, reason::running::BOOTED)
    );
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::STARTED, lc::started::BOOTED)
    );
    assert_eq!(qmp_status(&d, "g1").await, "running");
    let p = pid_of(&d, "g1");
    assert!(process::is_alive(p));
    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(p.pid))).expect("sid");
    assert_eq!(sid.as_raw(), p.pid, "QEMU leads its own session");
    // Status file, live XML with ID and pty, inactive XML without.
    let status = root.path().join("run/virt/qemu/g1.xml");
    let text = std::fs::read_to_string(&status).expect("status file");
    assert!(text.contains(&format!("pid='{}'", p.pid)), "{text}");
    assert!(text.contains("<vcpu id='0' pid='"), "{text}");
    let live = d.domain_xml(&name("g1"), 0).await.expect("xml");
    assert!(live.contains("<domain type='qemu' id='1'>"), "{live}");
    assert!(live.contains("<source path='/dev/pts/"), "{live}");
    assert!(live.contains("<alias name='serial0'/>"), "{live}");
    let inactive = d.domain_xml(&name("g1"), 2).await.expect("xml");
    assert!(
        !inactive.contains("<domain type='qemu' id=")
            && !inactive.contains("/dev/pts/")
            && !inactive.contains("<alias "),
        "{inactive}"
    );
    assert_eq!(
        d.lookup_domain(&DomainLookup::Id(1))
            .await
            .expect("by id")
            .name,
        "g1"
    );
    let e = d.create_domain(&name("g1"), 0).await.expect_err("twice");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let e = d.resume_domain(&name("g1")).await.expect_err("running");
    assert_eq!(e.detail, "domain is already running");

    d.suspend_domain(&name("g1")).await.expect("suspend");
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Paused, reason::paused::USER)
    );
    assert_eq!(qmp_status(&d, "g1").await, "paused");
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::SUSPENDED, lc::suspended::PAUSED)
    );
    d.suspend_domain(&name("g1"))
        .await
        .expect("suspend twice is a no-op");
    d.resume_domain(&name("g1")).await.expect("resume");
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Running, reason::running::UNPAUSED)
    );
    assert_eq!(qmp_status(&d, "g1").await, "running");
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::RESUMED, lc::resumed::UNPAUSED)
    );

    d.reset_domain(&name("g1"), 0).await.expect("reset");
    next_payload(&mut sub, |p| matches!(p, Payload::Reboot(_))).await;

    // Live memory through the balloon; above the maximum is refused.
    d.set_domain_memory(&name("g1"), 32 * 1024, 1)
        .await
        .expect("balloon");
    let e = d
        .set_domain_memory(&name("g1"), 128 * 1024, 1)
        .await
        .expect_err("above max");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = d
        .set_domain_vcpus(&name("g1"), 2, 1)
        .await
        .expect_err("live vcpus above the maximum");
    assert_eq!(e.code, ErrorCode::InvalidArg, "{e:?}");

    let t = Instant::now();
    let h = d.destroy_domain(&name("g1"), 0).await.expect("destroy");
    let destroy = t.elapsed();
    eprintln!("destroy took {destroy:?}");
    // Well under the 10 s SIGKILL escalation: QEMU went on SIGTERM and the exit was seen.
    assert!(destroy < Duration::from_secs(5), "destroy took {destroy:?}");
    assert_eq!(h.id, None);
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Shutoff, reason::shutoff::DESTROYED)
    );
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::STOPPED, lc::stopped::DESTROYED)
    );
    assert!(!process::is_alive(p));
    assert!(!status.exists(), "status file removed");
    assert!(!root.path().join("run/virt/qemu/domain-1-g1").exists());
    let log = std::fs::read_to_string(root.path().join("var/log/virt/qemu/g1.log")).expect("log");
    assert!(log.contains("starting up"), "{log}");
    assert!(log.contains("-name guest=g1"), "{log}");
    assert!(log.contains("shutting down, reason=destroyed"), "{log}");
    let e = d
        .destroy_domain(&name("g1"), 0)
        .await
        .expect_err("not running");
    assert_eq!(e.detail, "domain is not running");
    // A second start gets the next ID.
    let h = d.create_domain(&name("g1"), 1).await.expect("start paused");
    guard.note(pid_of(&d, "g1"));
    assert_eq!(h.id, Some(2));
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Paused, reason::paused::USER)
    );
    assert_eq!(qmp_status(&d, "g1").await, "prelaunch");
    d.destroy_domain(&name("g1"), 0).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_killed_qemu_is_crashed_and_a_transient_domain_vanishes() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    d.create_domain(&name("g1"), 0).await.expect("start");
    let p = pid_of(&d, "g1");
    guard.note(p);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(p.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    let s = wait_state(&d, "g1", DomainState::Shutoff).await;
    assert_eq!(
        s,
        StateReason::new(DomainState::Shutoff, reason::shutoff::CRASHED)
    );
    assert_eq!(next_lifecycle(&mut sub).await, (lc::DEFINED, 0));
    assert_eq!(next_lifecycle(&mut sub).await, (lc::STARTED, 0));
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::STOPPED, lc::stopped::FAILED)
    );
    assert!(!root.path().join("run/virt/qemu/g1.xml").exists());

    let h = d
        .create_domain_xml(&guest_xml("t1", 2), 0)
        .await
        .expect("create");
    guard.note(pid_of(&d, "t1"));
    assert!(h.id.is_some());
    let list = d.list_all_domains(8).await.expect("transient list");
    assert_eq!(list.len(), 1);
    assert!(!list[0].persistent);
    let e = d
        .create_domain_xml(&guest_xml("t1", 2), 0)
        .await
        .expect_err("again");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.destroy_domain(&name("t1"), 0).await.expect("destroy");
    let e = d.lookup_domain(&name("t1")).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoDomain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_failed_start_quotes_qemus_log_and_leaves_nothing() {
    let root = tempfile::tempdir().expect("root");
    let _guard = Guard::new(root.path());
    let d = open(root.path());
    let xml = guest_xml("big", 3).replace(
        "<memory unit='MiB'>64</memory><currentMemory unit='MiB'>64</currentMemory>",
        "<memory unit='TiB'>64</memory><currentMemory unit='TiB'>64</currentMemory>",
    );
    d.define_domain(&xml, 0).await.expect("define");
    let t = Instant::now();
    let e = d.create_domain(&name("big"), 0).await.expect_err("too big");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(e.code, ErrorCode::InternalError, "{e:?}");
    assert!(
        e.detail
            .starts_with("process exited while connecting to monitor: "),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("qemu-system-x86_64"), "{}", e.detail);
    assert_eq!(
        state(&d, "big").await,
        StateReason::new(DomainState::Shutoff, reason::shutoff::FAILED)
    );
    assert!(!root.path().join("run/virt/qemu/big.xml").exists());
    let log = std::fs::read_to_string(root.path().join("var/log/virt/qemu/big.log")).expect("log");
    assert!(log.contains("shutting down, reason=failed"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn console_is_one_session_unless_forced_and_ends_with_the_guest() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    let e = d
        .open_console(&name("g1"), "", 0)
        .await
        .err()
        .expect("not running");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.create_domain(&name("g1"), 0).await.expect("start");
    guard.note(pid_of(&d, "g1"));
    let mut c1 = d.open_console(&name("g1"), "", 0).await.expect("console");
    c1.write_all(b"x").await.expect("write");
    let e = d
        .open_console(&name("g1"), "", 0)
        .await
        .err()
        .expect("busy");
    assert_eq!(e.detail, "Active console session exists for this domain");
    let mut c2 = d
        .open_console(&name("g1"), "serial0", 1)
        .await
        .expect("forced");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), c1.read(&mut buf))
        .await
        .expect("first session ends")
        .expect("read");
    assert_eq!(n, 0, "the first session ended");
    let e = d
        .open_console(&name("g1"), "serial7", 1)
        .await
        .err()
        .expect("no such");
    assert!(e.detail.contains("serial7"), "{}", e.detail);
    d.destroy_domain(&name("g1"), 0).await.expect("destroy");
    let n = tokio::time::timeout(Duration::from_secs(5), c2.read(&mut buf))
        .await
        .expect("second session ends")
        .expect("read");
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_disk_is_hot_plugged_and_unplugged() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let img = root.path().join("extra.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(8 << 20))
        .expect("image");
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    d.create_domain(&name("g1"), 0).await.expect("start");
    guard.note(pid_of(&d, "g1"));
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    let disk = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vdb' bus='virtio'/></disk>",
        img.display()
    );
    d.attach_device(&name("g1"), &disk, 1)
        .await
        .expect("attach");
    let uuid = d.lock().get(&name("g1")).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let blocks = a
        .qmp
        .execute("query-block", None)
        .await
        .expect("query-block");
    assert!(blocks.to_string().contains("virtio-disk1"), "{blocks}");
    assert!(d
        .domain_xml(&name("g1"), 0)
        .await
        .expect("xml")
        .contains("vdb"));
    let e = d
        .attach_device(&name("g1"), &disk, 1)
        .await
        .expect_err("twice");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    // SeaBIOS has no ACPI hotplug driver, but QEMU's PIIX hotplug completes a PCI unplug of
    // a guest that does not answer only after the guest acts; either outcome is allowed.
    let gone = d
        .detach_device(&name("g1"), &disk, "", 1)
        .await
        .expect("detach");
    if gone {
        next_payload(&mut sub, |p| matches!(p, Payload::DeviceRemoved(_))).await;
        let blocks = a
            .qmp
            .execute("query-block", None)
            .await
            .expect("query-block");
        assert!(!blocks.to_string().contains("virtio-disk1"), "{blocks}");
        assert!(!d
            .domain_xml(&name("g1"), 0)
            .await
            .expect("xml")
            .contains("vdb"));
    }
    let e = d
        .detach_device(&name("g1"), "", "virtio-disk9", 1)
        .await
        .expect_err("missing");
    assert_eq!(e.code, ErrorCode::DeviceMissing);
    // A user-mode NIC.
    let nic = "<interface type='user'><mac address='52:54:00:aa:bb:cc'/>\
               <model type='virtio'/></interface>";
    d.attach_device(&name("g1"), nic, 1)
        .await
        .expect("attach nic");
    let devs = a
        .qmp
        .execute(
            "qom-list",
            Some(serde_json::json!({"path": "/machine/peripheral"})),
        )
        .await
        .expect("qom-list");
    assert!(devs.to_string().contains("\"net0\""), "{devs}");
    assert!(d
        .domain_xml(&name("g1"), 0)
        .await
        .expect("xml")
        .contains("52:54:00:aa:bb:cc"));
    let e = d
        .attach_device(
            &name("g1"),
            "<interface type='bridge'><source bridge='x'/></interface>",
            1,
        )
        .await
        .expect_err("a bridge that does not exist");
    assert_eq!(e.code, ErrorCode::SystemError, "{e:?}");
    assert!(e.message().contains("bridge 'x'"), "{}", e.message());
    d.destroy_domain(&name("g1"), 0).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_new_driver_reattaches_to_live_guests_and_reports_dead_ones_crashed() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let (p1, p2) = {
        let d = open(root.path());
        d.define_domain(&guest_xml("g1", 1), 0)
            .await
            .expect("define");
        d.define_domain(&guest_xml("g2", 2), 0)
            .await
            .expect("define");
        d.create_domain(&name("g1"), 0).await.expect("start");
        d.create_domain(&name("g2"), 0).await.expect("start");
        d.suspend_domain(&name("g2")).await.expect("suspend");
        d.create_domain_xml(&guest_xml("t1", 3), 0)
            .await
            .expect("transient");
        guard.note(pid_of(&d, "t1"));
        (pid_of(&d, "g1"), pid_of(&d, "g2"))
    };
    guard.note(p1);
    guard.note(p2);
    // The first driver is gone (its monitor connections closed); g2 dies meanwhile.
    tokio::time::sleep(Duration::from_millis(100)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(p2.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    for _ in 0..200 {
        process::reap(p2.pid);
        if !process::is_alive(p2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let d = open(root.path());
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    d.start_guests().await;
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Running, reason::running::BOOTED)
    );
    assert_eq!(
        state(&d, "g2").await,
        StateReason::new(DomainState::Shutoff, reason::shutoff::CRASHED)
    );
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::STOPPED, lc::stopped::FAILED)
    );
    assert!(!root.path().join("run/virt/qemu/g2.xml").exists());
    assert_eq!(pid_of(&d, "g1"), p1);
    assert_eq!(d.lookup_domain(&name("g1")).await.expect("g1").id, Some(1));
    assert!(d
        .lookup_domain(&name("t1"))
        .await
        .expect("t1 still there")
        .id
        .is_some());
    // Controllable again, and new IDs do not clash.
    d.suspend_domain(&name("g1")).await.expect("suspend");
    assert_eq!(qmp_status(&d, "g1").await, "paused");
    d.resume_domain(&name("g1")).await.expect("resume");
    let h = d.create_domain(&name("g2"), 0).await.expect("restart g2");
    guard.note(pid_of(&d, "g2"));
    assert_eq!(h.id, Some(4));
    d.destroy_domain(&name("t1"), 0).await.expect("destroy t1");
    assert!(
        d.lookup_domain(&name("t1")).await.is_err(),
        "transient gone"
    );
    d.destroy_domain(&name("g1"), 0).await.expect("destroy g1");
    d.destroy_domain(&name("g2"), 0).await.expect("destroy g2");
}

fn param(r: &virt_core::types::StatsRecord, k: &str) -> Option<u64> {
    r.params
        .iter()
        .find(|p| p.field == k)
        .map(|p| match p.value {
            virt_core::types::TypedValue::Int(v) => v as u64,
            virt_core::types::TypedValue::UInt(v) => u64::from(v),
            virt_core::types::TypedValue::LLong(v) => v as u64,
            virt_core::types::TypedValue::ULLong(v) => v,
            _ => 0,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn bulk_stats_cover_running_and_shut_off_domains() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    d.define_domain(&guest_xml("off", 2), 0)
        .await
        .expect("define");
    d.create_domain(&name("g1"), 0).await.expect("start");
    guard.note(pid_of(&d, "g1"));
    let recs = d.all_domain_stats(0, 0).await.expect("stats");
    assert_eq!(recs.len(), 2);
    let off = recs.iter().find(|r| r.handle.name == "off").expect("off");
    assert_eq!(param(off, "state.state"), Some(5));
    assert_eq!(off.params.len(), 2, "a shut-off domain has its state only");
    let g1 = recs.iter().find(|r| r.handle.name == "g1").expect("g1");
    assert_eq!(param(g1, "state.state"), Some(1));
    assert_eq!(param(g1, "balloon.maximum"), Some(65536));
    assert_eq!(param(g1, "vcpu.current"), Some(1));
    let t0 = param(g1, "cpu.time").expect("cpu.time");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let recs = d
        .all_domain_stats(2, 16)
        .await
        .expect("running only, cpu group");
    assert_eq!(recs.len(), 1);
    let t1 = param(&recs[0], "cpu.time").expect("cpu.time");
    // SeaBIOS idles on HLT once it finds nothing to boot: the time is there and does not go
    // back (tests/tests/qemu_guests.rs checks that it grows with a busy guest).
    assert!(t0 > 0 && t1 >= t0, "cpu.time: {t0} -> {t1}");
    // dominfo's CPU time comes from the same source as cpu.time: read between two stats, it
    // lies between them (one source cannot run ahead of the other).
    let (_, info) = d.domain_info(&name("g1")).await.expect("info");
    let recs = d.all_domain_stats(2, 16).await.expect("cpu group");
    let t2 = param(&recs[0], "cpu.time").expect("cpu.time");
    assert!(
        t1 <= info.cpu_time_ns && info.cpu_time_ns <= t2,
        "dominfo {} outside domstats {t1}..{t2}",
        info.cpu_time_ns
    );
    let t = Instant::now();
    let recs = d
        .list_domain_stats(&[name("g1")], 0, 1 << 29)
        .await
        .expect("list nowait");
    eprintln!("stats of one guest took {:?}", t.elapsed());
    assert_eq!(recs.len(), 1);
    d.destroy_domain(&name("g1"), 0).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn autostart_runs_once_per_boot_marker() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    {
        let d = open(root.path());
        d.define_domain(&guest_xml("auto", 1), 0)
            .await
            .expect("define");
        d.define_domain(&guest_xml("manual", 2), 0)
            .await
            .expect("define");
        d.set_autostart(&name("auto"), true)
            .await
            .expect("autostart");
    }
    let d = open(root.path());
    d.start_guests().await;
    guard.note(pid_of(&d, "auto"));
    assert_eq!(state(&d, "auto").await.state, DomainState::Running);
    assert_eq!(state(&d, "manual").await.state, DomainState::Shutoff);
    assert!(root.path().join("run/virt/qemu/autostarted").exists());
    d.destroy_domain(&name("auto"), 0).await.expect("destroy");
    drop(d);
    // The marker says this host boot was served: a restarted daemon starts nothing.
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(state(&d, "auto").await.state, DomainState::Shutoff);
    let e = d
        .create_domain_xml(&guest_xml("t", 3), 2)
        .await
        .expect_err("autodestroy");
    assert_eq!(e.code, ErrorCode::OperationUnsupported);
}

/// Deletes the test bridge on drop.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = crate::tap::delete_bridge(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_bridge_interface_gets_a_tap_that_goes_with_the_guest() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let br = format!("vbr{}", std::process::id() % 100_000);
    crate::tap::create_bridge(&br).expect("bridge (needs root)");
    let _br = Bridge(br.clone());
    let tap = format!("vt{}", std::process::id() % 100_000);
    let xml = guest_xml("n1", 1).replace(
        "<memballoon",
        &format!(
            "<interface type='bridge'><mac address='52:54:00:12:34:56'/>\
             <source bridge='{br}'/><target dev='{tap}'/><model type='virtio'/></interface>\
             <memballoon"
        ),
    );
    let d = open(root.path());
    d.define_domain(&xml, 0).await.expect("define");
    d.create_domain(&name("n1"), 0).await.expect("start");
    guard.note(pid_of(&d, "n1"));
    let sys = Path::new("/sys/class/net").join(&tap);
    assert!(sys.exists(), "tap {tap} exists");
    let master = std::fs::read_link(sys.join("master")).expect("enslaved");
    assert!(master.ends_with(&br), "{}", master.display());
    let status = std::fs::read_to_string(root.path().join("run/virt/qemu/n1.xml")).expect("status");
    assert!(status.contains(&format!("<tap name='{tap}'/>")), "{status}");
    let recs = d
        .list_domain_stats(&[name("n1")], 16, 0)
        .await
        .expect("stats");
    assert_eq!(param(&recs[0], "net.count"), Some(1));
    assert!(recs[0].params.iter().any(|p| p.field == "net.0.name"));
    d.destroy_domain(&name("n1"), 0).await.expect("destroy");
    assert!(!sys.exists(), "tap {tap} removed with the guest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn save_restore_and_managed_save_round_trip() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    d.define_domain(&guest_xml("g1", 1), 0)
        .await
        .expect("define");
    d.create_domain(&name("g1"), 0).await.expect("start");
    guard.note(pid_of(&d, "g1"));
    let file = root.path().join("g1.save");
    let file_s = file.display().to_string();
    let t = Instant::now();
    d.save_domain(&name("g1"), &file_s, "", 0)
        .await
        .expect("save");
    eprintln!("save took {:?}", t.elapsed());
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Shutoff, reason::shutoff::SAVED)
    );
    let bytes = std::fs::read(&file).expect("image");
    assert_eq!(&bytes[..16], b"LibvirtQemudSave");
    // QEMU skips zero pages: the BIOS and a little RAM.
    assert!(
        bytes.len() > 100 << 10,
        "RAM is in the image: {} bytes",
        bytes.len()
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_lifecycle(&mut sub).await);
    }
    assert_eq!(
        seen,
        [
            (lc::DEFINED, 0),
            (lc::STARTED, lc::started::BOOTED),
            (lc::SUSPENDED, lc::suspended::PAUSED),
            (lc::STOPPED, lc::stopped::SAVED),
        ]
    );
    let h = d.restore_domain(&file_s, "", 0).await.expect("restore");
    guard.note(pid_of(&d, "g1"));
    assert!(h.id.is_some());
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Running, reason::running::RESTORED)
    );
    assert_eq!(qmp_status(&d, "g1").await, "running");
    assert_eq!(
        next_lifecycle(&mut sub).await,
        (lc::STARTED, lc::started::RESTORED)
    );
    let e = d.restore_domain(&file_s, "", 0).await.expect_err("active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);

    // Managed save: the image is used by the next start.
    d.managed_save(&name("g1"), 0).await.expect("managed save");
    assert!(d.has_managed_save_image(&name("g1")).await.expect("has"));
    assert_eq!(d.list_all_domains(256).await.expect("list").len(), 1);
    let e = d
        .undefine_domain(&name("g1"), 0)
        .await
        .expect_err("image exists");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.create_domain(&name("g1"), 0)
        .await
        .expect("start restores");
    guard.note(pid_of(&d, "g1"));
    assert_eq!(
        state(&d, "g1").await,
        StateReason::new(DomainState::Running, reason::running::RESTORED)
    );
    assert!(!d.has_managed_save_image(&name("g1")).await.expect("has"));
    assert!(!root.path().join("var/lib/virt/qemu/save/g1.save").exists());
    d.destroy_domain(&name("g1"), 0).await.expect("destroy");
    let junk = root.path().join("junk.save");
    std::fs::write(&junk, b"not an image at all, not even close to one").expect("junk");
    let e = d
        .restore_domain(&junk.display().to_string(), "", 0)
        .await
        .expect_err("junk");
    assert_eq!(e.code, ErrorCode::InvalidArg);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Start and destroy repeated on one definition, then bulk stats of 10 running guests, with
/// the run dir on a tmpfs as `/run` is in production. Asserts behaviour only (every guest
/// comes and goes, every record is full); the figures it prints are for a person, the
/// measured ones come from `tests/benches/qemu.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn repeated_start_destroy_and_bulk_stats_of_ten_guests() {
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("root")
    } else {
        tempfile::tempdir().expect("root")
    };
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let (mut starts, mut destroys) = (Vec::new(), Vec::new());
    d.define_domain(&guest_xml("g0", 100), 0)
        .await
        .expect("define");
    for _ in 0..7 {
        let t = Instant::now();
        d.create_domain(&name("g0"), 0).await.expect("start");
        starts.push(t.elapsed());
        guard.note(pid_of(&d, "g0"));
        let t = Instant::now();
        d.destroy_domain(&name("g0"), 0).await.expect("destroy");
        destroys.push(t.elapsed());
    }
    let names: Vec<String> = (1..=10).map(|i| format!("s{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        d.define_domain(&guest_xml(n, i as u8 + 1), 0)
            .await
            .expect("define");
        d.create_domain(&name(n), 0).await.expect("start");
        guard.note(pid_of(&d, n));
    }
    let mut stats = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let recs = d.all_domain_stats(0, 16).await.expect("stats");
        stats.push(t.elapsed());
        assert_eq!(recs.len(), 10);
        assert!(recs.iter().all(|r| r.params.len() > 10));
    }
    let (s, x, b) = (median(starts), median(destroys), median(stats));
    eprintln!(
        "start median {s:?}; destroy median {x:?}; all-groups stats of 10 guests median {b:?}"
    );
    for n in &names {
        d.destroy_domain(&name(n), 0).await.expect("destroy");
    }
}

/// Domain type `kvm`: where /dev/kvm is usable, a diskless guest runs with QEMU's KVM
/// accelerator enabled (`query-kvm`); where it is not, start refuses with CONFIG_UNSUPPORTED
/// naming KVM and no QEMU is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn kvm_domain_runs_with_the_kvm_accelerator_or_is_refused_clearly() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let xml = guest_xml("k1", 0x61).replace("<domain type='qemu'>", "<domain type='kvm'>");
    d.define_domain(&xml, 0).await.expect("define kvm");
    if !crate::host::kvm_available() {
        let e = d.create_domain(&name("k1"), 0).await.expect_err("no kvm");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e:?}");
        assert!(e.message().contains("KVM"), "{}", e.message());
        assert_eq!(state(&d, "k1").await.state, DomainState::Shutoff);
        return;
    }
    d.create_domain(&name("k1"), 0).await.expect("start kvm");
    guard.note(pid_of(&d, "k1"));
    assert_eq!(
        state(&d, "k1").await,
        StateReason::new(DomainState::Running, reason::running::BOOTED)
    );
    let uuid = d.lock().get(&name("k1")).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let kvm = a.qmp.execute("query-kvm", None).await.expect("query-kvm");
    assert_eq!(kvm.get("enabled"), Some(&Value::Bool(true)), "{kvm}");
    assert_eq!(qmp_status(&d, "k1").await, "running");
    d.destroy_domain(&name("k1"), 0).await.expect("destroy");
    assert_eq!(state(&d, "k1").await.state, DomainState::Shutoff);
}

/// Live vCPU hot-add: a guest defined with 1 of 2 vCPUs gets its second through
/// `query-hotpluggable-cpus` + `device_add`; QEMU then runs two vCPU threads, the live count
/// is 2 and the persistent one stays 1; removing one live is refused clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn vcpus_are_hot_added_to_a_running_guest() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    let xml = guest_xml("v1", 0x71).replace("<vcpu>1</vcpu>", "<vcpu current='1'>2</vcpu>");
    d.define_domain(&xml, 0).await.expect("define");
    d.create_domain(&name("v1"), 0).await.expect("start");
    guard.note(pid_of(&d, "v1"));
    let uuid = d.lock().get(&name("v1")).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    let before = a.qmp.execute("query-cpus-fast", None).await.expect("cpus");
    assert_eq!(count(&before), 1, "{before}");
    d.set_domain_vcpus(&name("v1"), 2, 1)
        .await
        .expect("hot-add");
    let after = a.qmp.execute("query-cpus-fast", None).await.expect("cpus");
    assert_eq!(count(&after), 2, "{after}");
    assert_eq!(d.domain_vcpus(&name("v1"), 1).await.expect("live count"), 2);
    assert_eq!(
        d.domain_vcpus(&name("v1"), 2).await.expect("config count"),
        1
    );
    let tids = d
        .lock()
        .get(&name("v1"))
        .expect("dom")
        .run
        .as_ref()
        .map(|r| r.vcpus.len());
    assert_eq!(tids, Some(2), "both vCPU threads are tracked");
    let e = d
        .set_domain_vcpus(&name("v1"), 1, 1)
        .await
        .expect_err("hot-remove");
    assert_eq!(e.code, ErrorCode::OperationUnsupported, "{e:?}");
    d.destroy_domain(&name("v1"), 0).await.expect("destroy");
}

/// A bridge interface hot-plugged into a running guest: the daemon makes the tap, enslaves it,
/// passes its descriptor over the monitor, and QEMU's new NIC uses it; the status file and the
/// stats know it, and the tap goes with the guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn a_bridge_interface_is_hot_plugged_with_a_tap_the_daemon_makes() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let br = format!("vhb{}", std::process::id() % 100_000);
    crate::tap::create_bridge(&br).expect("bridge (needs root)");
    let _br = Bridge(br.clone());
    let tap = format!("vh{}", std::process::id() % 100_000);
    let d = open(root.path());
    d.define_domain(&guest_xml("h1", 0x72), 0)
        .await
        .expect("define");
    d.create_domain(&name("h1"), 0).await.expect("start");
    guard.note(pid_of(&d, "h1"));
    let nic = format!(
        "<interface type='bridge'><mac address='52:54:00:aa:bb:cc'/>\
         <source bridge='{br}'/><target dev='{tap}'/><model type='virtio'/></interface>"
    );
    d.attach_device(&name("h1"), &nic, 1).await.expect("attach");
    let sys = Path::new("/sys/class/net").join(&tap);
    assert!(sys.exists(), "tap {tap} exists");
    let master = std::fs::read_link(sys.join("master")).expect("enslaved");
    assert!(master.ends_with(&br), "{}", master.display());
    let uuid = d.lock().get(&name("h1")).expect("dom").def.uuid;
    let a = d.active(&uuid).expect("active");
    let nets = a
        .qmp
        .execute(
            "qom-list",
            Some(serde_json::json!({"path": "/machine/peripheral"})),
        )
        .await
        .expect("qom-list");
    assert!(nets.to_string().contains("\"net0\""), "{nets}");
    let status = std::fs::read_to_string(root.path().join("run/virt/qemu/h1.xml")).expect("status");
    assert!(status.contains(&format!("<tap name='{tap}'/>")), "{status}");
    let recs = d
        .list_domain_stats(&[name("h1")], 16, 0)
        .await
        .expect("stats");
    assert_eq!(param(&recs[0], "net.count"), Some(1));
    d.destroy_domain(&name("h1"), 0).await.expect("destroy");
    assert!(!sys.exists(), "tap {tap} removed with the guest");
}
