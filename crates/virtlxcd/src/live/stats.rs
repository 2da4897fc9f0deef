//! Bulk stats of containers, which libvirt's LXC driver does not offer: `state`, `cpu-total`
//! (the cgroup's CPU accounting), `balloon` (current and maximum memory, the cgroup's usage as
//! `balloon.rss`), `vcpu` (counts), `interface` (the veths' counters, swapped to the
//! container's view) and `block` (the block I/O controller's counters of the container's
//! block devices). Every value is a file read; no container is asked anything, so a stopped
//! or frozen one never delays the answer.

use std::os::unix::fs::MetadataExt;

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::events::EventSubscription;
use virt_core::kit;
use virt_core::kit::flags::stats::{BALLOON, BLOCK, CPU_TOTAL, INTERFACE, STATE, VCPU};
use virt_core::kit::table::Entry as _;
use virt_core::model::hostdev::HostdevCaps;
use virt_core::state::StateReason;
use virt_core::types::{
    DomainHandle, DomainLookup, InterfaceStats, StatsRecord, TypedParam, TypedValue,
};

use crate::domains::Dom;
use crate::LxcDriver;

/// The groups this driver fills.
pub const SUPPORTED: u32 = STATE | CPU_TOTAL | BALLOON | VCPU | INTERFACE | BLOCK;

/// What one record needs, copied out of the domain table.
struct Job {
    handle: DomainHandle,
    state: StateReason,
    current_kib: u64,
    max_kib: u64,
    vcpus: (u32, u32),
    cgroup: Option<virt_core::cgroup::DomainCgroup>,
    veths: Vec<String>,
    /// `(name, source path)` of block devices.
    blocks: Vec<(String, String)>,
}

fn job_of(d: &Dom) -> Job {
    let def = d.run.as_ref().map_or(&d.def, |r| &r.live);
    let mut blocks: Vec<(String, String)> = def
        .devices
        .filesystems
        .iter()
        .filter(|f| f.fs_type == "block")
        .filter_map(|f| Some((f.target.clone(), f.source.clone()?)))
        .collect();
    blocks.extend(def.devices.hostdevs.iter().filter_map(|h| match &h.caps {
        Some(HostdevCaps::Storage { block }) => Some((block.clone(), block.clone())),
        _ => None,
    }));
    Job {
        handle: d.handle(),
        state: d.state(),
        current_kib: def.current_memory_kib,
        max_kib: def.memory_kib,
        vcpus: (def.current_vcpus, def.vcpus),
        cgroup: d.run.as_ref().and_then(|r| r.cgroup.clone()),
        veths: d.run.as_ref().map(|r| r.veths.clone()).unwrap_or_default(),
        blocks: if d.is_active() { blocks } else { Vec::new() },
    }
}

fn ull(field: impl Into<String>, v: u64) -> TypedParam {
    TypedParam::new(field, TypedValue::ULLong(v))
}

fn uint(field: impl Into<String>, v: u32) -> TypedParam {
    TypedParam::new(field, TypedValue::UInt(v))
}

impl LxcDriver {
    fn record(&self, job: Job, groups: u32) -> StatsRecord {
        let mut p = kit::stats::state_params(groups, job.state);
        let usage = job
            .cgroup
            .as_ref()
            .filter(|_| groups & (CPU_TOTAL | BALLOON | BLOCK) != 0)
            .map(|cg| super::cgroups::usage(&self.hierarchies, cg));
        if groups & CPU_TOTAL != 0 {
            if let Some(u) = &usage {
                if let Some(t) = u.cpu_ns {
                    p.push(ull("cpu.time", t));
                }
                if let Some(t) = u.user_ns {
                    p.push(ull("cpu.user", t));
                }
                if let Some(t) = u.system_ns {
                    p.push(ull("cpu.system", t));
                }
            }
        }
        if groups & BALLOON != 0 {
            p.push(ull("balloon.current", job.current_kib));
            p.push(ull("balloon.maximum", job.max_kib));
            if let Some(m) = usage.as_ref().and_then(|u| u.memory_bytes) {
                p.push(ull("balloon.rss", m / 1024));
            }
        }
        if groups & VCPU != 0 {
            p.push(uint("vcpu.current", job.vcpus.0));
            p.push(uint("vcpu.maximum", job.vcpus.1));
        }
        if groups & INTERFACE != 0 && !job.veths.is_empty() {
            p.push(uint("net.count", job.veths.len() as u32));
            for (i, veth) in job.veths.iter().enumerate() {
                p.push(TypedParam::new(
                    format!("net.{i}.name"),
                    TypedValue::String(veth.clone()),
                ));
                if let Some(c) = super::net::counters(veth) {
                    let names = [
                        "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts",
                        "tx.errs", "tx.drop",
                    ];
                    for (n, v) in names.iter().zip(c) {
                        p.push(ull(format!("net.{i}.{n}"), v));
                    }
                }
            }
        }
        if groups & BLOCK != 0 && !job.blocks.is_empty() {
            p.push(uint("block.count", job.blocks.len() as u32));
            for (i, (name, path)) in job.blocks.iter().enumerate() {
                p.push(TypedParam::new(
                    format!("block.{i}.name"),
                    TypedValue::String(name.clone()),
                ));
                p.push(TypedParam::new(
                    format!("block.{i}.path"),
                    TypedValue::String(path.clone()),
                ));
                let dev = std::fs::metadata(path).ok().map(|m| {
                    let r = m.rdev();
                    (libc::major(r), libc::minor(r))
                });
                let counters = usage
                    .as_ref()
                    .zip(dev)
                    .and_then(|(u, d)| u.blkio.iter().find(|(k, _)| *k == d).map(|(_, c)| *c));
                if let Some([rb, wb, rr, wr]) = counters {
                    p.push(ull(format!("block.{i}.rd.reqs"), rr));
                    p.push(ull(format!("block.{i}.rd.bytes"), rb));
                    p.push(ull(format!("block.{i}.wr.reqs"), wr));
                    p.push(ull(format!("block.{i}.wr.bytes"), wb));
                }
            }
        }
        StatsRecord {
            handle: job.handle,
            params: p,
        }
    }

    fn records(&self, jobs: Vec<Job>, groups: u32) -> Vec<StatsRecord> {
        jobs.into_iter().map(|j| self.record(j, groups)).collect()
    }
}

fn groups(stats: u32, flags: u32) -> DriverResult<u32> {
    kit::stats::groups(stats, flags, SUPPORTED, ErrorDomain::Lxc)
}

#[async_trait::async_trait]
impl Monitoring for LxcDriver {
    /// libvirt: virConnectGetAllDomainStats (which its LXC driver lacks).
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(
            flags,
            kit::stats::ALL_DOMAINS,
            "lxcConnectGetAllDomainStats",
        )?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = {
            let st = self.lock();
            st.matching(flags & kit::stats::FILTERS)
                .into_iter()
                .map(job_of)
                .collect()
        };
        Ok(self.records(jobs, groups))
    }

    /// libvirt: virDomainListGetStats.
    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(flags, kit::stats::LISTED, "lxcDomainListGetStats")?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = self.lock().each(doms)?.into_iter().map(job_of).collect();
        Ok(self.records(jobs, groups))
    }

    async fn interface_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        self.lxc_interface_stats(lookup, device)
    }

    async fn block_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.lxc_block_stats(lookup, device, flags)
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        self.bus.subscribe_checked(from_sequence, ErrorDomain::Lxc)
    }
}
