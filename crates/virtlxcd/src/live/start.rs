//! Starting a container: network ports and veth pairs, the cgroup with its limits, the plan,
//! the controller (in its own session, its output in `LOG/NAME.log`), and the handshake that
//! says init is about to run. Everything a failed start made is undone before the error
//! returns.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use virt_core::cgroup::DomainCgroup;
use virt_core::events::lifecycle as ev;
use virt_core::model::enums::InterfaceType;
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainHandle;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use crate::domains::Run;
use crate::driver::{operation_failed, system_error};
use crate::LxcDriver;

/// How long a controller may take to say READY.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a start made on the host, to undo on failure or at stop.
#[derive(Debug, Default)]
pub(crate) struct Made {
    pub veths: Vec<String>,
    pub ports: Vec<(String, String)>,
    pub cgroup: Option<DomainCgroup>,
    pub files: Vec<PathBuf>,
    /// The name the container was registered under with systemd-machined.
    pub machine: Option<String>,
}

impl LxcDriver {
    /// Undoes what a start made (veths, network ports, the cgroup, plan and status files).
    pub(crate) async fn release(&self, made: Made) {
        super::net::delete(&made.veths).await;
        for (net, port) in &made.ports {
            self.siblings.delete_port(net, port).await;
        }
        if let Some(cg) = &made.cgroup {
            super::cgroups::remove(&self.hierarchies, cg).await;
        }
        if let (Some(m), Some(name)) = (&self.machined, &made.machine) {
            m.unregister(name).await;
        }
        for f in &made.files {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Starts `def` (the live definition to be) as domain `uuid` under ID `id`; the caller
    /// holds the domain's job lock and has checked it is not running. Answers the run.
    pub(crate) async fn launch(&self, def: &DomainDef, id: u32) -> Result<Run, VirtError> {
        let mut made = Made::default();
        match self.launch_inner(def, id, &mut made).await {
            Ok(run) => Ok(run),
            Err(e) => {
                self.release(made).await;
                Err(e)
            }
        }
    }

    async fn launch_inner(
        &self,
        def: &DomainDef,
        id: u32,
        made: &mut Made,
    ) -> Result<Run, VirtError> {
        let mut live = def.clone();
        std::fs::create_dir_all(&self.run_root)
            .map_err(|e| system_error(format!("cannot create {}: {e}", self.run_root.display())))?;
        // Network: a port per network interface, then one veth pair per interface.
        let mut bridges = Vec::new();
        for (i, n) in live.devices.interfaces.iter_mut().enumerate() {
            let bridge = match n.interface_type {
                InterfaceType::Bridge => n.source_bridge.clone().unwrap_or_default(),
                InterfaceType::Network => {
                    let net = n.source_network.clone().unwrap_or_default();
                    let mac = n.mac.clone().unwrap_or_default();
                    let (port, bridge) = self
                        .siblings
                        .create_port(&net, (&def.name, &def.uuid.to_string()), &mac)
                        .await?;
                    made.ports.push((net, port.clone()));
                    n.source_portid = Some(port);
                    n.source_bridge = Some(bridge.clone());
                    bridge
                }
                other => {
                    return Err(operation_failed(format!(
                        "interface {i}: type '{}' is not supported by the LXC driver",
                        other.as_str()
                    )))
                }
            };
            super::net::check_bridge(&bridge)?;
            bridges.push(bridge);
        }
        let mut pairs = Vec::new();
        if !bridges.is_empty() {
            let _guard = self.veth_lock.lock().await;
            let mut taken: Vec<String> = Vec::new();
            let (mut next_host, mut next_peer) = (0, 0);
            let mut cmds = String::new();
            for (n, bridge) in live.devices.interfaces.iter_mut().zip(&bridges) {
                let host = match &n.target_dev {
                    Some(t) if !t.starts_with("vnet") && !t.starts_with("veth") => t.clone(),
                    _ => super::net::free_name("vnet", &taken, &mut next_host),
                };
                taken.push(host.clone());
                let peer = super::net::free_name("veth", &taken, &mut next_peer);
                taken.push(peer.clone());
                cmds.push_str(&super::net::pair_commands(
                    &host,
                    &peer,
                    bridge,
                    n.mac.as_deref().unwrap_or("52:54:00:00:00:00"),
                    n.mtu,
                ));
                n.target_dev = Some(host.clone());
                pairs.push((host, peer));
            }
            let result = super::net::ip_batch(&cmds).await;
            made.veths = pairs.iter().map(|(h, _)| h.clone()).collect();
            result?;
        }
        // The cgroup, with the definition's limits.
        let (procs, dirs) = match &self.cgroup_prefix {
            Some(prefix) => {
                let cg =
                    DomainCgroup::new(prefix, id, &def.name, def.resource_partition.as_deref());
                made.cgroup = Some(cg.clone());
                let placed = super::cgroups::place(
                    &self.hierarchies,
                    &cg,
                    &live,
                    &super::plan_of::device_rules(&live),
                )?;
                (placed.procs, placed.dirs)
            }
            None => (Vec::new(), Vec::new()),
        };
        for (i, c) in live.devices.consoles.iter_mut().enumerate() {
            c.alias = Some(format!("console{i}"));
        }
        for (i, n) in live.devices.interfaces.iter_mut().enumerate() {
            n.alias = Some(format!("net{i}"));
        }
        let plan = super::plan_of::plan(super::plan_of::Inputs {
            def: &live,
            pairs: &pairs,
            cgroup_procs: procs,
            cgroup_dirs: dirs,
            run_root: &self.run_root,
        });
        let plan_path = self.run_root.join(format!("{}.plan", def.name));
        let text = serde_json::to_vec_pretty(&plan).expect("plans serialise");
        virt_core::fsutil::write_atomic(&plan_path, &text, 0o600)
            .map_err(|e| system_error(format!("cannot write {}: {e}", plan_path.display())))?;
        made.files.push(plan_path.clone());
        let _ = std::fs::remove_file(&plan.exit_record);
        let (controller, init_pid) = self.spawn_controller(&def.name, &plan_path).await?;
        made.machine = self.register_machine(id, &live, init_pid, &pairs).await;
        let start = virt_core::procfs::stat(controller)
            .map(|s| s.start_time)
            .unwrap_or(0);
        Ok(Run {
            id,
            generation: self
                .next_gen
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            state: StateReason::new(DomainState::Running, reason::running::BOOTED),
            live,
            controller: (controller, start),
            init_pid,
            socket: plan.control_socket,
            cgroup: made.cgroup.take(),
            veths: std::mem::take(&mut made.veths),
            ports: std::mem::take(&mut made.ports),
        })
    }

    /// Registers the container whose init is `init` with systemd-machined (libvirt's
    /// controller does it between clone and exec; the init is still waiting then, and here it
    /// has just been started): `lxc-ID-NAME`, class container, its root directory and the host
    /// ends of its veths. Answers the machine name when machined now knows it.
    async fn register_machine(
        &self,
        id: u32,
        live: &DomainDef,
        init: i32,
        pairs: &[(String, String)],
    ) -> Option<String> {
        let (machined, prefix) = (self.machined.as_ref()?, self.cgroup_prefix.as_deref()?);
        if virt_core::machined::Placement::for_host(&self.hierarchies, true)
            == virt_core::machined::Placement::UnifiedConflict
        {
            machined.skip_once(
                "this host has only the unified cgroup hierarchy, where a machined scope and the \
                 container's own group cannot both hold it; containers are not registered with systemd-machined",
            );
            return None;
        }
        let name = virt_core::cgroup::machine_name(prefix, id, &live.name);
        let root_directory = live
            .devices
            .filesystems
            .iter()
            .find(|f| f.target == "/")
            .and_then(|f| f.source.clone())
            .unwrap_or_default();
        let machine = virt_core::machined::Machine {
            name: name.clone(),
            uuid: live.uuid.0,
            class: virt_core::machined::MachineClass::Container,
            leader: u32::try_from(init).ok()?,
            root_directory,
            ifindices: pairs
                .iter()
                .filter_map(|(host, _)| nix::net::if_::if_nametoindex(host.as_str()).ok())
                .filter_map(|i| i32::try_from(i).ok())
                .collect(),
        };
        machined.register(&machine).await.then_some(name)
    }

    /// Runs the controller for `name` and waits for its handshake: `(controller pid, init pid)`.
    async fn spawn_controller(
        &self,
        name: &str,
        plan: &std::path::Path,
    ) -> Result<(i32, i32), VirtError> {
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| system_error(format!("cannot create {}: {e}", self.log_dir.display())))?;
        let log_path = self.log_dir.join(format!("{name}.log"));
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| system_error(format!("cannot open {}: {e}", log_path.display())))?;
        {
            use std::io::Write;
            let _ = writeln!(
                log,
                "{}: starting up\n{} --plan {}",
                virt_core::timefmt::log_time(std::time::SystemTime::now()),
                self.controller.display(),
                plan.display()
            );
        }
        let mut cmd = std::process::Command::new(&self.controller);
        cmd.arg("--plan")
            .arg(plan)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        // SAFETY: setsid is async-signal-safe; the child runs nothing else before exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = tokio::process::Command::from(cmd).spawn().map_err(|e| {
            system_error(format!(
                "cannot run the controller {}: {e}",
                self.controller.display()
            ))
        })?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(HANDSHAKE_TIMEOUT, lines.next_line()).await;
        let line = match line {
            Ok(Ok(Some(l))) => l,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child.wait().await.ok();
                return Err(operation_failed(format!(
                    "guest failed to start: the controller ended without a word ({}); see {}",
                    status.map_or("unknown status".into(), |s| s.to_string()),
                    log_path.display()
                )));
            }
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(operation_failed(format!(
                    "guest failed to start: the controller did not answer within {}s; see {}",
                    HANDSHAKE_TIMEOUT.as_secs(),
                    log_path.display()
                )));
            }
        };
        if let Some(msg) = line.strip_prefix(crate::plan::ERROR) {
            let _ = child.wait().await;
            return Err(operation_failed(format!(
                "guest failed to start: {}",
                msg.trim()
            )));
        }
        let init = line
            .strip_prefix(crate::plan::READY)
            .and_then(|r| r.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                operation_failed(format!("the controller said '{line}' instead of READY"))
            })?;
        // The child handle is dropped: tokio reaps the controller when it exits (and, after a
        // daemon restart, the daemon's orphan reaper does, as its subreaper).
        drop(child);
        Ok((pid, init))
    }

    /// Starts domain `uuid` with `def` and records the run: status file, state, event, watch.
    /// The caller holds the job lock.
    pub(crate) async fn start_domain(
        &self,
        uuid: Uuid,
        def: DomainDef,
    ) -> Result<DomainHandle, VirtError> {
        let id = self.next_id();
        let run = self.launch(&def, id).await?;
        let recorded = {
            let mut st = self.lock();
            match st.by_uuid.get_mut(&uuid) {
                Some(d) => {
                    let (gen, socket) = (run.generation, run.socket.clone());
                    d.run = Some(run);
                    self.save_status(d);
                    Ok((virt_core::kit::table::Entry::handle(d), gen, socket))
                }
                None => Err(run.socket),
            }
        };
        let (handle, gen, socket) = match recorded {
            Ok(r) => r,
            Err(socket) => {
                // Undefined meanwhile: nothing may run without a record.
                let _ = super::ctl::call(&socket, &crate::plan::control::Request::Destroy).await;
                return Err(VirtError::operation_invalid(
                    "domain was undefined while it started",
                ));
            }
        };
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::STARTED, ev::started::BOOTED),
        );
        self.watch(uuid, gen, socket);
        Ok(handle)
    }
}
