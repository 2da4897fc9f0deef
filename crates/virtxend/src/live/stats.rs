//! Bulk stats of Xen domains: `state`, `cpu-total` (Xen's CPU time from `xl list`), `balloon`
//! (the balloon target in the Xen Store, the maximum from the definition), `vcpu` (counts, and
//! each vCPU's state and time from `xl vcpu-list`), `interface` (the `vifDOMID.N` backends'
//! counters in dom0, swapped to the guest's view) and `block` (the block backends' request
//! and sector counters in sysfs). No guest is asked anything.

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::events::EventSubscription;
use virt_core::kit;
use virt_core::kit::flags::stats::{BALLOON, BLOCK, CPU_TOTAL, INTERFACE, STATE, VCPU};
use virt_core::kit::table::Entry as _;
use virt_core::state::StateReason;
use virt_core::types::{DomainHandle, DomainLookup, StatsRecord, TypedParam, TypedValue};

use crate::domains::Dom;
use crate::toolstack::XlDomain;
use crate::XenDriver;

/// The groups this driver fills.
pub const SUPPORTED: u32 = STATE | CPU_TOTAL | BALLOON | VCPU | INTERFACE | BLOCK;

/// What one record needs, copied out of the domain table.
struct Job {
    handle: DomainHandle,
    state: StateReason,
    domid: Option<u32>,
    current_kib: u64,
    max_kib: u64,
    vcpus: (u32, u32),
    nics: usize,
}

fn job_of(d: &Dom) -> Job {
    let def = d.run.as_ref().map_or(&d.def, |r| &r.live);
    Job {
        handle: d.handle(),
        state: d.state(),
        domid: d.run.as_ref().map(|r| r.id),
        current_kib: def.current_memory_kib,
        max_kib: def.memory_kib,
        vcpus: (def.current_vcpus, def.vcpus),
        nics: def.devices.interfaces.len(),
    }
}

fn ull(field: impl Into<String>, v: u64) -> TypedParam {
    TypedParam::new(field, TypedValue::ULLong(v))
}

fn uint(field: impl Into<String>, v: u32) -> TypedParam {
    TypedParam::new(field, TypedValue::UInt(v))
}

fn text(field: impl Into<String>, v: impl Into<String>) -> TypedParam {
    TypedParam::new(field, TypedValue::String(v.into()))
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl XenDriver {
    async fn record(&self, job: Job, groups: u32, xl: &[XlDomain]) -> StatsRecord {
        let mut p = kit::stats::state_params(groups, job.state);
        let x = job.domid.and_then(|id| xl.iter().find(|x| x.id == id));
        if groups & CPU_TOTAL != 0 {
            if let Some(x) = x {
                p.push(ull("cpu.time", x.cpu_ns));
            }
        }
        let xs = match job.domid {
            Some(_) if groups & (BALLOON | BLOCK) != 0 => self.store_ro().await.ok(),
            _ => None,
        };
        if groups & BALLOON != 0 {
            let mut current = job.current_kib;
            if let (Some(xs), Some(id)) = (&xs, job.domid) {
                if let Ok(t) = xs
                    .read_string(&format!("/local/domain/{id}/memory/target"))
                    .await
                {
                    current = t.trim().parse().unwrap_or(current);
                }
            }
            p.push(ull("balloon.current", current));
            p.push(ull("balloon.maximum", job.max_kib));
        }
        if groups & VCPU != 0 {
            p.push(uint("vcpu.current", job.vcpus.0));
            p.push(uint("vcpu.maximum", job.vcpus.1));
            if let Some(id) = job.domid {
                for v in self.xl.vcpus(id).await.unwrap_or_default() {
                    // libvirt's states: 0 offline, 1 running, 2 blocked.
                    let state = if v.state.contains('r') {
                        1
                    } else if v.state.contains('b') {
                        2
                    } else {
                        0
                    };
                    p.push(TypedParam::new(
                        format!("vcpu.{}.state", v.vcpu),
                        TypedValue::Int(state),
                    ));
                    p.push(ull(format!("vcpu.{}.time", v.vcpu), v.cpu_ns));
                }
            }
        }
        if groups & INTERFACE != 0 && job.nics > 0 {
            if let Some(id) = job.domid {
                p.push(uint("net.count", job.nics as u32));
                for i in 0..job.nics {
                    let vif = format!("vif{id}.{i}");
                    p.push(text(format!("net.{i}.name"), vif.clone()));
                    if let Some(c) = virt_core::procfs::guest_net_counters(&vif) {
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
        }
        if groups & BLOCK != 0 {
            if let (Some(xs), Some(id)) = (&xs, job.domid) {
                let base = format!("/local/domain/0/backend/vbd/{id}");
                let devids = xs.directory(&base).await.unwrap_or_default();
                if !devids.is_empty() {
                    p.push(uint("block.count", devids.len() as u32));
                }
                for (i, devid) in devids.iter().enumerate() {
                    let dev = xs
                        .read_string(&format!("{base}/{devid}/dev"))
                        .await
                        .unwrap_or_else(|_| devid.clone());
                    p.push(text(format!("block.{i}.name"), dev));
                    if let Ok(path) = xs.read_string(&format!("{base}/{devid}/params")).await {
                        p.push(text(format!("block.{i}.path"), path));
                    }
                    let stat = format!("/sys/bus/xen-backend/devices/vbd-{id}-{devid}/statistics");
                    let sector = 512;
                    for (field, file, scale) in [
                        ("rd.reqs", "rd_req", 1),
                        ("rd.bytes", "rd_sect", sector),
                        ("wr.reqs", "wr_req", 1),
                        ("wr.bytes", "wr_sect", sector),
                        ("fl.reqs", "f_req", 1),
                    ] {
                        if let Some(v) = read_u64(&format!("{stat}/{file}")) {
                            p.push(ull(format!("block.{i}.{field}"), v * scale));
                        }
                    }
                }
            }
        }
        if let Some(xs) = xs {
            xs.close();
        }
        StatsRecord {
            handle: job.handle,
            params: p,
        }
    }

    async fn records(&self, jobs: Vec<Job>, groups: u32) -> Vec<StatsRecord> {
        let xl = if jobs.iter().any(|j| j.domid.is_some()) && groups & CPU_TOTAL != 0 {
            self.xl.list().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(jobs.len());
        for j in jobs {
            out.push(self.record(j, groups, &xl).await);
        }
        out
    }
}

fn groups(stats: u32, flags: u32) -> DriverResult<u32> {
    kit::stats::groups(stats, flags, SUPPORTED, ErrorDomain::Libxl)
}

#[async_trait::async_trait]
impl Monitoring for XenDriver {
    /// libvirt: virConnectGetAllDomainStats.
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(
            flags,
            kit::stats::ALL_DOMAINS,
            "libxlConnectGetAllDomainStats",
        )?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = {
            let st = self.lock();
            st.matching(flags & kit::stats::FILTERS)
                .into_iter()
                .map(job_of)
                .collect()
        };
        Ok(self.records(jobs, groups).await)
    }

    /// libvirt: virDomainListGetStats.
    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(flags, kit::stats::LISTED, "libxlDomainListGetStats")?;
        let groups = groups(stats, flags)?;
        let jobs: Vec<Job> = self.lock().each(doms)?.into_iter().map(job_of).collect();
        Ok(self.records(jobs, groups).await)
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        self.bus
            .subscribe_checked(from_sequence, ErrorDomain::Libxl)
    }
}
