//! Processes as `/proc` shows them: a pid with its start time (which together name a process
//! even after the pid is reused), the state letter (a zombie is not a live guest), CPU ticks,
//! and the reaping of orphans a child subreaper inherits. Every daemon that runs guests uses
//! this one module.

use nix::libc;

/// A process (a QEMU, a container's controller): its pid and start time (ticks since boot), which together name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid {
    /// Process id.
    pub pid: i32,
    /// Start time from `/proc/PID/stat` (field 22).
    pub start_time: u64,
}

/// The fields of `/proc/PID/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The state letter (R, S, D, Z, X, ...).
    pub state: char,
    /// user + system time in clock ticks.
    pub cpu_ticks: u64,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
}

/// Parses `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) text.
pub fn parse_stat(text: &str) -> Option<Stat> {
    // The command name is in parentheses and may itself hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15, starttime 22 (1-based).
    let state = f.first()?.chars().next()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let start_time = f.get(19)?.parse().ok()?;
    Some(Stat {
        state,
        cpu_ticks: utime + stime,
        start_time,
    })
}

/// `/proc/PID/stat` of `pid`, `None` when there is no such process.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Whether `p` still runs: same pid, same start time, not a zombie.
pub fn is_alive(p: Pid) -> bool {
    stat(p.pid).is_some_and(|s| s.start_time == p.start_time && !matches!(s.state, 'Z' | 'X'))
}

/// Reaps `pid` if it is an exited child of ours; anything else is left alone.
pub fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on one pid with WNOHANG writes only into `status`.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}

/// Our children that are zombies now: `/proc/*/stat` with our pid as parent and state `Z`.
pub fn zombie_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = text.rfind(')') else {
            continue;
        };
        let mut f = text[close + 1..].split_whitespace();
        if let (Some("Z"), Some(ppid)) = (f.next(), f.next()) {
            if ppid == me {
                out.push(pid);
            }
        }
    }
    out
}

/// Reaps orphans handed to the subreaper without taking a child from the code that waits for
/// it (std's and tokio's `wait` reap their own children at once, so a global `waitpid(-1)`
/// would steal their exit status): a zombie child seen in `previous` and still a zombie now
/// has nobody waiting for it and is reaped. Returns the zombies to remember for next time.
pub fn reap_orphans(previous: &[i32]) -> Vec<i32> {
    let now = zombie_children();
    for pid in &now {
        if previous.contains(pid) {
            reap(*pid);
        }
    }
    now.into_iter().filter(|p| !previous.contains(p)).collect()
}

/// Counters of a guest's interface from its host end (a veth, a tap, Xen's `vifD.N`), swapped
/// to the guest's view: `[rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets,
/// tx_errs, tx_drop]`, from `/proc/net/dev` (which, unlike `/sys/class/net`, shows the reading
/// process's network namespace).
pub fn guest_net_counters(host_end: &str) -> Option<[u64; 8]> {
    guest_net_counters_in(&std::fs::read_to_string("/proc/net/dev").ok()?, host_end)
}

/// [`guest_net_counters`] from `/proc/net/dev`'s text.
pub fn guest_net_counters_in(text: &str, host_end: &str) -> Option<[u64; 8]> {
    let line = text.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        (name.trim() == host_end).then_some(rest)
    })?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes
    // packets errs drop ...
    let (rx, tx) = (f.get(0..4)?, f.get(8..12)?);
    Some([tx[0], tx[1], tx[2], tx[3], rx[0], rx[1], rx[2], rx[3]])
}

#[cfg(test)]
mod net_tests {
    use super::*;

    #[test]
    fn counters_are_the_host_ends_swapped() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n  veth3: 100 2 0 1 0 0 0 0 900 7 0 0 0 0 0 0\n";
        assert_eq!(
            guest_net_counters_in(text, "veth3"),
            Some([900, 7, 0, 0, 100, 2, 0, 1])
        );
        assert_eq!(guest_net_counters_in(text, "veth4"), None);
    }
}
