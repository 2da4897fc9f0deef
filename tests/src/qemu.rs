//! What the end-to-end QEMU tests share: a guard that kills every QEMU (and swtpm) a root's
//! status files name (pass or fail), and the `virt -c qemu:///system` command run against
//! that root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace_bin;

/// Kills every QEMU and swtpm the root's status files name (and the pids noted), on drop.
pub struct QemuGuard {
    run: PathBuf,
    /// Extra pids to kill (e.g. QEMUs whose status file a test removed or replaced).
    pub pids: Vec<i32>,
}

impl QemuGuard {
    /// A guard for the virtqemud under `root` (status files in `ROOT/run/virt/qemu`).
    pub fn new(root: &Path) -> QemuGuard {
        QemuGuard {
            run: root.join("run/virt/qemu"),
            pids: Vec::new(),
        }
    }

    /// The QEMU pids the status files name now.
    pub fn pids_in_status(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.run).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if let Some(rest) = text.split("pid='").nth(1) {
                if let Some(pid) = rest.split('\'').next().and_then(|p| p.parse().ok()) {
                    out.push(pid);
                }
            }
        }
        out
    }

    /// The swtpm pids the status files name now (`<swtpm pid='...'`).
    pub fn swtpm_pids_in_status(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.run).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if let Some(rest) = text.split("<swtpm pid='").nth(1) {
                if let Some(pid) = rest.split('\'').next().and_then(|p| p.parse().ok()) {
                    out.push(pid);
                }
            }
        }
        out
    }
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        let mut pids = self.pids_in_status();
        pids.extend(self.swtpm_pids_in_status());
        pids.extend(&self.pids);
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `virt -c qemu:///system ARGS` against the proxy under `root`: (success, stdout, stderr).
pub fn virt(root: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("virt"))
        .args(["-c", "qemu:///system"])
        .args(args)
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run virt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`virt`], failing the test unless it succeeds; its stdout.
pub fn virt_ok(root: &Path, args: &[&str]) -> String {
    let (ok, out, err) = virt(root, args);
    assert!(ok, "virt {args:?} failed: {err}");
    out
}
