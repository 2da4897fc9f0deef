//! Test driver bulk stats. Like libvirt 9.0's test driver it supports the `state` group only, so
//! `domstats` output matches virsh byte for byte; other groups are skipped, or refused with
//! ENFORCE_STATS.

use super::lifecycle::matches_filter;
use super::state::Dom;
use super::TestDriver;
use crate::driver::DriverResult;
use crate::error::ErrorDomain;
use crate::types::{
    stats_groups, DomainLookup, StatsRecord, TypedParam, TypedValue, STATS_ENFORCE,
};

const STATE: u32 = 1;
const SUPPORTED: u32 = STATE;
const NOWAIT: u32 = 1 << 29;
const BACKING: u32 = 1 << 30;
const ENFORCE: u32 = STATS_ENFORCE;

fn groups(stats: u32, flags: u32) -> DriverResult<u32> {
    stats_groups(stats, flags, SUPPORTED, ErrorDomain::Test)
}

fn record(d: &Dom, groups: u32) -> StatsRecord {
    let mut params = Vec::with_capacity(2);
    if groups & STATE != 0 {
        params.push(TypedParam::new(
            "state.state",
            TypedValue::Int(d.state.state as i32),
        ));
        params.push(TypedParam::new(
            "state.reason",
            TypedValue::Int(d.state.reason),
        ));
    }
    StatsRecord {
        handle: d.handle(),
        params,
    }
}

impl TestDriver {
    pub(crate) fn stats_all(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(
            flags,
            0xff | NOWAIT | BACKING | ENFORCE,
            "testConnectGetAllDomainStats",
        )?;
        let groups = groups(stats, flags)?;
        let st = self.lock();
        Ok(self
            .ordered(&st)
            .into_iter()
            .filter(|d| matches_filter(d, flags & 0xff))
            .map(|d| record(d, groups))
            .collect())
    }

    pub(crate) fn stats_list(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(flags, NOWAIT | BACKING | ENFORCE, "testDomainListGetStats")?;
        let groups = groups(stats, flags)?;
        let st = self.lock();
        doms.iter()
            .map(|l| st.get(l).map(|d| record(d, groups)))
            .collect()
    }
}
