//! What the LXC tests share: a busybox-static root filesystem built at test time, the domain
//! XML of a container, `virtlxcd` run under a temporary root, the `virt` CLI pointed at it
//! (straight to its socket or through `virt-proxy`), and a guard that kills every container
//! the root's status files name when a test ends, pass or fail.

use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt_core::cgroup::{DomainCgroup, Hierarchies};
use virt_core::paths::{Mode, Paths};

use crate::workspace_bin;

/// The static busybox the root filesystems are made of (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

/// The applets linked in every test root's `/bin`.
pub const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "ip", "ping", "dd", "hostname", "id", "mount", "reboot",
    "poweroff", "ls", "grep", "head", "tr", "true", "false", "kill", "ps", "env",
];

/// Whether containers can run here: root, a static busybox and a cgroup hierarchy that can be
/// written; the reason when not.
pub fn available() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("containers need root".into());
    }
    let bb = std::fs::read(BUSYBOX).map_err(|e| format!("{BUSYBOX}: {e}"))?;
    if has_interpreter(&bb) {
        return Err(format!("{BUSYBOX} is not static (install busybox-static)"));
    }
    if !Hierarchies::detect().usable() {
        return Err("no writable cgroup hierarchy".into());
    }
    Ok(())
}

/// Whether a 64-bit ELF executable names a dynamic loader (a `PT_INTERP` program header): a
/// static one does not, and runs in a root without libraries.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)
    };
    if !elf.starts_with(b"\x7fELF") || elf.get(4) != Some(&2) {
        return true; // not a 64-bit ELF: not usable as the root's busybox
    }
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return true;
    };
    (0..count).any(|i| {
        let o = phoff + i * size;
        elf.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

/// Builds a busybox root under `dir` (`dir/root`): `/bin/busybox` with its applets, `/etc/passwd`
/// and `/etc/group`, the mount points the controller needs, and `init` as the executable
/// shell script `/init`. Answers the root's path.
pub fn build_rootfs(dir: &Path, init: &str) -> PathBuf {
    let root = dir.join("root");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).expect("make a root directory");
    }
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod root");
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod tmp");
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox");
    for app in APPLETS {
        symlink("busybox", root.join("bin").join(app)).expect("applet link");
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .expect("passwd");
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )
    .expect("group");
    set_init(&root, init);
    root
}

/// Replaces the root's `/init` script.
pub fn set_init(root: &Path, init: &str) {
    let path = root.join("init");
    std::fs::write(&path, format!("#!/bin/sh\nexport PATH=/bin\n{init}\n")).expect("init");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod init");
}

/// A busybox root in a temporary directory, removed on drop.
pub struct Rootfs {
    _dir: tempfile::TempDir,
    /// The root directory (`<filesystem><source dir=...>`).
    pub path: PathBuf,
}

impl Rootfs {
    /// A root whose `/init` runs `init` (shell).
    pub fn new(init: &str) -> Rootfs {
        let dir = tempfile::tempdir().expect("rootfs temp dir");
        let path = build_rootfs(dir.path(), init);
        Rootfs { _dir: dir, path }
    }
}

/// An init that prints `marker`, traps TERM to leave cleanly (exit 0) and otherwise sleeps.
pub fn sleeping_init(marker: &str) -> String {
    format!("trap 'echo BYE; exit 0' TERM\necho {marker}\nwhile :; do sleep 1 & wait $!; done")
}

/// A container's `<interface type='bridge'>`, with its address and default route inside.
#[derive(Debug, Clone)]
pub struct BridgeIface {
    /// The host bridge.
    pub bridge: String,
    /// `(address, prefix)` inside the container.
    pub ip: Option<(String, u8)>,
    /// The default route's gateway.
    pub gateway: Option<String>,
}

/// The domain XML of a container: a busybox root mounted as `/`, a pty console, an init.
#[derive(Debug, Clone)]
pub struct ContainerXml {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`.
    pub uuid: String,
    /// The root filesystem's source directory.
    pub root: PathBuf,
    /// `<memory unit='MiB'>`.
    pub memory_mib: u64,
    /// `<vcpu>`.
    pub vcpus: u32,
    /// `<init>` (inside the container).
    pub init: String,
    /// An optional `<interface type='bridge'>`.
    pub interface: Option<BridgeIface>,
    /// Extra raw XML inside `<devices>` (error tests).
    pub extra_devices: String,
}

impl ContainerXml {
    /// A 64 MiB, one-vCPU container running `/init` of `root`.
    pub fn new(name: &str, uuid: &str, root: &Path) -> ContainerXml {
        ContainerXml {
            name: name.into(),
            uuid: uuid.into(),
            root: root.to_path_buf(),
            memory_mib: 64,
            vcpus: 1,
            init: "/init".into(),
            interface: None,
            extra_devices: String::new(),
        }
    }

    /// `<memory unit='MiB'>`.
    pub fn memory_mib(mut self, mib: u64) -> Self {
        self.memory_mib = mib;
        self
    }

    /// `<vcpu>`.
    pub fn vcpus(mut self, n: u32) -> Self {
        self.vcpus = n;
        self
    }

    /// `<init>`.
    pub fn init(mut self, path: &str) -> Self {
        self.init = path.into();
        self
    }

    /// A veth to host bridge `bridge`, `ip/prefix` inside and a default route via `gateway`.
    pub fn bridge(mut self, bridge: &str, ip: Option<(&str, u8)>, gateway: Option<&str>) -> Self {
        self.interface = Some(BridgeIface {
            bridge: bridge.into(),
            ip: ip.map(|(a, p)| (a.to_string(), p)),
            gateway: gateway.map(str::to_string),
        });
        self
    }

    /// Raw XML added inside `<devices>`.
    pub fn extra_devices(mut self, xml: &str) -> Self {
        self.extra_devices = xml.into();
        self
    }

    /// The document.
    pub fn xml(&self) -> String {
        let iface = match &self.interface {
            None => String::new(),
            Some(i) => {
                let mut s = format!(
                    "    <interface type='bridge'>\n      <source bridge='{}'/>\n",
                    i.bridge
                );
                if let Some((a, p)) = &i.ip {
                    s.push_str(&format!("      <ip address='{a}' prefix='{p}'/>\n"));
                }
                if let Some(g) = &i.gateway {
                    s.push_str(&format!(
                        "      <route address='0.0.0.0' prefix='0' gateway='{g}'/>\n"
                    ));
                }
                s.push_str("    </interface>\n");
                s
            }
        };
        format!(
            "<domain type='lxc'>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  \
             <memory unit='MiB'>{}</memory>\n  <vcpu>{}</vcpu>\n  <os>\n    \
             <type arch='x86_64'>exe</type>\n    <init>{}</init>\n  </os>\n  <devices>\n    \
             <filesystem type='mount' accessmode='passthrough'>\n      <source dir='{}'/>\n      \
             <target dir='/'/>\n    </filesystem>\n{iface}{}    <console type='pty'/>\n  \
             </devices>\n</domain>\n",
            self.name,
            self.uuid,
            self.memory_mib,
            self.vcpus,
            self.init,
            self.root.display(),
            self.extra_devices,
        )
    }

    /// Writes the document to `dir/NAME.xml`; its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.xml", self.name));
        std::fs::write(&path, self.xml()).expect("write domain XML");
        path
    }
}

/// What a status file (`RUN/lxc/NAME.json`) says about a running container.
#[derive(Debug, Clone, Default)]
pub struct LiveStatus {
    /// The domain ID.
    pub id: u32,
    /// The controller process.
    pub controller_pid: i32,
    /// The container's init, as the host sees it.
    pub init_pid: i32,
    /// The host ends of its veths.
    pub veths: Vec<String>,
}

/// The status files under `root` (`run/virt/lxc/*.json`): (name, status).
pub fn statuses(root: &Path) -> Vec<(String, LiveStatus)> {
    let dir = root.join("run/virt/lxc");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((
            name,
            LiveStatus {
                id: int("id") as u32,
                controller_pid: int("controller_pid") as i32,
                init_pid: int("init_pid") as i32,
                veths: v
                    .get("veths")
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Kills every container (controller and init) the status files under a root name, and the
/// pids noted, when dropped: no container outlives its test.
pub struct LxcGuard {
    root: PathBuf,
    /// Extra pids to kill.
    pub pids: Vec<i32>,
}

impl LxcGuard {
    /// A guard for the virtlxcd under `root`.
    pub fn new(root: &Path) -> LxcGuard {
        LxcGuard {
            root: root.to_path_buf(),
            pids: Vec::new(),
        }
    }

    /// Notes the pids the status files name now (call after each start).
    pub fn note(&mut self) {
        for (_, s) in statuses(&self.root) {
            for p in [s.controller_pid, s.init_pid] {
                if p > 0 && !self.pids.contains(&p) {
                    self.pids.push(p);
                }
            }
        }
    }
}

impl Drop for LxcGuard {
    fn drop(&mut self) {
        self.note();
        for &pid in &self.pids {
            if crate::qemu::running(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // The groups of what was killed (empty once its tasks are gone).
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            let left = cgroup_dirs_left(&self.root, None);
            for d in &left {
                let _ = std::fs::remove_dir(d);
            }
            if left.is_empty() || Instant::now() > end {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The cgroup of container `name` running as `id` under a daemon with `--root root`, in the
/// hierarchy that has `controller` (`freezer`, `memory`): where libvirt puts it,
/// `/sys/fs/cgroup/CONTROLLER/machine/lxc-ID-NAME.libvirt-lxc` for the host's own daemon; a
/// daemon under a `--root` names its machines `lxc-embed-HASH-ID-NAME`, as libvirt's embedded
/// drivers do.
pub fn cgroup_dir(root: &Path, id: u32, name: &str, controller: &str) -> Option<PathBuf> {
    let paths = Paths::resolve(Some(root), Mode::System);
    let prefix = virt_core::cgroup::machine_prefix(&paths, "lxc")?;
    let cg = DomainCgroup::new(&prefix, id, name, None);
    Hierarchies::detect()
        .controller_group(&cg, controller)
        .map(|(d, _)| d)
}

/// The machine-name prefix of the virtlxcd under `root` (`lxc-embed-HASH`).
pub fn machine_prefix(root: &Path) -> Option<String> {
    virt_core::cgroup::machine_prefix(&Paths::resolve(Some(root), Mode::System), "lxc")
}

/// Every cgroup directory the virtlxcd under `root` left for `name` (any ID; `None`: any
/// name), in any hierarchy's `machine/` partition.
pub fn cgroup_dirs_left(root: &Path, name: Option<&str>) -> Vec<PathBuf> {
    let Some(prefix) = machine_prefix(root) else {
        return Vec::new();
    };
    let start = format!("{prefix}-");
    let end = name.map(|n| format!("-{n}.libvirt-lxc"));
    let mut partitions = vec![PathBuf::from("/sys/fs/cgroup/machine")];
    for e in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        partitions.push(e.path().join("machine"));
    }
    let mut out = Vec::new();
    for part in partitions {
        for g in std::fs::read_dir(&part).into_iter().flatten().flatten() {
            let n = g.file_name().to_string_lossy().into_owned();
            if n.starts_with(&start)
                && n.ends_with(".libvirt-lxc")
                && end.as_ref().is_none_or(|e| n.ends_with(e.as_str()))
            {
                out.push(g.path());
            }
        }
    }
    out
}

/// The processes whose command line mentions `needle` (a controller naming its root).
pub fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me || !crate::qemu::running(pid) {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) {
            out.push((pid, cmd));
        }
    }
    out
}

/// The mounts of this mount namespace whose mount point or source is under `path`.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&p))
        .map(str::to_string)
        .collect()
}

/// The network interfaces of the calling thread's network namespace (`/proc/thread-self/net/dev`:
/// sysfs shows the namespace it was mounted in, `/proc/self` the main thread's).
pub fn links() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

/// `virtlxcd --root ROOT --system`, killed on drop (its containers stay: see [`LxcGuard`]).
pub struct Lxcd {
    child: Child,
    /// Its read-write socket.
    pub socket: PathBuf,
}

impl Lxcd {
    /// Starts virtlxcd under `root` and waits until it answers on its read-only socket.
    pub fn start(root: &Path) -> Lxcd {
        let paths = Paths::resolve(Some(root), Mode::System);
        let (socket, socket_ro) = (paths.socket("virtlxcd"), paths.socket_ro("virtlxcd"));
        // A killed daemon leaves its socket files behind; wait for fresh ones.
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(&socket_ro);
        let mut child = Command::new(workspace_bin("virtlxcd"))
            .arg("--root")
            .arg(root)
            .arg("--system")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn virtlxcd");
        // The controller is run from beside the daemon: make sure it is built too.
        let _ = workspace_bin("virt-lxc-controller");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket_ro).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("virtlxcd exited while starting: {st}");
            }
            assert!(Instant::now() < deadline, "virtlxcd did not start in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        Lxcd { child, socket }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Lxcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `virt` CLI against one connection URI.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The connection URI.
    pub uri: String,
}

impl Cli {
    /// `lxc+unix:///system?socket=SOCKET` (virtlxcd's own socket or the proxy's).
    pub fn new(socket: &Path) -> Cli {
        Cli {
            uri: format!("lxc+unix:///system?socket={}", socket.display()),
        }
    }

    /// `virt -c URI ARGS`: (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(workspace_bin("virt"))
            .args(["-c", &self.uri])
            .args(args)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .env_remove("VIRSH_DEFAULT_CONNECT_URI")
            .env_remove("VIRT_ROOT")
            .output()
            .expect("run virt");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// [`Cli::run`], failing the test unless it succeeds; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "virt {args:?} failed: {err}{out}");
        out
    }

    /// [`Cli::run`], failing the test unless it fails; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "virt {args:?} succeeded: {out}");
        err
    }

    /// `domstate NAME --reason`, trimmed.
    pub fn domstate(&self, name: &str) -> String {
        self.ok(&["domstate", name, "--reason"]).trim().to_string()
    }

    /// Polls `domstate NAME --reason` until it reads `want` or `limit` passes; the last reading.
    pub fn wait_domstate(&self, name: &str, want: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let s = self.domstate(name);
            if s == want || Instant::now() > end {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The ID `domid NAME` answers.
    pub fn domid(&self, name: &str) -> u32 {
        let out = self.ok(&["domid", name]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("domid {name}: {out:?}"))
    }

    /// Runs `virt console NAME` until `marker` is on its output (or `limit` passes), then
    /// leaves with Ctrl+]; what the console showed.
    pub fn console_until(&self, name: &str, marker: &str, limit: Duration) -> String {
        let mut child = Command::new(workspace_bin("virt"))
            .args(["-c", &self.uri, "console", name])
            .env_remove("VIRT_ROOT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virt console");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let want = marker.to_string();
        std::thread::spawn(move || {
            let mut seen = String::new();
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if seen.contains(&want) {
                            let _ = tx.send(seen.clone());
                        }
                    }
                }
            }
        });
        let seen = rx.recv_timeout(limit);
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(&[0x1d]);
            let _ = stdin.flush();
        }
        let end = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        seen.unwrap_or_else(|_| {
            panic!("{name}: no {marker:?} on the console within {limit:?}; stderr: {err}")
        })
    }
}

/// The value of `key=` in `domstats` output.
pub fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}
