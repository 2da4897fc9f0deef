//! systemd socket activation: claiming the listening sockets systemd passed us.
//!
//! The protocol (sd_listen_fds(3)): systemd sets `LISTEN_PID` to our pid, `LISTEN_FDS` to a
//! count n and `LISTEN_FDNAMES` to n `:`-separated names; the sockets are fds 3 … 3+n-1. If
//! `LISTEN_PID` is not our pid the variables were leaked to a child and are ignored. The
//! sd-notify crate's `listen_fds_with_names(true)` reads them, sets `FD_CLOEXEC` on each fd and
//! unsets the three variables so that guests and helpers we spawn never see them; without
//! `LISTEN_FDNAMES` it names every fd `unknown`.
//!
//! Each fd gets a role from its name (a socket unit's fds are named after the unit unless
//! `FileDescriptorName=` says otherwise):
//!
//! | fd name | role |
//! |---|---|
//! | `NAME.socket`, `NAME-sock` | read-write |
//! | `NAME-ro.socket`, `NAME-sock-ro` | read-only |
//!
//! When no fd carries a known name (old systemd, `systemd-socket-activate` without
//! `--fdname`), the first fd is read-write and the second read-only. Fds left without a role
//! are closed with a warning. A read-write fd is required; the read-only one is optional (its
//! socket unit may be disabled).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::RuntimeError;

/// The sockets systemd passed, by role.
#[derive(Debug, Default)]
pub struct Activated {
    /// The read-write listener.
    pub rw: Option<OwnedFd>,
    /// The read-only listener.
    pub ro: Option<OwnedFd>,
}

/// The role an fd plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read-write listener.
    ReadWrite,
    /// Read-only listener.
    ReadOnly,
}

/// The role of an fd named `fd_name` for daemon `daemon`, if the name is one we know.
pub fn role_of(daemon: &str, fd_name: &str) -> Option<Role> {
    if fd_name == format!("{daemon}.socket") || fd_name == format!("{daemon}-sock") {
        Some(Role::ReadWrite)
    } else if fd_name == format!("{daemon}-ro.socket") || fd_name == format!("{daemon}-sock-ro") {
        Some(Role::ReadOnly)
    } else {
        None
    }
}

/// Assigns roles to `(fd, name)` pairs: by name, or by position when no name is known.
/// Returns the indices of the rw and ro fds.
pub fn assign(daemon: &str, names: &[String]) -> (Option<usize>, Option<usize>) {
    let roles: Vec<_> = names.iter().map(|n| role_of(daemon, n)).collect();
    if roles.iter().all(Option::is_none) {
        let rw = (!names.is_empty()).then_some(0);
        let ro = (names.len() > 1).then_some(1);
        return (rw, ro);
    }
    let find = |want| roles.iter().position(|r| *r == Some(want));
    (find(Role::ReadWrite), find(Role::ReadOnly))
}

/// Claims the sockets systemd passed to this process, if any; `Ok(None)` when not activated.
pub fn from_env(daemon: &str) -> Result<Option<Activated>, RuntimeError> {
    let fds: Vec<(RawFd, String)> = sd_notify::listen_fds_with_names(true)
        .map_err(|source| RuntimeError::Activation { source })?
        .collect();
    if fds.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = fds.iter().map(|(_, n)| n.clone()).collect();
    let (rw, ro) = assign(daemon, &names);
    let mut activated = Activated::default();
    for (i, (fd, name)) in fds.into_iter().enumerate() {
        // SAFETY: systemd hands these fds to this process (LISTEN_PID matched) and nothing
        // else in the process claims fds 3.. from LISTEN_FDS; we take ownership exactly once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        if Some(i) == rw {
            activated.rw = Some(owned);
        } else if Some(i) == ro {
            activated.ro = Some(owned);
        } else {
            tracing::warn!(fd, name, "closing socket-activation fd with no role");
        }
    }
    if activated.rw.is_none() {
        return Err(RuntimeError::ActivationNoReadWrite {
            names: names.join(":"),
        });
    }
    Ok(Some(activated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unit_names_map_to_roles_in_any_order() {
        let n = names(&["virtqemud-ro.socket", "virtqemud.socket"]);
        assert_eq!(assign("virtqemud", &n), (Some(1), Some(0)));
        let n = names(&["virtqemud-sock", "virtqemud-sock-ro"]);
        assert_eq!(assign("virtqemud", &n), (Some(0), Some(1)));
    }

    #[test]
    fn unnamed_fds_are_taken_by_position() {
        assert_eq!(assign("virtxend", &names(&["unknown"])), (Some(0), None));
        let n = names(&["unknown", "unknown", "unknown"]);
        assert_eq!(assign("virtxend", &n), (Some(0), Some(1)));
    }

    #[test]
    fn other_daemons_names_get_no_role() {
        assert_eq!(role_of("virtqemud", "virtlxcd.socket"), None);
        assert_eq!(role_of("virtqemud", "virtqemud-admin.socket"), None);
        let n = names(&["virtqemud-ro.socket", "virtqemud-admin.socket"]);
        assert_eq!(assign("virtqemud", &n), (None, Some(0)));
    }
}
