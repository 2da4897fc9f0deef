//! The per-container controller (libvirt's `libvirt_lxc`): `virt-lxc-controller --plan PATH`.
//!
//! It reads the [`Plan`], clones the container's init in new namespaces, finishes what only
//! the host side can do (cgroups, ID maps, moving interfaces, loop devices), prints
//! `READY PID` (or `ERROR MESSAGE`) on its standard output, then serves the console and the
//! control socket in one `poll(2)` loop until init is gone, writes the exit record and exits.
//! No async runtime and no threads: a running controller costs little memory.

mod child;
mod serve;
mod sys;

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use crate::plan::{HostDevice, MountKind, Plan};
use sys::{Ctx, Res};

/// Runs the controller with its command-line arguments; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let plan_path = match parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("virt-lxc-controller: {e}");
            say(&format!("{} {e}", crate::plan::ERROR));
            return 2;
        }
    };
    // SAFETY: setting dispositions to SIG_IGN installs no handler.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let plan = match load(&plan_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("virt-lxc-controller: {e}");
            say(&format!("{} {e}", crate::plan::ERROR));
            return 1;
        }
    };
    let mut host = Host::default();
    match start(&plan, &mut host) {
        Ok(running) => serve::run(&plan, running, host),
        Err(e) => {
            log(&plan, &format!("start failed: {e}"));
            host.undo(&plan);
            say(&format!("{} {e}", crate::plan::ERROR));
            1
        }
    }
}

fn parse_args(args: &[String]) -> Res<String> {
    match args {
        [flag, path] if flag == "--plan" => Ok(path.clone()),
        [one] if one.starts_with("--plan=") => Ok(one["--plan=".len()..].to_string()),
        _ => Err(format!(
            "usage: virt-lxc-controller --plan PATH (got {args:?})"
        )),
    }
}

fn load(path: &str) -> Res<Plan> {
    let text = fs::read(path).ctx(|| format!("read plan {path}"))?;
    let plan: Plan = serde_json::from_slice(&text).ctx(|| format!("parse plan {path}"))?;
    if plan.init.is_empty() {
        return Err(format!("plan {path}: no init"));
    }
    if plan.uid_map.is_empty() != plan.gid_map.is_empty() {
        return Err(format!(
            "plan {path}: uid_map and gid_map must both be given or neither"
        ));
    }
    Ok(plan)
}

/// One line on standard output (the handshake with the daemon).
fn say(line: &str) {
    // One line: a helper's multi-line stderr is joined.
    let line = line.trim().replace('\n', "; ");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A line in the log (standard error).
fn log(plan: &Plan, msg: &str) {
    eprintln!("virt-lxc-controller[{}]: {msg}", plan.name);
}

/// What the controller set up on the host and undoes at the end.
#[derive(Default)]
pub(crate) struct Host {
    /// Loop devices attached, by mount index.
    loops: Vec<Option<String>>,
    /// The control socket exists (ours to remove).
    socket: bool,
}

impl Host {
    fn undo(&mut self, plan: &Plan) {
        for dev in self.loops.iter_mut().filter_map(Option::take) {
            if let Err(e) = sys::run("losetup", &["-d", &dev]) {
                log(plan, &format!("detach {dev}: {e}"));
            }
        }
        if self.socket {
            let _ = fs::remove_file(&plan.control_socket);
            self.socket = false;
        }
    }
}

/// A started container.
pub(crate) struct Running {
    init_pid: i32,
    master: OwnedFd,
    /// The controller keeps the console's slave open so the master never hangs up.
    slave: OwnedFd,
    listener: UnixListener,
}

fn start(plan: &Plan, host: &mut Host) -> Res<Running> {
    if let Some(root) = &plan.root {
        let md = fs::metadata(root).ctx(|| format!("root directory {}", root.display()))?;
        if !md.is_dir() {
            return Err(format!(
                "root directory {}: not a directory",
                root.display()
            ));
        }
    }
    // Loop devices first: the child mounts them.
    for m in &plan.mounts {
        let dev = match &m.kind {
            MountKind::Image {
                source,
                loop_device: true,
            } => {
                let s = source.to_string_lossy();
                let mut args = vec!["-f", "--show"];
                if m.readonly {
                    args.push("-r");
                }
                args.push(&s);
                Some(sys::run("losetup", &args).map_err(|e| format!("loop device for {s}: {e}"))?)
            }
            _ => None,
        };
        host.loops.push(dev);
    }

    // SIGCHLD is read through a signalfd in the loop: block it before the child exists.
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(nix::sys::signal::Signal::SIGCHLD);
    mask.thread_block().ctx(|| "block SIGCHLD".into())?;

    let (parent_sock, child_sock) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair with the container".into())?;

    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWPID;
    if plan.private_net {
        flags |= libc::CLONE_NEWNET;
    }
    if !plan.uid_map.is_empty() {
        flags |= libc::CLONE_NEWUSER;
    }
    // Flush buffered output so the child does not print it twice.
    let _ = std::io::stdout().flush();
    // SAFETY: clone without CLONE_VM and with no stack behaves like fork(2): the child gets a
    // copy of this single-threaded process and continues here with a return value of 0.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(format!(
            "clone the container (flags {flags:#x}): {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        drop(parent_sock);
        child::child_main(plan, child_sock.as_raw_fd(), &host.loops);
    }
    let pid = pid as i32;
    drop(child_sock);
    let kill = |e: String| -> String {
        // SAFETY: kill and waitpid with integer arguments on our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        e
    };

    host_side(plan, pid).map_err(kill)?;
    sys::send_msg(parent_sock.as_raw_fd(), b"C", &[])
        .ctx(|| "tell the container to continue".into())
        .map_err(kill)?;

    // Wait for the console, then for `X` (about to exec) and EOF, or an error.
    let mut console: Option<(OwnedFd, OwnedFd)> = None;
    let mut execing = false;
    loop {
        let (msg, mut fds) = sys::recv_msg(parent_sock.as_raw_fd())
            .ctx(|| "read from the container".into())
            .map_err(kill)?;
        match msg.first() {
            None => break,
            Some(b'M') if fds.len() == 2 => {
                let slave = fds.pop();
                let master = fds.pop();
                if let (Some(m), Some(s)) = (master, slave) {
                    console = Some((m, s));
                }
            }
            Some(b'X') => execing = true,
            Some(b'E') => return Err(kill(String::from_utf8_lossy(&msg[1..]).into_owned())),
            Some(_) => {
                return Err(kill(format!(
                    "unexpected message from the container: {:?}",
                    String::from_utf8_lossy(&msg)
                )))
            }
        }
    }
    let (Some((master, slave)), true) = (console, execing) else {
        return Err(kill(
            "the container's setup ended without saying why".into(),
        ));
    };

    let sock = &plan.control_socket;
    let listener = listen(sock).map_err(kill)?;
    host.socket = true;
    Ok(Running {
        init_pid: pid,
        master,
        slave,
        listener,
    })
}

/// The host side between clone and "continue": cgroups, ID maps, interfaces.
fn host_side(plan: &Plan, pid: i32) -> Res<()> {
    for procs in &plan.cgroup_procs {
        fs::write(procs, format!("{pid}\n"))
            .ctx(|| format!("add init to cgroup {}", procs.display()))?;
    }
    if !plan.uid_map.is_empty() {
        for (file, map) in [("uid_map", &plan.uid_map), ("gid_map", &plan.gid_map)] {
            let text: String = map
                .iter()
                .map(|r| format!("{} {} {}\n", r.start, r.target, r.count))
                .collect();
            let path = format!("/proc/{pid}/{file}");
            fs::write(&path, text).ctx(|| format!("write {path}"))?;
        }
    }
    let pid_s = pid.to_string();
    for i in &plan.interfaces {
        sys::run(
            "ip",
            &["link", "set", "dev", &i.container_end, "netns", &pid_s],
        )
        .map_err(|e| format!("move interface {} into the container: {e}", i.container_end))?;
    }
    for hd in &plan.hostdevs {
        if let HostDevice::Net { name } = hd {
            sys::run("ip", &["link", "set", "dev", name, "netns", &pid_s])
                .map_err(|e| format!("move host interface {name} into the container: {e}"))?;
        }
    }
    Ok(())
}

/// Listens on the control socket (mode 0600), replacing a stale one.
fn listen(path: &Path) -> Res<UnixListener> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "remove stale control socket {}: {e}",
                path.display()
            ))
        }
    }
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let l = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let l = l.ctx(|| format!("listen on control socket {}", path.display()))?;
    l.set_nonblocking(true)
        .ctx(|| format!("control socket {}", path.display()))?;
    Ok(l)
}

/// Redirects standard output to /dev/null once the handshake line is written.
fn stdout_to_null() {
    if let Ok(f) = fs::OpenOptions::new().write(true).open("/dev/null") {
        let fd = OwnedFd::from(f);
        // SAFETY: dup2 onto fd 1, which this process owns.
        unsafe { libc::dup2(fd.as_raw_fd(), 1) };
    }
}
