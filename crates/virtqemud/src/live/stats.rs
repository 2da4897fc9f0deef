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
use virt_core::kit::flags::stats::{NOWAIT, STATE};
use virt_core::kit::table::Entry as _;
use virt_core::types::{DomainLookup, StatsRecord, TypedParam};

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

impl QemuDriver {
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

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        self.bus.subscribe_checked(from_sequence, ErrorDomain::Qemu)
    }
}
