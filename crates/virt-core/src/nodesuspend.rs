//! Suspending the host for a while (virNodeSuspendForDuration), once for every driver that
//! offers it (the QEMU and LXC daemons), with libvirt's virnodesuspend rules:
//!
//! - what the host can do (Suspend-to-RAM, -Disk, Hybrid) is probed once per daemon: logind,
//!   else pm-utils' `pm-is-supported --suspend/--hibernate/--suspend-hybrid`; without either
//!   the host can do none of them;
//! - one suspend at a time ("Suspend operation already in progress");
//! - at least 60 seconds; the RTC alarm that wakes the host is set first (`rtcwake -m no -s
//!   N`), then the call returns and, 10 seconds later (so the answer reaches the caller
//!   before the host sleeps), `pm-suspend` / `pm-hibernate` / `pm-suspend-hybrid` runs.
//!
//! As libvirt (virNodeSuspendSupportsTargetLogind), logind is asked first when it is on the
//! system bus (`org.freedesktop.login1.Manager.CanSuspend`, `CanHibernate`, `CanHybridSleep`;
//! "yes" or "challenge" means supported), and pm-utils' `pm-is-supported` only when logind is
//! absent (no bus, nobody owning `org.freedesktop.login1`).
//!
//! Where we differ: libvirt suspends with pm-utils' commands whatever logind said, so on a host
//! with logind and without pm-utils it accepts the call and the suspend then fails unseen. Here
//! a target logind allows is supported only when its command (`pm-suspend`, `pm-hibernate`,
//! `pm-suspend-hybrid`) is in the daemon's PATH too. A logind that answers with an error, or
//! not within 5 s, counts as absent (libvirt fails the call) and pm-utils is asked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// libvirt's shortest suspend, in seconds.
pub const MIN_DURATION: u64 = 60;
/// How long after the call the host is suspended.
pub const SUSPEND_DELAY: Duration = Duration::from_secs(10);

/// The targets (libvirt's virNodeSuspendTarget): name in errors, pm-is-supported's option,
/// the command that suspends.
const TARGETS: [(&str, &str, &str); 3] = [
    ("Suspend-to-RAM", "--suspend", "pm-suspend"),
    ("Suspend-to-Disk", "--hibernate", "pm-hibernate"),
    ("Hybrid-Suspend", "--suspend-hybrid", "pm-suspend-hybrid"),
];

struct State {
    /// The targets the host supports, once probed (bit N: target N).
    mask: Option<u32>,
    /// A suspend is set up and has not run yet.
    about_to_suspend: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    mask: None,
    about_to_suspend: false,
});

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::None, detail)
}

/// `name` in the daemon's PATH.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `argv` and fails as libvirt's virCommandRun does when it cannot run or exits non-zero.
fn run(argv: &[&str]) -> Result<std::process::ExitStatus, VirtError> {
    let bin = find_in_path(argv[0]).ok_or_else(|| {
        error(
            ErrorCode::SystemError,
            format!(
                "Cannot find '{}' in path: No such file or directory",
                argv[0]
            ),
        )
    })?;
    Command::new(bin)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| {
            error(
                ErrorCode::SystemError,
                format!("cannot execute binary {}: {e}", argv[0]),
            )
        })
}

/// The supported targets as a bit mask, probed on the first call.
pub fn target_mask() -> Result<u32, VirtError> {
    let mut st = lock();
    if let Some(mask) = st.mask {
        return Ok(mask);
    }
    let mut mask = 0;
    if let Some(allowed) = logind_mask() {
        for (bit, (_, _, command)) in TARGETS.iter().enumerate() {
            if allowed & (1 << bit) != 0 && find_in_path(command).is_some() {
                mask |= 1 << bit;
            }
        }
        tracing::info!(
            logind = allowed,
            supported = mask,
            "suspend targets from logind"
        );
    } else if find_in_path("pm-is-supported").is_some() {
        for (bit, (_, option, _)) in TARGETS.iter().enumerate() {
            if run(&["pm-is-supported", option])?.success() {
                mask |= 1 << bit;
            }
        }
    }
    st.mask = Some(mask);
    Ok(mask)
}

/// logind's methods for the targets, in [`TARGETS`] order.
const LOGIND_METHODS: [&str; 3] = ["CanSuspend", "CanHibernate", "CanHybridSleep"];
/// How long the logind probe may take.
const LOGIND_TIMEOUT: Duration = Duration::from_secs(5);

/// The targets logind allows, or `None` when logind is not there to ask (no system bus, nobody
/// owning `org.freedesktop.login1`, an error, no answer in time). Runs the D-Bus calls on a
/// thread and runtime of its own, so it may be called from any thread.
fn logind_mask() -> Option<u32> {
    std::thread::Builder::new()
        .name("logind-probe".into())
        .spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                tokio::time::timeout(LOGIND_TIMEOUT, logind_probe())
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!("logind did not answer in time; asking pm-utils");
                        None
                    })
            })
        })
        .ok()?
        .join()
        .ok()
        .flatten()
}

async fn logind_probe() -> Option<u32> {
    let conn = match zbus::Connection::system().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "no system bus; asking pm-utils");
            return None;
        }
    };
    let owned: bool = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &("org.freedesktop.login1",),
        )
        .await
        .and_then(|m| m.body().deserialize())
        .ok()?;
    if !owned {
        tracing::debug!("logind is not on the system bus; asking pm-utils");
        return None;
    }
    let mut mask = 0;
    for (bit, method) in LOGIND_METHODS.iter().enumerate() {
        let answer: Result<String, zbus::Error> = conn
            .call_method(
                Some("org.freedesktop.login1"),
                "/org/freedesktop/login1",
                Some("org.freedesktop.login1.Manager"),
                *method,
                &(),
            )
            .await
            .and_then(|m| m.body().deserialize());
        match answer {
            Ok(a) if a == "yes" || a == "challenge" => mask |= 1 << bit,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(method, error = %e, "logind failed to answer; asking pm-utils");
                return None;
            }
        }
    }
    Some(mask)
}

/// virNodeSuspend: checks, the RTC alarm, then the suspend in the background after
/// [`SUSPEND_DELAY`]. Blocks while it runs `pm-is-supported` and `rtcwake`: call it where
/// blocking is fine (`spawn_blocking`).
pub fn suspend(target: u32, duration: u64, flags: u32) -> Result<(), VirtError> {
    VirtError::check_flags(flags, 0, ErrorDomain::None, "virNodeSuspend")?;
    let supported = target_mask()?;
    let mut st = lock();
    if st.about_to_suspend {
        return Err(error(
            ErrorCode::OperationInvalid,
            "Suspend operation already in progress",
        ));
    }
    let Some(&(name, _, command)) = TARGETS.get(target as usize) else {
        return Err(error(ErrorCode::InvalidArg, "Invalid suspend target"));
    };
    if supported & (1 << target) == 0 {
        return Err(error(ErrorCode::ArgumentUnsupported, name));
    }
    if duration < MIN_DURATION {
        return Err(error(
            ErrorCode::InvalidArg,
            format!("Suspend duration is too short, must be at least {MIN_DURATION} seconds"),
        ));
    }
    let secs = duration.to_string();
    let status = run(&["rtcwake", "-m", "no", "-s", &secs])?;
    if !status.success() {
        return Err(error(
            ErrorCode::InternalError,
            format!(
                "Child process (rtcwake -m no -s {secs}) unexpected exit status {}",
                status.code().unwrap_or(-1)
            ),
        ));
    }
    std::thread::Builder::new()
        .name("node-suspend".into())
        .spawn(move || {
            std::thread::sleep(SUSPEND_DELAY);
            match run(&[command]) {
                Ok(s) if s.success() => {}
                Ok(s) => tracing::warn!(command, status = %s, "failed to suspend the host"),
                Err(e) => tracing::warn!(command, error = %e, "failed to suspend the host"),
            }
            lock().about_to_suspend = false;
        })
        .map_err(|e| {
            error(
                ErrorCode::InternalError,
                format!("Failed to create thread to suspend the host: {e}"),
            )
        })?;
    st.about_to_suspend = true;
    Ok(())
}

/// [`suspend`] off the async runtime's threads.
pub async fn suspend_in_background(
    target: u32,
    duration: u64,
    flags: u32,
) -> Result<(), VirtError> {
    tokio::task::spawn_blocking(move || suspend(target, duration, flags))
        .await
        .map_err(|e| error(ErrorCode::InternalError, format!("node suspend task: {e}")))?
}
