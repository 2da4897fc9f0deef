//! The running container: one `poll(2)` loop over SIGCHLD (a signalfd), the console's pty
//! master, the control socket and its connections; then the end (exit record, cleanup).

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::{log, say, stdout_to_null, sys, Host, Running};
use crate::plan::control::{Reply, Request};
use crate::plan::{Exit, ExitReason, Plan};

/// Console output kept while no client is connected (the newest bytes).
const BACKLOG: usize = 64 * 1024;
/// Pending output per connection before the controller stops reading its source.
const HIGH_WATER: usize = 64 * 1024;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Mode {
    Requests,
    Console,
    Watch,
}

struct Conn {
    sock: UnixStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    mode: Mode,
    closed: bool,
}

impl Conn {
    fn reply(&mut self, r: &Reply) {
        match serde_json::to_string(r) {
            Ok(mut s) => {
                s.push('\n');
                self.out.extend_from_slice(s.as_bytes());
            }
            Err(e) => self.out.extend_from_slice(
                format!("{{\"reply\":\"error\",\"message\":\"{e}\"}}\n").as_bytes(),
            ),
        }
    }

    /// Writes what it can; marks the connection closed on a write error.
    fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

struct State {
    init_pid: i32,
    master: fs::File,
    backlog: VecDeque<u8>,
    /// Console input waiting for the pty.
    to_pty: Vec<u8>,
    conns: Vec<Conn>,
    destroy_requested: bool,
}

/// Serves the container until init is gone; returns the controller's exit code.
pub fn run(plan: &Plan, running: Running, mut host: Host) -> i32 {
    let Running {
        init_pid,
        master,
        slave,
        listener,
    } = running;
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let sigfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("signalfd for SIGCHLD: {e}");
            // SAFETY: kill and waitpid with integer arguments on our own child.
            unsafe {
                libc::kill(init_pid, libc::SIGKILL);
                libc::waitpid(init_pid, std::ptr::null_mut(), 0);
            }
            host.undo(plan);
            say(&format!("{} {msg}", crate::plan::ERROR));
            return 1;
        }
    };
    say(&format!("{} {init_pid}", crate::plan::READY));
    stdout_to_null();
    log(plan, &format!("container running, init pid {init_pid}"));
    trim_text();

    let master = fs::File::from(master);
    let _ = sys::set_nonblocking(&master, true);
    let mut st = State {
        init_pid,
        master,
        backlog: VecDeque::new(),
        to_pty: Vec::new(),
        conns: Vec::new(),
        destroy_requested: false,
    };
    let status = loop {
        if let Some(status) = reap(init_pid) {
            break status;
        }
        let console_out = st
            .conns
            .iter()
            .find(|c| c.mode == Mode::Console)
            .map(|c| c.out.len());
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(3 + st.conns.len());
        let pfd = |fd: RawFd, events: libc::c_short| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        pfds.push(pfd(sigfd.as_raw_fd(), libc::POLLIN));
        pfds.push(pfd(listener.as_raw_fd(), libc::POLLIN));
        let mut mev = 0;
        if console_out.is_none_or(|n| n < HIGH_WATER) {
            mev |= libc::POLLIN;
        }
        if !st.to_pty.is_empty() {
            mev |= libc::POLLOUT;
        }
        pfds.push(pfd(st.master.as_raw_fd(), mev));
        for c in &st.conns {
            let mut ev = 0;
            if c.mode != Mode::Console || st.to_pty.len() < HIGH_WATER {
                ev |= libc::POLLIN;
            }
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            pfds.push(pfd(c.sock.as_raw_fd(), ev));
        }
        // SAFETY: pfds is a live array of pfds.len() pollfd structures.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                log(plan, &format!("poll: {e}"));
            }
            continue;
        }
        if pfds[0].revents != 0 {
            while let Ok(Some(_)) = sigfd.read_signal() {}
        }
        if pfds[1].revents != 0 {
            loop {
                match listener.accept() {
                    Ok((sock, _)) => {
                        if sock.set_nonblocking(true).is_ok() {
                            st.conns.push(Conn {
                                sock,
                                inbuf: Vec::new(),
                                out: Vec::new(),
                                mode: Mode::Requests,
                                closed: false,
                            });
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let mrev = pfds[2].revents;
        if mrev & libc::POLLIN != 0 {
            st.read_master();
        }
        if mrev & libc::POLLOUT != 0 {
            st.write_master();
        }
        // Connections that existed when poll was called (new ones come after them).
        for (i, p) in pfds[3..].iter().enumerate() {
            if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                st.read_conn(i, plan);
            }
            if st.conns[i].closed {
                continue;
            }
            st.conns[i].flush();
        }
        st.conns.retain(|c| !c.closed);
    };

    let exit = decide(plan, status, st.destroy_requested);
    log(plan, &format!("container ended: {}", exit.message));
    drop(slave);
    host.undo(plan);
    remove_cgroups(plan);
    if let Err(e) = write_record(&plan.exit_record, &exit) {
        log(plan, &e);
    }
    for c in st.conns.iter_mut().filter(|c| c.mode == Mode::Watch) {
        c.reply(&Reply::Exited(exit.clone()));
        let _ = sys::set_nonblocking(&c.sock, false);
        let _ = c
            .sock
            .set_write_timeout(Some(std::time::Duration::from_secs(2)));
        let _ = c.sock.write_all(&c.out);
    }
    0
}

/// Drops the page mappings of read-only file pages faulted in during setup (the binary's and
/// the libraries' code and constants): they were never written, so they come back from the
/// page cache on the next use, and the loop touches few of them. The controller stays small
/// for the container's whole life.
fn trim_text() {
    let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            // A mapping header: "start-end perms offset dev inode path".
            current = None;
            let perms = f.next().unwrap_or("");
            let inode = f.nth(2).unwrap_or("0");
            if perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p')
                && inode != "0"
            {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    current = Some((a, b));
                }
            }
        } else if first == "Anonymous:" {
            // Only mappings without private (written) pages.
            if let (Some((a, b)), Some("0")) = (current.take(), f.next()) {
                // SAFETY: MADV_DONTNEED on a private file mapping holding no anonymous pages
                // only drops page-table entries; every page reads back identically from the
                // file on the next access.
                unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED) };
            }
        }
    }
}

/// The wait status of init once it is gone (everything else is reaped on the way).
fn reap(init_pid: i32) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == init_pid {
            found = Some(status);
        }
    }
}

fn decide(plan: &Plan, status: i32, destroy_requested: bool) -> Exit {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        return Exit {
            reason: ExitReason::Shutdown,
            status: code,
            message: format!("init exited with code {code}"),
        };
    }
    let sig = libc::WTERMSIG(status);
    let name = sys::signal_name(sig);
    let (reason, message) = match sig {
        libc::SIGKILL if destroy_requested => (ExitReason::Destroyed, "destroyed".to_string()),
        libc::SIGHUP => (
            ExitReason::Reboot,
            "init asked for a reboot (killed by SIGHUP)".into(),
        ),
        libc::SIGINT => (
            ExitReason::Shutdown,
            "init powered off (killed by SIGINT)".into(),
        ),
        libc::SIGKILL if oom_killed(plan) => (
            ExitReason::Crashed,
            "killed by SIGKILL: out of memory (the memory cgroup counted an OOM kill)".into(),
        ),
        libc::SIGKILL => (
            ExitReason::Crashed,
            "killed by SIGKILL (out of memory?)".into(),
        ),
        _ => (ExitReason::Crashed, format!("killed by {name}")),
    };
    Exit {
        reason,
        status: 128 + sig,
        message,
    }
}

/// Whether a memory cgroup of the container counted an OOM kill.
fn oom_killed(plan: &Plan) -> bool {
    plan.cgroup_dirs.iter().any(|d| {
        fs::read_to_string(d.join("memory.oom_control"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| {
                        l.strip_prefix("oom_kill ")
                            .map(|n| n.trim().parse::<u64>().ok())
                    })
                    .flatten()
            })
            .is_some_and(|n| n > 0)
    })
}

/// Removes the cgroup directories, deepest first, retrying while the kernel still counts
/// dying tasks.
fn remove_cgroups(plan: &Plan) {
    let mut dirs = plan.cgroup_dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let mut tries = 0;
        loop {
            match fs::remove_dir(&d) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if tries < 50 && e.raw_os_error() == Some(libc::EBUSY) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => {
                    log(plan, &format!("remove cgroup {}: {e}", d.display()));
                    break;
                }
            }
        }
    }
}

/// Writes the exit record atomically (temp file, fsync, rename).
fn write_record(path: &Path, exit: &Exit) -> Result<(), String> {
    let text = serde_json::to_vec(exit).map_err(|e| format!("exit record: {e}"))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    };
    write().map_err(|e| format!("write exit record {}: {e}", path.display()))
}

impl State {
    fn console(&mut self) -> Option<&mut Conn> {
        self.conns
            .iter_mut()
            .find(|c| c.mode == Mode::Console && !c.closed)
    }

    fn read_master(&mut self) {
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(n) if n > 0 => {
                let data = &buf[..n];
                if let Some(c) = self.console() {
                    c.out.extend_from_slice(data);
                } else {
                    self.backlog.extend(data);
                    let extra = self.backlog.len().saturating_sub(BACKLOG);
                    self.backlog.drain(..extra);
                }
            }
            _ => {}
        }
    }

    fn write_master(&mut self) {
        match self.master.write(&self.to_pty) {
            Ok(n) => {
                self.to_pty.drain(..n);
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.to_pty.clear(),
        }
    }

    fn read_conn(&mut self, i: usize, plan: &Plan) {
        let mut buf = [0u8; 4096];
        let n = match self.conns[i].sock.read(&mut buf) {
            Ok(0) => {
                self.conns[i].closed = true;
                return;
            }
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return
            }
            Err(_) => {
                self.conns[i].closed = true;
                return;
            }
        };
        match self.conns[i].mode {
            Mode::Console => {
                self.to_pty.extend_from_slice(&buf[..n]);
                self.write_master();
            }
            Mode::Watch => {}
            Mode::Requests => {
                self.conns[i].inbuf.extend_from_slice(&buf[..n]);
                while self.conns[i].mode == Mode::Requests {
                    let Some(pos) = self.conns[i].inbuf.iter().position(|&b| b == b'\n') else {
                        if self.conns[i].inbuf.len() > 64 * 1024 {
                            self.conns[i].reply(&Reply::Error {
                                message: "request line longer than 64 KiB".into(),
                            });
                            self.conns[i].inbuf.clear();
                        }
                        break;
                    };
                    let line: Vec<u8> = self.conns[i].inbuf.drain(..=pos).collect();
                    self.request(i, &line, plan);
                }
                if self.conns[i].mode == Mode::Console {
                    // Bytes after the request line are console input.
                    let rest = std::mem::take(&mut self.conns[i].inbuf);
                    self.to_pty.extend_from_slice(&rest);
                    self.write_master();
                }
            }
        }
    }

    fn request(&mut self, i: usize, line: &[u8], plan: &Plan) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let req: Request = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.conns[i].reply(&Reply::Error {
                    message: format!("bad request {text:?}: {e}"),
                });
                return;
            }
        };
        match req {
            Request::Status => self.conns[i].reply(&Reply::Status {
                controller_pid: std::process::id() as i32,
                init_pid: self.init_pid,
            }),
            Request::Destroy => {
                log(plan, "destroy requested");
                self.destroy_requested = true;
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(self.init_pid, libc::SIGKILL) };
                self.conns[i].mode = Mode::Watch;
            }
            Request::Signal { signal } => {
                // SAFETY: kill with integer arguments.
                let r = unsafe { libc::kill(self.init_pid, signal) };
                if r == 0 {
                    self.conns[i].reply(&Reply::Ok);
                } else {
                    let e = io::Error::last_os_error();
                    self.conns[i].reply(&Reply::Error {
                        message: format!("send signal {signal} to init {}: {e}", self.init_pid),
                    });
                }
            }
            Request::Console { force } => {
                let busy = self
                    .conns
                    .iter()
                    .enumerate()
                    .any(|(j, c)| j != i && c.mode == Mode::Console && !c.closed);
                if busy && !force {
                    self.conns[i].reply(&Reply::Error {
                        message: "console is in use".into(),
                    });
                    return;
                }
                for (j, c) in self.conns.iter_mut().enumerate() {
                    if j != i && c.mode == Mode::Console {
                        c.closed = true;
                    }
                }
                self.conns[i].reply(&Reply::Ok);
                let backlog: Vec<u8> = self.backlog.drain(..).collect();
                self.conns[i].out.extend_from_slice(&backlog);
                self.conns[i].mode = Mode::Console;
            }
            Request::Watch => {
                self.conns[i].reply(&Reply::Ok);
                self.conns[i].mode = Mode::Watch;
            }
        }
    }
}
