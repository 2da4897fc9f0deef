//! StatsService: bulk domain statistics.

use tonic::{Request, Response, Status};

use super::{status, Ctx};
use crate::proto::stats_service_server::StatsService;
use crate::proto::*;
use crate::proto_conv::{interface_stats, lookup, param, record};

type R<T> = Result<Response<T>, Status>;

/// ENFORCE_STATS as the unsigned bit it is (0x80000000); the proto enum value reads negative.
const ENFORCE_STATS: u32 = DomainStatsFlag::EnforceStats as i32 as u32;

/// The flags a request asks for: its `flags` mask, plus ENFORCE_STATS when `enforce_stats` is
/// set (the way to ask for bit 31 in languages whose enum constant for it is negative).
fn request_flags(flags: u32, enforce_stats: bool) -> u32 {
    if enforce_stats {
        flags | ENFORCE_STATS
    } else {
        flags
    }
}

#[tonic::async_trait]
impl StatsService for Ctx {
    async fn get_all_domain_stats(
        &self,
        req: Request<GetAllDomainStatsRequest>,
    ) -> R<GetAllDomainStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let recs = d
            .all_domain_stats(r.stats, request_flags(r.flags, r.enforce_stats))
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetAllDomainStatsResponse {
            records: recs.iter().map(record).collect(),
        }))
    }

    async fn list_domain_stats(
        &self,
        req: Request<ListDomainStatsRequest>,
    ) -> R<ListDomainStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let doms = r
            .domains
            .iter()
            .map(|x| lookup(Some(x)))
            .collect::<Result<Vec<_>, _>>()?;
        let recs = d
            .list_domain_stats(&doms, r.stats, request_flags(r.flags, r.enforce_stats))
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(ListDomainStatsResponse {
            records: recs.iter().map(record).collect(),
        }))
    }

    async fn get_interface_stats(
        &self,
        req: Request<GetInterfaceStatsRequest>,
    ) -> R<GetInterfaceStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.domain.as_ref())?;
        let s = d
            .interface_stats(&l, &r.device)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(interface_stats(&s)))
    }

    async fn get_block_stats(
        &self,
        req: Request<GetBlockStatsRequest>,
    ) -> R<GetBlockStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.domain.as_ref())?;
        let ps = d
            .block_stats(&l, &r.device, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetBlockStatsResponse {
            params: ps.iter().map(param).collect(),
        }))
    }

    async fn get_control_info(
        &self,
        req: Request<GetControlInfoRequest>,
    ) -> R<GetControlInfoResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.domain.as_ref())?;
        let c = d.control_info(&l, r.flags).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetControlInfoResponse {
            state: c.state,
            details: c.details,
            state_time: c.state_time,
        }))
    }

    async fn get_disk_errors(
        &self,
        req: Request<GetDiskErrorsRequest>,
    ) -> R<GetDiskErrorsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.domain.as_ref())?;
        let errs = d.disk_errors(&l, r.flags).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetDiskErrorsResponse {
            errors: errs
                .into_iter()
                .map(|(disk, error)| DiskError { disk, error })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforce_stats_field_sets_bit_31() {
        assert_eq!(ENFORCE_STATS, 0x8000_0000);
        assert_eq!(request_flags(1, true), 0x8000_0001);
        assert_eq!(request_flags(0x8000_0001, true), 0x8000_0001);
        assert_eq!(request_flags(0x8000_0001, false), 0x8000_0001);
        assert_eq!(request_flags(1, false), 1);
    }
}
