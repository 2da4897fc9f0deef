//! Internal snapshots of QEMU guests with qcow2 disks (libvirt's `qemu_snapshot.c`).
//!
//! A running (or paused) guest's snapshot holds its RAM and device state and every writable
//! qcow2 disk, taken by QEMU's `snapshot-save` job (the guest is paused for it, as libvirt
//! pauses it with reason SNAPSHOT) and loaded back by `snapshot-load`; `snapshot-delete`
//! removes it from the images. A shut-off guest's snapshot is a `qemu-img snapshot -c` on
//! each disk (`-a` to revert, `-d` to delete). Read-only disks and CD-ROMs are not part of a
//! snapshot; a writable disk that is not qcow2 refuses internal snapshots, as libvirt.
//!
//! The metadata is libvirt's `<domainsnapshot>` XML (name, description, state, parent,
//! creation time, memory, disks, the domain definition), one file per snapshot under
//! `STATE/qemu/snapshot/DOMAIN/SNAP.xml`, written atomically, with `<active>1</active>`
//! marking the current snapshot as libvirt's internal format does. It is read back when the
//! daemon starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::kit::flags::snapshot::{create, delete, list, revert};
use virt_core::kit::flags::xml::SECURE;
use virt_core::model::enums::DiskDevice;
use virt_core::model::{DomainDef, SnapshotDef};
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainLookup, SnapshotInfo};
use virt_core::uuid::Uuid;
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

use super::Active;
use crate::QemuDriver;

/// libvirt's VIR_DOMAIN_PAUSED_SNAPSHOT: paused while a snapshot is taken.
const PAUSED_SNAPSHOT: i32 = 9;
/// libvirt's VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT.
const RESUMED_FROM_SNAPSHOT: i32 = 2;
/// How long a snapshot job may take.
const JOB_WAIT: Duration = Duration::from_secs(600);

/// One snapshot's metadata; `current` marks the domain's current snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Snap {
    pub def: SnapshotDef,
    pub current: bool,
}

impl Snap {
    fn name(&self) -> &str {
        self.def.name.as_deref().unwrap_or_default()
    }

    fn parent(&self) -> &str {
        self.def.parent.as_deref().unwrap_or_default()
    }

    fn state(&self) -> &str {
        self.def.state.as_deref().unwrap_or("shutoff")
    }

    /// Holds the guest's memory (taken of a running or paused guest).
    fn has_memory(&self) -> bool {
        self.def
            .memory
            .as_ref()
            .is_some_and(|m| m.snapshot == "internal")
    }

    fn is_external(&self) -> bool {
        self.def
            .disks
            .iter()
            .any(|d| d.snapshot.as_deref() == Some("external"))
    }

    fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            name: self.name().to_string(),
            parent: self.parent().to_string(),
            creation_time: self.def.creation_time.unwrap_or(0),
            state: self.state().to_string(),
            current: self.current,
            description: self.def.description.clone().unwrap_or_default(),
        }
    }
}

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

fn no_snapshot(detail: String) -> VirtError {
    VirtError::new(
        ErrorCode::NoDomainSnapshot,
        ErrorDomain::DomainSnapshot,
        detail,
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

fn find<'a>(snaps: &'a [Snap], name: &str) -> DriverResult<&'a Snap> {
    if name.is_empty() {
        return snaps
            .iter()
            .find(|s| s.current)
            .ok_or_else(|| no_snapshot("the domain does not have a current snapshot".into()));
    }
    snaps
        .iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| no_snapshot(format!("no domain snapshot with matching name '{name}'")))
}

fn state_word(s: DomainState) -> &'static str {
    match s {
        DomainState::Running => "running",
        DomainState::Paused => "paused",
        DomainState::Shutoff => "shutoff",
        DomainState::Crashed => "crashed",
        DomainState::PmSuspended => "pmsuspended",
        DomainState::Shutdown => "shutdown",
        DomainState::Blocked => "blocked",
        DomainState::NoState => "nostate",
    }
}

/// The disks an internal snapshot covers: (target, image path) of every writable disk with
/// a source; an error naming the first one that is not qcow2.
pub(crate) fn internal_disks(def: &DomainDef) -> DriverResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for d in &def.devices.disks {
        if d.readonly || d.device != DiskDevice::Disk {
            continue;
        }
        let Some(path) = d.source.as_ref().and_then(|s| s.path.clone()) else {
            continue;
        };
        let format = d
            .driver
            .as_ref()
            .and_then(|x| x.format.clone())
            .unwrap_or_else(|| "raw".into());
        if format != "qcow2" {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!(
                    "internal snapshot for disk {} unsupported for storage type {format}",
                    d.target_dev
                ),
            ));
        }
        out.push((d.target_dev.clone(), path));
    }
    Ok(out)
}

/// `qemu-img snapshot -OP NAME PATH`.
pub(crate) fn qemu_img_snapshot(op: &str, name: &str, path: &str) -> DriverResult<()> {
    let out = std::process::Command::new("qemu-img")
        .args(["snapshot", op, name, path])
        .output()
        .map_err(|e| err(ErrorCode::SystemError, format!("cannot run qemu-img: {e}")))?;
    if !out.status.success() {
        return Err(err(
            ErrorCode::OperationFailed,
            format!(
                "qemu-img snapshot {op} of '{path}' failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

impl QemuDriver {
    /// `STATE/qemu/snapshot/DOMAIN`.
    fn snapshot_dir_of(&self, domain: &str) -> PathBuf {
        self.snapshot_dir.join(domain)
    }

    /// The snapshots stored for `domain` (unreadable files are logged and skipped).
    pub(crate) fn load_snapshots(&self, domain: &str) -> Vec<Snap> {
        let dir = self.snapshot_dir_of(domain);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            let fname = e.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') || !fname.ends_with(".xml") {
                continue;
            }
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|x| self.codec.parse_snapshot(&x).map_err(|e| e.message()))
            {
                Ok(def) if def.name.is_some() => {
                    let current = def.active == Some(true);
                    out.push(Snap { def, current });
                }
                Ok(_) => tracing::warn!(file = %p.display(), "snapshot metadata without a name"),
                Err(e) => {
                    tracing::warn!(file = %p.display(), error = %e, "cannot load snapshot metadata")
                }
            }
        }
        out.sort_by_key(|s| s.def.creation_time);
        out
    }

    /// libvirt's snapshot XML; `internal` adds `<active>` (current or not) for the stored form.
    fn format_snapshot(&self, s: &Snap, secure: bool, internal: bool) -> String {
        let d = &s.def;
        let mut x = String::from("<domainsnapshot>\n");
        x += &format!("  <name>{}</name>\n", escape(s.name()));
        if let Some(desc) = d.description.as_deref().filter(|d| !d.is_empty()) {
            x += &format!("  <description>{}</description>\n", escape(desc));
        }
        x += &format!("  <state>{}</state>\n", escape(s.state()));
        if !s.parent().is_empty() {
            x += &format!(
                "  <parent>\n    <name>{}</name>\n  </parent>\n",
                escape(s.parent())
            );
        }
        x += &format!(
            "  <creationTime>{}</creationTime>\n",
            d.creation_time.unwrap_or(0)
        );
        if let Some(m) = &d.memory {
            x += &format!("  <memory snapshot='{}'/>\n", escape(&m.snapshot));
        }
        if !d.disks.is_empty() {
            x += "  <disks>\n";
            for disk in &d.disks {
                let kind = disk.snapshot.as_deref().unwrap_or("no");
                match &disk.source_file {
                    Some(file) => {
                        x += &format!(
                            "    <disk name='{}' snapshot='{kind}' type='file'>\n",
                            escape(&disk.name)
                        );
                        if let Some(t) = &disk.driver_type {
                            x += &format!("      <driver type='{}'/>\n", escape(t));
                        }
                        x += &format!("      <source file='{}'/>\n", escape(file));
                        x += "    </disk>\n";
                    }
                    None => {
                        x += &format!(
                            "    <disk name='{}' snapshot='{kind}'/>\n",
                            escape(&disk.name)
                        )
                    }
                }
            }
            x += "  </disks>\n";
        }
        if let Some(dom) = &d.domain {
            let opts = FormatOptions {
                id: None,
                secure,
                inactive: true,
            };
            for line in self.codec.format_domain(dom, opts).lines() {
                x += &format!("  {line}\n");
            }
        }
        if internal {
            x += &format!("  <active>{}</active>\n", u8::from(s.current));
        }
        x += "</domainsnapshot>\n";
        x
    }

    /// Writes `s` (atomically) under the domain's snapshot dir.
    fn store_snapshot(&self, domain: &str, s: &Snap) -> DriverResult<()> {
        let dir = self.snapshot_dir_of(domain);
        let path = dir.join(format!("{}.xml", s.name()));
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                virt_core::fsutil::write_atomic(
                    &path,
                    self.format_snapshot(s, true, true).as_bytes(),
                    0o600,
                )
            })
            .map_err(|e| {
                err(
                    ErrorCode::SystemError,
                    format!(
                        "failed to write snapshot metadata '{}': {e}",
                        path.display()
                    ),
                )
            })
    }

    fn unstore_snapshot(&self, domain: &str, name: &str) {
        let path = self.snapshot_dir_of(domain).join(format!("{name}.xml"));
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove snapshot metadata");
            }
        }
    }

    /// Removes every snapshot's metadata of `domain` (undefine with SNAPSHOTS_METADATA).
    pub(crate) fn discard_snapshot_metadata(&self, domain: &str) {
        let _ = std::fs::remove_dir_all(self.snapshot_dir_of(domain));
    }

    /// Applies `f` to the snapshots of `uuid` and stores every snapshot it reports changed.
    fn with_snaps<T>(
        &self,
        uuid: &Uuid,
        f: impl FnOnce(&mut Vec<Snap>) -> DriverResult<(T, Vec<String>)>,
    ) -> DriverResult<T> {
        let mut st = self.lock();
        let dom = st.get_mut(&DomainLookup::Uuid(*uuid))?;
        let (out, changed) = f(&mut dom.snapshots)?;
        let name = dom.def.name.clone();
        let snaps: Vec<Snap> = dom
            .snapshots
            .iter()
            .filter(|s| changed.iter().any(|c| c == s.name()))
            .cloned()
            .collect();
        drop(st);
        for s in &snaps {
            self.store_snapshot(&name, s)?;
        }
        Ok(out)
    }

    /// The top block node of each disk `targets` names in the running guest (QMP
    /// `query-block`, matched by the frontend's device alias).
    pub(crate) async fn disk_nodes(
        &self,
        a: &Active,
        targets: &[String],
    ) -> DriverResult<Vec<String>> {
        let live = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let blocks = self.qmp(a, "query-block", None).await?;
        let mut out = Vec::new();
        for t in targets {
            let disk = live
                .devices
                .disks
                .iter()
                .find(|d| &d.target_dev == t)
                .ok_or_else(|| {
                    err(
                        ErrorCode::InvalidArg,
                        format!("disk '{t}' not found in domain"),
                    )
                })?;
            let alias = disk
                .alias
                .clone()
                .or_else(|| crate::aliases::disk_alias(&live, disk))
                .unwrap_or_default();
            let node = blocks
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| {
                    let qdev = b.get("qdev").and_then(Value::as_str).unwrap_or_default();
                    qdev == alias
                        || qdev.ends_with(&format!("/{alias}"))
                        || qdev.contains(&format!("/{alias}/"))
                })
                .and_then(|b| b.pointer("/inserted/node-name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    err(
                        ErrorCode::InternalError,
                        format!("cannot find the block node of disk '{t}'"),
                    )
                })?;
            out.push(node.to_string());
        }
        Ok(out)
    }

    /// Runs QMP `cmd` as job `id` and waits for it to conclude; dismisses it. The job's error
    /// is the call's.
    pub(crate) async fn run_job(
        &self,
        a: &Active,
        cmd: &str,
        id: &str,
        mut args: Value,
    ) -> DriverResult<()> {
        args["job-id"] = json!(id);
        self.qmp(a, cmd, Some(args)).await?;
        let end = tokio::time::Instant::now() + JOB_WAIT;
        loop {
            let jobs = self.qmp(a, "query-jobs", None).await?;
            let job = jobs
                .as_array()
                .into_iter()
                .flatten()
                .find(|j| j.get("id").and_then(Value::as_str) == Some(id))
                .cloned();
            match job {
                None => return Ok(()),
                Some(j) if j.get("status").and_then(Value::as_str) == Some("concluded") => {
                    let _ = self.qmp(a, "job-dismiss", Some(json!({ "id": id }))).await;
                    if let Some(e) = j.get("error").and_then(Value::as_str) {
                        return Err(err(
                            ErrorCode::OperationFailed,
                            format!("operation failed: {cmd} job failed: {e}"),
                        ));
                    }
                    return Ok(());
                }
                Some(_) => {}
            }
            if tokio::time::Instant::now() > end {
                let _ = self.qmp(a, "job-cancel", Some(json!({ "id": id }))).await;
                return Err(err(
                    ErrorCode::OperationTimeout,
                    format!("{cmd} did not finish in time"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Pauses a running guest for a snapshot operation with `why` as the paused reason;
    /// whether it ran.
    async fn pause_for(&self, a: &Active, why: i32, detail: i32) -> DriverResult<bool> {
        let st = self
            .with_run(&a.uuid, a.gen, |r| r.state)
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        if st.state != DomainState::Running {
            return Ok(false);
        }
        self.with_run(&a.uuid, a.gen, |r| r.paused_reason = why);
        let res = self.qmp(a, "stop", None).await;
        if res.is_ok() {
            self.transition(
                &a.uuid,
                a.gen,
                StateReason::new(DomainState::Paused, why),
                Some((ev::SUSPENDED, detail)),
                |r| r.state.state == DomainState::Running,
            );
        }
        self.with_run(&a.uuid, a.gen, |r| {
            r.paused_reason = reason::paused::UNKNOWN
        });
        res.map(|_| true)
    }

    /// Lets a paused guest run again (RUNNING / `why`, RESUMED / `detail`).
    async fn resume_for(&self, a: &Active, why: i32, detail: i32) -> DriverResult<()> {
        self.with_run(&a.uuid, a.gen, |r| r.running_reason = why);
        let res = self.qmp(a, "cont", None).await;
        if res.is_ok() {
            self.transition(
                &a.uuid,
                a.gen,
                StateReason::new(DomainState::Running, why),
                Some((ev::RESUMED, detail)),
                |r| r.state.state != DomainState::Running,
            );
        }
        self.with_run(&a.uuid, a.gen, |r| {
            r.running_reason = reason::running::UNPAUSED
        });
        res.map(|_| ())
    }

    /// Starts the domain paused with `def` (stored as its definition) for a revert.
    async fn launch_for_revert(&self, uuid: Uuid, def: &DomainDef) -> DriverResult<Active> {
        self.adopt_definition(&uuid, def)?;
        self.launch(uuid, def.clone(), virt_core::kit::flags::create::PAUSED)
            .await?;
        self.active(&uuid)
    }

    /// `snapshot-load` of internal snapshot `name` from the disks `targets`.
    async fn load_internal(&self, a: &Active, targets: &[String], name: &str) -> DriverResult<()> {
        let nodes = self.disk_nodes(a, targets).await?;
        if nodes.is_empty() {
            return Err(err(
                ErrorCode::InternalError,
                "the snapshot has no disk holding the memory state",
            ));
        }
        self.run_job(
            a,
            "snapshot-load",
            "snapshot-load",
            json!({ "tag": name, "vmstate": nodes[0], "devices": nodes }),
        )
        .await
    }

    /// Kills the guest of `a` and runs the stop path with SHUTOFF / FROM_SNAPSHOT.
    async fn stop_for_snapshot(&self, a: &Active) {
        self.with_run(&a.uuid, a.gen, |r| r.destroying = true);
        if let Some(p) = self.with_run(&a.uuid, a.gen, |r| r.proc.clone()) {
            let _ = p.terminate(false).await;
        }
        self.stop_run(
            &a.uuid,
            a.gen,
            reason::shutoff::FROM_SNAPSHOT,
            Some(ev::stopped::FROM_SNAPSHOT),
        )
        .await;
    }

    /// Sets the persistent definition of `uuid` to `def` (stored when persistent).
    fn adopt_definition(&self, uuid: &Uuid, def: &DomainDef) -> DriverResult<()> {
        let mut st = self.lock();
        let dom = st.get_mut(&DomainLookup::Uuid(*uuid))?;
        if dom.persistent && dom.def != *def {
            dom.def = def.clone();
            let xml = self.codec.format_domain(
                def,
                FormatOptions {
                    id: None,
                    secure: true,
                    inactive: true,
                },
            );
            self.store
                .save(&def.name, &xml)
                .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
        }
        Ok(())
    }

    async fn create_internal(
        &self,
        uuid: Uuid,
        mut snap: SnapshotDef,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        let def = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            d.run.as_ref().map_or(d.def.clone(), |r| r.live.clone())
        };
        let active = self.active(&uuid).ok();
        let name = snap.name.clone().expect("named by the caller");
        let disks = internal_disks(&def)?;
        if let Some(sd) = snap.disks.iter().find(|sd| {
            sd.snapshot
                .as_deref()
                .is_some_and(|k| k != "internal" && k != "no")
        }) {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!(
                    "mixing internal and external snapshots is not supported: disk '{}'",
                    sd.name
                ),
            ));
        }
        let state;
        match &active {
            Some(a) => {
                if disks.is_empty() {
                    return Err(err(
                        ErrorCode::OperationUnsupported,
                        "internal snapshot of a running VM must include the memory and a qcow2 disk",
                    ));
                }
                let targets: Vec<String> = disks.iter().map(|d| d.0.clone()).collect();
                let nodes = self.disk_nodes(a, &targets).await?;
                let st = self
                    .with_run(&a.uuid, a.gen, |r| r.state)
                    .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
                state = st.state;
                let ran = self
                    .pause_for(a, PAUSED_SNAPSHOT, ev::suspended::PAUSED)
                    .await?;
                let res = self
                    .run_job(
                        a,
                        "snapshot-save",
                        "snapshot-save",
                        json!({ "tag": name, "vmstate": nodes[0], "devices": nodes }),
                    )
                    .await;
                if flags & create::HALT != 0 && res.is_ok() {
                    self.stop_for_snapshot(a).await;
                } else if ran {
                    self.resume_for(a, reason::running::UNPAUSED, ev::resumed::UNPAUSED)
                        .await?;
                }
                res?;
            }
            None => {
                state = DomainState::Shutoff;
                let mut done: Vec<&str> = Vec::new();
                for (_, path) in &disks {
                    if let Err(e) = qemu_img_snapshot("-c", &name, path) {
                        for p in done {
                            let _ = qemu_img_snapshot("-d", &name, p);
                        }
                        return Err(e);
                    }
                    done.push(path);
                }
            }
        }
        let memory = if state.is_active() { "internal" } else { "no" };
        snap.state = Some(state_word(state).into());
        snap.memory = Some(virt_core::model::snapshot::SnapshotMemory {
            snapshot: memory.into(),
            file: None,
        });
        snap.disks = def
            .devices
            .disks
            .iter()
            .map(|d| virt_core::model::snapshot::SnapshotDisk {
                name: d.target_dev.clone(),
                snapshot: Some(
                    if disks.iter().any(|(t, _)| *t == d.target_dev) {
                        "internal"
                    } else {
                        "no"
                    }
                    .into(),
                ),
                source_file: None,
                driver_type: None,
            })
            .collect();
        snap.domain = Some(Box::new(def));
        self.add_snapshot(uuid, snap)
    }

    /// Makes `snap` the current snapshot, child of the previous current one, and stores it.
    fn add_snapshot(&self, uuid: Uuid, mut snap: SnapshotDef) -> DriverResult<SnapshotInfo> {
        self.with_snaps(&uuid, |snaps| {
            let mut changed = Vec::new();
            snap.parent = snaps
                .iter()
                .find(|s| s.current)
                .map(|s| s.name().to_string());
            for s in snaps.iter_mut().filter(|s| s.current) {
                s.current = false;
                changed.push(s.name().to_string());
            }
            let s = Snap {
                def: snap,
                current: true,
            };
            changed.push(s.name().to_string());
            let info = s.info();
            snaps.push(s);
            Ok((info, changed))
        })
    }

    fn redefine(&self, uuid: Uuid, xml: &str, flags: u32) -> DriverResult<SnapshotInfo> {
        let parsed = self.codec.parse_snapshot(xml)?;
        let Some(name) = parsed.name.clone() else {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::DomainSnapshot,
                "a redefined snapshot must have a name",
            ));
        };
        let make_current = flags & create::CURRENT != 0;
        self.with_snaps(&uuid, |snaps| {
            let mut changed = vec![name.clone()];
            if make_current {
                for s in snaps.iter_mut().filter(|s| s.current && s.name() != name) {
                    s.current = false;
                    changed.push(s.name().to_string());
                }
            }
            if let Some(s) = snaps.iter_mut().find(|s| s.name() == name) {
                s.def.description = parsed.description.clone();
                s.current |= make_current;
                return Ok((s.info(), changed));
            }
            if let Some(p) = parsed.parent.as_deref() {
                if !snaps.iter().any(|s| s.name() == p) {
                    return Err(no_snapshot(format!(
                        "parent {p} for moment {name} not found"
                    )));
                }
            }
            let s = Snap {
                def: SnapshotDef {
                    active: None,
                    ..parsed
                },
                current: make_current,
            };
            let info = s.info();
            snaps.push(s);
            Ok((info, changed))
        })
    }
}

#[async_trait::async_trait]
impl Snapshots for QemuDriver {
    async fn create_snapshot(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        self.check_flags(
            flags,
            create::REDEFINE
                | create::CURRENT
                | create::NO_METADATA
                | create::HALT
                | create::DISK_ONLY
                | create::REUSE_EXT
                | create::QUIESCE
                | create::ATOMIC
                | create::LIVE
                | create::VALIDATE,
            "qemuDomainSnapshotCreateXML",
        )?;
        if flags & create::CURRENT != 0 && flags & create::REDEFINE == 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
            ));
        }
        let (_job, uuid) = self.job(lookup, "virDomainSnapshotCreateXML").await?;
        let _progress = self.track_plain(&uuid, super::jobs::operation::SNAPSHOT);
        if flags & create::REDEFINE != 0 {
            return self.redefine(uuid, xml, flags);
        }
        if flags & create::NO_METADATA != 0 {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                "snapshots without metadata are not supported",
            ));
        }
        if flags & create::QUIESCE != 0 && flags & create::DISK_ONLY == 0 {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "quiesce requires disk-only",
            ));
        }
        let mut snap = if xml.trim().is_empty() {
            SnapshotDef::default()
        } else {
            self.codec.parse_snapshot(xml)?
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let name = snap.name.clone().unwrap_or_else(|| now.to_string());
        {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            if d.snapshots.iter().any(|s| s.name() == name) {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::DomainSnapshot,
                    format!("domain moment {name} already exists"),
                )
                .clash());
            }
            if name.contains('/') || name.starts_with('.') {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("invalid snapshot name '{name}'"),
                ));
            }
        }
        snap.name = Some(name);
        snap.creation_time = Some(now);
        snap.parent = None;
        snap.active = None;
        let wants_external = flags & create::DISK_ONLY != 0
            || snap
                .memory
                .as_ref()
                .is_some_and(|m| m.snapshot == "external")
            || snap
                .disks
                .iter()
                .any(|d| d.snapshot.as_deref() == Some("external"));
        if wants_external {
            return self.create_external(uuid, snap, flags).await;
        }
        if flags & create::LIVE != 0 {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "live snapshot creation is supported only during full system snapshots",
            ));
        }
        self.create_internal(uuid, snap, flags).await
    }

    async fn list_snapshots(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<SnapshotInfo>> {
        self.check_flags(flags, list::ALL, "qemuDomainListAllSnapshots")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let snaps = &dom.snapshots;
        let has_children = |n: &str| snaps.iter().any(|s| s.parent() == n);
        let mut out: Vec<SnapshotInfo> = snaps
            .iter()
            .filter(|s| flags & list::ROOTS == 0 || s.parent().is_empty())
            .filter(|s| {
                let leaf = !has_children(s.name());
                (flags & list::LEAVES == 0 || leaf) && (flags & list::NO_LEAVES == 0 || !leaf)
            })
            .filter(|_| flags & list::NO_METADATA == 0 || flags & list::METADATA != 0)
            .filter(
                |s| match flags & (list::INACTIVE | list::ACTIVE | list::DISK_ONLY) {
                    0 => true,
                    f => {
                        let st = s.state();
                        (f & list::DISK_ONLY != 0 && st == "disk-snapshot")
                            || (f & list::ACTIVE != 0 && (st == "running" || st == "paused"))
                            || (f & list::INACTIVE != 0 && st == "shutoff")
                    }
                },
            )
            .filter(|s| match flags & (list::INTERNAL | list::EXTERNAL) {
                0 => true,
                f => {
                    (f & list::EXTERNAL != 0 && s.is_external())
                        || (f & list::INTERNAL != 0 && !s.is_external())
                }
            })
            .map(Snap::info)
            .collect();
        if flags & list::TOPOLOGICAL == 0 {
            out.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            let mut order: Vec<String> = Vec::new();
            let mut stack: Vec<&str> = snaps
                .iter()
                .filter(|s| s.parent().is_empty())
                .map(Snap::name)
                .collect();
            while let Some(n) = stack.pop() {
                order.push(n.to_string());
                stack.extend(snaps.iter().filter(|s| s.parent() == n).map(Snap::name));
            }
            out.sort_by_key(|s| order.iter().position(|n| *n == s.name));
        }
        Ok(out)
    }

    async fn snapshot_xml(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, SECURE, "qemuDomainSnapshotGetXMLDesc")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let s = find(&dom.snapshots, name)?;
        Ok(self.format_snapshot(s, flags & SECURE != 0, false))
    }

    async fn revert_to_snapshot(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, revert::ALL, "qemuDomainRevertToSnapshot")?;
        if flags & revert::RUNNING != 0 && flags & revert::PAUSED != 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive",
            ));
        }
        let (_job, uuid) = self.job(lookup, "virDomainRevertToSnapshot").await?;
        let _progress = self.track_plain(&uuid, super::jobs::operation::SNAPSHOT_REVERT);
        let snap = {
            let st = self.lock();
            find(&st.get(&DomainLookup::Uuid(uuid))?.snapshots, name)?.clone()
        };
        if snap.is_external() {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                "revert to external snapshot not supported yet",
            ));
        }
        let def = snap.def.domain.as_deref().cloned().ok_or_else(|| {
            err(
                ErrorCode::OperationInvalid,
                format!(
                    "snapshot '{}' lacks domain '{}' rollback info",
                    snap.name(),
                    {
                        self.lock()
                            .get(&DomainLookup::Uuid(uuid))
                            .map(|d| d.def.name.clone())
                            .unwrap_or_default()
                    }
                ),
            )
        })?;
        let disks = internal_disks(&def)?;
        let targets: Vec<String> = snap
            .def
            .disks
            .iter()
            .filter(|d| d.snapshot.as_deref() == Some("internal"))
            .map(|d| d.name.clone())
            .collect();
        let run_flag = flags & revert::RUNNING != 0;
        let pause_flag = flags & revert::PAUSED != 0;
        if snap.has_memory() {
            let want_running = run_flag || (!pause_flag && snap.state() == "running");
            let (a, reused) = match self.active(&uuid) {
                Ok(a) => {
                    self.pause_for(
                        &a,
                        reason::paused::FROM_SNAPSHOT,
                        ev::suspended::FROM_SNAPSHOT,
                    )
                    .await?;
                    (a, true)
                }
                Err(_) => (self.launch_for_revert(uuid, &def).await?, false),
            };
            let loaded = self.load_internal(&a, &targets, snap.name()).await;
            let a = match loaded {
                Ok(()) => a,
                // The running QEMU cannot take the snapshot (its devices changed since):
                // a new QEMU with the snapshot's definition, as libvirt restarts one.
                Err(e) if reused => {
                    tracing::info!(error = %e.message(), "loading the snapshot into the running QEMU failed; starting a new one");
                    self.stop_for_snapshot(&a).await;
                    let a = self.launch_for_revert(uuid, &def).await?;
                    self.load_internal(&a, &targets, snap.name()).await?;
                    a
                }
                Err(e) => return Err(e),
            };
            self.adopt_definition(&uuid, &def)?;
            if want_running {
                self.resume_for(&a, reason::running::FROM_SNAPSHOT, RESUMED_FROM_SNAPSHOT)
                    .await?;
            } else {
                self.transition(
                    &a.uuid,
                    a.gen,
                    StateReason::new(DomainState::Paused, reason::paused::FROM_SNAPSHOT),
                    None,
                    |_| true,
                );
            }
        } else {
            if let Ok(a) = self.active(&uuid) {
                self.stop_for_snapshot(&a).await;
            }
            for (t, path) in &disks {
                if targets.contains(t) {
                    qemu_img_snapshot("-a", snap.name(), path)?;
                }
            }
            {
                let mut st = self.lock();
                if st.get(&DomainLookup::Uuid(uuid)).is_err() {
                    // A transient domain went with its stop; it stays gone.
                    return Ok(());
                }
                if let Ok(d) = st.get_mut(&DomainLookup::Uuid(uuid)) {
                    d.last = StateReason::new(DomainState::Shutoff, reason::shutoff::FROM_SNAPSHOT);
                }
            }
            self.adopt_definition(&uuid, &def)?;
            if run_flag || pause_flag {
                let f = if pause_flag {
                    virt_core::kit::flags::create::PAUSED
                } else {
                    0
                };
                self.launch(uuid, def, f).await?;
            }
        }
        let target = snap.name().to_string();
        self.with_snaps(&uuid, |snaps| {
            let mut changed = Vec::new();
            for s in snaps.iter_mut() {
                let now = s.name() == target;
                if s.current != now {
                    s.current = now;
                    changed.push(s.name().to_string());
                }
            }
            Ok(((), changed))
        })
    }

    async fn delete_snapshot(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, delete::ALL, "qemuDomainSnapshotDelete")?;
        let (_job, uuid) = self.job(lookup, "virDomainSnapshotDelete").await?;
        let _progress = self.track_plain(&uuid, super::jobs::operation::SNAPSHOT_DELETE);
        let (target, doomed, dom_name) = {
            let st = self.lock();
            let dom = st.get(&DomainLookup::Uuid(uuid))?;
            let target = find(&dom.snapshots, name)?.clone();
            let mut doomed: Vec<Snap> = Vec::new();
            if flags & (delete::CHILDREN | delete::CHILDREN_ONLY) != 0 {
                let mut frontier = vec![target.name().to_string()];
                while let Some(p) = frontier.pop() {
                    for s in dom.snapshots.iter().filter(|s| s.parent() == p) {
                        doomed.push(s.clone());
                        frontier.push(s.name().to_string());
                    }
                }
            }
            if flags & delete::CHILDREN_ONLY == 0 {
                doomed.push(target.clone());
            }
            (target, doomed, dom.def.name.clone())
        };
        if flags & delete::METADATA_ONLY == 0 {
            let external = doomed.iter().filter(|s| s.is_external()).count();
            if external > 0 {
                return Err(err(
                    ErrorCode::ConfigUnsupported,
                    format!("deletion of {external} external disk snapshots not supported yet"),
                ));
            }
            let active = self.active(&uuid).ok();
            for s in &doomed {
                let targets: Vec<String> = s
                    .def
                    .disks
                    .iter()
                    .filter(|d| d.snapshot.as_deref() == Some("internal"))
                    .map(|d| d.name.clone())
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                match &active {
                    Some(a) => {
                        let nodes = self.disk_nodes(a, &targets).await?;
                        self.run_job(
                            a,
                            "snapshot-delete",
                            "snapshot-delete",
                            json!({ "tag": s.name().to_string(), "devices": nodes.clone() }),
                        )
                        .await?;
                    }
                    None => {
                        let def = self.lock().get(&DomainLookup::Uuid(uuid))?.def.clone();
                        for d in def
                            .devices
                            .disks
                            .iter()
                            .filter(|d| targets.contains(&d.target_dev))
                        {
                            if let Some(p) = d.source.as_ref().and_then(|s| s.path.as_deref()) {
                                if Path::new(p).exists() {
                                    qemu_img_snapshot("-d", s.name(), p)?;
                                }
                            }
                        }
                    }
                }
            }
        }
        let names: Vec<String> = doomed.iter().map(|s| s.name().to_string()).collect();
        for n in &names {
            self.unstore_snapshot(&dom_name, n);
        }
        self.with_snaps(&uuid, |snaps| {
            let current_doomed = snaps
                .iter()
                .any(|s| s.current && names.iter().any(|n| n == s.name()));
            snaps.retain(|s| !names.iter().any(|n| n == s.name()));
            let mut changed = Vec::new();
            for s in snaps.iter_mut() {
                if s.parent() == target.name() && !names.iter().any(|n| n == target.name()) {
                    continue;
                }
                if s.parent() == target.name() {
                    s.def.parent = target.def.parent.clone();
                    changed.push(s.name().to_string());
                }
            }
            if current_doomed {
                let keep = if flags & delete::CHILDREN_ONLY != 0 {
                    target.name().to_string()
                } else {
                    target.parent().to_string()
                };
                for s in snaps.iter_mut() {
                    if s.name() == keep {
                        s.current = true;
                        changed.push(s.name().to_string());
                    }
                }
            }
            Ok(((), changed))
        })
    }
}

/// The virtual size of `path` in bytes (`qemu-img info -U`, so a running guest's image can
/// be read).
pub(crate) fn image_size(path: &str) -> DriverResult<u64> {
    let out = std::process::Command::new("qemu-img")
        .args(["info", "-U", "--output=json", path])
        .output()
        .map_err(|e| err(ErrorCode::SystemError, format!("cannot run qemu-img: {e}")))?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v.get("virtual-size")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            err(
                ErrorCode::OperationFailed,
                format!(
                    "cannot read the size of '{path}': {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            )
        })
}

/// Creates a qcow2 overlay `new` on `backing` (of format `fmt`), without opening the backing
/// image (a running guest holds its lock).
pub(crate) fn create_overlay(new: &str, backing: &str, fmt: &str) -> DriverResult<()> {
    let size = image_size(backing)?;
    let out = std::process::Command::new("qemu-img")
        .args([
            "create", "-q", "-f", "qcow2", "-u", "-F", fmt, "-b", backing, new,
        ])
        .arg(size.to_string())
        .output()
        .map_err(|e| err(ErrorCode::SystemError, format!("cannot run qemu-img: {e}")))?;
    if !out.status.success() {
        return Err(err(
            ErrorCode::OperationFailed,
            format!(
                "failed to create the overlay '{new}': {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// The default overlay path of an external snapshot `snap` of `path`: its extension (if
/// any) replaced by the snapshot name, as libvirt names it.
fn default_overlay(path: &str, snap: &str) -> String {
    let p = Path::new(path);
    match (p.extension(), p.file_stem()) {
        (Some(_), Some(stem)) => p
            .with_file_name(format!("{}.{snap}", stem.to_string_lossy()))
            .to_string_lossy()
            .into_owned(),
        _ => format!("{path}.{snap}"),
    }
}

impl QemuDriver {
    /// An external disk-only snapshot: a new qcow2 overlay on every writable disk (on those
    /// the snapshot XML marks external, when it names disks), the guest's disk source
    /// becoming the overlay. Running: `blockdev-add` of the overlay and `blockdev-snapshot`;
    /// shut off: only the new image.
    async fn create_external(
        &self,
        uuid: Uuid,
        mut snap: SnapshotDef,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        if flags & create::DISK_ONLY == 0 {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                "external memory snapshots are not supported; use --disk-only",
            ));
        }
        let name = snap.name.clone().expect("named by the caller");
        let def = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            d.run.as_ref().map_or(d.def.clone(), |r| r.live.clone())
        };
        let active = self.active(&uuid).ok();
        // (target, old path, old format, overlay)
        let mut plan: Vec<(String, String, String, String)> = Vec::new();
        let mut disks_out = Vec::new();
        for d in &def.devices.disks {
            let given = snap.disks.iter().find(|s| s.name == d.target_dev);
            let path: Option<String> = d.source.as_ref().and_then(|s| s.path.clone());
            let wanted = match given {
                Some(g) => g.snapshot.as_deref().unwrap_or("external") == "external",
                None => snap.disks.is_empty() && !d.readonly && d.device == DiskDevice::Disk,
            };
            let Some(path) = path.filter(|_| wanted) else {
                disks_out.push(virt_core::model::snapshot::SnapshotDisk {
                    name: d.target_dev.clone(),
                    snapshot: Some("no".into()),
                    source_file: None,
                    driver_type: None,
                });
                continue;
            };
            let fmt = d
                .driver
                .as_ref()
                .and_then(|x| x.format.clone())
                .unwrap_or_else(|| "raw".into());
            let overlay = given
                .and_then(|g| g.source_file.clone())
                .unwrap_or_else(|| default_overlay(&path, &name));
            if flags & create::REUSE_EXT == 0 && Path::new(&overlay).exists() {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!(
                        "external snapshot file for disk {} already exists and is not a block device: {overlay}",
                        d.target_dev
                    ),
                ));
            }
            disks_out.push(virt_core::model::snapshot::SnapshotDisk {
                name: d.target_dev.clone(),
                snapshot: Some("external".into()),
                source_file: Some(overlay.clone()),
                driver_type: Some("qcow2".into()),
            });
            plan.push((d.target_dev.clone(), path, fmt, overlay));
        }
        if plan.is_empty() {
            return Err(err(
                ErrorCode::InvalidArg,
                "disk-only snapshot requires at least one disk",
            ));
        }
        let mut created: Vec<String> = Vec::new();
        let undo = |created: &[String]| {
            for c in created {
                let _ = std::fs::remove_file(c);
            }
        };
        for (_, path, fmt, overlay) in &plan {
            if flags & create::REUSE_EXT == 0 {
                if let Err(e) = create_overlay(overlay, path, fmt) {
                    undo(&created);
                    return Err(e);
                }
                created.push(overlay.clone());
            }
        }
        let state = match &active {
            Some(a) => {
                let st = self
                    .with_run(&a.uuid, a.gen, |r| r.state)
                    .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
                let targets: Vec<String> = plan.iter().map(|p| p.0.clone()).collect();
                let nodes = self.disk_nodes(a, &targets).await?;
                let ran = self
                    .pause_for(a, PAUSED_SNAPSHOT, ev::suspended::PAUSED)
                    .await?;
                let mut res = Ok(());
                for ((target, _, _, overlay), node) in plan.iter().zip(&nodes) {
                    let new_node = format!("libvirt-snap-{target}-{}", short_id());
                    res = async {
                        self.qmp(
                            a,
                            "blockdev-add",
                            Some(json!({
                                "driver": "qcow2",
                                "node-name": new_node,
                                "file": {"driver": "file", "filename": overlay},
                                "backing": null,
                            })),
                        )
                        .await?;
                        self.qmp(
                            a,
                            "blockdev-snapshot",
                            Some(json!({ "node": node, "overlay": new_node })),
                        )
                        .await
                        .map(|_| ())
                    }
                    .await;
                    if res.is_err() {
                        break;
                    }
                }
                if flags & create::HALT != 0 && res.is_ok() {
                    self.retarget_disks(&uuid, &plan, true)?;
                    self.stop_for_snapshot(a).await;
                } else if ran {
                    self.resume_for(a, reason::running::UNPAUSED, ev::resumed::UNPAUSED)
                        .await?;
                }
                if let Err(e) = res {
                    undo(&created);
                    return Err(e);
                }
                st.state
            }
            None => DomainState::Shutoff,
        };
        self.retarget_disks(&uuid, &plan, state.is_active())?;
        if let Some(a) = active.as_ref().filter(|_| flags & create::HALT == 0) {
            for (t, _, _, _) in &plan {
                self.refresh_disk(a, t, false).await?;
            }
        }
        snap.state = Some("disk-snapshot".into());
        snap.memory = Some(virt_core::model::snapshot::SnapshotMemory {
            snapshot: "no".into(),
            file: None,
        });
        snap.disks = disks_out;
        snap.domain = Some(Box::new(def));
        self.add_snapshot(uuid, snap)
    }

    /// Points the disks of `plan` at their overlays (qcow2) in the persistent definition (and
    /// the live one when `live`).
    fn retarget_disks(
        &self,
        uuid: &Uuid,
        plan: &[(String, String, String, String)],
        live: bool,
    ) -> DriverResult<()> {
        let pairs: Vec<(String, String)> = plan
            .iter()
            .map(|(t, _, _, o)| (t.clone(), o.clone()))
            .collect();
        self.set_disk_sources(uuid, &pairs, "qcow2", live)
    }

    /// Sets the source of each (target, path) disk to `path` with `format`, in the persistent
    /// definition (stored) and, when `live`, the running one (status saved).
    pub(crate) fn set_disk_sources(
        &self,
        uuid: &Uuid,
        pairs: &[(String, String)],
        format: &str,
        live: bool,
    ) -> DriverResult<()> {
        let apply = |def: &mut DomainDef| {
            for (t, p) in pairs {
                if let Some(d) = def.devices.disks.iter_mut().find(|d| &d.target_dev == t) {
                    d.source.get_or_insert_with(Default::default).path = Some(p.clone());
                    d.driver.get_or_insert_with(Default::default).format = Some(format.into());
                }
            }
        };
        let mut st = self.lock();
        let dom = st.get_mut(&DomainLookup::Uuid(*uuid))?;
        if live {
            if let Some(r) = dom.run.as_mut() {
                apply(&mut r.live);
            }
            self.save_status(dom);
        }
        if dom.persistent {
            apply(&mut dom.def);
            let xml = self.codec.format_domain(
                &dom.def,
                FormatOptions {
                    id: None,
                    secure: true,
                    inactive: true,
                },
            );
            self.store
                .save(&dom.def.name, &xml)
                .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
        } else if !live {
            apply(&mut dom.def);
        }
        Ok(())
    }
}

/// A short unique suffix for node names.
fn short_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:x}{:x}",
        std::process::id() & 0xffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}
