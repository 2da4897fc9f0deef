//! Test driver monitoring (the `Monitoring` capability): bulk stats and event subscription.
//! Bulk stats: Like libvirt 9.0's test driver it supports the `state` group only, so
//! `domstats` output matches virsh byte for byte; other groups are skipped, or refused with
//! ENFORCE_STATS.

use super::state::Dom;
use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::DriverResult;
use crate::error::ErrorDomain;
use crate::events::EventSubscription;
use crate::kit;
use crate::kit::flags::stats::STATE;
use crate::types::{DomainLookup, StatsRecord};

/// libvirt 9.0's test driver fills the `state` group only.
const SUPPORTED: u32 = STATE;

fn groups(stats: u32, flags: u32) -> DriverResult<u32> {
    kit::stats::groups(stats, flags, SUPPORTED, ErrorDomain::Test)
}

fn record(d: &Dom, groups: u32) -> StatsRecord {
    StatsRecord {
        handle: d.handle(),
        params: kit::stats::state_params(groups, d.state),
    }
}

#[async_trait::async_trait]
impl Monitoring for TestDriver {
    async fn all_domain_stats(&self, stats: u32, flags: u32) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(
            flags,
            kit::stats::ALL_DOMAINS,
            "testConnectGetAllDomainStats",
        )?;
        let groups = groups(stats, flags)?;
        let st = self.lock();
        Ok(self
            .ordered(&st)
            .into_iter()
            .filter(|d| kit::list::matches(&d.facts(), flags & kit::stats::FILTERS))
            .map(|d| record(d, groups))
            .collect())
    }

    async fn list_domain_stats(
        &self,
        doms: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> DriverResult<Vec<StatsRecord>> {
        self.check_flags(flags, kit::stats::LISTED, "testDomainListGetStats")?;
        let groups = groups(stats, flags)?;
        let st = self.lock();
        doms.iter()
            .map(|l| st.get(l).map(|d| record(d, groups)))
            .collect()
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        Ok(self.bus.subscribe(from_sequence))
    }
}
