//! What the end-to-end QEMU tests share: a guard that kills every QEMU (and swtpm) a root's
//! status files name (pass or fail), and the `virt -c qemu:///system` command run against
//! that root.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::guest::READY_MARKER;
use crate::workspace_bin;

/// Kills every QEMU and swtpm the root's status files name (and the pids noted), on drop.
pub struct QemuGuard {
    run: PathBuf,
    /// Extra pids to kill (e.g. QEMUs whose status file a test removed or replaced).
    pub pids: Vec<i32>,
}

impl QemuGuard {
    /// A guard for the virtqemud under `root` (status files in `ROOT/run/virt/qemu`).
    pub fn new(root: &Path) -> QemuGuard {
        QemuGuard {
            run: root.join("run/virt/qemu"),
            pids: Vec::new(),
        }
    }

    /// The status files of the run dir (`NAME.xml`), not the hidden temporary files of an
    /// atomic rewrite in progress (`.NAME.xml.tmp.PID`), which name the same pid while they
    /// exist, nor the start journals.
    fn status_files(&self) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&self.run)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "xml")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
            })
            .collect()
    }

    /// The QEMU pids the status files name now.
    pub fn pids_in_status(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for path in self.status_files() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if let Some(rest) = text.split("pid='").nth(1) {
                if let Some(pid) = rest.split('\'').next().and_then(|p| p.parse().ok()) {
                    out.push(pid);
                }
            }
        }
        out
    }

    /// The swtpm pids the status files name now (`<swtpm pid='...'`).
    pub fn swtpm_pids_in_status(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for path in self.status_files() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if let Some(rest) = text.split("<swtpm pid='").nth(1) {
                if let Some(pid) = rest.split('\'').next().and_then(|p| p.parse().ok()) {
                    out.push(pid);
                }
            }
        }
        out
    }
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        let mut pids = self.pids_in_status();
        pids.extend(self.swtpm_pids_in_status());
        pids.extend(&self.pids);
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `virt -c qemu:///system ARGS` against the proxy under `root`: (success, stdout, stderr).
pub fn virt(root: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("virt"))
        .args(["-c", "qemu:///system"])
        .args(args)
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run virt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`virt`], failing the test unless it succeeds; its stdout.
pub fn virt_ok(root: &Path, args: &[&str]) -> String {
    let (ok, out, err) = virt(root, args);
    assert!(ok, "virt {args:?} failed: {err}");
    out
}

/// The serial pty of running `name`, from its live XML.
pub fn pty_of(root: &Path, name: &str) -> String {
    let xml = virt_ok(root, &["dumpxml", name]);
    xml.split("<source path='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no pty in {xml}"))
        .to_string()
}

/// Reads `name`'s serial console until the ready marker; the time it took from `since`.
pub fn until_marker(root: &Path, name: &str, since: Instant, limit: Duration) -> Duration {
    let mut pty = std::fs::File::open(pty_of(root, name)).expect("open the pty");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = pty.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains(READY_MARKER) {
                let _ = tx.send(since.elapsed());
                break;
            }
        }
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{name}: no ready marker within {limit:?}"))
}

/// Whether `pid` runs (a zombie does not: nobody may reap an orphan here).
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

/// Waits until the guest's agent answers `domifaddr --source agent`; its output.
pub fn wait_for_agent(root: &Path, name: &str) -> String {
    let end = Instant::now() + Duration::from_secs(180);
    loop {
        let (ok, out, err) = virt(root, &["domifaddr", name, "--source", "agent"]);
        if ok {
            return out;
        }
        assert!(
            Instant::now() < end,
            "the agent of {name} never answered: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Polls `domstate NAME --reason` until it reads `want` or `limit` passes; the last reading.
pub fn wait_domstate(root: &Path, name: &str, want: &str, limit: Duration) -> String {
    let end = Instant::now() + limit;
    loop {
        let s = virt_ok(root, &["domstate", name, "--reason"])
            .trim()
            .to_string();
        if s == want || Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates a qcow2 image of `size` (qemu-img's notation) at `path`.
pub fn qcow2(path: &Path, size: &str) {
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(path)
        .arg(size)
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img create {}", path.display());
}

/// A 16 MiB ext4 image at `path` (a guest mounts it), answered back.
pub fn ext4_image(path: &Path) -> PathBuf {
    let f = std::fs::File::create(path).expect("image");
    f.set_len(16 << 20).expect("size");
    let st = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(path)
        .status()
        .expect("mkfs.ext4 runs (e2fsprogs)");
    assert!(st.success(), "mkfs.ext4 failed");
    path.to_path_buf()
}

/// `virt ARGS` fails with `want` in its standard error.
pub fn fails_with(root: &Path, args: &[&str], want: &str) {
    let (ok, _, err) = virt(root, args);
    assert!(!ok, "{args:?} succeeded");
    assert!(err.contains(want), "{args:?}: {err}");
}

/// The online host CPUs, as numbers.
pub fn host_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("online cpus");
    let mut out = Vec::new();
    let num = |s: &str| s.parse::<u32>().expect("cpu number");
    for part in text.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => out.extend(num(a)..=num(b)),
            None => out.push(num(part)),
        }
    }
    out
}

/// The thread of `pid` whose name is `comm` (QEMU names its vCPU threads `CPU N/TCG`, its
/// IOThreads `IO iothreadN`).
pub fn thread_named(pid: i32, comm: &str) -> Option<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .find_map(|e| {
            let tid: i32 = e.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
            (name.trim() == comm).then_some(tid)
        })
}

/// `Cpus_allowed_list` of a thread.
pub fn thread_cpus_allowed(pid: i32, tid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string()
}
