//! Running libvirt's own `virsh` as the reference in comparisons.
//!
//! virsh 9.0 can hang for good on a command that runs as a job (`save`, `managedsave`,
//! `dump`, `migrate`...): its job watcher (`virshWatchJob`) may miss the job thread's end
//! when the job finishes before the watcher's main loop runs, which happens often against
//! `test:///default`, whose jobs end at once, on a loaded machine. Both threads then sit in
//! `poll` forever. [`run`] bounds each virsh run and runs it again on a fresh connection
//! when it hangs: with `test:///default` every run starts from the same state, so the
//! repeat gives the answer the first run would have given.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one virsh run may take before it is taken as hung.
const HANG: Duration = Duration::from_secs(10);
/// Runs of one command before giving up.
const ATTEMPTS: usize = 6;

/// Whether `virsh` can be run here.
pub fn available() -> bool {
    Command::new("virsh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Standard output, standard error and exit status of `virsh -c URI ARGS...`, repeated on
/// a fresh process when one run hangs (see the module's text). Panics when every attempt
/// hangs.
pub fn run(uri: &str, args: &[&str]) -> (String, String, i32) {
    for _ in 0..ATTEMPTS {
        if let Some(out) = run_bounded(Path::new("virsh"), uri, args, HANG) {
            return out;
        }
    }
    panic!("virsh -c {uri} {args:?} hung {ATTEMPTS} times");
}

/// One run of `BIN -c URI ARGS...`, or None when it was still running after `limit` (it is
/// then killed).
pub fn run_bounded(
    bin: &Path,
    uri: &str,
    args: &[&str],
    limit: Duration,
) -> Option<(String, String, i32)> {
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(uri)
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let status = status?;
    Some((
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        status.code().unwrap_or(-1),
    ))
}
