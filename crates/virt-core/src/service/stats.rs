//! StatsService: bulk domain statistics.

use tonic::{Request, Response, Status};

use super::convert::{lookup, record};
use super::{status, Ctx};
use crate::proto::stats_service_server::StatsService;
use crate::proto::*;

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl StatsService for Ctx {
    async fn get_all_domain_stats(
        &self,
        req: Request<GetAllDomainStatsRequest>,
    ) -> R<GetAllDomainStatsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let recs = d
            .all_domain_stats(r.stats, r.flags)
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
            .list_domain_stats(&doms, r.stats, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(ListDomainStatsResponse {
            records: recs.iter().map(record).collect(),
        }))
    }
}
