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
