//! Bulk statistics calls of [`Connection`] (StatsService).

use virt_core::proto;
use virt_core::types::DomainLookup;

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

impl Connection {
    /// Stats of every domain matching `flags` (DomainStatsFlag bits), for the `stats` groups
    /// (DomainStatsGroup bits, 0 = all). libvirt: virConnectGetAllDomainStats.
    pub async fn all_domain_stats(
        &self,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<proto::DomainStatsRecord>, ClientError> {
        let req = proto::GetAllDomainStatsRequest {
            stats,
            flags,
            enforce_stats: false,
        };
        Ok(self
            .stats_client()
            .get_all_domain_stats(req)
            .await?
            .into_inner()
            .records)
    }

    /// Stats of the listed domains, in that order. libvirt: virDomainListGetStats.
    pub async fn list_domain_stats(
        &self,
        domains: &[DomainLookup],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<proto::DomainStatsRecord>, ClientError> {
        let req = proto::ListDomainStatsRequest {
            domains: domains.iter().map(domain_ref).collect(),
            stats,
            flags,
            enforce_stats: false,
        };
        Ok(self
            .stats_client()
            .list_domain_stats(req)
            .await?
            .into_inner()
            .records)
    }
}
