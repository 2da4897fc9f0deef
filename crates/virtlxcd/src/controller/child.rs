//! The container side: runs in the cloned child (new namespaces) until it execs init.
//!
//! Protocol over the SEQPACKET socket with the controller: the child waits for `C`
//! (cgroups, ID maps and interfaces done), sends `M` with the console's pty master and slave,
//! then `X` right before exec (the socket is close-on-exec, so the controller then sees EOF),
//! or `E<message>` when something failed, and exits 1.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::sys::{self, bind, cpath, cstr, mount, Ctx, Res};
use crate::plan::{HostDevice, MountKind, Plan};

/// Runs the child's setup and execs init; returns only through `_exit`.
pub fn child_main(plan: &Plan, sock: RawFd, loops: &[Option<String>]) -> ! {
    let err = match setup(plan, sock, loops) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let mut msg = b"E".to_vec();
    msg.extend_from_slice(err.as_bytes());
    let _ = sys::send_msg(sock, &msg, &[]);
    // SAFETY: _exit ends the child without running the parent's atexit state.
    unsafe { libc::_exit(1) }
}

enum Never {}

fn setup(plan: &Plan, sock: RawFd, loops: &[Option<String>]) -> Res<Never> {
    // Wait for the controller: cgroups joined, ID maps written, interfaces moved in.
    let (msg, _) = sys::recv_msg(sock).ctx(|| "wait for the controller".into())?;
    if msg != b"C" {
        return Err("the controller gave up before the container was set up".into());
    }
    reset_signals();
    if !plan.uid_map.is_empty() {
        // Become the container's root (mapped by the controller).
        // SAFETY: plain syscalls without pointers.
        unsafe {
            if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                return Err(format!(
                    "become root of the user namespace: {}",
                    io::Error::last_os_error()
                ));
            }
        }
    }
    // SAFETY: unshare takes no pointers.
    if unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
        return Err(format!(
            "unshare the cgroup namespace: {}",
            io::Error::last_os_error()
        ));
    }
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_SLAVE,
        None,
    )?;
    nix::unistd::sethostname(&plan.name).ctx(|| format!("set the host name {:?}", plan.name))?;
    if plan.private_net {
        network(plan)?;
    }

    // The new root, or the host's.
    let prefix: PathBuf = match &plan.root {
        Some(root) => {
            let md = fs::metadata(root).ctx(|| format!("root directory {}", root.display()))?;
            if !md.is_dir() {
                return Err(format!(
                    "root directory {}: not a directory",
                    root.display()
                ));
            }
            bind(root, root, false).map_err(|e| format!("root directory: {e}"))?;
            root.clone()
        }
        None => PathBuf::from("/"),
    };
    let at = |target: &str| prefix.join(target.trim_start_matches('/'));
    // The host's device nodes, held open before anything covers the host's /dev (with a
    // shared root the container's /dev replaces it).
    let std_nodes = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    let host_std: Vec<Option<HostNode>> = std_nodes
        .iter()
        .map(|(name, ..)| HostNode::open(&Path::new("/dev").join(name)).ok())
        .collect();
    let mut host_devs = Vec::new();
    for hd in &plan.hostdevs {
        if let HostDevice::Block { path } | HostDevice::Char { path } = hd {
            host_devs.push(HostNode::open(path)?);
        }
    }

    for (i, m) in plan.mounts.iter().enumerate() {
        let target = at(&m.target);
        let file_bind = matches!(&m.kind, MountKind::Bind { source } if !source.is_dir());
        if file_bind {
            // A file bound on a file.
            if let Some(parent) = target.parent() {
                mkdir_p(parent)?;
            }
            if !target.exists() {
                fs::write(&target, b"")
                    .ctx(|| format!("create mount point {}", target.display()))?;
            }
        } else {
            mkdir_p(&target)?;
        }
        match &m.kind {
            MountKind::Bind { source } => bind(source, &target, m.readonly)?,
            MountKind::Ram { size_kib } => {
                let ro = if m.readonly { libc::MS_RDONLY } else { 0 };
                mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    libc::MS_NOSUID | libc::MS_NODEV | ro,
                    Some(&format!("size={size_kib}k,mode=755")),
                )?
            }
            MountKind::Image { source, .. } => {
                let dev = match loops.get(i).cloned().flatten() {
                    Some(d) => PathBuf::from(d),
                    None => source.clone(),
                };
                mount_image(&dev, source, &target, m.readonly)?
            }
        }
    }

    // /proc, /sys.
    let proc_ = at("proc");
    mkdir_p(&proc_)?;
    mount(
        Some(Path::new("proc")),
        &proc_,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;
    bind(&proc_.join("sys"), &proc_.join("sys"), true)?;
    if plan.private_net {
        // The container's own network settings stay writable (as libvirt does).
        let net = proc_.join("sys/net");
        mount(Some(&net), &net, None, libc::MS_BIND, None)?;
        mount(None, &net, None, libc::MS_REMOUNT | libc::MS_BIND, None)?;
    }
    let sys_ = at("sys");
    mkdir_p(&sys_)?;
    let sysflags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if let Err(e) = mount(
        Some(Path::new("sysfs")),
        &sys_,
        Some("sysfs"),
        sysflags,
        None,
    ) {
        bind(Path::new("/sys"), &sys_, true).map_err(|e2| format!("{e}; then {e2}"))?;
    }

    // /dev.
    let dev = at("dev");
    mkdir_p(&dev)?;
    mount(
        Some(Path::new("devfs")),
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID,
        Some("mode=755,size=65536"),
    )?;
    for ((name, major, minor), host) in std_nodes.iter().zip(&host_std) {
        let p = dev.join(name);
        if sys::mknod(&p, libc::S_IFCHR | 0o666, libc::makedev(*major, *minor)).is_ok() {
            // mknod honours the umask.
            fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .ctx(|| format!("chmod {}", p.display()))?;
        } else {
            // In a user namespace: bind the host's node.
            let Some(host) = host else {
                return Err(format!(
                    "create {}: no mknod and no host node to bind",
                    p.display()
                ));
            };
            host.bind_on(&p)?;
        }
    }
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(link)).ctx(|| format!("symlink {}", dev.join(link).display()))?;
    }
    let pts = dev.join("pts");
    mkdir_p(&pts)?;
    let ptsflags = libc::MS_NOSUID | libc::MS_NOEXEC;
    if mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        ptsflags,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )
    .is_err()
    {
        // gid 5 not mapped in the user namespace.
        mount(
            Some(Path::new("devpts")),
            &pts,
            Some("devpts"),
            ptsflags,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )?;
    }
    for host in &host_devs {
        host.node_at(&at(&host.path.to_string_lossy()))?;
    }

    // Read-only root last: the mount points above are made first.
    if plan.root_readonly {
        sys::remount_ro(&prefix).map_err(|e| format!("root {}: {e}", prefix.display()))?;
    }
    if plan.root.is_some() {
        pivot(&prefix)?;
    }

    // The console: a pty of the container's devpts.
    let (master, slave) = open_pty()?;
    let console = Path::new("/dev/console");
    fs::write(console, b"").ctx(|| "create /dev/console".into())?;
    mount(Some(&slave.1), console, None, libc::MS_BIND, None)?;
    sys::send_msg(sock, b"M", &[master.as_raw_fd(), slave.0.as_raw_fd()])
        .ctx(|| "send the console to the controller".into())?;
    drop(master);

    for &cap in &plan.drop_caps {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(format!(
                "drop capability {cap} from the bounding set: {}",
                io::Error::last_os_error()
            ));
        }
    }
    let init_path = resolve_init(plan)?;
    identity(plan)?;
    let dir = plan.init_dir.as_deref().unwrap_or("/");
    std::env::set_current_dir(dir).ctx(|| format!("init directory {dir}"))?;

    let argv: Vec<CString> = plan.init.iter().map(|a| cstr(a)).collect::<Res<_>>()?;
    let envp: Vec<CString> = plan
        .env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Res<_>>()?;
    let cinit = cpath(&init_path)?;

    // Init's stdio and controlling terminal.
    // SAFETY: plain syscalls on fds we own.
    unsafe {
        if libc::setsid() < 0 {
            return Err(format!("setsid: {}", io::Error::last_os_error()));
        }
        let s = slave.0.as_raw_fd();
        if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
            return Err(format!(
                "make the console the controlling terminal: {}",
                io::Error::last_os_error()
            ));
        }
        for fd in 0..3 {
            if libc::dup2(s, fd) < 0 {
                return Err(format!("dup2 the console: {}", io::Error::last_os_error()));
            }
        }
    }
    drop(slave);

    sys::send_msg(sock, b"X", &[]).ctx(|| "tell the controller init starts".into())?;
    let mut pargv: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pargv.push(std::ptr::null());
    let mut penv: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    penv.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of live C strings.
    unsafe { libc::execve(cinit.as_ptr(), pargv.as_ptr(), penv.as_ptr()) };
    Err(format!(
        "exec init {}: {}",
        init_path.display(),
        io::Error::last_os_error()
    ))
}

/// Default dispositions and an empty mask for init (the controller ignores SIGHUP and
/// SIGPIPE and blocks SIGCHLD).
fn reset_signals() {
    // SAFETY: resetting dispositions and the mask; no handlers are installed.
    unsafe {
        for s in [libc::SIGHUP, libc::SIGPIPE, libc::SIGCHLD] {
            libc::signal(s, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

fn mkdir_p(p: &Path) -> Res<()> {
    fs::create_dir_all(p).ctx(|| format!("create mount point {}", p.display()))
}

/// The network inside: `lo` up, each interface renamed, addressed, up, routed.
fn network(plan: &Plan) -> Res<()> {
    sys::run("ip", &["link", "set", "dev", "lo", "up"])?;
    for i in &plan.interfaces {
        let n = i.name.as_str();
        if i.container_end != n {
            sys::run("ip", &["link", "set", "dev", &i.container_end, "name", n])?;
        }
        if !i.mac.is_empty() {
            sys::run("ip", &["link", "set", "dev", n, "address", &i.mac])?;
        }
        if let Some(mtu) = i.mtu {
            sys::run("ip", &["link", "set", "dev", n, "mtu", &mtu.to_string()])?;
        }
        for a in &i.addresses {
            sys::run("ip", &["addr", "add", a, "dev", n])?;
        }
        sys::run("ip", &["link", "set", "dev", n, "up"])?;
    }
    for i in &plan.interfaces {
        for (dest, gw) in &i.routes {
            let six = if gw.contains(':') || dest.contains(':') {
                "-6"
            } else {
                "-4"
            };
            sys::run(
                "ip",
                &[six, "route", "add", dest, "via", gw, "dev", &i.name],
            )?;
        }
    }
    for hd in &plan.hostdevs {
        if let HostDevice::Net { name } = hd {
            sys::run("ip", &["link", "set", "dev", name, "up"])?;
        }
    }
    Ok(())
}

/// Mounts an image (loop device) or a block device, trying the kernel's filesystems.
fn mount_image(dev: &Path, source: &Path, target: &Path, readonly: bool) -> Res<()> {
    let list = fs::read_to_string("/proc/filesystems").ctx(|| "read /proc/filesystems".into())?;
    let ro = if readonly { libc::MS_RDONLY } else { 0 };
    let mut tried = Vec::new();
    for line in list.lines() {
        if line.starts_with("nodev") {
            continue;
        }
        let fstype = line.trim();
        if fstype.is_empty() {
            continue;
        }
        if mount(Some(dev), target, Some(fstype), ro, None).is_ok() {
            return Ok(());
        }
        tried.push(fstype.to_string());
    }
    Err(format!(
        "mount image {} ({}) on {}: no filesystem recognised it (tried {})",
        source.display(),
        dev.display(),
        target.display(),
        tried.join(", ")
    ))
}

/// A host device node, held by an `O_PATH` descriptor.
struct HostNode {
    path: PathBuf,
    fd: fs::File,
    md: fs::Metadata,
}

impl HostNode {
    fn open(path: &Path) -> Res<HostNode> {
        let fd = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .ctx(|| format!("host device {}", path.display()))?;
        let md = fd
            .metadata()
            .ctx(|| format!("host device {}", path.display()))?;
        Ok(HostNode {
            path: path.to_path_buf(),
            fd,
            md,
        })
    }

    /// Binds the host node on `node` (created as an empty file).
    fn bind_on(&self, node: &Path) -> Res<()> {
        fs::write(node, b"").ctx(|| format!("create {}", node.display()))?;
        let src = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        bind(&src, node, false).map_err(|e| format!("{} (host {})", e, self.path.display()))
    }

    /// A node at `node` of the same type and number (bound when mknod is not allowed).
    fn node_at(&self, node: &Path) -> Res<()> {
        let ft = self.md.file_type();
        let kind = if ft.is_block_device() {
            libc::S_IFBLK
        } else if ft.is_char_device() {
            libc::S_IFCHR
        } else {
            return Err(format!(
                "host device {}: not a device node",
                self.path.display()
            ));
        };
        if let Some(parent) = node.parent() {
            mkdir_p(parent)?;
        }
        if sys::mknod(node, kind | (self.md.mode() & 0o7777), self.md.rdev()).is_err() {
            self.bind_on(node)?;
        }
        Ok(())
    }
}

/// pivot_root into `root`, the old root detached.
fn pivot(root: &Path) -> Res<()> {
    std::env::set_current_dir(root).ctx(|| format!("chdir {}", root.display()))?;
    let dot = cstr(".")?;
    // SAFETY: pivot_root(".", ".") with valid C strings; the old root ends up stacked on the
    // new one and is detached right after.
    unsafe {
        if libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) != 0 {
            return Err(format!(
                "pivot_root to {}: {}",
                root.display(),
                io::Error::last_os_error()
            ));
        }
        if libc::umount2(dot.as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(format!(
                "detach the old root: {}",
                io::Error::last_os_error()
            ));
        }
    }
    std::env::set_current_dir("/").ctx(|| "chdir /".into())
}

/// Opens a pty pair on the container's devpts: (master, (slave, slave path)).
fn open_pty() -> Res<(OwnedFd, (OwnedFd, PathBuf))> {
    let open = |p: &Path| -> Res<OwnedFd> {
        let c = cpath(p)?;
        // SAFETY: c is a valid C string; the fd returned is ours.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "open {}: {}",
                p.display(),
                io::Error::last_os_error()
            ));
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let master = open(Path::new("/dev/pts/ptmx"))?;
    let mut n: libc::c_uint = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes an unsigned int.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) != 0
        {
            return Err(format!(
                "set up the console pty: {}",
                io::Error::last_os_error()
            ));
        }
    }
    let path = PathBuf::from(format!("/dev/pts/{n}"));
    let slave = open(&path)?;
    Ok((master, (slave, path)))
}

/// Finds init in the container (a name without `/` is looked up in the plan's `PATH`).
fn resolve_init(plan: &Plan) -> Res<PathBuf> {
    let Some(arg0) = plan.init.first() else {
        return Err("the plan has no init".into());
    };
    let root = plan
        .root
        .as_ref()
        .map_or("the host's root".to_string(), |r| r.display().to_string());
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match fs::metadata(&p) {
            Ok(md) if md.is_file() => Ok(p),
            Ok(_) => Err(format!("init {arg0} in {root}: not a file")),
            Err(e) => Err(format!("init {arg0} in {root}: {e}")),
        };
    }
    let path = plan
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("/bin:/usr/bin", |(_, v)| v.as_str());
    for dir in path.split(':') {
        let p = Path::new(dir).join(arg0);
        if fs::metadata(&p).map(|m| m.is_file()).unwrap_or(false) {
            return Ok(p);
        }
    }
    Err(format!("init {arg0} not found in PATH {path} of {root}"))
}

/// Finds a line of a colon-separated database by name (field 0) or number (field 2).
fn lookup(file: &str, spec: &str) -> Res<Option<Vec<String>>> {
    let text = match fs::read(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("read {file} in the container: {e}")),
    };
    let text = String::from_utf8_lossy(&text);
    for line in text.lines() {
        let f: Vec<String> = line.split(':').map(str::to_string).collect();
        if f.len() >= 3 && (f[0] == spec || f[2] == spec) {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

/// Switches to `init_user` / `init_group`.
fn identity(plan: &Plan) -> Res<()> {
    if plan.init_user.is_none() && plan.init_group.is_none() {
        return Ok(());
    }
    let num = |s: &str, what: &str| -> Res<u32> {
        s.parse::<u32>()
            .map_err(|_| format!("{what} {s:?} is unknown in the container"))
    };
    let mut uid = None;
    let mut gid = None;
    let mut uname = None;
    if let Some(u) = &plan.init_user {
        match lookup("/etc/passwd", u)? {
            Some(f) if f.len() >= 4 => {
                uid = Some(num(&f[2], "user")?);
                gid = Some(num(&f[3], "group")?);
                uname = Some(f[0].clone());
            }
            _ => uid = Some(num(u, "user")?),
        }
    }
    if let Some(g) = &plan.init_group {
        gid = Some(match lookup("/etc/group", g)? {
            Some(f) => num(&f[2], "group")?,
            None => num(g, "group")?,
        });
    }
    let gid = gid.unwrap_or(0);
    let mut groups = vec![gid];
    if let Some(name) = &uname {
        if let Ok(text) = fs::read("/etc/group") {
            for line in String::from_utf8_lossy(&text).lines() {
                let f: Vec<&str> = line.split(':').collect();
                if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                    if let Ok(g) = f[2].parse::<u32>() {
                        if !groups.contains(&g) {
                            groups.push(g);
                        }
                    }
                }
            }
        }
    }
    // SAFETY: setgroups reads `groups.len()` gids from a live buffer; the rest take integers.
    unsafe {
        if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
            return Err(format!(
                "setgroups {groups:?}: {}",
                io::Error::last_os_error()
            ));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(format!("setgid {gid}: {}", io::Error::last_os_error()));
        }
        if let Some(uid) = uid {
            if libc::setresuid(uid, uid, uid) != 0 {
                return Err(format!("setuid {uid}: {}", io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}
