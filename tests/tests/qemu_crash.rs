//! The daemon killed with `kill -9` in the middle of its work, then restarted: what it finds.
//!
//! Real parts only: the `virtqemud` binary under a temporary root, real diskless
//! `qemu-system-x86_64` guests (TCG), a real SIGKILL at several instants.
//!
//! * **Concurrent starts.** Eight guests are started at once (half of them paused) and the
//!   daemon is killed 0, 20, 40, 80, 150, 300 and 700 ms later, and at instants that do not
//!   depend on the host's speed: when the first QEMU process appears, when the first status
//!   file does, when one start and when half of them are acknowledged (two rounds each).
//!   After a restart every definition is listed with its XML unchanged, every QEMU process
//!   of this root is a guest the daemon reports running or paused as its start asked (its
//!   status file names that very pid), every guest reported active has exactly one QEMU, no
//!   other process of the start survives (a helper, a forked daemon copy that never became
//!   QEMU), and the run dir holds nothing of a start that did not finish (nor a temporary
//!   file). Then every active guest is destroyed, which must leave no QEMU behind.
//! * **A define loop.** Four tasks redefine their domains over and over; the daemon is killed
//!   at several instants; after a restart each domain is listed with one of the definitions
//!   the test sent (the last one acknowledged or the one in flight, never a torn one), and the
//!   config dir holds no temporary file.
//!
//! A guard kills every process whose command line names this test's root, pass or fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_client::Connection;
use virt_core::proto::{CreateDomainFlag, DomainXmlFlag};
use virt_core::state::DomainState;
use virt_core::types::DomainLookup;
use virt_tests::workspace_bin;

/// How many guests start at once.
const GUESTS: usize = 8;

/// The real daemon under a root that outlives it.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    /// Starts `virtqemud --root ROOT --system` and waits until it answers (it reattaches to
    /// its guests before it listens).
    fn start(root: &Path) -> Daemon {
        let run = root.join("run/virt");
        let socket = run.join("virtqemud-sock");
        let child = Command::new(workspace_bin("virtqemud"))
            .arg("--root")
            .arg(root)
            .arg("--system")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .stderr(daemon_log(root))
            .spawn()
            .expect("spawn virtqemud");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::os::unix::net::UnixStream::connect(run.join("virtqemud-sock-ro")).is_err() {
            assert!(Instant::now() < deadline, "virtqemud did not start in time");
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon { child, socket }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    async fn connect(&self) -> Connection {
        let uri = format!("qemu+unix:///system?socket={}", self.socket.display());
        Connection::open(Some(&uri), false)
            .await
            .expect("connect to virtqemud")
    }

    /// `kill -9`, and wait until it is gone.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL virtqemud");
        self.child.wait().expect("reap virtqemud");
    }
}

/// The daemons' output, appended to `ROOT/virtqemud.log` (kept out of the test's output).
fn daemon_log(root: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("virtqemud.log"))
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process whose command line names the test's root.
#[derive(Debug, Clone)]
struct RootProc {
    pid: i32,
    argv: Vec<String>,
}

impl RootProc {
    fn is_qemu(&self) -> bool {
        self.argv.first().is_some_and(|a| a.contains("qemu-system"))
    }

    /// The `-uuid` argument.
    fn uuid(&self) -> Option<&str> {
        let at = self.argv.iter().position(|a| a == "-uuid")?;
        self.argv.get(at + 1).map(String::as_str)
    }
}

/// Every live (not zombie: PID 1 here may never reap an orphan) process whose command line
/// names `root`.
fn procs_of(root: &Path) -> Vec<RootProc> {
    let needle = root.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next().map(str::to_string));
        if state.is_none_or(|s| s == "Z" || s == "X") {
            continue;
        }
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if argv.iter().any(|a| a.contains(&needle)) {
            out.push(RootProc { pid, argv });
        }
    }
    out
}

/// Kills every process of the root on drop, pass or fail.
struct KillAll(PathBuf);

impl Drop for KillAll {
    fn drop(&mut self) {
        for p in procs_of(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn guest_name(i: usize) -> String {
    format!("crash{i}")
}

fn guest_uuid(i: usize) -> String {
    format!("c7a5e000-0000-4000-8000-{i:012x}")
}

/// A diskless guest: SeaBIOS finds nothing to boot and waits, which is all a start needs.
fn guest_xml(i: usize) -> String {
    format!(
        "<domain type='qemu'><name>{}</name><uuid>{}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><memballoon model='none'/></devices></domain>",
        guest_name(i),
        guest_uuid(i)
    )
}

/// Whether guest `name` is started with START_PAUSED (the odd ones).
fn starts_paused(name: &str) -> bool {
    name.strip_prefix("crash")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % 2 == 1)
}

fn lookup(name: &str) -> DomainLookup {
    DomainLookup::Name(name.into())
}

/// The pid a status file `RUN/qemu/NAME.xml` names.
fn status_pid(root: &Path, name: &str) -> Option<i32> {
    let text = std::fs::read_to_string(root.join(format!("run/virt/qemu/{name}.xml"))).ok()?;
    text.split(" pid='")
        .nth(1)?
        .split('\'')
        .next()?
        .parse()
        .ok()
}

/// What the restarted daemon must agree with; a list of what is wrong (empty: consistent).
async fn inconsistencies(
    root: &Path,
    conn: &Connection,
    daemon_pid: i32,
    defs: &BTreeMap<String, String>,
) -> (Vec<String>, BTreeSet<String>) {
    let mut wrong = Vec::new();
    let listed = conn.list_all_domains(0).await.expect("list");
    let mut active = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for s in &listed {
        let d = s.domain.as_ref().expect("domain");
        let st = DomainState::from_number(s.state.as_ref().expect("state").state);
        seen.insert(d.name.clone());
        match st {
            DomainState::Running | DomainState::Paused => {
                // As the start left it: the odd guests are started paused.
                let want = if starts_paused(&d.name) {
                    DomainState::Paused
                } else {
                    DomainState::Running
                };
                if st != want {
                    wrong.push(format!("{} is {st:?}, started as {want:?}", d.name));
                }
                active.insert(d.name.clone());
            }
            DomainState::Shutoff => {}
            other => wrong.push(format!("{} is {other:?}", d.name)),
        }
    }
    for (name, xml) in defs {
        if !seen.contains(name) {
            wrong.push(format!("{name} is not listed"));
            continue;
        }
        match conn
            .domain_xml(&lookup(name), DomainXmlFlag::Inactive as u32)
            .await
        {
            Ok(now) if &now == xml => {}
            Ok(now) => wrong.push(format!("{name}'s definition changed:\n{xml}\n->\n{now}")),
            Err(e) => wrong.push(format!("{name}: dumpxml --inactive failed: {e}")),
        }
    }
    let by_uuid: BTreeMap<String, String> = (0..GUESTS)
        .map(|i| (guest_uuid(i), guest_name(i)))
        .collect();
    let mut qemus: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for p in procs_of(root) {
        if p.pid == daemon_pid {
            continue;
        }
        let Some(name) = p
            .is_qemu()
            .then(|| p.uuid())
            .flatten()
            .and_then(|u| by_uuid.get(u))
        else {
            wrong.push(format!(
                "a process of this root the daemon does not run: {p:?}"
            ));
            continue;
        };
        if !active.contains(name) {
            wrong.push(format!(
                "QEMU {} of {name} runs, but the daemon reports {name} shut off",
                p.pid
            ));
        } else if status_pid(root, name) != Some(p.pid) {
            wrong.push(format!(
                "QEMU {} of {name} is not the one its status file names ({:?})",
                p.pid,
                status_pid(root, name)
            ));
        }
        qemus.entry(name.clone()).or_default().push(p.pid);
    }
    for name in &active {
        let n = qemus.get(name).map_or(0, Vec::len);
        if n != 1 {
            wrong.push(format!("{name} is reported active with {n} QEMU processes"));
        }
    }
    wrong.extend(run_dir_leftovers(root, &active));
    (wrong, active)
}

/// What the run dir holds beyond the status files and private dirs of the `active` guests.
fn run_dir_leftovers(root: &Path, active: &BTreeSet<String>) -> Vec<String> {
    let run = root.join("run/virt/qemu");
    let mut wrong = Vec::new();
    for e in std::fs::read_dir(&run).into_iter().flatten().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let owner = if let Some(name) = file.strip_suffix(".xml") {
            Some(name.to_string())
        } else if let Some(rest) = file.strip_prefix("domain-") {
            // domain-ID-NAME
            rest.split_once('-').map(|(_, name)| name.to_string())
        } else {
            None
        };
        let fine = match (&owner, file.as_str()) {
            (_, "autostarted") => true,
            (Some(name), _) => active.contains(name),
            // The event ring and the channel sockets' parent dir.
            (None, "events" | "channel") => true,
            _ => false,
        };
        if !fine {
            wrong.push(format!("leftover in the run dir: {file}"));
        }
    }
    wrong
}

/// Polls until the restarted daemon and the host agree (a guest the daemon kills on restart
/// may take a moment to die), up to `limit`.
async fn settled(
    root: &Path,
    conn: &Connection,
    daemon_pid: i32,
    defs: &BTreeMap<String, String>,
    limit: Duration,
) -> (BTreeSet<String>, Vec<String>) {
    let end = Instant::now() + limit;
    loop {
        let (wrong, active) = inconsistencies(root, conn, daemon_pid, defs).await;
        if wrong.is_empty() || Instant::now() > end {
            return (active, wrong);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "starts real QEMU processes; run with --features qemu-tests"
)]
async fn a_daemon_killed_during_concurrent_starts_leaves_no_unknown_qemu() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let _guard = KillAll(root.clone());
    let daemon = Daemon::start(&root);
    let conn = daemon.connect().await;
    let mut defs = BTreeMap::new();
    for i in 0..GUESTS {
        conn.define(&guest_xml(i), 0).await.expect("define");
        let xml = conn
            .domain_xml(&lookup(&guest_name(i)), DomainXmlFlag::Inactive as u32)
            .await
            .expect("dumpxml");
        defs.insert(guest_name(i), xml);
    }
    let mut daemon = Some(daemon);
    let mut failures = Vec::new();
    let t0 = Instant::now();
    let instants = [
        KillAt::After(0),
        KillAt::After(20),
        KillAt::After(40),
        KillAt::After(80),
        KillAt::After(150),
        KillAt::After(300),
        KillAt::After(700),
        KillAt::FirstQemu,
        KillAt::FirstStatusFile,
        KillAt::Acked(1),
        KillAt::Acked(GUESTS / 2),
    ];
    // Two passes: the same instant falls on different steps of the eight starts.
    for when in instants.iter().chain(instants.iter()).copied() {
        let d = daemon.take().expect("a daemon runs");
        let conn = d.connect().await;
        let acks = Arc::new(AtomicUsize::new(0));
        let starts: Vec<_> = (0..GUESTS)
            .map(|i| {
                let conn = conn.clone();
                let acks = acks.clone();
                tokio::spawn(async move {
                    let name = guest_name(i);
                    let flags = if starts_paused(&name) {
                        CreateDomainFlag::StartPaused as u32
                    } else {
                        0
                    };
                    if conn.create(&lookup(&name), flags).await.is_ok() {
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        when.wait(&root, &acks).await;
        d.kill9();
        for s in starts {
            let _ = s.await;
        }
        let acked = acks.load(Ordering::SeqCst);
        let d = Daemon::start(&root);
        let conn = d.connect().await;
        let (active, wrong) = settled(&root, &conn, d.pid(), &defs, Duration::from_secs(10)).await;
        if !wrong.is_empty() {
            failures.push(format!("kill {when:?}:\n  {}", wrong.join("\n  ")));
        }
        eprintln!(
            "kill {when:?}: {acked} starts acknowledged, {} guests adopted",
            active.len()
        );
        // Everything the daemon adopted it can also stop: nothing of this root survives that.
        for name in &active {
            if let Err(e) = conn.destroy(&lookup(name), 0).await {
                failures.push(format!("destroy {name} after the kill {when:?}: {e}"));
            }
        }
        let (_, wrong) = settled(&root, &conn, d.pid(), &defs, Duration::from_secs(5)).await;
        if !wrong.is_empty() {
            failures.push(format!(
                "after destroying {when:?}:\n  {}",
                wrong.join("\n  ")
            ));
        }
        let left: Vec<RootProc> = procs_of(&root)
            .into_iter()
            .filter(|p| p.pid != d.pid())
            .collect();
        if !left.is_empty() {
            failures.push(format!("processes left after destroy {when:?}: {left:?}"));
            for p in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        daemon = Some(d);
    }
    eprintln!("{} rounds in {:?}", 2 * instants.len(), t0.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// When a round kills the daemon, counted from the moment its starts are issued.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// That many milliseconds later.
    After(u64),
    /// As soon as a QEMU process of the root exists (a start between exec and monitor).
    FirstQemu,
    /// As soon as a status file exists (a start between its first status and its end).
    FirstStatusFile,
    /// Once that many starts are acknowledged (the others at any step).
    Acked(usize),
}

impl KillAt {
    /// Waits for the instant (at most 20 s: a slow host still gets its kill).
    async fn wait(self, root: &Path, acks: &AtomicUsize) {
        let end = Instant::now() + Duration::from_secs(20);
        let status_dir = root.join("run/virt/qemu");
        loop {
            let now = match self {
                KillAt::After(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    return;
                }
                KillAt::FirstQemu => procs_of(root).iter().any(RootProc::is_qemu),
                KillAt::FirstStatusFile => std::fs::read_dir(&status_dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".xml")),
                KillAt::Acked(n) => acks.load(Ordering::SeqCst) >= n,
            };
            if now || Instant::now() > end {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The `<description>` a define loop's definition carries: `vN`.
fn version_of(xml: &str) -> Option<u64> {
    xml.split("<description>v")
        .nth(1)?
        .split('<')
        .next()?
        .parse()
        .ok()
}

fn loop_xml(task: usize, slot: usize, version: u64) -> String {
    format!(
        "<domain type='qemu'><name>loop{task}-{slot}</name>\
         <uuid>d7a5e000-0000-4000-8000-{:012x}</uuid><description>v{version}</description>\
         <memory unit='MiB'>{}</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>",
        task * 16 + slot,
        64 + version % 64
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "needs qemu-system-x86_64 installed; run with --features qemu-tests"
)]
async fn a_daemon_killed_during_a_define_loop_keeps_every_definition_whole() {
    const TASKS: usize = 4;
    const SLOTS: usize = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let _guard = KillAll(root.clone());
    let config = root.join("etc/virt/qemu");
    // name -> (last acknowledged version, versions sent)
    let mut sent: BTreeMap<String, (Option<u64>, BTreeSet<u64>)> = BTreeMap::new();
    let mut version = 0u64;
    let mut failures = Vec::new();
    for delay_ms in [0u64, 5, 10, 15, 20, 30, 45, 60, 90, 120, 200] {
        let d = Daemon::start(&root);
        let conn = d.connect().await;
        // One define first: the daemon has probed its emulator before the loop runs.
        conn.define(&loop_xml(0, 0, version), 0)
            .await
            .expect("define before the loop");
        let e = sent.entry("loop0-0".into()).or_default();
        e.0 = Some(version);
        e.1.insert(version);
        version += 1;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let conn = conn.clone();
                let first = version;
                tokio::spawn(async move {
                    let mut log = Vec::new();
                    for n in 0.. {
                        let v = first + n;
                        let slot = (n as usize) % SLOTS;
                        let ok = conn.define(&loop_xml(t, slot, v), 0).await.is_ok();
                        log.push((format!("loop{t}-{slot}"), v, ok));
                        if !ok {
                            break;
                        }
                    }
                    log
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        d.kill9();
        let mut acked = 0;
        for t in tasks {
            for (name, v, ok) in t.await.expect("define task") {
                acked += usize::from(ok);
                let e = sent.entry(name).or_default();
                e.1.insert(v);
                if ok {
                    e.0 = Some(e.0.map_or(v, |old| old.max(v)));
                }
                version = version.max(v + 1);
            }
        }
        eprintln!("kill at {delay_ms} ms: {acked} defines acknowledged");
        let d = Daemon::start(&root);
        let conn = d.connect().await;
        for (name, (acked, all)) in &sent {
            match conn
                .domain_xml(&lookup(name), DomainXmlFlag::Inactive as u32)
                .await
            {
                Ok(xml) => match version_of(&xml) {
                    Some(v) if all.contains(&v) && acked.is_none_or(|a| v >= a) => {}
                    other => failures.push(format!(
                        "kill at {delay_ms} ms: {name} holds version {other:?}, last acknowledged {acked:?}"
                    )),
                },
                Err(e) if acked.is_none() => {
                    // Never acknowledged: it may or may not have landed.
                    let _ = e;
                }
                Err(e) => failures.push(format!("kill at {delay_ms} ms: {name} is gone: {e}")),
            }
        }
        for e in std::fs::read_dir(&config).into_iter().flatten().flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if file.starts_with('.') || !(file.ends_with(".xml") || file == "autostart") {
                failures.push(format!(
                    "kill at {delay_ms} ms: leftover in the config dir: {file}"
                ));
            }
        }
        d.kill9();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
