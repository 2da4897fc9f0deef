//! Background jobs as libvirt's QEMU driver reports them (virDomainGetJobInfo,
//! virDomainGetJobStats, virDomainAbortJob), the core dump (virDomainCoreDumpWithFormat) and
//! guest power management (virDomainPMSuspendForDuration, virDomainPMWakeup).
//!
//! # Job progress
//!
//! A save, managed save or dump records itself in the domain's [`Progress`] while it runs: the
//! operation (libvirt virDomainJobOperation), when it started, and the last `query-migrate` or
//! `query-dump` reply its own polling loop read. A query reads that record under a plain mutex
//! (it never waits for the job lock the save holds, as libvirt's QUERY jobs run beside async
//! jobs); the figures are at most one polling interval old. When the job ends its figures are
//! kept as the completed job's (type COMPLETED, FAILED or CANCELLED), which
//! `virDomainGetJobStats(COMPLETED)` returns and clears unless KEEP_COMPLETED.
//!
//! Abort: a migration-stream job (save, managed save, dump without MEMORY_ONLY) is cancelled
//! with `migrate_cancel`, which its polling loop then reports as cancelled; QEMU cannot cancel
//! `dump-guest-memory`, so a memory-only dump is refused, as libvirt refuses it.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainLookup, JobInfo, TypedParam, TypedValue};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::Active;
use crate::QemuDriver;

/// libvirt virDomainJobType.
pub(crate) mod job_type {
    pub const NONE: i32 = 0;
    pub const UNBOUNDED: i32 = 2;
    pub const COMPLETED: i32 = 3;
    pub const FAILED: i32 = 4;
    pub const CANCELLED: i32 = 5;
}

/// libvirt virDomainJobOperation.
pub(crate) mod operation {
    pub const SAVE: i32 = 2;
    pub const SNAPSHOT: i32 = 6;
    pub const SNAPSHOT_REVERT: i32 = 7;
    pub const SNAPSHOT_DELETE: i32 = 10;
    pub const DUMP: i32 = 8;
}

/// virDomainGetJobStatsFlags.
const STATS_COMPLETED: u32 = 1;
const STATS_KEEP_COMPLETED: u32 = 2;
/// VIR_DOMAIN_ABORT_JOB_POSTCOPY.
const ABORT_POSTCOPY: u32 = 1;

/// virDomainCoreDumpFlags.
pub(crate) mod dump_flag {
    pub const CRASH: u32 = 1;
    pub const LIVE: u32 = 2;
    pub const BYPASS_CACHE: u32 = 4;
    pub const RESET: u32 = 8;
    pub const MEMORY_ONLY: u32 = 16;
}

/// How long a dump may run.
const DUMP_WAIT: Duration = Duration::from_secs(600);
/// How long a guest may take to enter S3/S4 after the agent took the command.
const SUSPEND_WAIT: Duration = Duration::from_secs(30);

/// Where a running job's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// QEMU's migration stream into a file (`query-migrate`).
    Migration,
    /// `dump-guest-memory` (`query-dump`).
    MemoryDump,
    /// A job with no figures but its time (snapshot create, revert, delete); it keeps no
    /// completed statistics.
    Plain,
}

/// The running job.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub operation: i32,
    pub started: Instant,
    pub source: Source,
    /// The last `query-migrate` / `query-dump` reply.
    pub last: Value,
    /// The job's own monitor, for an abort (none for a job on an inactive domain).
    pub qmp: Option<crate::qmp::Qmp>,
}

/// A domain's job progress (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub current: Option<Current>,
    /// The last finished job: (virDomainJobType, typed parameters).
    pub completed: Option<(i32, Vec<TypedParam>)>,
}

fn ull(field: &str, v: u64) -> TypedParam {
    TypedParam::new(field, TypedValue::ULLong(v))
}

fn num(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64().or_else(|| cur.as_f64().map(|f| f as u64))
}

/// libvirt's typed parameters of a job (qemuDomainJobDataToParams): the migration figures of
/// a save or full dump, the dump figures of a memory-only dump.
fn params(cur: &Current, elapsed_ms: u64) -> Vec<TypedParam> {
    let mut p = vec![
        TypedParam::new("operation", TypedValue::Int(cur.operation)),
        ull("time_elapsed", elapsed_ms),
    ];
    let v = &cur.last;
    match cur.source {
        Source::Plain => {}
        Source::MemoryDump => {
            let total = num(v, &["total"]).unwrap_or(0);
            let done = num(v, &["completed"]).unwrap_or(0);
            p.push(ull("memory_total", total));
            p.push(ull("memory_processed", done));
            p.push(ull("memory_remaining", total.saturating_sub(done)));
        }
        Source::Migration => {
            if let Some(d) = num(v, &["downtime"]) {
                p.push(ull("downtime", d));
            }
            if let Some(s) = num(v, &["setup-time"]) {
                p.push(ull("setup_time", s));
            }
            let total = num(v, &["ram", "total"]).unwrap_or(0);
            let done = num(v, &["ram", "transferred"]).unwrap_or(0);
            let left = num(v, &["ram", "remaining"]).unwrap_or(0);
            p.push(ull("data_total", total));
            p.push(ull("data_processed", done));
            p.push(ull("data_remaining", left));
            p.push(ull("memory_total", total));
            p.push(ull("memory_processed", done));
            p.push(ull("memory_remaining", left));
            p.push(ull(
                "memory_constant",
                num(v, &["ram", "duplicate"]).unwrap_or(0),
            ));
            p.push(ull(
                "memory_normal",
                num(v, &["ram", "normal"]).unwrap_or(0),
            ));
            p.push(ull(
                "memory_normal_bytes",
                num(v, &["ram", "normal-bytes"]).unwrap_or(0),
            ));
            // QEMU reports megabits per second; libvirt bytes per second.
            let mbps = v
                .get("ram")
                .and_then(|r| r.get("mbps"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            p.push(ull("memory_bps", (mbps * 1_000_000.0 / 8.0) as u64));
            p.push(ull(
                "memory_dirty_rate",
                num(v, &["ram", "dirty-pages-rate"]).unwrap_or(0),
            ));
            p.push(ull(
                "memory_page_size",
                num(v, &["ram", "page-size"]).unwrap_or(0),
            ));
            p.push(ull(
                "memory_iteration",
                num(v, &["ram", "dirty-sync-count"]).unwrap_or(0),
            ));
            p.push(ull(
                "memory_postcopy_requests",
                num(v, &["ram", "postcopy-requests"]).unwrap_or(0),
            ));
            p.push(ull("disk_total", 0));
            p.push(ull("disk_processed", 0));
            p.push(ull("disk_remaining", 0));
        }
    }
    p
}

fn get(ps: &[TypedParam], field: &str) -> u64 {
    ps.iter()
        .find(|p| p.field == field)
        .and_then(|p| match p.value {
            TypedValue::ULLong(v) => Some(v),
            _ => None,
        })
        .unwrap_or(0)
}

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

/// Records a running job; dropping it without [`Tracker::finish`] records a failure.
pub(crate) struct Tracker {
    progress: std::sync::Arc<std::sync::Mutex<Progress>>,
    done: bool,
}

impl Tracker {
    /// Records the latest poll reply.
    pub fn update(&self, reply: &Value) {
        if let Some(c) = self.lock().current.as_mut() {
            c.last = reply.clone();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().expect("job progress lock poisoned")
    }

    /// Ends the job with libvirt virDomainJobType `kind`, keeping its figures as the
    /// completed job's.
    pub fn finish(mut self, kind: i32) {
        self.end(kind);
    }

    fn end(&mut self, kind: i32) {
        self.done = true;
        let mut p = self.lock();
        if let Some(cur) = p.current.take().filter(|c| c.source != Source::Plain) {
            let elapsed = cur.started.elapsed().as_millis() as u64;
            p.completed = Some((kind, params(&cur, elapsed)));
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.done {
            let cancelled = self
                .lock()
                .current
                .as_ref()
                .and_then(|c| c.last.get("status").and_then(Value::as_str))
                == Some("cancelled");
            self.end(if cancelled {
                job_type::CANCELLED
            } else {
                job_type::FAILED
            });
        }
    }
}

impl QemuDriver {
    fn progress_of(
        &self,
        lookup: &DomainLookup,
    ) -> Result<std::sync::Arc<std::sync::Mutex<Progress>>, VirtError> {
        let st = self.lock();
        Ok(st.get(lookup)?.job.progress.clone())
    }

    /// Records that the domain `uuid` runs a job (the job lock is held).
    pub(crate) fn track(&self, uuid: &Uuid, a: &Active, op: i32, source: Source) -> Tracker {
        self.track_with(uuid, Some(a.qmp.clone()), op, source)
    }

    /// A figureless job `op` of the domain `uuid` (the job lock is held): visible to
    /// domjobinfo while the returned tracker lives.
    pub(crate) fn track_plain(&self, uuid: &Uuid, op: i32) -> Tracker {
        self.track_with(uuid, None, op, Source::Plain)
    }

    fn track_with(
        &self,
        uuid: &Uuid,
        qmp: Option<crate::qmp::Qmp>,
        op: i32,
        source: Source,
    ) -> Tracker {
        let progress = self
            .progress_of(&DomainLookup::Uuid(*uuid))
            .unwrap_or_default();
        {
            let mut p = progress.lock().expect("job progress lock poisoned");
            p.current = Some(Current {
                operation: op,
                started: Instant::now(),
                source,
                last: json!({}),
                qmp,
            });
        }
        Tracker {
            progress,
            done: false,
        }
    }

    /// Streams QEMU's migration into `file` (already positioned), polling `query-migrate`
    /// into `tracker` until it completes, fails or is cancelled.
    pub(crate) async fn migrate_to_file(
        &self,
        a: &Active,
        file: &File,
        tracker: &Tracker,
        job_name: &str,
        wait: Duration,
    ) -> Result<(), VirtError> {
        // Unlimited bandwidth, as libvirt sets it for a save or dump.
        let _ = self
            .qmp(
                a,
                "migrate-set-parameters",
                Some(json!({"max-bandwidth": 1u64 << 40})),
            )
            .await;
        a.qmp
            .send_fd("migrate", file.as_fd())
            .await
            .map_err(|e| e.to_virt("getfd"))?;
        self.qmp(a, "migrate", Some(json!({"uri": "fd:migrate"})))
            .await?;
        let end = tokio::time::Instant::now() + wait;
        loop {
            let m = self.qmp(a, "query-migrate", None).await?;
            tracker.update(&m);
            match m.get("status").and_then(Value::as_str) {
                Some("completed") => return Ok(()),
                Some("cancelled") => {
                    return Err(err(
                        ErrorCode::OperationAborted,
                        format!("{job_name}: canceled by client"),
                    ))
                }
                Some("failed") => {
                    let why = m
                        .get("error-desc")
                        .and_then(Value::as_str)
                        .unwrap_or("migration failed");
                    return Err(err(
                        ErrorCode::OperationFailed,
                        format!("{job_name}: {why}"),
                    ));
                }
                _ => {}
            }
            if tokio::time::Instant::now() > end {
                let _ = self.qmp(a, "migrate_cancel", None).await;
                return Err(err(
                    ErrorCode::OperationTimeout,
                    format!("{job_name} did not finish in time"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// libvirt: virDomainGetJobStats.
    pub(crate) fn job_stats_of(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<(i32, Vec<TypedParam>), VirtError> {
        self.check_flags(
            flags,
            STATS_COMPLETED | STATS_KEEP_COMPLETED,
            "qemuDomainGetJobStats",
        )?;
        let (progress, active) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            (d.job.progress.clone(), d.run.is_some())
        };
        let mut p = progress.lock().expect("job progress lock poisoned");
        if flags & STATS_COMPLETED != 0 {
            if p.current.is_some() {
                return Ok((job_type::NONE, Vec::new()));
            }
            let out = if flags & STATS_KEEP_COMPLETED != 0 {
                p.completed.clone()
            } else {
                p.completed.take()
            };
            return Ok(out.unwrap_or((job_type::NONE, Vec::new())));
        }
        if !active {
            return Err(VirtError::operation_invalid("domain is not running"));
        }
        Ok(match &p.current {
            None => (job_type::NONE, Vec::new()),
            Some(c) => (
                job_type::UNBOUNDED,
                params(c, c.started.elapsed().as_millis() as u64),
            ),
        })
    }

    /// libvirt: virDomainGetJobInfo (the figures of the running job's statistics).
    pub(crate) fn job_info_of(&self, lookup: &DomainLookup) -> Result<JobInfo, VirtError> {
        let (kind, ps) = self.job_stats_of(lookup, 0)?;
        // libvirt's virDomainJobInfo: data is memory plus disk, whatever the job.
        let (mt, mp, mr) = (
            get(&ps, "memory_total"),
            get(&ps, "memory_processed"),
            get(&ps, "memory_remaining"),
        );
        let (ft, fp, fr) = (
            get(&ps, "disk_total"),
            get(&ps, "disk_processed"),
            get(&ps, "disk_remaining"),
        );
        Ok(JobInfo {
            kind,
            time_elapsed: get(&ps, "time_elapsed"),
            time_remaining: get(&ps, "time_remaining"),
            data_total: mt + ft,
            data_processed: mp + fp,
            data_remaining: mr + fr,
            mem_total: mt,
            mem_processed: mp,
            mem_remaining: mr,
            file_total: ft,
            file_processed: fp,
            file_remaining: fr,
        })
    }

    /// libvirt: virDomainAbortJob(Flags).
    pub(crate) async fn abort_job_of(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.check_flags(flags, ABORT_POSTCOPY, "qemuDomainAbortJobFlags")?;
        let (progress, active) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            (d.job.progress.clone(), d.run.is_some())
        };
        if !active {
            return Err(VirtError::operation_invalid("domain is not running"));
        }
        let cur = progress
            .lock()
            .expect("job progress lock poisoned")
            .current
            .clone();
        let Some(cur) = cur else {
            return Err(VirtError::operation_invalid(
                "no job is active on the domain",
            ));
        };
        if flags & ABORT_POSTCOPY != 0 {
            return Err(VirtError::operation_invalid(
                "current job is not outgoing migration in post-copy mode",
            ));
        }
        match cur.source {
            Source::MemoryDump => Err(VirtError::operation_invalid(
                "cannot abort memory-only dump",
            )),
            // QEMU's internal snapshot and qemu-img jobs cannot be cancelled midway.
            Source::Plain => Err(VirtError::operation_invalid("cannot abort a snapshot job")),
            Source::Migration => match cur.qmp {
                Some(q) => q
                    .execute("migrate_cancel", None)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_virt("migrate_cancel")),
                None => Err(VirtError::operation_invalid("domain is not running")),
            },
        }
    }

    /// libvirt: virDomainCoreDumpWithFormat (qemuDomainCoreDumpWithFormat): pause unless
    /// LIVE (PAUSED / DUMP), the memory-only `dump-guest-memory` or the migration stream into
    /// the file, then CRASH stops the domain (SHUTOFF / CRASHED), RESET resets it, and a guest
    /// that ran runs again (RUNNING / UNPAUSED).
    pub(crate) async fn core_dump_to(
        &self,
        lookup: &DomainLookup,
        path: &str,
        format: u32,
        flags: u32,
    ) -> Result<(), VirtError> {
        virt_core::kit::save::dump_flags(flags)?;
        self.check_flags(
            flags,
            dump_flag::CRASH
                | dump_flag::LIVE
                | dump_flag::BYPASS_CACHE
                | dump_flag::RESET
                | dump_flag::MEMORY_ONLY,
            "qemuDomainCoreDumpWithFormat",
        )?;
        let fmt = match format {
            0 => "elf",
            1 => "kdump-zlib",
            2 => "kdump-lzo",
            3 => "kdump-snappy",
            4 => "win-dmp",
            n => {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("unknown dump format {n}"),
                ))
            }
        };
        if format != 0 && flags & dump_flag::MEMORY_ONLY == 0 {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "dump-guest-memory-format is not supported without memory-only",
            ));
        }
        let (_job, uuid) = self.job(lookup, "virDomainCoreDumpWithFormat").await?;
        let a = self.active(&uuid)?;
        let memory_only = flags & dump_flag::MEMORY_ONLY != 0;
        if memory_only && format != 0 {
            let caps = self
                .qmp(&a, "query-dump-guest-memory-capability", None)
                .await?;
            let known = caps
                .get("formats")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(fmt)));
            if !known {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("unsupported dumpformat '{fmt}' for this QEMU binary"),
                ));
            }
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                err(
                    ErrorCode::SystemError,
                    format!("Failed to create file '{path}': {e}"),
                )
            })?;
        let was_running = a.state.state == DomainState::Running;
        let mut paused = false;
        if flags & dump_flag::LIVE == 0 && was_running {
            self.with_run(&uuid, a.gen, |r| r.paused_reason = reason::paused::DUMP);
            self.qmp(&a, "stop", None).await?;
            self.transition(
                &uuid,
                a.gen,
                StateReason::new(DomainState::Paused, reason::paused::DUMP),
                Some((ev::SUSPENDED, ev::suspended::PAUSED)),
                |r| r.state.state == DomainState::Running,
            );
            self.with_run(&uuid, a.gen, |r| r.paused_reason = reason::paused::UNKNOWN);
            paused = true;
        }
        let res = if memory_only {
            let t = self.track(&uuid, &a, operation::DUMP, Source::MemoryDump);
            let r = self.dump_guest_memory(&a, &file, fmt, &t).await;
            if r.is_ok() {
                t.finish(job_type::COMPLETED);
            }
            r
        } else {
            let t = self.track(&uuid, &a, operation::DUMP, Source::Migration);
            let r = self
                .migrate_to_file(&a, &file, &t, "domain core dump job", DUMP_WAIT)
                .await;
            if r.is_ok() {
                t.finish(job_type::COMPLETED);
            }
            r
        };
        let res = res.and_then(|()| {
            file.sync_all().map_err(|e| {
                err(
                    ErrorCode::SystemError,
                    format!("unable to close {path}: {e}"),
                )
            })
        });
        if res.is_err() {
            let _ = std::fs::remove_file(path);
        }
        if res.is_ok() && flags & dump_flag::CRASH != 0 {
            self.with_run(&uuid, a.gen, |r| r.destroying = true);
            if let Some(p) = self.with_run(&uuid, a.gen, |r| r.proc.clone()) {
                let _ = p.terminate(false).await;
            }
            self.stop_run(
                &uuid,
                a.gen,
                reason::shutoff::CRASHED,
                Some(ev::stopped::CRASHED),
            )
            .await;
            return Ok(());
        }
        if res.is_ok() && flags & dump_flag::RESET != 0 {
            self.qmp(&a, "system_reset", None).await?;
        }
        // The migration stream leaves QEMU stopped (postmigrate) whatever LIVE said.
        let stopped = paused || (!memory_only && was_running);
        if was_running && stopped {
            self.with_run(&uuid, a.gen, |r| {
                r.running_reason = reason::running::UNPAUSED
            });
            if let Err(e) = self.qmp(&a, "cont", None).await {
                return res.and(Err(e));
            }
            self.transition(
                &uuid,
                a.gen,
                StateReason::new(DomainState::Running, reason::running::UNPAUSED),
                Some((ev::RESUMED, ev::resumed::UNPAUSED)),
                |_| true,
            );
        }
        res
    }

    /// `dump-guest-memory` detached into `file`, polling `query-dump`.
    async fn dump_guest_memory(
        &self,
        a: &Active,
        file: &File,
        fmt: &str,
        tracker: &Tracker,
    ) -> Result<(), VirtError> {
        a.qmp
            .send_fd("dump", file.as_fd())
            .await
            .map_err(|e| e.to_virt("getfd"))?;
        self.qmp(
            a,
            "dump-guest-memory",
            Some(json!({"paging": false, "protocol": "fd:dump", "detach": true, "format": fmt})),
        )
        .await?;
        let end = tokio::time::Instant::now() + DUMP_WAIT;
        loop {
            let d = self.qmp(a, "query-dump", None).await?;
            tracker.update(&d);
            match d.get("status").and_then(Value::as_str) {
                Some("completed") => return Ok(()),
                Some("failed") => {
                    return Err(err(ErrorCode::OperationFailed, "memory-only dump failed"))
                }
                _ => {}
            }
            if tokio::time::Instant::now() > end {
                return Err(err(
                    ErrorCode::OperationTimeout,
                    "the memory-only dump did not finish in time",
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// libvirt: virDomainPMSuspendForDuration (qemuDomainPMSuspendForDuration): duration 0
    /// only, the target allowed by `<pm>`, the agent's `guest-suspend-*`; done when QEMU
    /// reports the guest suspended (PMSUSPENDED, from the SUSPEND event).
    pub(crate) async fn pm_suspend_of(
        &self,
        lookup: &DomainLookup,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.check_flags(flags, 0, "qemuDomainPMSuspendForDuration")?;
        if duration != 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                "Duration not supported. Use 0 for now",
            ));
        }
        let cmd = match target {
            0 => "guest-suspend-ram",
            1 => "guest-suspend-disk",
            2 => "guest-suspend-hybrid",
            t => {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("Unknown suspend target: {t}"),
                ))
            }
        };
        let (pm, state) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let run = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            (run.live.pm, run.state.state)
        };
        if pm.suspend_to_mem == Some(false) && (target == 0 || target == 2) {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "S3 state is disabled for this domain",
            ));
        }
        if pm.suspend_to_disk == Some(false) && target == 1 {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "S4 state is disabled for this domain",
            ));
        }
        if state != DomainState::Running {
            return Err(VirtError::operation_invalid("domain is not running"));
        }
        let mut s = self
            .agent_session(lookup, "virDomainPMSuspendForDuration")
            .await?;
        let (uuid, gen) = (s.uuid, s.gen);
        s.send_only(&json!({ "execute": cmd }).to_string()).await?;
        drop(s);
        // The agent answers no suspend command; QEMU's SUSPEND (S3) or the guest's power-off
        // (S4) says it happened.
        let end = tokio::time::Instant::now() + SUSPEND_WAIT;
        loop {
            let st = self
                .with_run(&uuid, gen, |r| r.state.state)
                .unwrap_or(DomainState::Shutoff);
            if st != DomainState::Running {
                return Ok(());
            }
            if tokio::time::Instant::now() > end {
                return Err(err(
                    ErrorCode::AgentUnresponsive,
                    "the guest did not suspend",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// libvirt: virDomainPMWakeup (qemuDomainPMWakeup): `system_wakeup` of a pmsuspended
    /// domain; RUNNING / WAKEUP with STARTED / WAKEUP.
    pub(crate) async fn pm_wakeup_of(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> Result<(), VirtError> {
        self.check_flags(flags, 0, "qemuDomainPMWakeup")?;
        let (_job, uuid) = self.job(lookup, "virDomainPMWakeup").await?;
        let a = self.active(&uuid)?;
        if a.state.state != DomainState::PmSuspended {
            return Err(VirtError::operation_invalid(
                "Unable to wake up domain which is not in PMSuspended state",
            ));
        }
        self.qmp(&a, "system_wakeup", None).await?;
        self.transition(
            &uuid,
            a.gen,
            StateReason::new(DomainState::Running, reason::running::WAKEUP),
            Some((ev::STARTED, 4)),
            |r| r.state.state == DomainState::PmSuspended,
        );
        Ok(())
    }
}
