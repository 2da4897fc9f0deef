//! SnapshotService: create, list, XML, revert, delete.

use tonic::{Request, Response, Status};

use super::{status, Ctx};
use crate::proto::snapshot_service_server::SnapshotService;
use crate::proto::*;
use crate::proto_conv::{lookup, snapshot};

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl SnapshotService for Ctx {
    async fn create_snapshot(
        &self,
        req: Request<CreateSnapshotRequest>,
    ) -> R<CreateSnapshotResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let s = d
            .create_snapshot(&lookup(r.domain.as_ref())?, &r.xml, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(CreateSnapshotResponse {
            snapshot: Some(snapshot(&s)),
        }))
    }

    async fn list_snapshots(&self, req: Request<ListSnapshotsRequest>) -> R<ListSnapshotsResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        let list = d
            .list_snapshots(&lookup(r.domain.as_ref())?, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(ListSnapshotsResponse {
            snapshots: list.iter().map(snapshot).collect(),
        }))
    }

    async fn get_snapshot_xml(
        &self,
        req: Request<GetSnapshotXmlRequest>,
    ) -> R<GetSnapshotXmlResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        if r.flags & 1 != 0 && super::is_read_only(&req) {
            return Err(status(&crate::VirtError::new(
                crate::ErrorCode::OperationDenied,
                crate::ErrorDomain::DomainSnapshot,
                "virDomainSnapshotGetXMLDesc with secure flag",
            )));
        }
        let xml = d
            .snapshot_xml(&lookup(r.domain.as_ref())?, &r.name, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(GetSnapshotXmlResponse { xml }))
    }

    async fn revert_to_snapshot(
        &self,
        req: Request<RevertToSnapshotRequest>,
    ) -> R<RevertToSnapshotResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        d.revert_to_snapshot(&lookup(r.domain.as_ref())?, &r.name, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(RevertToSnapshotResponse {}))
    }

    async fn delete_snapshot(
        &self,
        req: Request<DeleteSnapshotRequest>,
    ) -> R<DeleteSnapshotResponse> {
        let d = self.driver(&req)?;
        let r = req.get_ref();
        d.delete_snapshot(&lookup(r.domain.as_ref())?, &r.name, r.flags)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(DeleteSnapshotResponse {}))
    }
}
