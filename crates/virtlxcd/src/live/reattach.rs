//! Daemon start: reattach to every container a previous daemon left running (status files in
//! `RUN/lxc`), report the ones that ended meanwhile with the reason their controller recorded,
//! then autostart (once per host boot, as libvirt: a marker in `RUN/lxc`).

use std::sync::atomic::Ordering;

use virt_core::state::{DomainState, StateReason};

use crate::domains::{Dom, Run};
use crate::plan::control::{Reply, Request};
use crate::LxcDriver;

impl LxcDriver {
    /// Reattaches, reports and autostarts; the daemon calls this before serving.
    pub async fn start_guests(&self) {
        for (name, status) in super::status::load_all(&self.run_root) {
            self.reattach(&name, status).await;
        }
        let marker = self.run_root.join("autostarted");
        if marker.exists() {
            return;
        }
        let _ = std::fs::create_dir_all(&self.run_root);
        let _ = std::fs::write(&marker, b"");
        let names: Vec<_> = {
            let st = self.lock();
            st.by_uuid
                .values()
                .filter(|d| d.autostart && !d.is_active())
                .map(|d| d.def.uuid)
                .collect()
        };
        for uuid in names {
            if let Err(e) = self.create_by_uuid(uuid).await {
                tracing::warn!(%uuid, error = %e, "autostart failed");
            }
        }
    }

    async fn reattach(&self, name: &str, status: super::status::Status) {
        let def = match self.parse_live(&status.live_xml) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(domain = name, error = %e, "cannot read the live definition of a running container; leaving it alone");
                return;
            }
        };
        let alive = virt_core::procfs::is_alive(virt_core::procfs::Pid {
            pid: status.controller_pid,
            start_time: status.controller_start,
        });
        let answered = alive
            && matches!(
                super::ctl::call(&status.socket, &Request::Status).await,
                Ok(Reply::Status { .. })
            );
        let uuid = def.uuid;
        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
        self.next_id.fetch_max(status.id + 1, Ordering::Relaxed);
        // The freezer says whether it is paused now (a daemon may have died mid-suspend).
        let cgroup = status.domain_cgroup();
        let state = match &cgroup {
            Some(cg) if super::cgroups::is_frozen(&self.hierarchies, cg) => {
                StateReason::new(DomainState::Paused, virt_core::state::reason::paused::USER)
            }
            Some(_) if status.state().state == DomainState::Paused => StateReason::new(
                DomainState::Running,
                virt_core::state::reason::running::UNPAUSED,
            ),
            _ => status.state(),
        };
        let run = Run {
            id: status.id,
            generation: gen,
            state,
            live: def.clone(),
            controller: (status.controller_pid, status.controller_start),
            init_pid: status.init_pid,
            socket: status.socket.clone(),
            cgroup,
            veths: status.veths.clone(),
            ports: status.ports.clone(),
        };
        {
            let mut st = self.lock();
            if !st.by_uuid.contains_key(&uuid) {
                if st.by_name.contains_key(&def.name) {
                    tracing::error!(
                        domain = name,
                        "a running container's name belongs to another domain; leaving it alone"
                    );
                    return;
                }
                st.insert(Dom::new(def.clone(), false, false));
            }
            let d = st.by_uuid.get_mut(&uuid).expect("inserted above");
            d.run = Some(run);
        }
        if alive && answered {
            tracing::info!(
                domain = name,
                id = status.id,
                "reattached to a running container"
            );
            self.watch(uuid, gen, status.socket);
        } else {
            let exit = self.read_exit_record(name);
            tracing::info!(domain = name, reason = ?exit.reason, "a container ended while the daemon was away");
            self.finish_stop(uuid, gen, exit).await;
        }
    }

    /// Writes the status file of running domain `d`.
    pub(crate) fn save_status(&self, d: &Dom) {
        let Some(run) = &d.run else { return };
        let xml = self.codec.format_domain(
            &run.live,
            virt_core::xml::FormatOptions {
                id: Some(run.id),
                secure: true,
                inactive: false,
            },
        );
        let status =
            super::status::Status::of(run, xml, d.persistent, self.cgroup_prefix.as_deref());
        if let Err(e) = super::status::write(&self.run_root, &d.def.name, &status) {
            tracing::error!(domain = %d.def.name, error = %e, "cannot write the status file");
        }
    }

    /// The next domain ID.
    pub(crate) fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
