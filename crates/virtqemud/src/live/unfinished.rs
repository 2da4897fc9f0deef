//! Starts a killed daemon left unfinished, settled when the next daemon starts, before it
//! reattaches to its guests (`reattach.rs`).
//!
//! Each start journal (`crate::journal`) still on disk is a start that was not over when the
//! daemon died. If the status file of that name and ID records the start as finished (any
//! state but PAUSED / STARTING_UP), only the journal's removal was missed: the guest is
//! reattached from its status file as any other. Otherwise the start is undone, whatever
//! instant it was at: every process the journal (or the status file) names that still runs
//! is killed, the host-side leftovers go (managed PCI devices back to their drivers, the
//! cgroup, the memory dir, taps, the private and channel dirs), the log says "shutting down,
//! reason=failed", the status file goes and the domain is shut off (failed) or, transient,
//! forgotten. No event: nothing was reported started. The journal is removed last.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use virt_core::state::{reason, DomainState, StateReason};

use crate::journal::Entry;
use crate::process::{self, Pid, ProcHandle};
use crate::status_file::{Status, StatusError};
use crate::QemuDriver;

/// The status files as loaded: the domain name and the parsed file or why it is unusable.
pub(super) type Loaded = Vec<(String, Result<Status, StatusError>)>;

impl QemuDriver {
    /// Settles every start journal (see the module docs) and answers the status files left
    /// to reattach (those of undone starts are taken out).
    pub(super) async fn settle_unfinished_starts(self: &Arc<Self>, mut loaded: Loaded) -> Loaded {
        let mut tasks = Vec::new();
        for journal in crate::journal::find_all(&self.run_root) {
            let entry = match journal.read() {
                Ok(e) => e,
                Err(why) => {
                    // The header is written atomically: this file is damaged, not torn.
                    tracing::error!(file = %journal.path().display(), error = %why, "unusable start journal; removing it");
                    journal.remove();
                    continue;
                }
            };
            self.next_id.fetch_max(entry.id + 1, Ordering::Relaxed);
            let at = loaded.iter().position(|(name, st)| {
                name == &entry.name && st.as_ref().is_ok_and(|s| s.id == entry.id)
            });
            let finished = at.is_some_and(|i| {
                loaded[i].1.as_ref().is_ok_and(|s| {
                    s.state != StateReason::new(DomainState::Paused, reason::paused::STARTING_UP)
                })
            });
            if finished {
                tracing::info!(domain = %entry.name, "the start had finished when the daemon went away");
                journal.remove();
                continue;
            }
            let status = at.and_then(|i| loaded.remove(i).1.ok());
            let me = self.clone();
            tasks.push(tokio::spawn(async move {
                me.undo_start(&entry, status).await;
                journal.remove();
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        loaded
    }

    /// Undoes the start `entry` journals; `status` is its status file, if it got that far.
    async fn undo_start(&self, entry: &Entry, status: Option<Status>) {
        let name = &entry.name;
        tracing::warn!(domain = %name, id = entry.id, "the daemon went away while starting this guest; undoing the start");
        let mut pids: Vec<Pid> = entry.pids.clone();
        if let Some(st) = &status {
            pids.push(st.pid);
            pids.extend(st.swtpm);
            pids.extend(st.virtiofsd.iter().map(|(_, p)| *p));
        }
        pids.sort_by_key(|p| (p.pid, p.start_time));
        pids.dedup();
        for p in pids {
            kill(p, name).await;
        }
        // The definition the start ran: the status file's, else the persistent one.
        let def = status
            .as_ref()
            .and_then(|st| self.parse_live(&st.domain_xml).ok())
            .or_else(|| {
                let st = self.lock();
                st.by_name
                    .get(name)
                    .and_then(|u| st.by_uuid.get(u))
                    .map(|d| d.def.clone())
            });
        if let Some(def) = &def {
            crate::hostdev::reattach_pci(def, &crate::hostdev::HostRoots::default());
            self.forget_cgroup(entry.id, def);
            if let Ok(memory) = self.memory_placement(def, &entry.id.to_string()) {
                crate::memory::cleanup(&memory);
            }
        }
        let taps = status.as_ref().map(|s| s.taps.clone()).unwrap_or_default();
        let log = status
            .as_ref()
            .map(|s| s.log.clone())
            .unwrap_or_else(|| self.log_dir.join(format!("{name}.log")));
        super::cleanup_run_files(name, &entry.lib_dir, &log, &taps, reason::shutoff::FAILED);
        if status.is_some() {
            self.statuses.remove(name);
        }
        let mut st = self.lock();
        if let Some(uuid) = st.by_name.get(name).copied() {
            if let Some(d) = st.by_uuid.get_mut(&uuid).filter(|d| !d.is_active()) {
                d.last = StateReason::new(DomainState::Shutoff, reason::shutoff::FAILED);
            }
        }
    }
}

/// Kills `p` if it still runs (same pid and start time, not a zombie) and waits for it.
async fn kill(p: Pid, domain: &str) {
    let Some(h) = ProcHandle::open(p).filter(|_| process::is_alive(p)) else {
        process::reap(p.pid);
        return;
    };
    tracing::info!(
        domain,
        pid = p.pid,
        "killing a process of the unfinished start"
    );
    if let Err(e) = h.terminate(false).await {
        tracing::error!(domain, error = %e, "cannot kill a process of the unfinished start");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use virt_core::driver::prelude::*;
    use virt_core::runtime::Mode;
    use virt_core::types::DomainLookup;

    use super::*;
    use crate::journal::Journal;
    use crate::process::Launch;

    /// A process standing in for a QEMU (or helper) the dead daemon's start let exec.
    fn journaled_sleeper(j: &Journal) -> Pid {
        let launch = Launch {
            program: "/bin/sleep".into(),
            args: vec!["30".into()],
            ..Launch::default()
        };
        let log = j.path().with_extension("log");
        let (p, _) = process::spawn(launch, &log, Some(&|p| j.note(p))).expect("spawns");
        p
    }

    async fn gone(p: Pid) -> bool {
        for _ in 0..200 {
            process::reap(p.pid);
            if !process::is_alive(p) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn an_unfinished_start_is_killed_cleaned_and_shut_off_as_failed() {
        let root = tempfile::tempdir().expect("root");
        let d = crate::tests::open(root.path(), Mode::System);
        let xml = crate::tests::xml("u", "0b0b0b0b-0000-4000-8000-000000000001");
        d.define_domain(&xml, 0).await.expect("define");
        // The dead daemon's start as domain 5: journal, private and channel dirs, a process;
        // it died before the first status file.
        let lib = d.domain_dir("5", "u");
        let j = Journal::create(&lib, "u", 5).expect("journal");
        std::fs::create_dir_all(lib.join("sub")).expect("lib dir");
        let chan = super::super::channels::channel_dir(&lib);
        std::fs::create_dir_all(&chan).expect("channel dir");
        std::fs::create_dir_all(&d.log_dir).expect("log dir");
        let p = journaled_sleeper(&j);
        // A transient domain's start that got as far as its STARTING_UP status file.
        let tlib = d.domain_dir("6", "t");
        let tj = Journal::create(&tlib, "t", 6).expect("journal");
        std::fs::create_dir_all(&tlib).expect("lib dir");
        let tp = journaled_sleeper(&tj);
        let tdef = d
            .parse(
                &crate::tests::xml("t", "0b0b0b0b-0000-4000-8000-000000000002"),
                false,
            )
            .expect("parse");
        let status = Status {
            state: StateReason::new(DomainState::Paused, reason::paused::STARTING_UP),
            pid: tp,
            id: 6,
            monitor: tlib.join("monitor.sock"),
            lib_dir: tlib.clone(),
            log: d.log_dir.join("t.log"),
            vcpus: vec![],
            taps: vec![],
            ptys: vec![],
            balloon_kib: 0,
            fake_reboot: false,
            agent_timeout: None,
            swtpm: None,
            virtiofsd: vec![],
            domain_xml: d.codec.format_domain(&tdef, Default::default()),
        };
        d.statuses.save("t", &status).expect("status");

        d.start_guests().await;

        assert!(gone(p).await, "the journaled process is killed");
        assert!(gone(tp).await, "the status file's process is killed");
        for path in [
            j.path(),
            &lib,
            &chan,
            tj.path(),
            &tlib,
            &d.statuses.path("t"),
        ] {
            assert!(!path.exists(), "{} is left", path.display());
        }
        let (_, state) = d
            .domain_state(&DomainLookup::Name("u".into()), 0)
            .await
            .expect("u stays defined");
        assert_eq!(
            state,
            StateReason::new(DomainState::Shutoff, reason::shutoff::FAILED)
        );
        assert!(
            d.lookup_domain(&DomainLookup::Name("t".into()))
                .await
                .is_err(),
            "a transient domain whose start was undone is forgotten"
        );
        assert!(d.next_id.load(Ordering::Relaxed) > 6, "IDs are not reused");
        let log = std::fs::read_to_string(d.log_dir.join("u.log")).expect("log");
        assert!(log.contains("shutting down, reason=failed"), "{log}");
    }
}
