//! One conformance suite of libvirt's behaviour, run against every driver through its real
//! daemon and the Rust client: the test driver (served by `virt-proxy`) and the QEMU driver
//! (`virtqemud` with a real diskless TCG guest). A driver joins by adding one line to
//! [`DRIVERS`]: its daemon, its URI and a minimal domain definition.
//!
//! The cases are what a program written against libvirt relies on whatever the hypervisor:
//! lifecycle states and reasons, lifecycle events and their details, error codes for the
//! usual mistakes, flag checking and list filters, and read-only refusal.
#![cfg(feature = "system-tests")]

use std::time::Duration;

use virt_client::{Connection, EventItem, EventStream};
use virt_core::events::lifecycle as lc;
use virt_core::kit::flags::{list, modify};
use virt_core::proto::domain_event::Payload;
use virt_core::state::{reason, DomainState};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;
use virt_tests::DaemonUnderTest;

/// One driver under test.
struct DriverCase {
    /// Its name in messages.
    name: &'static str,
    /// The daemon binary and its arguments.
    daemon: &'static str,
    args: &'static [&'static str],
    /// The URI scheme and path the daemon serves (`test:///default`, `qemu:///system`).
    scheme: &'static str,
    path: &'static str,
    /// A persistent domain that starts and stops quickly.
    xml: fn(&str, &str) -> String,
    /// What the driver needs of the host, or why it is skipped.
    available: fn() -> Result<(), String>,
}

/// Every driver the suite runs against: one line each.
const DRIVERS: &[DriverCase] = &[
    DriverCase {
        name: "test",
        daemon: "virt-proxy",
        args: &[],
        scheme: "test",
        path: "/default",
        xml: test_xml,
        available: always,
    },
    DriverCase {
        name: "qemu",
        daemon: "virtqemud",
        args: &["--system"],
        scheme: "qemu",
        path: "/system",
        xml: qemu_xml,
        available: qemu_installed,
    },
    DriverCase {
        name: "lxc",
        daemon: "virtlxcd",
        args: &["--system"],
        scheme: "lxc",
        path: "/system",
        xml: lxc_xml,
        available: virt_tests::lxc::available,
    },
];

fn always() -> Result<(), String> {
    Ok(())
}

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

fn qemu_installed() -> Result<(), String> {
    if std::path::Path::new(QEMU).exists() {
        Ok(())
    } else {
        Err(format!("{QEMU} is not installed"))
    }
}

fn test_xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>128</memory><vcpu>2</vcpu>\
         <os><type arch='i686'>hvm</type></os></domain>"
    )
}

/// A diskless TCG guest: SeaBIOS finds nothing to boot and waits, which is all the suite needs.
fn qemu_xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>2</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{QEMU}</emulator><controller type='usb' model='none'/>\
         <memballoon model='none'/></devices></domain>"
    )
}

/// A busybox container whose init sleeps forever (and leaves on SIGTERM); one root shared by
/// every case, built on first use and kept for the test process's life.
fn lxc_xml(name: &str, uuid: &str) -> String {
    static ROOT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let root = ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("rootfs dir").keep();
        virt_tests::lxc::build_rootfs(&dir, &virt_tests::lxc::sleeping_init("CONFORMANCE"))
    });
    virt_tests::lxc::ContainerXml::new(name, uuid, root)
        .vcpus(2)
        .xml()
}

/// A driver's daemon, a read-write and a read-only connection to it.
struct Under {
    case: &'static DriverCase,
    daemon: DaemonUnderTest,
    rw: Connection,
    ro: Connection,
}

impl Under {
    async fn start(case: &'static DriverCase) -> Under {
        let daemon = DaemonUnderTest::start(case.daemon, case.args);
        let uri = |sock: &std::path::Path| {
            format!(
                "{}+unix://{}?socket={}",
                case.scheme,
                case.path,
                sock.display()
            )
        };
        let rw = Connection::open(Some(&uri(&daemon.socket)), false)
            .await
            .unwrap_or_else(|e| panic!("{}: open read-write: {e}", case.name));
        let ro = Connection::open(Some(&uri(&daemon.socket_ro)), true)
            .await
            .unwrap_or_else(|e| panic!("{}: open read-only: {e}", case.name));
        Under {
            case,
            daemon,
            rw,
            ro,
        }
    }

    fn xml(&self, name: &str, uuid: &str) -> String {
        (self.case.xml)(name, uuid)
    }

    async fn state(&self, name: &str) -> (DomainState, i32) {
        let s = self
            .rw
            .domain_state(&lookup(name))
            .await
            .unwrap_or_else(|e| panic!("{}: state of {name}: {e}", self.case.name));
        (DomainState::from_number(s.state), s.reason)
    }

    /// The code of a call's error; a success fails the test naming the case.
    fn code<T: std::fmt::Debug>(
        &self,
        what: &str,
        r: Result<T, virt_client::ClientError>,
    ) -> ErrorCode {
        match r {
            Ok(v) => panic!(
                "{}: {what} succeeded ({v:?}), an error was expected",
                self.case.name
            ),
            Err(e) => e.code(),
        }
    }
}

impl Drop for Under {
    /// Kills whatever guest the QEMU or LXC driver still runs (their guests outlive the daemon).
    fn drop(&mut self) {
        let _ = virt_tests::qemu::QemuGuard::new(self.daemon.root.path());
        let _ = virt_tests::lxc::LxcGuard::new(self.daemon.root.path());
    }
}

fn lookup(name: &str) -> DomainLookup {
    DomainLookup::Name(name.into())
}

/// Runs `case` against every available driver, each with a daemon of its own.
async fn for_each_driver<F, Fut>(case: F)
where
    F: Fn(Under) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ran = 0;
    for d in DRIVERS {
        match (d.available)() {
            Ok(()) => {
                case(Under::start(d).await).await;
                ran += 1;
            }
            Err(why) => eprintln!("{}: skipped: {why}", d.name),
        }
    }
    assert!(ran > 0, "no driver could run");
}

/// The next lifecycle event of domain `name` as (libvirt type, detail); others are skipped.
async fn next_lifecycle(s: &mut EventStream, name: &str) -> (i32, i32) {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("an event arrives within 10 s")
            .expect("stream ok")
            .expect("stream open");
        if let EventItem::Event(e) = item {
            let Some(Payload::Lifecycle(l)) = e.payload else {
                continue;
            };
            if e.domain.as_ref().is_some_and(|d| d.name == name) {
                return (lc::libvirt_type(&l), l.detail);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_states_reasons_and_events() {
    for_each_driver(|u| async move {
        let n = "conf-life";
        let mut events =
            u.rw.stream_events(None, None, &[])
                .await
                .expect("subscribe");
        u.rw.define(&u.xml(n, "c0000000-0000-4000-8000-000000000001"), 0)
            .await
            .expect("define");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::DEFINED, lc::defined::ADDED)
        );
        assert_eq!(
            u.state(n).await,
            (DomainState::Shutoff, reason::shutoff::UNKNOWN),
            "{}: a defined domain",
            u.case.name
        );

        u.rw.create(&lookup(n), 0).await.expect("start");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::STARTED, lc::started::BOOTED)
        );
        assert_eq!(
            u.state(n).await,
            (DomainState::Running, reason::running::BOOTED)
        );

        u.rw.suspend(&lookup(n)).await.expect("suspend");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::SUSPENDED, lc::suspended::PAUSED)
        );
        assert_eq!(
            u.state(n).await,
            (DomainState::Paused, reason::paused::USER)
        );

        u.rw.resume(&lookup(n)).await.expect("resume");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::RESUMED, lc::resumed::UNPAUSED)
        );
        assert_eq!(
            u.state(n).await,
            (DomainState::Running, reason::running::UNPAUSED)
        );

        u.rw.destroy(&lookup(n), 0).await.expect("destroy");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::STOPPED, lc::stopped::DESTROYED)
        );
        assert_eq!(
            u.state(n).await,
            (DomainState::Shutoff, reason::shutoff::DESTROYED)
        );

        u.rw.undefine(&lookup(n), 0).await.expect("undefine");
        assert_eq!(
            next_lifecycle(&mut events, n).await,
            (lc::UNDEFINED, lc::undefined::REMOVED)
        );
        let gone = u.rw.lookup(&lookup(n)).await;
        assert_eq!(u.code("lookup after undefine", gone), ErrorCode::NoDomain);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_state_and_missing_domains_have_libvirts_codes() {
    for_each_driver(|u| async move {
        let n = "conf-errors";
        let missing = u.rw.lookup(&lookup("conf-no-such-domain")).await;
        assert_eq!(
            u.code("lookup of a missing name", missing),
            ErrorCode::NoDomain
        );
        let bad = u.rw.define("<domain type='test'><name>x</name>", 0).await;
        assert_eq!(u.code("define of malformed XML", bad), ErrorCode::XmlError);

        u.rw.define(&u.xml(n, "c0000000-0000-4000-8000-000000000002"), 0)
            .await
            .expect("define");
        let r = u.rw.suspend(&lookup(n)).await;
        assert_eq!(
            u.code("suspend of a shut-off domain", r),
            ErrorCode::OperationInvalid
        );
        let r = u.rw.destroy(&lookup(n), 0).await;
        assert_eq!(
            u.code("destroy of a shut-off domain", r),
            ErrorCode::OperationInvalid
        );

        u.rw.create(&lookup(n), 0).await.expect("start");
        let r = u.rw.create(&lookup(n), 0).await;
        assert_eq!(
            u.code("start of a running domain", r),
            ErrorCode::OperationInvalid
        );
        let r = u.rw.resume(&lookup(n)).await;
        assert_eq!(
            u.code("resume of a running domain", r),
            ErrorCode::OperationInvalid
        );
        // Another definition with the running domain's name but another UUID.
        let clash =
            u.rw.define(&u.xml(n, "c0000000-0000-4000-8000-0000000000ff"), 0)
                .await;
        assert_eq!(
            u.code("define of a name another UUID has", clash),
            ErrorCode::OperationFailed
        );
        u.rw.destroy(&lookup(n), 0).await.expect("destroy");
        u.rw.undefine(&lookup(n), 0).await.expect("undefine");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_are_checked_and_list_filters_select() {
    for_each_driver(|u| async move {
        let (on, off) = ("conf-flags-on", "conf-flags-off");
        u.rw.define(&u.xml(on, "c0000000-0000-4000-8000-000000000003"), 0)
            .await
            .expect("define");
        u.rw.define(&u.xml(off, "c0000000-0000-4000-8000-000000000004"), 0)
            .await
            .expect("define");
        u.rw.create(&lookup(on), 0).await.expect("start");

        let r = u.rw.list_all_domains(1 << 20).await;
        assert_eq!(
            u.code("list with an unknown flag", r),
            ErrorCode::InvalidArg
        );
        let names = |flags| {
            let rw = &u.rw;
            async move {
                let mut v: Vec<String> = rw
                    .list_all_domains(flags)
                    .await
                    .expect("list")
                    .into_iter()
                    .filter_map(|s| s.domain.map(|d| d.name))
                    .filter(|n| n.starts_with("conf-flags-"))
                    .collect();
                v.sort();
                v
            }
        };
        assert_eq!(names(list::ACTIVE).await, [on]);
        assert_eq!(names(list::INACTIVE | list::PERSISTENT).await, [off]);
        assert_eq!(names(list::RUNNING | list::SHUTOFF).await, [off, on]);
        assert!(names(list::TRANSIENT).await.is_empty());
        assert!(names(list::PAUSED).await.is_empty());

        // The vCPU calls' argument rules (libvirt's API layer) and impact rules.
        let r = u.rw.set_vcpus(&lookup(on), 1, modify::MAXIMUM).await;
        assert_eq!(u.code("MAXIMUM without CONFIG", r), ErrorCode::InvalidArg);
        let r = u.rw.set_vcpus(&lookup(on), 0, modify::CONFIG).await;
        assert_eq!(u.code("zero vCPUs", r), ErrorCode::InvalidArg);
        let r =
            u.rw.get_vcpus(&lookup(on), modify::LIVE | modify::CONFIG)
                .await;
        assert_eq!(
            u.code("LIVE and CONFIG read together", r),
            ErrorCode::InvalidArg
        );
        let r = u.rw.get_vcpus(&lookup(off), modify::LIVE).await;
        assert_eq!(
            u.code("LIVE of a shut-off domain", r),
            ErrorCode::OperationInvalid
        );
        assert_eq!(u.rw.get_vcpus(&lookup(off), 0).await.expect("vcpus"), 2);
        assert_eq!(
            u.rw.get_vcpus(&lookup(on), modify::MAXIMUM)
                .await
                .expect("max vcpus"),
            2
        );
        u.rw.set_vcpus(&lookup(off), 1, modify::CONFIG)
            .await
            .expect("set vcpus");
        assert_eq!(
            u.rw.get_vcpus(&lookup(off), modify::CONFIG)
                .await
                .expect("vcpus"),
            1
        );

        u.rw.destroy(&lookup(on), 0).await.expect("destroy");
        for n in [on, off] {
            u.rw.undefine(&lookup(n), 0).await.expect("undefine");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_connection_reads_and_is_refused_changes() {
    for_each_driver(|u| async move {
        let n = "conf-ro";
        u.rw.define(&u.xml(n, "c0000000-0000-4000-8000-000000000005"), 0)
            .await
            .expect("define");
        let d = u.ro.lookup(&lookup(n)).await.expect("read-only lookup");
        assert_eq!(d.name, n);
        let listed = u.ro.list_all_domains(0).await.expect("read-only list");
        assert!(listed
            .iter()
            .any(|s| s.domain.as_ref().is_some_and(|d| d.name == n)));
        assert!(u
            .ro
            .domain_xml(&lookup(n), 0)
            .await
            .expect("read-only XML")
            .contains(n));
        let r = u.ro.create(&lookup(n), 0).await;
        assert_eq!(u.code("read-only start", r), ErrorCode::OperationDenied);
        let r =
            u.ro.define(
                &u.xml("conf-ro-2", "c0000000-0000-4000-8000-000000000006"),
                0,
            )
            .await;
        assert_eq!(u.code("read-only define", r), ErrorCode::OperationDenied);
        let r = u.ro.undefine(&lookup(n), 0).await;
        assert_eq!(u.code("read-only undefine", r), ErrorCode::OperationDenied);
        assert_eq!(u.state(n).await.0, DomainState::Shutoff, "nothing changed");
        u.rw.undefine(&lookup(n), 0).await.expect("undefine");
    })
    .await;
}
