//! Bulk statistics calls of [`Connection`] (StatsService).

use virt_core::proto;
use virt_core::proto_conv::param_from;
use virt_core::types::{DomainLookup, InterfaceStats, TypedParam};

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

    /// Traffic counters of the interface whose host device or MAC is `device`.
    /// libvirt: virDomainInterfaceStats.
    pub async fn interface_stats(
        &self,
        dom: &DomainLookup,
        device: &str,
    ) -> Result<InterfaceStats, ClientError> {
        let req = proto::GetInterfaceStatsRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
        };
        let r = self
            .stats_client()
            .get_interface_stats(req)
            .await?
            .into_inner();
        Ok(InterfaceStats {
            rx_bytes: r.rx_bytes,
            rx_packets: r.rx_packets,
            rx_errs: r.rx_errs,
            rx_drop: r.rx_drop,
            tx_bytes: r.tx_bytes,
            tx_packets: r.tx_packets,
            tx_errs: r.tx_errs,
            tx_drop: r.tx_drop,
        })
    }

    /// I/O counters of the disk whose target or source is `device` (empty: all disks), with
    /// STRING_OKAY added as libvirt's API layer adds it. libvirt: virDomainBlockStatsFlags.
    pub async fn block_stats(
        &self,
        dom: &DomainLookup,
        device: &str,
    ) -> Result<Vec<TypedParam>, ClientError> {
        let req = proto::GetBlockStatsRequest {
            domain: Some(domain_ref(dom)),
            device: device.to_string(),
            flags: proto::TypedParamFlag::StringOkay as u32,
        };
        let ps = self
            .stats_client()
            .get_block_stats(req)
            .await?
            .into_inner()
            .params;
        Ok(ps.iter().filter_map(param_from).collect())
    }

    /// The I/O error state of the domain's disks. libvirt: virDomainGetDiskErrors.
    pub async fn disk_errors(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<proto::DiskError>, ClientError> {
        let req = proto::GetDiskErrorsRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .stats_client()
            .get_disk_errors(req)
            .await?
            .into_inner()
            .errors)
    }

    /// The state of the domain's control interface. libvirt: virDomainGetControlInfo.
    pub async fn control_info(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<proto::GetControlInfoResponse, ClientError> {
        let req = proto::GetControlInfoRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .stats_client()
            .get_control_info(req)
            .await?
            .into_inner())
    }
}
