//! The `Lifecycle` capability of the LXC driver: start (persistent), create (transient),
//! shutdown (initctl when the container has the FIFO, else SIGTERM to init), reboot (initctl
//! runlevel 6, else SIGHUP), destroy (SIGKILL to init, which takes its whole PID namespace;
//! the call returns once the controller saw them all gone, with no fixed sleep), suspend and
//! resume (the cgroup freezer).

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::events::lifecycle as ev;
use virt_core::kit::flags::shutdown::{INITCTL, SIGNAL};
use virt_core::kit::table::Entry as _;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::uuid::Uuid;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::driver::operation_failed;
use crate::plan::control::{Reply, Request};
use crate::LxcDriver;

/// SysV init's request magic and "set runlevel" command (initreq.h).
const INIT_MAGIC: u32 = 0x0309_1969;
const INIT_CMD_RUNLVL: u32 = 1;

impl LxcDriver {
    /// Takes the job lock of the domain `lookup` names (state changes one at a time); answers
    /// its UUID and the held lock.
    pub(crate) async fn job(
        &self,
        lookup: &DomainLookup,
    ) -> DriverResult<(Uuid, tokio::sync::OwnedMutexGuard<()>)> {
        let (uuid, job) = self.lock().job_of(lookup)?;
        Ok((uuid, job.lock_owned().await))
    }

    /// Starts the persistent definition of `uuid` (virDomainCreate, autostart).
    pub(crate) async fn create_by_uuid(&self, uuid: Uuid) -> DriverResult<DomainHandle> {
        let (_, _job) = self.job(&DomainLookup::Uuid(uuid)).await?;
        let def = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            if d.is_active() {
                return Err(VirtError::operation_invalid("domain is already running")
                    .with_object(&d.def.name, uuid.to_string()));
            }
            d.def.clone()
        };
        self.start_domain(uuid, def).await
    }

    /// The running container `lookup` names: (socket, init pid, name, uuid).
    fn running(
        &self,
        lookup: &DomainLookup,
    ) -> DriverResult<(std::path::PathBuf, i32, String, Uuid, u64)> {
        let st = self.lock();
        let d = st.get(lookup)?;
        match &d.run {
            Some(r) => Ok((
                r.socket.clone(),
                r.init_pid,
                d.def.name.clone(),
                d.def.uuid,
                r.generation,
            )),
            None => Err(d.facts().not_running()),
        }
    }

    /// Writes a SysV initctl request for `runlevel` into the container's FIFO
    /// (`/run/initctl` or `/dev/initctl`, seen through init's root); `Ok(false)` when the
    /// container has none.
    fn initctl(&self, init_pid: i32, runlevel: u8) -> DriverResult<bool> {
        use std::io::Write;
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        for fifo in ["run/initctl", "dev/initctl"] {
            let path = format!("/proc/{init_pid}/root/{fifo}");
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.file_type().is_fifo() {
                continue;
            }
            let mut req = [0u8; 384];
            req[0..4].copy_from_slice(&INIT_MAGIC.to_ne_bytes());
            req[4..8].copy_from_slice(&INIT_CMD_RUNLVL.to_ne_bytes());
            req[8..12].copy_from_slice(&u32::from(runlevel).to_ne_bytes());
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(|e| {
                    operation_failed(format!("cannot open {fifo} in the container: {e}"))
                })?;
            f.write_all(&req).map_err(|e| {
                operation_failed(format!("cannot write to {fifo} in the container: {e}"))
            })?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Shutdown or reboot: initctl (runlevel `runlevel`) and/or `signal` to init, by `flags`.
    async fn ask_init(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        runlevel: u8,
        signal: i32,
    ) -> DriverResult<DomainHandle> {
        let (socket, init_pid, _, uuid, _) = self.running(lookup)?;
        let mut done = false;
        if flags == 0 || flags & INITCTL != 0 {
            done = self.initctl(init_pid, runlevel)?;
            if !done && flags == INITCTL {
                return Err(VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::Lxc,
                    "Container does not provide an initctl pipe",
                ));
            }
        }
        if !done && (flags == 0 || flags & SIGNAL != 0) {
            match super::ctl::call(&socket, &Request::Signal { signal }).await? {
                Reply::Ok => {}
                other => return Err(operation_failed(format!("controller answered {other:?}"))),
            }
        }
        Ok(self.lock().get(&DomainLookup::Uuid(uuid))?.handle())
    }

    /// Kills the container and runs the stop path before answering.
    pub(crate) async fn destroy_now(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        let (socket, _, _, uuid, gen) = self.running(lookup)?;
        let handle = self.lock().get(lookup)?.handle();
        let exit = match super::ctl::call(&socket, &Request::Destroy).await {
            Ok(Reply::Exited(exit)) => exit,
            Ok(other) => return Err(operation_failed(format!("controller answered {other:?}"))),
            // The controller is gone already: its exit record says how the container ended.
            Err(e) => {
                tracing::info!(error = %e, "destroy found the controller gone");
                self.exit_record_of(uuid)
            }
        };
        self.finish_stop(uuid, gen, exit).await;
        Ok(handle)
    }

    async fn freeze(&self, lookup: &DomainLookup, frozen: bool) -> DriverResult<DomainHandle> {
        let (uuid, _job) = self.job(lookup).await?;
        let (cg, state) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| d.facts().not_running())?;
            (r.cgroup.clone(), r.state.state)
        };
        if frozen && state == DomainState::Paused {
            return Err(VirtError::operation_invalid("domain is already paused")
                .with_object(&self.lock().get(lookup)?.def.name, uuid.to_string()));
        }
        if !frozen && state != DomainState::Paused {
            return Err(VirtError::operation_invalid("domain is not paused")
                .with_object(&self.lock().get(lookup)?.def.name, uuid.to_string()));
        }
        let cg = cg.ok_or_else(|| {
            VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Lxc,
                "Unable to freeze the container: it has no cgroup (a session instance places none)",
            )
        })?;
        super::cgroups::freeze(&self.hierarchies, &cg, frozen).await?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let (new, kind, detail) = if frozen {
            (
                StateReason::new(DomainState::Paused, reason::paused::USER),
                ev::SUSPENDED,
                ev::suspended::PAUSED,
            )
        } else {
            (
                StateReason::new(DomainState::Running, reason::running::UNPAUSED),
                ev::RESUMED,
                ev::resumed::UNPAUSED,
            )
        };
        if let Some(r) = d.run.as_mut() {
            r.state = new;
        }
        self.save_status(d);
        let handle = d.handle();
        drop(st);
        self.bus.emit(handle.clone(), ev::payload(kind, detail));
        Ok(handle)
    }
}

#[async_trait::async_trait]
impl Lifecycle for LxcDriver {
    async fn create_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "lxcDomainCreateWithFiles")?;
        let uuid = self.lock().resolve(lookup)?;
        self.create_by_uuid(uuid).await
    }

    async fn create_domain_xml(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        use virt_core::kit::flags::create::VALIDATE;
        self.check_flags(flags, VALIDATE, "lxcDomainCreateXMLWithFiles")?;
        let def = self.parse(xml, flags & VALIDATE != 0)?;
        let uuid = def.uuid;
        let job = {
            let mut st = self.lock();
            st.check_identity(&def, false)?;
            match st.by_uuid.get(&uuid) {
                Some(d) if d.is_active() => {
                    return Err(VirtError::operation_invalid("domain is already active")
                        .with_object(&def.name, uuid.to_string()))
                }
                Some(d) => d.job.clone(),
                None => {
                    let dom = crate::domains::Dom::new(def.clone(), false, false);
                    let job = dom.job.clone();
                    st.insert(dom);
                    job
                }
            }
        };
        let _job = job.lock().await;
        match self.start_domain(uuid, def).await {
            Ok(h) => Ok(h),
            Err(e) => {
                let mut st = self.lock();
                if st
                    .by_uuid
                    .get(&uuid)
                    .is_some_and(|d| !d.persistent && !d.is_active())
                {
                    st.remove(&uuid);
                }
                Err(e)
            }
        }
    }

    /// Plain shutdown uses initctl when the container has the FIFO and SIGTERM to init
    /// otherwise (libvirt 9.0 silently does nothing without a FIFO); it returns at once, the
    /// stop is reported when init has gone.
    async fn shutdown_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, INITCTL | SIGNAL, "lxcDomainShutdownFlags")?;
        self.ask_init(lookup, flags, b'0', libc::SIGTERM).await
    }

    async fn destroy_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(flags, 0, "lxcDomainDestroyFlags")?;
        self.destroy_now(lookup).await
    }

    async fn reboot_domain(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, INITCTL | SIGNAL, "lxcDomainReboot")?;
        self.ask_init(lookup, flags, b'6', libc::SIGHUP).await
    }

    async fn suspend_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        self.freeze(lookup, true).await
    }

    async fn resume_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        self.freeze(lookup, false).await
    }
}
