//! Status files: `RUN/lxc/NAME.json` per running container, rewritten atomically on every
//! state change, so a restarted daemon finds its containers (the live definition, the
//! controller, init, the cgroup, the veths and network ports) and reattaches.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use virt_core::cgroup::DomainCgroup;
use virt_core::state::{DomainState, StateReason};

use crate::domains::Run;

/// What a status file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Status {
    /// The live definition (live XML with its ID).
    pub live_xml: String,
    /// Whether a persistent definition existed (transient containers have none).
    pub persistent: bool,
    pub id: u32,
    pub controller_pid: i32,
    pub controller_start: u64,
    pub init_pid: i32,
    pub state: i32,
    pub reason: i32,
    pub socket: PathBuf,
    /// `(machine-name prefix, id, name, partition)` of the cgroup.
    pub cgroup: Option<(String, u32, String, Option<String>)>,
    pub veths: Vec<String>,
    pub ports: Vec<(String, String)>,
}

impl Status {
    /// The status of `run`, whose live XML is `live_xml`.
    pub fn of(
        run: &Run,
        live_xml: String,
        persistent: bool,
        cgroup_prefix: Option<&str>,
    ) -> Status {
        Status {
            live_xml,
            persistent,
            id: run.id,
            controller_pid: run.controller.0,
            controller_start: run.controller.1,
            init_pid: run.init_pid,
            state: run.state.state as i32,
            reason: run.state.reason,
            socket: run.socket.clone(),
            cgroup: match (&run.cgroup, cgroup_prefix) {
                (Some(cg), Some(prefix)) => Some((
                    prefix.to_string(),
                    run.id,
                    run.live.name.clone(),
                    Some(cg.partition.clone()),
                )),
                _ => None,
            },
            veths: run.veths.clone(),
            ports: run.ports.clone(),
        }
    }

    /// The cgroup this status names.
    pub fn domain_cgroup(&self) -> Option<DomainCgroup> {
        self.cgroup
            .as_ref()
            .map(|(p, id, name, part)| DomainCgroup::new(p, *id, name, part.as_deref()))
    }

    /// The state and reason recorded.
    pub fn state(&self) -> StateReason {
        let state = match self.state {
            3 => DomainState::Paused,
            _ => DomainState::Running,
        };
        StateReason::new(state, self.reason)
    }
}

/// `RUN/lxc/NAME.json`.
pub(crate) fn path(run_root: &Path, name: &str) -> PathBuf {
    run_root.join(format!("{name}.json"))
}

/// Writes the status of `name`, atomically.
pub(crate) fn write(run_root: &Path, name: &str, status: &Status) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(run_root)?;
    virt_core::fsutil::write_atomic(&path(run_root, name), &text, 0o600)
}

/// Removes the status of `name`.
pub(crate) fn remove(run_root: &Path, name: &str) {
    match std::fs::remove_file(path(run_root, name)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(name, error = %e, "cannot remove a status file"),
    }
}

/// Every status file: `(name, status)`; unreadable ones are logged and skipped.
pub(crate) fn load_all(run_root: &Path) -> Vec<(String, Status)> {
    let Ok(dir) = std::fs::read_dir(run_root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let p = e.path();
        let Some(name) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|n| !n.ends_with(".plan") && !n.ends_with(".exit") && !n.starts_with('.'))
        else {
            continue;
        };
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Status>(&b).map_err(|e| e.to_string()))
        {
            Ok(s) => out.push((name.to_string(), s)),
            Err(why) => {
                tracing::warn!(file = %p.display(), error = %why, "skipping an unreadable status file")
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
