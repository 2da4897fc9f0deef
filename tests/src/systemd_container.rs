//! A real systemd as PID 1 in a container, for the tests of the units in `deploy/systemd`
//! (tests/tests/systemd_units.rs) and tools/bench-systemd.sh.
//!
//! **Root filesystem.** The Debian 12 `debootstrap --variant=minbase` tarball of
//! deploy/containers/rootfs.sh (the recipe of the daemons' images) with [`SYSTEMD_PACKAGES`]:
//! systemd, D-Bus, systemd-container (machined, machinectl) and QEMU. rootfs.sh caches it under
//! `target/containers/rootfs-KEY.tar`, keyed by the package list and its own text; it is
//! unpacked once to `target/containers/tree-rootfs-KEY/rootfs` (concurrent test processes
//! serialise on an exclusive `flock`; the finished tree appears by rename).
//!
//! **Boot.** `systemd-nspawn --boot` on an overlayfs whose lower layer is the cached tree and
//! whose upper layer is a temporary directory of the test, so a test installs binaries and units
//! and the cache stays clean. `podman run --systemd=always --rootfs` (with
//! deploy/containers/podman-env.sh's configuration) boots the same tree to `running` too;
//! nspawn was chosen because it is systemd's own tool for booting systemd, needs no storage,
//! containers.conf or container names of its own, and leaves nothing behind but the overlay:
//! killing the container's PID 1 ends it (podman keeps state that a crashed test would leave
//! for the next run to clean). `--register=no` and `--keep-unit`: the host has no systemd or
//! machined to register with. `--private-network`: the container's network namespace has only
//! loopback.
//!
//! **Driving it.** [`Booted::run`] runs a command inside through `nsenter` (every namespace) on the
//! container's PID 1 (systemd), with a clean environment: `systemctl`, `machinectl`, the `virt`
//! client, all as they would run on a host. The container's sockets are reachable from the
//! host under `/proc/PID1/root` ([`Booted::host_path`]).
//!
//! Dropping a [`Booted`] kills the container's PID 1 (which ends every process of its PID
//! namespace, QEMU included), waits for nspawn and unmounts the overlay.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The packages of the tree the unit tests boot: systemd as init, D-Bus (machined talks over it),
/// systemd-container (systemd-machined and machinectl), QEMU for the guests, busybox for a shell
/// that needs nothing else.
pub const SYSTEMD_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "systemd-container",
    "qemu-system-x86",
    "busybox-static",
];

/// The test's environment PATH inside the container.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn containers_dir() -> PathBuf {
    crate::target_dir().join("containers")
}

/// Why the host cannot boot a systemd container, or `None` when it can (root, nspawn,
/// debootstrap, overlayfs).
pub fn missing_parts() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("booting a container needs root".into());
    }
    for tool in ["systemd-nspawn", "debootstrap", "nsenter"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.lines().any(|l| l.trim_end().ends_with("overlay")) {
        return Some("the kernel has no overlayfs".into());
    }
    None
}

/// deploy/containers/rootfs.sh, the project's one recipe for a Debian root filesystem.
pub fn rootfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/containers/rootfs.sh")
}

/// The cached root filesystem with `packages`, as a directory (see the module docs): the
/// tarball of [`rootfs_script`] (built first when missing: minutes), unpacked once beside it.
pub fn rootfs(packages: &[&str]) -> anyhow::Result<PathBuf> {
    let cache = containers_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let out = Command::new("bash")
        .arg(rootfs_script())
        .arg("--cache")
        .arg(&cache)
        .arg("--include")
        .arg(packages.join(","))
        .stdin(Stdio::null())
        .output()
        .context("running deploy/containers/rootfs.sh")?;
    if !out.status.success() {
        bail!(
            "deploy/containers/rootfs.sh failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let tarball = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let stem = tarball
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("rootfs.sh answered {}", tarball.display()))?;
    let dir = cache.join(format!("tree-{stem}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".lock")).context("creating the lock file")?;
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .context("locking the unpacked tree")?;
    let done = dir.join("rootfs");
    if done.join("usr/lib/systemd/systemd").exists() {
        return Ok(done);
    }
    let work = dir.join("rootfs.tmp");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir(&work)?;
    let st = Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--acls", "-xf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&work)
        .status()
        .context("running tar")?;
    if !st.success() {
        bail!("unpacking {} failed ({st})", tarball.display());
    }
    if !work.join("usr/lib/systemd/systemd").exists() {
        bail!("{} has no systemd: {packages:?}", tarball.display());
    }
    std::fs::rename(&work, &done).context("moving the unpacked tree into place")?;
    Ok(done)
}

/// An overlay of a cached tree, writable by the test: `merged` is the container's root.
pub struct Overlay {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl Overlay {
    /// Mounts `lower` read-only under a fresh writable layer.
    pub fn new(lower: &Path) -> anyhow::Result<Overlay> {
        let base = containers_dir().join("tmp");
        std::fs::create_dir_all(&base)?;
        // overlayfs wants upper and work on the same filesystem; the cache's is fine.
        let dir = tempfile::Builder::new()
            .prefix("boot-")
            .tempdir_in(&base)
            .context("overlay dir")?;
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir(dir.path().join(d))?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            dir.path().join("upper").display(),
            dir.path().join("work").display()
        );
        let st = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(dir.path().join("merged"))
            .status()
            .context("mount")?;
        if !st.success() {
            bail!("mounting the overlay on {} failed", lower.display());
        }
        Ok(Overlay { dir, mounted: true })
    }

    /// The merged tree: the container's `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("merged")
    }

    /// `rel` (absolute in the container) under the merged tree.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel.trim_start_matches('/'))
    }

    /// Writes `text` to `rel` (absolute in the container), creating its directory.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir in the overlay");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }

    /// Copies host file `from` to `rel` in the container with `mode`.
    pub fn install(&self, from: &Path, rel: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir in the overlay");
        std::fs::copy(from, &p)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), p.display()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Runs `systemctl --root=MERGED ARGS` on the host (enable, mask: offline operations).
    pub fn systemctl_offline(&self, args: &[&str]) {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", self.root().display()))
            .args(args)
            .output()
            .expect("systemctl runs");
        assert!(
            out.status.success(),
            "systemctl --root {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if self.mounted {
            let merged = self.root();
            let _ = Command::new("umount").arg(&merged).status();
            // A lazy unmount when something still holds it (a dying process's cwd).
            if merged.join("usr").exists() {
                let _ = Command::new("umount").arg("-l").arg(&merged).status();
            }
        }
    }
}

/// A container booting systemd on an [`Overlay`]; stopped on drop.
pub struct Booted {
    nspawn: Child,
    /// The container's PID 1 (systemd), as the host sees it.
    pub leader: i32,
    /// The console output (nspawn's stdout and stderr), for failure messages.
    pub console: PathBuf,
    /// Dropped after the container (fields drop in declaration order, but [`Drop`] runs
    /// first and stops the container).
    pub overlay: Overlay,
}

/// The output of a command run in the container.
#[derive(Debug)]
pub struct Ran {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its exit code (-1 when killed).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            ok: o.status.success(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

fn ns_pid_of(pid: i32) -> Option<(i32, Vec<i32>)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ppid = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()?;
    let nspid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    Some((ppid, nspid))
}

/// The process under `ancestor` that is PID 1 of its own PID namespace.
fn find_leader(ancestor: i32) -> Option<i32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Some((ppid, nspid)) = ns_pid_of(pid) else {
            continue;
        };
        if nspid.len() >= 2 && nspid.last() == Some(&1) {
            // Its parent chain reaches nspawn (nspawn's outer child may sit in between).
            let mut p = ppid;
            for _ in 0..4 {
                if p == ancestor {
                    return Some(pid);
                }
                match ns_pid_of(p) {
                    Some((pp, _)) if pp > 1 => p = pp,
                    _ => break,
                }
            }
        }
    }
    None
}

impl Booted {
    /// Boots systemd on `overlay` (named `machine`, the container's host name) and waits until
    /// `systemctl is-system-running --wait` answers (running, or degraded: the failed units are
    /// then in the error of a later assertion, not here).
    pub fn boot(overlay: Overlay, machine: &str) -> anyhow::Result<Booted> {
        let console = overlay.dir.path().join("console.log");
        let log = std::fs::File::create(&console)?;
        let nspawn = Command::new("systemd-nspawn")
            .arg("--boot")
            .arg("--quiet")
            .arg("--register=no")
            .arg("--keep-unit")
            // A network namespace of its own (only loopback): nothing in it reaches the host's.
            .arg("--private-network")
            .arg(format!("--machine={machine}"))
            .arg("--directory")
            .arg(overlay.root())
            // The console is a file, not a terminal: no getty, no interaction.
            .arg("--console=passive")
            // QEMU's TCG guests need no device; KVM is used when the host has it.
            .args(if Path::new("/dev/kvm").exists() {
                vec!["--bind=/dev/kvm"]
            } else {
                vec![]
            })
            .env("SYSTEMD_NSPAWN_TMPFS_TMP", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting systemd-nspawn")?;
        let mut booted = Booted {
            nspawn,
            leader: 0,
            console,
            overlay,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(pid) = find_leader(booted.nspawn.id() as i32) {
                booted.leader = pid;
                break;
            }
            if let Some(st) = booted.nspawn.try_wait()? {
                bail!(
                    "systemd-nspawn exited ({st}) before the container booted:\n{}",
                    booted.console_text()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "no container PID 1 under nspawn after 30 s:\n{}",
                    booted.console_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // systemd answers on its private socket once it runs; is-system-running --wait then
        // waits for the boot job queue to drain.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = booted.run(&["systemctl", "is-system-running", "--wait"]);
            let state = r.stdout.trim();
            if state == "running" || state == "degraded" {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "systemd did not finish booting in 90 s ({state:?}, {}):\n{}",
                    r.stderr.trim(),
                    booted.console_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(booted)
    }

    /// What the container printed on its console so far.
    pub fn console_text(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }

    /// Runs `argv` inside the container (all its namespaces, a clean environment).
    pub fn run(&self, argv: &[&str]) -> Ran {
        Command::new("nsenter")
            .arg("--target")
            .arg(self.leader.to_string())
            .args(["--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup"])
            // Both without a value: the target's root and working directory (`--wd=/` would
            // open the host's `/` before entering, leaving the command outside its root).
            .arg("--root")
            .arg("--wd")
            .args([
                "env",
                "-i",
                &format!("PATH={PATH}"),
                "SYSTEMD_PAGER=",
                "LANG=C.UTF-8",
            ])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter runs")
            .into()
    }

    /// [`Booted::run`], failing the test unless it succeeds; its stdout.
    pub fn run_ok(&self, argv: &[&str]) -> String {
        let r = self.run(argv);
        assert!(
            r.ok,
            "{argv:?} failed in the container ({}): {}{}",
            r.code, r.stdout, r.stderr
        );
        r.stdout
    }

    /// Runs a shell script inside (`/bin/sh -c`).
    pub fn sh(&self, script: &str) -> Ran {
        self.run(&["/bin/sh", "-c", script])
    }

    /// `systemctl show UNIT -p PROP --value`.
    pub fn prop(&self, unit: &str, prop: &str) -> String {
        self.run_ok(&["systemctl", "show", unit, "-p", prop, "--value"])
            .trim()
            .to_string()
    }

    /// `systemctl is-active UNIT`'s answer (active, inactive, activating, failed, ...).
    pub fn is_active(&self, unit: &str) -> String {
        self.run(&["systemctl", "is-active", unit])
            .stdout
            .trim()
            .to_string()
    }

    /// Polls `f` until it is true or `limit` passes.
    pub fn wait_for(&self, limit: Duration, what: &str, mut f: impl FnMut(&Booted) -> bool) {
        let end = Instant::now() + limit;
        while !f(self) {
            assert!(
                Instant::now() < end,
                "timed out after {limit:?} waiting for {what}; journal:\n{}",
                self.run(&["journalctl", "-b", "--no-pager", "-n", "60"])
                    .stdout
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The host path of `rel` (absolute in the container) as the running container sees it
    /// (its /run and /tmp are its own mounts, not the overlay's).
    pub fn host_path(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.leader)).join(rel.trim_start_matches('/'))
    }

    /// Whether `pid` (in the container's PID namespace) runs and is not a zombie.
    pub fn pid_running(&self, pid: i32) -> bool {
        let r = self.run(&["cat", &format!("/proc/{pid}/stat")]);
        r.ok && r
            .stdout
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X")
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        if self.leader > 0 {
            // SIGKILL of a PID namespace's init kills every process in it.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.leader),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match self.nspawn.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > end => {
                    let _ = self.nspawn.kill();
                    let _ = self.nspawn.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}
