//! Raw QEMU for scale: the limit a driver works against. The same binary and guest shape as
//! the drivers' diskless guest (`-machine pc -accel tcg -m 64 -smp 1 -nodefaults`), its QMP
//! monitor on a UNIX socket; timed from exec until QMP answers `query-status` with `running`
//! (after the greeting and `qmp_capabilities`), and from SIGTERM until the process has exited
//! (waitpid returned).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{median, Plan, RawFigures, QEMU};

/// Medians over `plan.raw_runs` runs.
pub fn run(plan: &Plan) -> Result<RawFigures, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let (mut starts, mut exits) = (Vec::new(), Vec::new());
    for i in 0..plan.raw_runs {
        let (start, exit) = once(&dir.path().join(format!("qmp{i}.sock")))?;
        starts.push(start);
        exits.push(exit);
    }
    let figures = RawFigures {
        start: median(starts),
        exit: median(exits),
    };
    eprintln!("  {figures:?}");
    Ok(figures)
}

fn once(sock: &Path) -> Result<(Duration, Duration), String> {
    let t = Instant::now();
    let mut child = Command::new(QEMU)
        .args(["-machine", "pc", "-accel", "tcg", "-m", "64", "-smp", "1"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {QEMU}: {e}"))?;
    let answered = query_status(sock, &t);
    let start = t.elapsed();
    let t = Instant::now();
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let status = child.wait().map_err(|e| format!("waiting for QEMU: {e}"));
    let exit = t.elapsed();
    answered?;
    status?;
    Ok((start, exit))
}

/// Connects to QMP (retrying until the socket accepts, for 10 s), negotiates and asks
/// `query-status` until the guest runs.
fn query_status(sock: &Path, started: &Instant) -> Result<(), String> {
    let stream = loop {
        match UnixStream::connect(sock) {
            Ok(s) => break s,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(format!("QMP at {}: {e}", sock.display())),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut reply = |cmd: &str| -> Result<String, String> {
        if !cmd.is_empty() {
            writer
                .write_all(cmd.as_bytes())
                .map_err(|e| format!("QMP write: {e}"))?;
        }
        loop {
            let mut line = String::new();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| format!("QMP read: {e}"))?;
            if n == 0 {
                return Err("QMP closed".into());
            }
            // Skip events; the greeting and answers are what we wait for.
            if !line.contains("\"event\"") {
                return Ok(line);
            }
        }
    };
    let greeting = reply("")?;
    if !greeting.contains("QMP") {
        return Err(format!("no QMP greeting: {greeting}"));
    }
    reply("{\"execute\":\"qmp_capabilities\"}\n")?;
    loop {
        let status = reply("{\"execute\":\"query-status\"}\n")?;
        if status.contains("\"running\"") {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("guest not running: {status}"));
        }
    }
}
