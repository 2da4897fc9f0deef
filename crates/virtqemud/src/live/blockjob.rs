//! Block jobs of running guests (libvirt's `qemu_blockjob.c` and the block job APIs of
//! `qemu_driver.c`): pull (`block-stream`), commit (`block-commit`, two-phase when it
//! commits the active layer), copy (`blockdev-mirror` to a new image, two-phase), their
//! progress (`query-block-jobs`), speed (`block-job-set-speed`), abort (`block-job-cancel`)
//! and pivot (`block-job-complete`), and resize (`block_resize`).
//!
//! A job's QEMU id names its kind and disk (`pull-vda`, `commit-vda`, `active-commit-vda`,
//! `copy-vda`), so its libvirt type is read back from `query-block-jobs` alone. Jobs are
//! auto-dismissed: one that is gone has ended. A pivot waits for the job to end, then points
//! the disk's source (live and persistent definitions) at the image QEMU now writes to.

use std::time::Duration;

use serde_json::{json, Value};
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::block;
use virt_core::model::devices::BackingStore;
use virt_core::model::DomainDef;
use virt_core::types::{BlockJobInfo, DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use super::snapshot::{create_overlay, image_size};
use super::Active;
use crate::QemuDriver;

const MIB: u64 = 1 << 20;

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

/// The kinds of job, by QEMU id prefix and libvirt type.
const KINDS: [(&str, i32); 4] = [
    ("active-commit", block::job_type::ACTIVE_COMMIT),
    ("commit", block::job_type::COMMIT),
    ("pull", block::job_type::PULL),
    ("copy", block::job_type::COPY),
];

fn job_id(kind: &str, target: &str) -> String {
    format!("{kind}-{target}")
}

/// `bandwidth` in bytes/s: MiB/s unless `bytes`; OVERFLOW when it does not fit.
fn speed(bandwidth: u64, bytes: bool) -> DriverResult<u64> {
    if bytes {
        return Ok(bandwidth);
    }
    bandwidth.checked_mul(MIB).ok_or_else(|| {
        err(
            ErrorCode::Overflow,
            format!("bandwidth must be less than {}", u64::MAX / MIB),
        )
    })
}

/// A disk of the live definition named by target or source path: (target, path, format).
fn find_disk(def: &DomainDef, disk: &str) -> DriverResult<(String, String, String)> {
    def.devices
        .disks
        .iter()
        .find(|d| {
            d.target_dev == disk
                || d.source
                    .as_ref()
                    .and_then(|s| s.path.as_deref())
                    .is_some_and(|p| p == disk)
        })
        .map(|d| {
            (
                d.target_dev.clone(),
                d.source
                    .as_ref()
                    .and_then(|s| s.path.clone())
                    .unwrap_or_default(),
                d.driver
                    .as_ref()
                    .and_then(|x| x.format.clone())
                    .unwrap_or_else(|| "raw".into()),
            )
        })
        .ok_or_else(|| {
            err(
                ErrorCode::InvalidArg,
                format!("disk '{disk}' not found in domain"),
            )
        })
}

/// An attribute's value in the first element named `elem` of `xml` (enough for the
/// destination `<disk>` virsh sends).
fn attr(xml: &str, elem: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{elem}"))?;
    let rest = &xml[start..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let at = tag.find(&format!(" {name}="))? + name.len() + 2;
    let quote = tag[at..].chars().next()?;
    let val = &tag[at + 1..];
    let close = val.find(quote)?;
    Some(
        val[..close]
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

impl QemuDriver {
    /// The running domain under a job, its live definition, and the disk `disk` names.
    async fn block_target(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        api: &'static str,
    ) -> DriverResult<(super::JobGuard, Active, (String, String, String))> {
        let (job, uuid) = self.job(lookup, api).await?;
        let a = match self.active(&uuid) {
            Ok(a) => a,
            Err(_) => return Err(VirtError::operation_invalid("domain is not running")),
        };
        let live = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let d = find_disk(&live, disk)?;
        self.prune_nodes(&a).await;
        Ok((job, a, d))
    }

    /// Deletes the block nodes this daemon added (snapshot overlays, copy targets) or started
    /// with that no device uses any more, as libvirt deletes the images a pivot left behind:
    /// QEMU refuses to delete a node that anything uses, so every other node stays.
    pub(crate) async fn prune_nodes(&self, a: &Active) {
        for _ in 0..3 {
            let Ok(nodes) = self.qmp(a, "query-named-block-nodes", None).await else {
                return;
            };
            let mut names: Vec<String> = nodes
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.get("node-name").and_then(Value::as_str))
                .filter(|n| n.starts_with("libvirt-") && !n.starts_with("libvirt-pflash"))
                .map(str::to_string)
                .collect();
            names.dedup();
            let mut gone = 0;
            for n in names {
                if a.qmp
                    .execute("blockdev-del", Some(json!({ "node-name": n })))
                    .await
                    .is_ok()
                {
                    gone += 1;
                }
            }
            if gone == 0 {
                return;
            }
        }
    }

    /// The disk's `query-block` entry.
    async fn block_entry(&self, a: &Active, target: &str) -> DriverResult<Value> {
        let node = self.disk_nodes(a, &[target.to_string()]).await?.remove(0);
        let blocks = self.qmp(a, "query-block", None).await?;
        blocks
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b.pointer("/inserted/node-name").and_then(Value::as_str) == Some(&node))
            .cloned()
            .ok_or_else(|| {
                err(
                    ErrorCode::InternalError,
                    format!("cannot find the block node of disk '{target}'"),
                )
            })
    }

    /// The image chain of a disk, top first (file names).
    async fn chain(&self, a: &Active, target: &str) -> DriverResult<Vec<String>> {
        Ok(self
            .chain_formats(a, target)
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// The image chain of a disk, top first: (file name, format).
    async fn chain_formats(&self, a: &Active, target: &str) -> DriverResult<Vec<(String, String)>> {
        let e = self.block_entry(a, target).await?;
        let mut out = Vec::new();
        let mut img = e.pointer("/inserted/image");
        while let Some(i) = img {
            if let Some(f) = i.get("filename").and_then(Value::as_str) {
                let fmt = i.get("format").and_then(Value::as_str).unwrap_or("raw");
                out.push((f.to_string(), fmt.to_string()));
            }
            img = i.get("backing-image");
        }
        Ok(out)
    }

    /// The disk's running job: its QEMU entry and libvirt type.
    async fn find_job(&self, a: &Active, target: &str) -> DriverResult<Option<(Value, i32)>> {
        let jobs = self.qmp(a, "query-block-jobs", None).await?;
        for j in jobs.as_array().into_iter().flatten() {
            let id = j.get("device").and_then(Value::as_str).unwrap_or_default();
            for (kind, t) in KINDS {
                if id == job_id(kind, target) {
                    return Ok(Some((j.clone(), t)));
                }
            }
        }
        Ok(None)
    }

    async fn refuse_busy(&self, a: &Active, target: &str) -> DriverResult<()> {
        if self.find_job(a, target).await?.is_some() {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("disk '{target}' already in active block job"),
            ));
        }
        Ok(())
    }

    /// Waits until the disk's job is gone (it ended), up to a minute.
    async fn wait_job_gone(&self, a: &Active, target: &str) -> DriverResult<()> {
        let end = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.find_job(a, target).await?.is_some() {
            if tokio::time::Instant::now() > end {
                return Err(err(
                    ErrorCode::OperationTimeout,
                    format!("the block job of disk '{target}' did not end in time"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Reads the disk's image chain back from QEMU: the live definition's source, format and
    /// `<backingStore>` chain follow it (status saved); with `persistent`, the persistent
    /// definition's source and format too (after a pivot).
    pub(crate) async fn refresh_disk(
        &self,
        a: &Active,
        target: &str,
        persistent: bool,
    ) -> DriverResult<()> {
        let chain = self.chain_formats(a, target).await?;
        let Some((top, fmt)) = chain.first().cloned() else {
            return Ok(());
        };
        let backing: Vec<BackingStore> = chain[1..]
            .iter()
            .map(|(p, f)| BackingStore {
                path: p.clone(),
                format: Some(f.clone()),
            })
            .collect();
        {
            let mut st = self.lock();
            let dom = st.get_mut(&DomainLookup::Uuid(a.uuid))?;
            if let Some(r) = dom.run.as_mut().filter(|r| r.gen == a.gen) {
                if let Some(d) = r
                    .live
                    .devices
                    .disks
                    .iter_mut()
                    .find(|d| d.target_dev == target)
                {
                    d.source.get_or_insert_with(Default::default).path = Some(top.clone());
                    d.driver.get_or_insert_with(Default::default).format = Some(fmt.clone());
                    d.backing_chain = backing;
                    d.backing_store_none = false;
                }
            }
            self.save_status(dom);
        }
        if persistent {
            self.set_disk_sources(&a.uuid, &[(target.to_string(), top)], &fmt, false)?;
        }
        Ok(())
    }

    async fn pull(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        base: &str,
        speed_bytes: u64,
        api: &'static str,
    ) -> DriverResult<()> {
        let (_job, a, (target, _, _)) = self.block_target(lookup, disk, api).await?;
        self.refuse_busy(&a, &target).await?;
        let node = self
            .disk_nodes(&a, std::slice::from_ref(&target))
            .await?
            .remove(0);
        let mut args = json!({
            "job-id": job_id("pull", &target),
            "device": node,
            "speed": speed_bytes,
        });
        if !base.is_empty() {
            args["base"] = json!(base);
        }
        self.qmp(&a, "block-stream", Some(args)).await?;
        Ok(())
    }

    /// Starts a mirror of `target` to `dest` (format `fmt`, a block device with `dev`).
    #[allow(clippy::too_many_arguments)]
    async fn mirror(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        dest: &str,
        fmt: Option<String>,
        dev: bool,
        speed_bytes: u64,
        granularity: Option<u32>,
        buf_size: Option<u64>,
        flags: u32,
        api: &'static str,
    ) -> DriverResult<()> {
        let (_job, a, (target, path, src_fmt)) = self.block_target(lookup, disk, api).await?;
        self.refuse_busy(&a, &target).await?;
        let fmt = fmt.unwrap_or(src_fmt);
        let shallow = flags & block::rebase::SHALLOW != 0;
        let reuse = flags & block::rebase::REUSE_EXT != 0;
        if !reuse {
            if std::path::Path::new(dest).exists() && !dev {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("destination file exists: {dest}"),
                ));
            }
            if shallow {
                let chain = self.chain_formats(&a, &target).await?;
                match chain.get(1) {
                    Some((backing, bf)) => create_overlay(dest, backing, bf)?,
                    None => create_image(dest, &fmt, image_size(&path)?)?,
                }
            } else {
                create_image(dest, &fmt, image_size(&path)?)?;
            }
        }
        let node = self
            .disk_nodes(&a, std::slice::from_ref(&target))
            .await?
            .remove(0);
        let new_node = format!("libvirt-copy-{target}-{}", std::process::id() % 10000);
        let file_driver = if dev { "host_device" } else { "file" };
        let mut add = json!({
            "driver": fmt,
            "node-name": new_node,
            "file": {"driver": file_driver, "filename": dest},
        });
        if !shallow {
            add["backing"] = Value::Null;
        }
        self.qmp(&a, "blockdev-add", Some(add)).await?;
        let mut args = json!({
            "job-id": job_id("copy", &target),
            "device": node,
            "target": new_node,
            "sync": if shallow { "top" } else { "full" },
            "speed": speed_bytes,
        });
        if let Some(g) = granularity {
            args["granularity"] = json!(g);
        }
        if let Some(b) = buf_size {
            args["buf-size"] = json!(b);
        }
        if flags & block::copy::SYNCHRONOUS_WRITES != 0 {
            args["copy-mode"] = json!("write-blocking");
        }
        if let Err(e) = self.qmp(&a, "blockdev-mirror", Some(args)).await {
            let _ = self
                .qmp(&a, "blockdev-del", Some(json!({ "node-name": new_node })))
                .await;
            if !reuse {
                let _ = std::fs::remove_file(dest);
            }
            return Err(e);
        }
        self.copy_targets
            .lock()
            .expect("copy targets lock poisoned")
            .insert((a.uuid, target), new_node);
        Ok(())
    }

    pub(crate) async fn do_block_pull(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, block::pull::BANDWIDTH_BYTES, "qemuDomainBlockPull")?;
        let s = speed(bandwidth, flags & block::pull::BANDWIDTH_BYTES != 0)?;
        self.pull(lookup, disk, "", s, "virDomainBlockPull").await
    }

    pub(crate) async fn do_block_rebase(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        base: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        use block::rebase::*;
        self.check_flags(
            flags,
            SHALLOW | REUSE_EXT | COPY_RAW | COPY | RELATIVE | COPY_DEV | BANDWIDTH_BYTES,
            "qemuDomainBlockRebase",
        )?;
        let s = speed(bandwidth, flags & BANDWIDTH_BYTES != 0)?;
        if flags & COPY == 0 {
            if flags & (SHALLOW | REUSE_EXT | COPY_RAW | COPY_DEV) != 0 {
                return Err(err(ErrorCode::InvalidArg, "flags only valid with a copy"));
            }
            return self
                .pull(lookup, disk, base, s, "virDomainBlockRebase")
                .await;
        }
        if base.is_empty() {
            return Err(err(
                ErrorCode::InvalidArg,
                "a block copy needs a destination",
            ));
        }
        let fmt = (flags & COPY_RAW != 0).then(|| "raw".to_string());
        self.mirror(
            lookup,
            disk,
            base,
            fmt,
            flags & COPY_DEV != 0,
            s,
            None,
            None,
            flags & (SHALLOW | REUSE_EXT),
            "virDomainBlockRebase",
        )
        .await
    }

    pub(crate) async fn do_block_copy(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        dest_xml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        use block::copy::*;
        self.check_flags(
            flags,
            SHALLOW | REUSE_EXT | TRANSIENT_JOB | SYNCHRONOUS_WRITES,
            "qemuDomainBlockCopy",
        )?;
        let (mut bw, mut gran, mut buf) = (0, None, None);
        for p in params {
            match (p.field.as_str(), &p.value) {
                ("bandwidth", TypedValue::ULLong(v)) => bw = *v,
                ("granularity", TypedValue::UInt(v)) => gran = Some(*v),
                ("buf-size", TypedValue::ULLong(v)) => buf = Some(*v),
                (f, _) => {
                    return Err(err(
                        ErrorCode::InvalidArg,
                        format!("parameter '{f}' not supported"),
                    ))
                }
            }
        }
        if let Some(g) = gran {
            if !g.is_power_of_two() || !(512..=64 << 20).contains(&g) {
                return Err(err(ErrorCode::InvalidArg, "granularity must be power of 2"));
            }
        }
        let (dest, dev) = match (
            attr(dest_xml, "source", "file"),
            attr(dest_xml, "source", "dev"),
        ) {
            (Some(f), _) => (f, false),
            (None, Some(d)) => (d, true),
            _ => {
                return Err(err(
                    ErrorCode::ConfigUnsupported,
                    "the copy destination needs a file or block source",
                ))
            }
        };
        let fmt = attr(dest_xml, "driver", "type");
        self.mirror(
            lookup,
            disk,
            &dest,
            fmt,
            dev,
            bw,
            gran,
            buf,
            flags,
            "virDomainBlockCopy",
        )
        .await
    }

    pub(crate) async fn do_block_commit(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        base: &str,
        top: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        use block::commit::*;
        self.check_flags(
            flags,
            SHALLOW | DELETE | ACTIVE | RELATIVE | BANDWIDTH_BYTES,
            "qemuDomainBlockCommit",
        )?;
        if flags & DELETE != 0 {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                "deleting committed images is not supported",
            ));
        }
        let s = speed(bandwidth, flags & BANDWIDTH_BYTES != 0)?;
        let (_job, a, (target, path, _)) = self
            .block_target(lookup, disk, "virDomainBlockCommit")
            .await?;
        self.refuse_busy(&a, &target).await?;
        let chain = self.chain(&a, &target).await?;
        let top_name = if top.is_empty() {
            chain.first().cloned().unwrap_or(path)
        } else {
            top.to_string()
        };
        let Some(top_at) = chain.iter().position(|f| *f == top_name) else {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("could not find image '{top_name}' in chain for '{target}'"),
            ));
        };
        if chain.len() < top_at + 2 {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("top '{top_name}' in chain for '{target}' has no backing file"),
            ));
        }
        let base_name = if flags & SHALLOW != 0 {
            chain[top_at + 1].clone()
        } else if base.is_empty() {
            chain.last().cloned().expect("two or more")
        } else {
            base.to_string()
        };
        match chain.iter().position(|f| *f == base_name) {
            Some(b) if b > top_at => {}
            _ => {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("could not find base image in chain for '{target}'"),
                ))
            }
        }
        let active = top_at == 0;
        if active && flags & ACTIVE == 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("commit of '{target}' active layer requires active flag"),
            ));
        }
        if !active && flags & ACTIVE != 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("active commit requested but '{top_name}' is not active"),
            ));
        }
        let node = self
            .disk_nodes(&a, std::slice::from_ref(&target))
            .await?
            .remove(0);
        let kind = if active { "active-commit" } else { "commit" };
        let mut args = json!({
            "job-id": job_id(kind, &target),
            "device": node,
            "base": base_name,
            "speed": s,
        });
        if !active {
            args["top"] = json!(top_name);
        }
        self.qmp(&a, "block-commit", Some(args)).await?;
        Ok(())
    }

    pub(crate) async fn do_block_job_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Option<BlockJobInfo>> {
        self.check_flags(flags, block::BANDWIDTH_BYTES, "qemuDomainGetBlockJobInfo")?;
        let uuid = self.lock().get(lookup)?.def.uuid;
        let a = self
            .active(&uuid)
            .map_err(|_| VirtError::operation_invalid("domain is not running"))?;
        let live = self
            .with_run(&a.uuid, a.gen, |r| r.live.clone())
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let (target, _, _) = find_disk(&live, disk)?;
        let Some((j, t)) = self.find_job(&a, &target).await? else {
            // A job that ended (a pull) may have changed the chain.
            let _ = self.refresh_disk(&a, &target, false).await;
            return Ok(None);
        };
        let n = |k: &str| j.get(k).and_then(Value::as_u64).unwrap_or(0);
        let ready = j.get("ready").and_then(Value::as_bool).unwrap_or(false);
        let (mut cur, mut end) = (n("offset"), n("len"));
        if ready {
            // A job in its synchronised phase is complete for a caller polling progress.
            end = end.max(1);
            cur = end;
        } else if cur == end {
            // Not ready: never look complete (libvirt's rule for pollers).
            end += 1;
        }
        let bw = n("speed");
        let bandwidth = if flags & block::BANDWIDTH_BYTES != 0 {
            bw
        } else {
            bw.div_ceil(MIB)
        };
        Ok(Some(BlockJobInfo {
            job_type: t,
            bandwidth,
            cur,
            end,
        }))
    }

    pub(crate) async fn do_block_job_abort(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<()> {
        use block::abort::*;
        self.check_flags(flags, ASYNC | PIVOT, "qemuDomainBlockJobAbort")?;
        let (_job, a, (target, _, _)) = self
            .block_target(lookup, disk, "virDomainBlockJobAbort")
            .await?;
        let Some((j, t)) = self.find_job(&a, &target).await? else {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("disk {target} does not have an active block job"),
            ));
        };
        let id = j
            .get("device")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ready = j.get("ready").and_then(Value::as_bool).unwrap_or(false);
        let copy_node = self
            .copy_targets
            .lock()
            .expect("copy targets lock poisoned")
            .remove(&(a.uuid, target.clone()));
        if flags & PIVOT != 0 {
            if !matches!(t, block::job_type::COPY | block::job_type::ACTIVE_COMMIT) {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("pivot of disk '{target}' requires an active copy job"),
                ));
            }
            if !ready {
                if let Some(n) = copy_node {
                    self.copy_targets
                        .lock()
                        .expect("copy targets lock poisoned")
                        .insert((a.uuid, target.clone()), n);
                }
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("block job '{id}' not ready for pivot yet"),
                ));
            }
            self.qmp(&a, "block-job-complete", Some(json!({ "device": id })))
                .await?;
            self.wait_job_gone(&a, &target).await?;
            self.refresh_disk(&a, &target, true).await?;
            self.prune_nodes(&a).await;
            return Ok(());
        }
        self.qmp(&a, "block-job-cancel", Some(json!({ "device": id })))
            .await?;
        if flags & ASYNC == 0 || copy_node.is_some() {
            self.wait_job_gone(&a, &target).await?;
        }
        if let Some(n) = copy_node {
            let _ = self
                .qmp(&a, "blockdev-del", Some(json!({ "node-name": n })))
                .await;
        }
        Ok(())
    }

    pub(crate) async fn do_block_job_set_speed(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, block::BANDWIDTH_BYTES, "qemuDomainBlockJobSetSpeed")?;
        let s = speed(bandwidth, flags & block::BANDWIDTH_BYTES != 0)?;
        let (_job, a, (target, _, _)) = self
            .block_target(lookup, disk, "virDomainBlockJobSetSpeed")
            .await?;
        let Some((j, _)) = self.find_job(&a, &target).await? else {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("disk {target} does not have an active block job"),
            ));
        };
        let id = j.get("device").and_then(Value::as_str).unwrap_or_default();
        self.qmp(
            &a,
            "block-job-set-speed",
            Some(json!({ "device": id, "speed": s })),
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn do_block_resize(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, block::RESIZE_BYTES, "qemuDomainBlockResize")?;
        let mut bytes = if flags & block::RESIZE_BYTES != 0 {
            size
        } else {
            size.checked_mul(1024).ok_or_else(|| {
                err(
                    ErrorCode::Overflow,
                    format!("size must be less than {}", u64::MAX / 1024),
                )
            })?
        };
        let (_job, a, (target, _, fmt)) = self
            .block_target(lookup, disk, "virDomainBlockResize")
            .await?;
        // qcow2 sizes are whole sectors.
        if fmt == "qcow2" {
            bytes = bytes.div_ceil(512) * 512;
        }
        let node = self.disk_nodes(&a, &[target]).await?.remove(0);
        self.qmp(
            &a,
            "block_resize",
            Some(json!({ "node-name": node, "size": bytes })),
        )
        .await?;
        Ok(())
    }
}

/// `qemu-img create -f FMT PATH SIZE`.
fn create_image(path: &str, fmt: &str, size: u64) -> DriverResult<()> {
    let out = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", fmt, path])
        .arg(size.to_string())
        .output()
        .map_err(|e| err(ErrorCode::SystemError, format!("cannot run qemu-img: {e}")))?;
    if !out.status.success() {
        return Err(err(
            ErrorCode::OperationFailed,
            format!(
                "failed to create '{path}': {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_attributes_are_read_from_disk_xml() {
        let x =
            "<disk type='file'>\n  <source file='/a/b.qcow2'/>\n  <driver type='qcow2'/>\n</disk>";
        assert_eq!(attr(x, "source", "file").as_deref(), Some("/a/b.qcow2"));
        assert_eq!(attr(x, "driver", "type").as_deref(), Some("qcow2"));
        assert_eq!(attr(x, "source", "dev"), None);
    }

    #[test]
    fn bandwidth_is_mib_unless_bytes() {
        assert_eq!(speed(2, false).ok(), Some(2 << 20));
        assert_eq!(speed(2, true).ok(), Some(2));
        assert!(speed(u64::MAX, false).is_err());
    }
}
