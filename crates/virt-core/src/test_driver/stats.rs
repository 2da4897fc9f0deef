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
use crate::kit::flags::typed_param::STRING_OKAY;
use crate::kit::typed_params as tp;
use crate::types::{
    ControlInfo, DomainLookup, InterfaceStats, StatsRecord, TypedParam, TypedValue,
};

/// The control state libvirt's test driver reports for a guest clock at `seconds`.
pub fn control_info_at(seconds: i64) -> ControlInfo {
    use crate::proto::DomainControlState as S;
    let (state, details, start) = match seconds {
        1..=9_999 => (S::Job, 0, 0),
        10_000..=29_999 => (S::Occupied, 0, 10_000),
        30_000..=59_999 => (S::Error, (seconds % 4) as u32, 30_000),
        _ => return ControlInfo::default(),
    };
    ControlInfo {
        state: state as u32,
        details,
        state_time: (seconds - start) as u64,
    }
}

/// libvirt's test driver's counters: no meaning, only growing with the clock (µs since the
/// epoch, and the seconds).
fn statbase() -> (i64, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_micros() as i64, now.as_secs() as i64)
}

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

    /// libvirt's test driver derives the state from the guest clock's seconds (`domtime
    /// --time`): below 10000 a job, below 30000 occupied, below 60000 an error whose reason
    /// is the seconds modulo 4; the state time is the seconds past the band's start.
    async fn control_info(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<ControlInfo> {
        self.check_flags(flags, 0, "testDomainGetControlInfo")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        Ok(control_info_at(d.guest.time.0))
    }

    /// libvirt's test driver reports every disk of a running domain in error, alternating
    /// unspecified (1) and no space (2).
    async fn disk_errors(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(String, u32)>> {
        self.check_flags(flags, 0, "testDomainGetDiskErrors")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        Ok(d.def
            .devices
            .disks
            .iter()
            .enumerate()
            .map(|(i, disk)| (disk.target_dev.clone(), 1 + (i % 2) as u32))
            .collect())
    }

    async fn interface_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
    ) -> DriverResult<InterfaceStats> {
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        kit::devices::net_index(&d.def, device, ErrorDomain::Test)?;
        let (base, _) = statbase();
        Ok(InterfaceStats {
            rx_bytes: base / 10,
            rx_packets: base / 100,
            rx_errs: base / 1_000_000,
            rx_drop: base / 2_000_000,
            tx_bytes: base / 20,
            tx_packets: base / 110,
            tx_errs: base / 3_000_000,
            tx_drop: base / 4_000_000,
        })
    }

    async fn block_stats(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.check_flags(flags, STRING_OKAY, "testDomainBlockStats")?;
        if device.is_empty() {
            return Err(crate::VirtError::new(
                crate::ErrorCode::OperationUnsupported,
                ErrorDomain::Test,
                "summary statistics are not supported yet",
            ));
        }
        let st = self.lock();
        let d = st.get(lookup)?;
        d.require_active()?;
        if kit::devices::disk_index(&d.def, device).is_none() {
            return Err(crate::VirtError::new(
                crate::ErrorCode::InvalidArg,
                ErrorDomain::Test,
                format!("invalid path: {device}"),
            ));
        }
        let (base, secs) = statbase();
        Ok([
            (tp::BLOCK_READ_REQ, base / 10),
            (tp::BLOCK_READ_BYTES, base / 20),
            (tp::BLOCK_WRITE_REQ, base / 30),
            (tp::BLOCK_WRITE_BYTES, base / 40),
            (tp::BLOCK_ERRS, secs / 2),
        ]
        .into_iter()
        .map(|(f, v)| TypedParam::new(f, TypedValue::LLong(v)))
        .collect())
    }

    async fn subscribe_events(
        &self,
        from_sequence: Option<u64>,
    ) -> DriverResult<EventSubscription> {
        Ok(self.bus.subscribe(from_sequence))
    }

    // Domain management group (issue 15): see mgmt.rs.

    async fn block_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<(u64, u64, u64)> {
        self.disk_info(lookup, disk, flags)
    }

    async fn domain_memory_stats(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(i32, u64)>> {
        self.balloon_stats(lookup, flags)
    }

    async fn set_memory_stats_period(
        &self,
        lookup: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> DriverResult<()> {
        self.stats_period(lookup, period, flags)
    }
}
