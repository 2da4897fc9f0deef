//! Our side: the real `virtqemud` binary under a temporary `--root` (prefix `virt-qbench-` in
//! [`crate::root_parent`]), driven through `virt_client::Connection` directly on its socket
//! (`qemu+unix:///system?socket=ROOT/run/virt/virtqemud-sock`; no proxy in between).
//!
//! QEMU runs in its own session and outlives the daemon, so the daemon guard kills every QEMU
//! the root's status files name before it stops the daemon (which then reaps them), and a
//! new run first kills the QEMUs of roots an aborted run left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use virt_client::{Connection, DomainLookup};
use virt_tests::workspace_bin;

use crate::{measure, root_parent, Backend, Plan, Results, Watch, PREFIX};

/// Prefix of our daemon's temporary roots.
const ROOT_PREFIX: &str = "virt-qbench-";

/// In each root: the process ID of the benchmark that made it.
const OWNER: &str = "bench.pid";

/// libvirt's VIR_DOMAIN_SHUTOFF.
const SHUTOFF: i32 = 5;

/// Measures every figure of `plan` against a `virtqemud` started for the purpose.
pub fn run(plan: &Plan) -> Result<Results, String> {
    remove_stale_roots();
    let mut ours = Ours::start()?;
    let out = measure::run(plan, &mut ours);
    if out.is_err() {
        eprintln!("virtqemud's log:\n{}", ours.log_tail());
    }
    out
}

/// Builds `virtqemud` for this profile (release under `cargo bench`), so the daemon measured
/// is current; `workspace_bin` then finds it beside this benchmark.
pub fn ensure_binary() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "virtqemud", "--bin", "virtqemud"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build -p virtqemud failed".into());
    }
    Ok(())
}

/// A running `virtqemud` and a connection to it; on drop every QEMU it started is killed,
/// then the daemon.
struct Ours {
    daemon: Child,
    root: tempfile::TempDir,
    uri: String,
    rt: tokio::runtime::Runtime,
    conn: Connection,
}

impl Ours {
    fn start() -> Result<Ours, String> {
        let root = tempfile::Builder::new()
            .prefix(ROOT_PREFIX)
            .tempdir_in(root_parent())
            .map_err(|e| format!("cannot create a root in {}: {e}", root_parent().display()))?;
        // Marks the root as this live run's: another run leaves it alone.
        std::fs::write(root.path().join(OWNER), std::process::id().to_string())
            .map_err(|e| format!("cannot write {OWNER}: {e}"))?;
        let log = std::fs::File::create(root.path().join("daemon.log"))
            .map_err(|e| format!("cannot create the daemon log: {e}"))?;
        let daemon = Command::new(workspace_bin("virtqemud"))
            .arg("--root")
            .arg(root.path())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot spawn virtqemud: {e}"))?;
        let socket = root.path().join("run/virt/virtqemud-sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let ours = Ours {
            daemon,
            uri: format!("qemu+unix:///system?socket={}", socket.display()),
            conn: rt.block_on(wait_for(&socket))?,
            root,
            rt,
        };
        eprintln!("  virtqemud at {}", ours.uri);
        Ok(ours)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.root.path().join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn call<T>(
        &self,
        what: &str,
        name: &str,
        fut: impl std::future::Future<Output = Result<T, virt_client::ClientError>>,
    ) -> Result<T, String> {
        self.rt
            .block_on(fut)
            .map_err(|e| format!("virtqemud: {what} {name}: {e}"))
    }
}

/// Connects once the daemon's socket accepts (within 20 s).
async fn wait_for(socket: &Path) -> Result<Connection, String> {
    let uri = format!("qemu+unix:///system?socket={}", socket.display());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if socket.exists() {
            if let Ok(c) = Connection::open(Some(&uri), false).await {
                return Ok(c);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("virtqemud did not listen on {}", socket.display()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn dom(name: &str) -> DomainLookup {
    DomainLookup::Name(name.into())
}

impl Backend for Ours {
    fn define(&mut self, xml: &str) -> Result<(), String> {
        self.call("define", "", self.conn.define(xml, 0)).map(drop)
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        self.call("start", name, self.conn.create(&dom(name), 0))
            .map(drop)
    }

    fn destroy(&mut self, name: &str) -> Result<(), String> {
        self.call("destroy", name, self.conn.destroy(&dom(name), 0))
    }

    fn shutdown(&mut self, name: &str) -> Result<(), String> {
        self.call("shutdown", name, self.conn.shutdown(&dom(name), 0))
    }

    fn is_shutoff(&mut self, name: &str) -> Result<bool, String> {
        let s = self.call("state of", name, self.conn.domain_state(&dom(name)))?;
        Ok(s.state == SHUTOFF)
    }

    fn all_stats(&mut self) -> Result<(usize, usize), String> {
        let recs = self.call("bulk stats", "", self.conn.all_domain_stats(0, 0))?;
        Ok((recs.len(), recs.iter().map(|r| r.params.len()).sum()))
    }

    fn daemon_pid(&self) -> Option<i32> {
        i32::try_from(self.daemon.id()).ok()
    }

    fn watch_console(&mut self, name: &str, marker: &'static str) -> Watch {
        let (tx, rx) = mpsc::channel();
        let (uri, name) = (self.uri.clone(), name.to_string());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("console runtime");
            let _ = tx.send(rt.block_on(read_until(&uri, &name, marker)));
        });
        rx
    }

    fn remove_bench_domains(&mut self) -> Result<usize, String> {
        let all = self.call("list", "", self.conn.list_all_domains(0))?;
        let names: Vec<String> = all
            .into_iter()
            .filter_map(|d| d.domain.map(|d| d.name))
            .filter(|n| n.starts_with(PREFIX))
            .collect();
        for n in &names {
            let s = self.call("state of", n, self.conn.domain_state(&dom(n)))?;
            if s.state != SHUTOFF {
                self.destroy(n)?;
            }
            // UEFI guests keep an NVRAM file, which a plain undefine refuses to leave behind.
            let nvram = virt_core::proto::UndefineDomainFlag::Nvram as u32;
            self.call("undefine", n, self.conn.undefine(&dom(n), nvram))?;
        }
        let removed = names.len();
        Ok(removed)
    }
}

/// Reads `name`'s console on a connection of its own until `marker` shows; answers when.
async fn read_until(uri: &str, name: &str, marker: &str) -> Result<Instant, String> {
    let conn = Connection::open(Some(uri), false)
        .await
        .map_err(|e| format!("virtqemud: console connection: {e}"))?;
    let mut console = conn
        .open_console(&dom(name), None, 0)
        .await
        .map_err(|e| format!("virtqemud: open console of {name}: {e}"))?;
    let mut seen: Vec<u8> = Vec::new();
    loop {
        match console.reader.recv().await {
            Ok(Some(chunk)) => {
                seen.extend_from_slice(&chunk);
                if crate::contains(&seen, marker) {
                    return Ok(Instant::now());
                }
                // Keep enough to find a marker split across chunks.
                if seen.len() > 4096 {
                    seen.drain(..seen.len() - 64);
                }
            }
            Ok(None) => return Err(format!("virtqemud: console of {name} ended")),
            Err(e) => return Err(format!("virtqemud: console of {name}: {e}")),
        }
    }
}

/// Process IDs of the QEMUs `root`'s status files name.
fn qemu_pids(root: &Path) -> Vec<i32> {
    let run = root.join("run/virt/qemu");
    let mut out = Vec::new();
    for e in std::fs::read_dir(run).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if let Some(pid) = text
            .split("pid='")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .and_then(|p| p.parse().ok())
        {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` is a live process (not a zombie) whose command line mentions `root`, so a
/// recycled pid is never killed.
fn is_qemu_of(pid: i32, root: &Path) -> bool {
    let live = is_live(pid);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let root = root.to_string_lossy();
    live && String::from_utf8_lossy(&cmdline).contains(root.as_ref())
}

/// SIGKILLs the live QEMUs of `root`; answers how many.
fn kill_qemus(root: &Path) -> Vec<i32> {
    let pids: Vec<i32> = qemu_pids(root)
        .into_iter()
        .filter(|&p| is_qemu_of(p, root))
        .collect();
    for &p in &pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    pids
}

/// Whether `pid` is a live (not zombie) process.
fn is_live(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(str::to_string))
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .is_some_and(|s| s != "Z" && s != "X")
}

/// Kills the QEMUs of roots an aborted run left (whose benchmark process is gone) and removes
/// those roots.
fn remove_stale_roots() {
    let parent = root_parent();
    for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let path: PathBuf = e.path();
        let ours = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(ROOT_PREFIX));
        let owner = std::fs::read_to_string(path.join(OWNER))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if ours && !owner.is_some_and(is_live) {
            let killed = kill_qemus(&path);
            eprintln!(
                "  removing {} left by an earlier run ({} QEMUs killed)",
                path.display(),
                killed.len()
            );
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        let root = self.root.path().to_path_buf();
        let pids = kill_qemus(&root);
        // The daemon reaps its QEMUs: give it the time to before it goes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&p| is_qemu_of(p, &root)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
