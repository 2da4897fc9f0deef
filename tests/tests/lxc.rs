//! Real containers through the real binaries, as users run them: `virtlxcd` (and, for a second
//! set, `virt-proxy`) under a temporary root, `virt -c lxc+unix:///system?socket=...` for
//! every command, lifecycle events through the Rust client. Each container's root is a
//! busybox-static tree built at test time (tests/src/lxc.rs).
//!
//! Covered: define / start / console / domstats / suspend and resume seen in the cgroup
//! freezer / plain shutdown / destroy with their states, reasons and events, and nothing left
//! behind (controller, cgroup, status file); a veth on a bridge answering a ping (in a network
//! namespace of the test's own); the memory limit killing a process (and a container whose
//! init is killed ending crashed); `kill -9` of the daemon with containers running; an init
//! that exits; clear errors for bad XML, unsupported devices, a missing root and a missing
//! bridge; a transient container.
//!
//! Root only, with busybox-static installed: otherwise every test prints why and passes,
//! unless VIRT_REQUIRE_LXC is set.
#![cfg(feature = "system-tests")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use virt_client::{Connection, EventItem, EventStream};
use virt_core::events::lifecycle as lc;
use virt_core::proto::domain_event::Payload;
use virt_tests::lxc::{
    self, cgroup_dir, cgroup_dirs_left, links, mounts_under, stat_value, statuses, Cli,
    ContainerXml, LxcGuard, Lxcd, Rootfs,
};
use virt_tests::DaemonUnderTest;

/// Whether the test must be skipped here (and says why).
fn skip() -> bool {
    match lxc::available() {
        Ok(()) => false,
        Err(why) => {
            assert!(
                std::env::var_os("VIRT_REQUIRE_LXC").is_none(),
                "VIRT_REQUIRE_LXC is set but containers cannot run here: {why}"
            );
            eprintln!("notice: LXC test skipped: {why}");
            true
        }
    }
}

/// virtlxcd under a temporary root, maybe behind virt-proxy, and the CLI pointed at it. Drops
/// in field order: the guard kills what is left before the daemons stop and the root goes.
struct Stack {
    guard: LxcGuard,
    daemon: Option<Lxcd>,
    _proxy: Option<DaemonUnderTest>,
    _own_root: Option<tempfile::TempDir>,
    root: PathBuf,
    cli: Cli,
    /// Where test files (XML) are written.
    files: tempfile::TempDir,
}

impl Stack {
    fn new(via_proxy: bool) -> Stack {
        let (proxy, own_root, root) = if via_proxy {
            let p = DaemonUnderTest::proxy(&[]);
            let root = p.root.path().to_path_buf();
            (Some(p), None, root)
        } else {
            let d = tempfile::tempdir().expect("root");
            let root = d.path().to_path_buf();
            (None, Some(d), root)
        };
        let daemon = Lxcd::start(&root);
        let cli = match &proxy {
            Some(p) => Cli::new(&p.socket),
            None => Cli::new(&daemon.socket),
        };
        Stack {
            guard: LxcGuard::new(&root),
            daemon: Some(daemon),
            _proxy: proxy,
            _own_root: own_root,
            root,
            cli,
            files: tempfile::tempdir().expect("files dir"),
        }
    }

    fn define(&self, x: &ContainerXml) {
        let f = x.write(self.files.path());
        self.cli.ok(&["define", &f.display().to_string()]);
    }

    fn start(&mut self, name: &str) {
        self.cli.ok(&["start", name]);
        self.guard.note();
    }

    async fn events(&self) -> EventStream {
        let c = Connection::open(Some(&self.cli.uri), false)
            .await
            .expect("open the connection");
        c.stream_events(None, None, &[])
            .await
            .expect("subscribe to events")
    }

    /// virtlxcd, SIGKILLed; then a new one under the same root.
    fn kill9_and_restart(&mut self) {
        self.daemon.take().expect("a daemon").kill9();
        self.daemon = Some(Lxcd::start(&self.root));
    }

    /// The status file of `name`, which must exist.
    fn status(&self, name: &str) -> lxc::LiveStatus {
        statuses(&self.root)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no status file for {name}"))
    }

    /// Nothing of `name` left: its controller and init gone, no cgroup, no status file, nothing
    /// mounted from its root.
    fn assert_nothing_left(&self, name: &str, was: Option<&lxc::LiveStatus>, rootfs: &Path) {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let procs: Vec<i32> = was
                .map(|s| vec![s.controller_pid, s.init_pid])
                .unwrap_or_default()
                .into_iter()
                .filter(|&p| p > 0 && virt_tests::qemu::running(p))
                .collect();
            let cgroups = cgroup_dirs_left(&self.root, Some(name));
            let status = self.root.join(format!("run/virt/lxc/{name}.json"));
            let mounts = mounts_under(rootfs);
            if procs.is_empty() && cgroups.is_empty() && !status.exists() && mounts.is_empty() {
                return;
            }
            assert!(
                Instant::now() < end,
                "{name} left behind: processes {procs:?}, cgroups {cgroups:?}, status file {}, \
                 mounts {mounts:?}",
                status.exists()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits for lifecycle event `want` (libvirt type, detail) of `name`, skipping others; the
/// events seen before it are in the panic message when it does not come.
async fn wait_lifecycle(ev: &mut EventStream, name: &str, want: (i32, i32)) {
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ev.next()).await {
            Ok(Ok(Some(EventItem::Event(e)))) => {
                if e.domain.as_ref().is_none_or(|d| d.name != name) {
                    continue;
                }
                if let Some(Payload::Lifecycle(l)) = &e.payload {
                    let got = (lc::libvirt_type(l), l.detail);
                    if got == want {
                        return;
                    }
                    seen.push(got);
                }
            }
            Ok(Ok(Some(_))) => continue,
            other => {
                panic!("{name}: no lifecycle event {want:?} (seen {seen:?}; stream: {other:?})")
            }
        }
    }
}

/// The freezer state of container `name` running as `id` (`FROZEN`, `THAWED`), waiting up to a
/// second for it to settle on `want`.
fn freezer_state(root: &Path, id: u32, name: &str, want: &str) -> String {
    let dir = cgroup_dir(root, id, name, "freezer").expect("a freezer hierarchy");
    let file = dir.join("freezer.state");
    let end = Instant::now() + Duration::from_secs(1);
    loop {
        let s = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .to_string();
        if s == want || Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `virt list --all` shows `name`; its line.
fn listed(cli: &Cli, name: &str) -> Option<String> {
    cli.ok(&["list", "--all"])
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .map(str::to_string)
}

const UUID: &str = "1c000000-0000-4000-8000-0000000000";

fn uuid(n: u8) -> String {
    format!("{UUID}{n:02x}")
}

/// Test 1: the whole lifecycle through the CLI, with events, stats and the freezer.
async fn lifecycle(via_proxy: bool) {
    if skip() {
        return;
    }
    let mut s = Stack::new(via_proxy);
    let (name, n) = if via_proxy {
        ("lxc-life-proxy", 2)
    } else {
        ("lxc-life", 1)
    };
    let marker = format!("MARKER-{name}");
    let rootfs = Rootfs::new(&lxc::sleeping_init(&marker));
    let x = ContainerXml::new(name, &uuid(n), &rootfs.path);
    s.define(&x);
    let info = s.cli.ok(&["dominfo", name]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("State:") && l.ends_with("shut off")),
        "{info}"
    );
    assert!(
        s.cli.domstate(name).starts_with("shut off"),
        "{}",
        s.cli.domstate(name)
    );

    let mut ev = s.events().await;
    s.start(name);
    wait_lifecycle(&mut ev, name, (lc::STARTED, lc::started::BOOTED)).await;
    assert_eq!(s.cli.domstate(name), "running (booted)");
    let id = s.cli.domid(name);
    assert_eq!(s.status(name).id, id, "the status file has the ID");
    let seen = s.cli.console_until(name, &marker, Duration::from_secs(20));
    assert!(seen.contains(&marker));

    let stats = s.cli.ok(&["domstats", name]);
    assert_eq!(stat_value(&stats, "state.state"), Some(1), "{stats}");
    assert!(stat_value(&stats, "cpu.time").is_some(), "{stats}");
    assert!(stat_value(&stats, "balloon.current").is_some(), "{stats}");
    assert_eq!(
        stat_value(&stats, "balloon.maximum"),
        Some(65536),
        "{stats}"
    );
    assert_eq!(stat_value(&stats, "vcpu.current"), Some(1), "{stats}");

    s.cli.ok(&["suspend", name]);
    assert_eq!(s.cli.domstate(name), "paused (user)");
    wait_lifecycle(&mut ev, name, (lc::SUSPENDED, lc::suspended::PAUSED)).await;
    assert_eq!(freezer_state(&s.root, id, name, "FROZEN"), "FROZEN");
    s.cli.ok(&["resume", name]);
    assert_eq!(s.cli.domstate(name), "running (unpaused)");
    wait_lifecycle(&mut ev, name, (lc::RESUMED, lc::resumed::UNPAUSED)).await;
    assert_eq!(freezer_state(&s.root, id, name, "THAWED"), "THAWED");

    // Plain shutdown: SIGTERM to init, which traps it and exits.
    let was = s.status(name);
    s.cli.ok(&["shutdown", name]);
    wait_lifecycle(&mut ev, name, (lc::STOPPED, lc::stopped::SHUTDOWN)).await;
    assert_eq!(
        s.cli
            .wait_domstate(name, "shut off (shutdown)", Duration::from_secs(5)),
        "shut off (shutdown)"
    );
    s.assert_nothing_left(name, Some(&was), &rootfs.path);

    s.start(name);
    wait_lifecycle(&mut ev, name, (lc::STARTED, lc::started::BOOTED)).await;
    assert_eq!(s.cli.domstate(name), "running (booted)");
    let was = s.status(name);
    s.cli.ok(&["destroy", name]);
    wait_lifecycle(&mut ev, name, (lc::STOPPED, lc::stopped::DESTROYED)).await;
    assert_eq!(s.cli.domstate(name), "shut off (destroyed)");
    s.assert_nothing_left(name, Some(&was), &rootfs.path);
    assert!(statuses(&s.root).is_empty(), "no status file under RUN/lxc");

    s.cli.ok(&["undefine", name]);
    assert!(listed(&s.cli, name).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_states_console_stats_freezer_and_events() {
    lifecycle(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_through_the_proxy() {
    lifecycle(true).await;
}

/// Test 2: a veth on a bridge, in a network namespace of this test's own.
#[test]
fn a_container_on_a_bridge_answers_a_ping() {
    if skip() {
        return;
    }
    // A thread of its own: the namespace is the thread's, never the test harness's.
    std::thread::spawn(on_a_bridge)
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn on_a_bridge() {
    // Unshare this thread's network namespace before any daemon starts: every process it
    // spawns inherits it, so no packet leaves the test.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare the network namespace");
    let ip = |args: &[&str]| {
        let st = std::process::Command::new("ip")
            .args(args)
            .status()
            .expect("run ip");
        assert!(st.success(), "ip {args:?}");
    };
    ip(&["link", "set", "lo", "up"]);
    ip(&["link", "add", "br-lxc", "type", "bridge"]);
    ip(&["addr", "add", "10.77.0.1/24", "dev", "br-lxc"]);
    ip(&["link", "set", "br-lxc", "up"]);
    let before = links();

    let mut s = Stack::new(false);
    let name = "lxc-net";
    // Inside: the gateway answers too (the route is set before init runs).
    let rootfs = Rootfs::new(
        "trap 'exit 0' TERM\n\
         i=0; while [ $i -lt 50 ]; do ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 && \
         { echo GW-OK; break; }; i=$((i+1)); done\n\
         ip -4 addr; ip route\n\
         while :; do sleep 1 & wait $!; done",
    );
    let x = ContainerXml::new(name, &uuid(3), &rootfs.path).bridge(
        "br-lxc",
        Some(("10.77.0.2", 24)),
        Some("10.77.0.1"),
    );
    s.define(&x);
    let dumped = s.cli.ok(&["dumpxml", name]);
    assert!(
        dumped.contains("<ip address='10.77.0.2' family='ipv4' prefix='24'/>"),
        "{dumped}"
    );
    s.start(name);
    assert_eq!(s.cli.domstate(name), "running (booted)");

    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let out = std::process::Command::new(lxc::BUSYBOX)
            .args(["ping", "-c", "1", "-W", "1", "10.77.0.2"])
            .output()
            .expect("ping");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < end,
            "10.77.0.2 does not answer: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let console = s.cli.console_until(name, "GW-OK", Duration::from_secs(60));
    assert!(console.contains("10.77.0.2/24"), "{console}");

    let stats = s.cli.ok(&["domstats", name]);
    let rx = stat_value(&stats, "net.0.rx.bytes").unwrap_or(0);
    assert!(rx > 0, "net.0.rx.bytes > 0: {stats}");
    let veth = s.status(name).veths;
    assert!(!veth.is_empty(), "the status file names the veth");
    for v in &veth {
        assert!(links().contains(v), "host end {v} exists");
    }
    // The bulk stats name the host end; domifstat counts its bytes too.
    assert!(
        stats
            .lines()
            .any(|l| l.trim() == format!("net.0.name={}", veth[0])),
        "{stats}"
    );
    let ifstat = s.cli.ok(&["domifstat", name, &veth[0]]);
    let rx_bytes = ifstat
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("rx_bytes"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(rx_bytes.is_some_and(|b| b > 0), "{ifstat}");

    let was = s.status(name);
    s.cli.ok(&["destroy", name]);
    s.assert_nothing_left(name, Some(&was), &rootfs.path);
    let mut after = links();
    after.sort();
    let mut before = before;
    before.sort();
    assert_eq!(after, before, "the veth is gone with the container");
}

/// Test 3: the memory limit kills what goes beyond it; an init killed that way is a crash.
#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_kills_and_a_killed_init_is_a_crash() {
    if skip() {
        return;
    }
    let mut s = Stack::new(false);
    let (a, b) = ("lxc-mem-dd", "lxc-mem-init");
    let ra = Rootfs::new(
        "trap 'exit 0' TERM\nsleep 1\n\
         dd if=/dev/zero of=/dev/null bs=64M count=1; echo DD-STATUS-$?\n\
         while :; do sleep 1 & wait $!; done",
    );
    s.define(&ContainerXml::new(a, &uuid(4), &ra.path).memory_mib(32));
    let mut ev = s.events().await;
    s.start(a);
    let console = s
        .cli
        .console_until(a, "DD-STATUS-", Duration::from_secs(30));
    let code = console.split("DD-STATUS-").nth(1).map(|r| {
        r.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    if code.as_deref() == Some("") {
        // The number may not have arrived with the marker: read again.
        let again = s
            .cli
            .console_until(a, "DD-STATUS-137", Duration::from_secs(5));
        assert!(again.contains("DD-STATUS-137"), "{again}");
    } else {
        assert_eq!(code.as_deref(), Some("137"), "dd is killed: {console}");
    }
    assert_eq!(
        s.cli.domstate(a),
        "running (booted)",
        "the container lives on"
    );
    let stats = s.cli.ok(&["domstats", a]);
    assert_eq!(
        stat_value(&stats, "balloon.maximum"),
        Some(32768),
        "{stats}"
    );
    // The limit in force, read back from the cgroup as libvirt's LXC memtune reads it.
    let memtune = s.cli.ok(&["memtune", a]);
    assert!(
        memtune.contains("hard_limit     : 32768\n")
            && memtune.contains("soft_limit     : unlimited"),
        "{memtune}"
    );
    let was = s.status(a);
    s.cli.ok(&["destroy", a]);
    s.assert_nothing_left(a, Some(&was), &ra.path);

    let rb =
        Rootfs::new("echo ALLOCATING\nsleep 1\nexec dd if=/dev/zero of=/dev/null bs=64M count=1");
    s.define(&ContainerXml::new(b, &uuid(5), &rb.path).memory_mib(32));
    s.start(b);
    wait_lifecycle(&mut ev, b, (lc::STOPPED, lc::stopped::CRASHED)).await;
    assert_eq!(
        s.cli
            .wait_domstate(b, "shut off (crashed)", Duration::from_secs(5)),
        "shut off (crashed)"
    );
    s.assert_nothing_left(b, None, &rb.path);
}

/// Test 4: `kill -9` of the daemon while two containers run.
#[test]
fn containers_survive_a_daemon_kill() {
    if skip() {
        return;
    }
    let mut s = Stack::new(false);
    let names = ["lxc-kill-a", "lxc-kill-b"];
    let mut roots = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let r = Rootfs::new(&format!(
            "trap 'exit 0' TERM\nwhile :; do echo ALIVE-{name}; sleep 1 & wait $!; done"
        ));
        s.define(&ContainerXml::new(name, &uuid(6 + i as u8), &r.path));
        s.start(name);
        roots.push(r);
    }
    let ids: Vec<u32> = names.iter().map(|n| s.cli.domid(n)).collect();
    let before: Vec<_> = names.iter().map(|n| s.status(n)).collect();

    s.kill9_and_restart();
    for (name, id) in names.iter().zip(&ids) {
        let line = listed(&s.cli, name).unwrap_or_else(|| panic!("{name} not listed"));
        assert!(line.contains("running"), "{line}");
        assert_eq!(
            line.split_whitespace().next(),
            Some(id.to_string().as_str()),
            "{name} keeps ID {id}: {line}"
        );
        assert_eq!(s.cli.domstate(name), "running (booted)");
    }
    for (name, b) in names.iter().zip(&before) {
        let now = s.status(name);
        assert_eq!(
            (now.controller_pid, now.init_pid),
            (b.controller_pid, b.init_pid),
            "{name}: the same controller and init"
        );
        let c = s
            .cli
            .console_until(name, &format!("ALIVE-{name}"), Duration::from_secs(10));
        assert!(c.contains("ALIVE"));
    }
    for ((name, b), r) in names.iter().zip(&before).zip(&roots) {
        s.cli.ok(&["destroy", name]);
        assert_eq!(s.cli.domstate(name), "shut off (destroyed)");
        s.assert_nothing_left(name, Some(b), &r.path);
    }
}

/// Test 5: an init that exits by itself.
#[tokio::test(flavor = "multi_thread")]
async fn an_init_that_exits_shuts_the_container_off() {
    if skip() {
        return;
    }
    let mut s = Stack::new(false);
    let name = "lxc-exit";
    let r = Rootfs::new("echo LEAVING\nsleep 1\nexit 3");
    s.define(&ContainerXml::new(name, &uuid(8), &r.path));
    let mut ev = s.events().await;
    s.start(name);
    let was = s.status(name);
    wait_lifecycle(&mut ev, name, (lc::STOPPED, lc::stopped::SHUTDOWN)).await;
    assert_eq!(
        s.cli
            .wait_domstate(name, "shut off (shutdown)", Duration::from_secs(5)),
        "shut off (shutdown)"
    );
    s.assert_nothing_left(name, Some(&was), &r.path);
}

/// Test 6: errors, each named, and nothing left behind.
#[test]
fn errors_are_clear_and_leave_nothing_behind() {
    if skip() {
        return;
    }
    let s = Stack::new(false);
    let links_before = {
        let mut l = links();
        l.sort();
        l
    };
    let f = s.files.path();
    let r = Rootfs::new(&lxc::sleeping_init("NEVER"));

    // Not well-formed.
    let bad = f.join("bad.xml");
    std::fs::write(&bad, "<domain type='lxc'><name>lxc-bad</name>").expect("write");
    let err = s.cli.fails(&["define", &bad.display().to_string()]);
    assert!(err.to_lowercase().contains("xml"), "{err}");
    assert!(listed(&s.cli, "lxc-bad").is_none());

    // An element the driver does not honour is refused by name.
    let vnc = ContainerXml::new("lxc-vnc", &uuid(9), &r.path)
        .extra_devices("    <graphics type='vnc'/>\n")
        .write(f);
    let err = s.cli.fails(&["define", &vnc.display().to_string()]);
    assert!(err.contains("graphics"), "{err}");
    assert!(listed(&s.cli, "lxc-vnc").is_none());

    // A root directory that does not exist: start fails naming it.
    let missing = f.join("no-such-root");
    s.define(&ContainerXml::new("lxc-noroot", &uuid(10), &missing));
    let err = s.cli.fails(&["start", "lxc-noroot"]);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(
        s.cli.domstate("lxc-noroot").starts_with("shut off"),
        "{}",
        s.cli.domstate("lxc-noroot")
    );
    s.assert_nothing_left("lxc-noroot", None, &missing);

    // A bridge that does not exist: start fails naming it.
    s.define(&ContainerXml::new("lxc-nobr", &uuid(11), &r.path).bridge("nosuchbr", None, None));
    let err = s.cli.fails(&["start", "lxc-nobr"]);
    assert!(err.contains("nosuchbr"), "{err}");
    assert!(s.cli.domstate("lxc-nobr").starts_with("shut off"));
    s.assert_nothing_left("lxc-nobr", None, &r.path);

    let mut links_after = links();
    links_after.sort();
    assert_eq!(links_after, links_before, "no veth left");
    // No controller of this daemon's root runs.
    let daemon = s.daemon.as_ref().map(Lxcd::pid).unwrap_or(0);
    let stray: Vec<_> = lxc::processes_mentioning(&s.root.display().to_string())
        .into_iter()
        .filter(|(p, _)| *p != daemon)
        .collect();
    assert!(stray.is_empty(), "processes left: {stray:?}");
}

/// Test 7: a transient container runs and is gone once it stops.
async fn transient(via_proxy: bool) {
    if skip() {
        return;
    }
    let mut s = Stack::new(via_proxy);
    let (name, n) = if via_proxy {
        ("lxc-trans-proxy", 13)
    } else {
        ("lxc-trans", 12)
    };
    let r = Rootfs::new("echo TRANSIENT-UP\nsleep 2\nexit 0");
    let file = ContainerXml::new(name, &uuid(n), &r.path).write(s.files.path());
    let mut ev = s.events().await;
    s.cli.ok(&["create", &file.display().to_string()]);
    s.guard.note();
    let line = listed(&s.cli, name).expect("listed while it runs");
    assert!(line.contains("running"), "{line}");
    let was = s.status(name);
    let c = s
        .cli
        .console_until(name, "TRANSIENT-UP", Duration::from_secs(10));
    assert!(c.contains("TRANSIENT-UP"));
    wait_lifecycle(&mut ev, name, (lc::STOPPED, lc::stopped::SHUTDOWN)).await;
    let end = Instant::now() + Duration::from_secs(5);
    while listed(&s.cli, name).is_some() {
        assert!(Instant::now() < end, "{name} still listed after it stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = s.cli.fails(&["domstate", name]);
    assert!(err.contains(name), "{err}");
    s.assert_nothing_left(name, Some(&was), &r.path);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_container_disappears_when_it_stops() {
    transient(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_container_through_the_proxy() {
    transient(true).await;
}
