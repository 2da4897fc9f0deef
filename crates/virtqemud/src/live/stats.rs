//! Bulk stats (libvirt: virConnectGetAllDomainStats, virDomainListGetStats): the `state`
//! group from the driver's own tracking for every domain, the other groups for running guests
//! through [`crate::stats::gather_guest`] (one pipelined QMP round trip per guest at most, none
//! when the groups need nothing the driver does not track).
//! All guests are asked concurrently; with NOWAIT a guest whose monitor is busy answers
//! without its monitor keys instead of delaying the others.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::events::EventSubscription;
use virt_core::kit;
use virt_core::kit::flags::stats::{BLOCK, INTERFACE, NOWAIT, STATE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::table::Entry as _;
use virt_core::kit::typed_params as tp;
use virt_core::types::{
    ControlInfo, DomainLookup, InterfaceStats, StatsRecord, TypedParam, TypedValue,
};
use virt_core::{ErrorCode, VirtError};

use crate::domains::Dom;
use crate::qmp::Qmp;
use crate::stats::{self, BalloonState, BlockDisk, Guest};
use crate::QemuDriver;

/// The stats groups virtqemud serves (its `Info` lists them as features).
pub(crate) const SUPPORTED: u32 = STATE | stats::SUPPORTED;

/// What one record needs, copied out of the state lock.
struct Job {
    record: StatsRecord,
    live: Option<Live>,
}

struct Live {
    qmp: Option<Qmp>,
    pid: u32,
    vcpus: Vec<u32>,
    taps: Vec<String>,
    disks: Vec<BlockDisk>,
    balloon: BalloonState,
    vcpu_max: u32,
    diskless: bool,
}

fn groups(stats: u32, flags: u32) -> DriverResult<u32> {
    kit::stats::groups(stats, flags, SUPPORTED, ErrorDomain::Qemu)
}

fn job_of(d: &Dom, groups: u32) -> Job {
    let params = kit::stats::state_params(groups, d.state());
    let live = d.run.as_ref().map(|r| Live {
        qmp: r.qmp.clone(),
        pid: r.proc.pid().pid as u32,
        vcpus: r.vcpus.iter().map(|(_, t)| *t as u32).collect(),
        taps: r
            .live
            .devices
            .interfaces
            .iter()
            .map(|i| {
                if crate::tap::uses_tap(i) {
                    i.target_dev.clone().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .collect(),
        disks: r
            .live
            .devices
            .disks
            .iter()
            .filter_map(|disk| {
                let alias = super::hotplug::disk_alias(disk)?;
                Some(BlockDisk {
                    alias,
                    target: disk.target_dev.clone(),
                })
            })
            .collect(),
        // Tracked from the start and BALLOON_CHANGE events, as libvirt does.
        balloon: BalloonState {
            present: super::start::has_balloon(&r.live),
            current_kib: r.balloon_kib,
            maximum_kib: r.live.memory_kib,
        },
        vcpu_max: r.live.vcpus,
        diskless: r.live.devices.disks.is_empty(),
    });
    Job {
        record: StatsRecord {
            handle: d.handle(),
            params,
        },
        live,
    }
}

async fn fill(mut job: Job, groups: u32, nowait: bool) -> StatsRecord {
    let rest = groups & stats::SUPPORTED;
    if let (Some(l), true) = (&job.live, rest != 0) {
        let guest = Guest {
            pid: l.pid,
            vcpu_tids: &l.vcpus,
            taps: &l.taps,
            disks: &l.disks,
            balloon: Some(l.balloon),
            vcpu_max: Some(l.vcpu_max),
            diskless: l.diskless,
        };
        let kv = stats::gather_guest(l.qmp.as_ref(), &guest, rest, nowait).await;
        job.record
            .params
            .extend(kv.into_iter().map(|(k, v)| TypedParam::new(k, v)));
    }
    job.record
}

/// One running guest's stats of `groups` (bulk-stats keys), with `taps` restricted to
/// the interface at `only_tap` when given (so its keys are `net.0.*`).
async fn guest_stats(
    live: &Live,
    groups: u32,
    only_tap: Option<usize>,
) -> Vec<(String, TypedValue)> {
    let one;
    let taps: &[String] = match only_tap {
        Some(i) => {
            one = [live.taps.get(i).cloned().unwrap_or_default()];
            &one
        }
        None => &live.taps,
    };
    let guest = Guest {
        pid: live.pid,
        vcpu_tids: &live.vcpus,
        taps,
        disks: &live.disks,
        balloon: Some(live.balloon),
        vcpu_max: Some(live.vcpu_max),
        diskless: live.diskless,
    };
    stats::gather_guest(live.qmp.as_ref(), &guest, groups, false).await
}

fn ullong_of(kv: &[(String, TypedValue)], key: &str) -> Option<u64> {
    kv.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            TypedValue::ULLong(v) => Some(*v),
            _ => None,
        })
}

/// virDomainBlockStatsFlags' parameters (QEMU's order) from the bulk `block.N.*` counters of
/// the frontends whose index `pick` accepts, summed.
fn block_params(kv: &[(String, TypedValue)], pick: impl Fn(usize) -> bool) -> Vec<TypedParam> {
    let count = kv
        .iter()
        .find(|(k, _)| k == "block.count")
        .and_then(|(_, v)| match v {
            TypedValue::UInt(n) => Some(*n as usize),
            _ => None,
        })
        .unwrap_or(0);
    let fields = [
        (tp::BLOCK_WRITE_BYTES, "wr.bytes"),
        (tp::BLOCK_WRITE_REQ, "wr.reqs"),
        (tp::BLOCK_READ_BYTES, "rd.bytes"),
        (tp::BLOCK_READ_REQ, "rd.reqs"),
        (tp::BLOCK_FLUSH_REQ, "fl.reqs"),
        (tp::BLOCK_WRITE_TOTAL_TIMES, "wr.times"),
        (tp::BLOCK_READ_TOTAL_TIMES, "rd.times"),
        (tp::BLOCK_FLUSH_TOTAL_TIMES, "fl.times"),
    ];
    fields
        .iter()
        .filter_map(|(field, key)| {
            let vals: Vec<u64> = (0..count)
                .filter(|n| pick(*n))
                .filter_map(|n| ullong_of(kv, &format!("block.{n}.{key}")))
                .collect();
            (!vals.is_empty()).then(|| {
                let sum = vals.iter().fold(0u64, |a, v| a.saturating_add(*v));
                TypedParam::new(
                    *field,
                    TypedValue::LLong(i64::try_from(sum).unwrap_or(i64::MAX)),
                )
            })
        })
        .collect()
}

/// virDomainMemoryStatTags.
mod mem_tag {
    pub const SWAP_IN: i32 = 0;
    pub const SWAP_OUT: i32 = 1;
    pub const MAJOR_FAULT: i32 = 2;
    pub const MINOR_FAULT: i32 = 3;
    pub const UNUSED: i32 = 4;
    pub const AVAILABLE: i32 = 5;
    pub const ACTUAL_BALLOON: i32 = 6;
    pub const RSS: i32 = 7;
    pub const USABLE: i32 = 8;
    pub const LAST_UPDATE: i32 = 9;
    pub const DISK_CACHES: i32 = 10;
    pub const HUGETLB_PGALLOC: i32 = 11;
    pub const HUGETLB_PGFAIL: i32 = 12;
}

/// The balloon's `guest-stats` as (tag, value) in libvirt's order; byte counts in KiB. A
/// statistic the guest does not report (QEMU's -1) is left out; `last-update` is kept even
/// when 0 (no poll yet), as libvirt keeps it.
fn guest_memory_stats(gs: &serde_json::Value) -> Vec<(i32, u64)> {
    use mem_tag::*;
    let fields: [(&str, i32, u64); 7] = [
        ("stat-swap-in", SWAP_IN, 1024),
        ("stat-swap-out", SWAP_OUT, 1024),
        ("stat-major-faults", MAJOR_FAULT, 1),
        ("stat-minor-faults", MINOR_FAULT, 1),
        ("stat-free-memory", UNUSED, 1024),
        ("stat-total-memory", AVAILABLE, 1024),
        ("stat-available-memory", USABLE, 1024),
    ];
    let tail: [(&str, i32, u64); 3] = [
        ("stat-disk-caches", DISK_CACHES, 1024),
        ("stat-htlb-pgalloc", HUGETLB_PGALLOC, 1),
        ("stat-htlb-pgfail", HUGETLB_PGFAIL, 1),
    ];
    let stat = |name: &str| {
        gs.get("stats")?
            .get(name)?
            .as_u64()
            .filter(|v| *v != u64::MAX)
    };
    let mut out = Vec::new();
    for (name, tag, div) in fields {
        if let Some(v) = stat(name) {
            out.push((tag, v / div));
        }
    }
    if let Some(v) = gs.get("last-update").and_then(serde_json::Value::as_u64) {
        out.push((LAST_UPDATE, v));
    }
    for (name, tag, div) in tail {
        if let Some(v) = stat(name) {
            out.push((tag, v / div));
        }
    }
    out
}

/// (capacity, allocation, physical) of an image on the host, as libvirt reads a shut-off
/// domain's disk: a regular file's allocation is its blocks, its physical size its length; a
/// block device's both its end; the capacity is a qcow2 header's virtual size, else the
/// physical size.
pub(crate) fn image_limits(
    path: &std::path::Path,
    format: Option<&str>,
) -> DriverResult<(u64, u64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let sys = |what: &str, e: std::io::Error| {
        let s = e.to_string();
        let words = s
            .rfind(" (os error ")
            .map_or(s.as_str(), |i| &s[..i])
            .to_string();
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("{what} '{}': {words}", path.display()),
        )
    };
    let md = std::fs::metadata(path).map_err(|e| sys("cannot stat file", e))?;
    let (allocation, physical) = if md.file_type().is_block_device() {
        let mut f = std::fs::File::open(path).map_err(|e| sys("cannot open file", e))?;
        let end = f
            .seek(SeekFrom::End(0))
            .map_err(|e| sys("failed to seek to end of", e))?;
        (end, end)
    } else if md.is_dir() {
        (0, 0)
    } else {
        (md.blocks() * 512, md.len())
    };
    let mut capacity = physical;
    if format == Some("qcow2") {
        let mut header = [0u8; 32];
        let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
        if read.is_ok() && &header[..4] == b"QFI\xfb" {
            capacity = u64::from_be_bytes(header[24..32].try_into().expect("8 bytes"));
        }
    }
    Ok((capacity, allocation, physical))
}

impl QemuDriver {
    /// libvirt: virDomainInterfaceStats, from the tap's kernel counters (swapped to the
    /// guest's view, as the `net.*` stats are).
    pub(crate) async fn qemu_interface_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        let (live, idx) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            let idx = kit::devices::net_index(&r.live, device, ErrorDomain::Qemu)?;
            (job_of(d, INTERFACE).live, idx)
        };
        let live = live.ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let kv = guest_stats(&live, INTERFACE, Some(idx)).await;
        let get = |k: &str| ullong_of(&kv, &format!("net.0.{k}"));
        let Some(rx_bytes) = get("rx.bytes") else {
            return Err(VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                "/proc/net/dev: Interface not found",
            ));
        };
        let i = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        Ok(InterfaceStats {
            rx_bytes: i(Some(rx_bytes)),
            rx_packets: i(get("rx.pkts")),
            rx_errs: i(get("rx.errs")),
            rx_drop: i(get("rx.drop")),
            tx_bytes: i(get("tx.bytes")),
            tx_packets: i(get("tx.pkts")),
            tx_errs: i(get("tx.errs")),
            tx_drop: i(get("tx.drop")),
        })
    }

    /// libvirt: virDomainBlockStatsFlags, from `query-blockstats` (the bulk `block.*`
    /// counters); an empty `device` sums every disk, as libvirt's QEMU driver does.
    pub(crate) async fn qemu_block_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.check_flags(flags, STRING_OKAY, "qemuDomainBlockStatsFlags")?;
        let (live, target) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            let target = if device.is_empty() {
                None
            } else {
                let i = kit::devices::disk_index(&r.live, device).ok_or_else(|| {
                    VirtError::new(
                        ErrorCode::InvalidArg,
                        ErrorDomain::Qemu,
                        format!("invalid path: {device}"),
                    )
                })?;
                Some(r.live.devices.disks[i].target_dev.clone())
            };
            (job_of(d, BLOCK).live, target)
        };
        let live = live.ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        let kv = guest_stats(&live, BLOCK, None).await;
        let name_of = |n: usize| {
            kv.iter()
                .find(|(k, _)| *k == format!("block.{n}.name"))
                .and_then(|(_, v)| match v {
                    TypedValue::String(s) => Some(s.clone()),
                    _ => None,
                })
        };
        let params = match &target {
            Some(t) => block_params(&kv, |n| name_of(n).as_deref() == Some(t.as_str())),
            None => block_params(&kv, |_| true),
        };
        if params.is_empty() && target.is_some() {
            return Err(VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                format!("cannot find statistics for device '{device}'"),
            ));
        }
        Ok(params)
    }

    /// libvirt: virDomainMemoryStats. With a balloon: its size (`query-balloon`), then the
    /// guest's own figures (`qom-get` of the balloon's `guest-stats`; those the guest does not
    /// report are left out), then QEMU's RSS; without a balloon, the RSS alone, as libvirt's
    /// QEMU driver answers.
    pub(crate) async fn qemu_memory_stats(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(i32, u64)>> {
        self.check_flags(flags, 0, "qemuDomainMemoryStats")?;
        let (qmp, pid, balloon) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let r = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            let balloon = r
                .live
                .devices
                .memballoon
                .as_ref()
                .filter(|_| super::start::has_balloon(&r.live))
                .map(|b| b.alias.clone().unwrap_or_else(|| "balloon0".into()));
            (r.qmp.clone(), r.proc.pid().pid as u32, balloon)
        };
        let mut out = Vec::new();
        if let Some(alias) = balloon {
            let qmp = qmp.ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            let b = qmp
                .execute("query-balloon", None)
                .await
                .map_err(|e| e.to_virt("query-balloon"))?;
            if let Some(actual) = b.get("actual").and_then(serde_json::Value::as_u64) {
                out.push((mem_tag::ACTUAL_BALLOON, actual / 1024));
            }
            let args = serde_json::json!({
                "path": format!("/machine/peripheral/{alias}"),
                "property": "guest-stats",
            });
            if let Ok(gs) = qmp.execute("qom-get", Some(args)).await {
                out.extend(guest_memory_stats(&gs));
            }
        }
        if let Some(rss) = stats::rss_kib(pid) {
            out.push((mem_tag::RSS, rss));
        }
        Ok(out)
    }

    /// libvirt: virDomainSetMemoryStatsPeriod: the running balloon's polling interval
    /// (`qom-set` of `guest-stats-polling-interval`) and/or the persistent `<stats period>`.
    pub(crate) async fn qemu_set_stats_period(
        &self,
        lookup: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> DriverResult<()> {
        use virt_core::kit::flags::modify::{CONFIG, LIVE};
        kit::stats::check_stats_period(period)?;
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetMemoryStatsPeriod")?;
        let (_job, uuid) = self.job(lookup, "virDomainSetMemoryStatsPeriod").await?;
        let me = DomainLookup::Uuid(uuid);
        let impact = {
            let st = self.lock();
            let d = st.get(&me)?;
            kit::modify::impact(&d.facts(), flags)?
        };
        let value = kit::stats::stats_period_of(period);
        if impact.live {
            let a = self.active(&uuid)?;
            let alias = self
                .with_run(&uuid, a.gen, |r| {
                    r.live
                        .devices
                        .memballoon
                        .as_ref()
                        .filter(|_| super::start::has_balloon(&r.live))
                        .map(|b| b.alias.clone().unwrap_or_else(|| "balloon0".into()))
                })
                .flatten()
                .ok_or_else(|| VirtError::operation_invalid("Active balloon device not found"))?;
            super::set_stats_period(&a.qmp, &alias, u32::try_from(period).unwrap_or(0))
                .await
                .map_err(|_| {
                    VirtError::operation_invalid("unable to set balloon driver collection period")
                })?;
            self.update_run(&uuid, a.gen, |r| {
                if let Some(b) = r.live.devices.memballoon.as_mut() {
                    b.stats_period = value;
                }
            });
        }
        if impact.config {
            self.edit_config(&me, |def| {
                if !super::start::has_balloon(def) {
                    return Err(VirtError::operation_invalid(
                        "No balloon device configured, can not set the collection period",
                    ));
                }
                if let Some(b) = def.devices.memballoon.as_mut() {
                    b.stats_period = value;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// libvirt: virDomainGetBlockInfo. A running guest's disk from QEMU (capacity: the
    /// format's virtual size; allocation: `wr_highest_offset`; physical: the image's actual
    /// size), a shut-off one's from its image (capacity from a qcow2 header, else the size;
    /// allocation: the blocks a file occupies; physical: its size, or a block device's end).
    pub(crate) async fn qemu_block_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<(u64, u64, u64)> {
        self.check_flags(flags, 0, "qemuDomainGetBlockInfo")?;
        let (live, target, path, format) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let def = d.run.as_ref().map_or(&d.def, |r| &r.live);
            let i = kit::devices::disk_index(def, disk).ok_or_else(|| {
                VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Qemu,
                    format!("invalid path {disk} not assigned to domain"),
                )
            })?;
            let dk = &def.devices.disks[i];
            let src = dk.source.as_ref();
            let network = src.is_some_and(|s| s.protocol.is_some());
            let path = src.and_then(|s| s.path.clone());
            if path.is_none() && !network {
                return Err(VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Qemu,
                    format!("disk '{disk}' does not currently have a source assigned"),
                ));
            }
            let format = dk.driver.as_ref().and_then(|d| d.format.clone());
            (job_of(d, BLOCK).live, dk.target_dev.clone(), path, format)
        };
        let Some(live) = live else {
            let Some(path) = path else {
                return Err(VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::Qemu,
                    "cannot get the size of a network disk of an inactive domain",
                ));
            };
            return image_limits(std::path::Path::new(&path), format.as_deref());
        };
        let kv = guest_stats(&live, BLOCK, None).await;
        let n = kv.iter().find_map(|(k, v)| match v {
            TypedValue::String(s) if *s == target => k
                .strip_prefix("block.")?
                .strip_suffix(".name")?
                .parse::<usize>()
                .ok(),
            _ => None,
        });
        let Some(n) = n else {
            return Err(VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Qemu,
                format!("failed to gather stats for disk '{target}'"),
            ));
        };
        let get = |k: &str| ullong_of(&kv, &format!("block.{n}.{k}"));
        let capacity = get("capacity").unwrap_or(0);
        let allocation = get("allocation").unwrap_or(0);
        let physical = match get("physical") {
            Some(p) if p > 0 => p,
            _ => match &path {
                Some(p) => image_limits(std::path::Path::new(p), format.as_deref())?.2,
                None => 0,
            },
        };
        Ok((capacity, allocation, physical))
    }

    async fn stats_of(&self, jobs: Vec<Job>, groups: u32, nowait: bool) -> Vec<StatsRecord> {
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|j| tokio::spawn(fill(j, groups, nowait)))
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    }
}

#[async_trait::async_trait]
impl Monitoring for QemuDriver {
    /// libvirt: virDomainGetJobInfo (`jobs.rs`).
    async fn job_info(&self, lookup: &DomainLookup) -> DriverResult<virt_core::types::JobInfo> {
        self.job_info_of(lookup)
    }

    /// libvirt: virDomainGetJobStats (`jobs.rs`).
    async fn job_stats(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(i32, Vec<TypedParam>)> {
        self.job_stats_of(lookup, flags)
    }

    /// libvirt: virDomainAbortJob(Flags) (`jobs.rs`).
    async fn abort_job(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.abort_job_of(lookup, flags).await
    }

    /// libvirt: virConnectGetAllDomainStats.
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(
            flags,
            kit::stats::ALL_DOMAINS,
            "qemuConnectGetAllDomainStats",
        )?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = {
            let st = self.lock();
            st.matching(flags & kit::stats::FILTERS)
                .into_iter()
                .map(|d| job_of(d, groups))
                .collect()
        };
        Ok(self.stats_of(jobs, groups, flags & NOWAIT != 0).await)
    }

    /// libvirt: virDomainListGetStats.
    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(flags, kit::stats::LISTED, "qemuDomainListGetStats")?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = self
            .lock()
            .each(doms)?
            .into_iter()
            .map(|d| job_of(d, groups))
            .collect();
        Ok(self.stats_of(jobs, groups, flags & NOWAIT != 0).await)
    }

    async fn interface_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        self.qemu_interface_stats(lookup, device).await
    }

    async fn block_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.qemu_block_stats(lookup, device, flags).await
    }

    async fn set_block_threshold(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_block_threshold(lookup, dev, threshold, flags)
            .await
    }

    async fn block_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<(u64, u64, u64)> {
        self.qemu_block_info(lookup, disk, flags).await
    }

    async fn domain_memory_stats(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(i32, u64)>> {
        self.qemu_memory_stats(lookup, flags).await
    }

    async fn set_memory_stats_period(
        &self,
        lookup: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_stats_period(lookup, period, flags).await
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        self.bus.subscribe_checked(from_sequence, ErrorDomain::Qemu)
    }

    async fn control_info(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<ControlInfo> {
        self.qemu_control_info(lookup, flags)
    }

    async fn disk_errors(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(String, u32)>> {
        self.qemu_disk_errors(lookup, flags).await
    }

    async fn qemu_monitor_command(
        &self,
        lookup: &DomainLookup,
        command: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.qemu_monitor_passthrough(lookup, command, flags).await
    }

    async fn subscribe_qemu_monitor_events(
        &self,
    ) -> DriverResult<tokio::sync::broadcast::Receiver<virt_core::types::QemuMonitorEvent>> {
        Ok(self.qemu_monitor_events())
    }
}
