//! StorageService: pools, volumes, upload and download streams, pool events, over the
//! [`StorageDriver`] the registry picks per call (`storage_driver_for`).

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::events::async_stream;
use super::{is_read_only, status, Ctx};
use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::proto::storage_service_server::StorageService;
use crate::proto::*;
use crate::registry::URI_METADATA;
use crate::storage::{
    PoolEventType, PoolHandle, PoolRef, StorageDriver, VolHandle, VolInfo, VolRef,
};
use crate::uuid::Uuid;

type R<T> = Result<Response<T>, Status>;
type S<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Ctx {
    fn storage<T>(&self, req: &Request<T>) -> Result<Arc<dyn StorageDriver>, Status> {
        let uri = req
            .metadata()
            .get(URI_METADATA)
            .map(|v| {
                v.to_str()
                    .map_err(|_| Status::invalid_argument("virt-uri metadata is not valid ASCII"))
            })
            .transpose()?;
        self.registry
            .storage_driver_for(uri)
            .map_err(|e| status(&e))
    }
}

fn bad_ref(what: &str) -> Status {
    status(&VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::Storage,
        format!("{what} reference is missing or malformed"),
    ))
}

fn pool_ref(r: Option<&StoragePoolRef>) -> Result<PoolRef, Status> {
    match r.and_then(|r| r.r#ref.as_ref()) {
        Some(storage_pool_ref::Ref::Name(n)) if !n.is_empty() => Ok(PoolRef::Name(n.clone())),
        Some(storage_pool_ref::Ref::Uuid(u)) => Uuid::parse(u)
            .map(PoolRef::Uuid)
            .ok_or_else(|| bad_ref("pool")),
        _ => Err(bad_ref("pool")),
    }
}

fn vol_ref(r: Option<&StorageVolumeRef>) -> Result<VolRef, Status> {
    match r.and_then(|r| r.r#ref.as_ref()) {
        Some(storage_volume_ref::Ref::Name(n)) => Ok(VolRef::Name {
            pool: pool_ref(n.pool.as_ref())?,
            name: n.name.clone(),
        }),
        Some(storage_volume_ref::Ref::Key(k)) => Ok(VolRef::Key(k.clone())),
        Some(storage_volume_ref::Ref::Path(p)) => Ok(VolRef::Path(p.clone())),
        None => Err(bad_ref("volume")),
    }
}

fn pool(h: &PoolHandle) -> StoragePool {
    StoragePool {
        name: h.name.clone(),
        uuid: h.uuid.to_string(),
    }
}

fn vol(h: &VolHandle) -> StorageVolume {
    StorageVolume {
        pool: h.pool.clone(),
        name: h.name.clone(),
        key: h.key.clone(),
    }
}

fn vol_info(i: &VolInfo) -> StorageVolumeInfo {
    StorageVolumeInfo {
        volume: Some(vol(&i.volume)),
        r#type: i.vol_type,
        capacity: i.capacity,
        allocation: i.allocation,
        path: i.path.clone(),
        format: i.format.clone(),
    }
}

fn event_type(t: PoolEventType) -> StoragePoolEventType {
    match t {
        PoolEventType::Defined => StoragePoolEventType::Defined,
        PoolEventType::Undefined => StoragePoolEventType::Undefined,
        PoolEventType::Started => StoragePoolEventType::Started,
        PoolEventType::Stopped => StoragePoolEventType::Stopped,
        PoolEventType::Created => StoragePoolEventType::Created,
        PoolEventType::Deleted => StoragePoolEventType::Deleted,
    }
}

fn st(e: VirtError) -> Status {
    status(&e)
}

#[tonic::async_trait]
impl StorageService for Ctx {
    async fn lookup_storage_pool(
        &self,
        req: Request<LookupStoragePoolRequest>,
    ) -> R<LookupStoragePoolResponse> {
        let d = self.storage(&req)?;
        let h = match &req.get_ref().by {
            Some(lookup_storage_pool_request::By::Pool(p)) => {
                d.lookup_storage_pool(&pool_ref(Some(p))?).await
            }
            Some(lookup_storage_pool_request::By::Volume(v)) => {
                d.lookup_storage_pool_by_volume(&vol_ref(Some(v))?).await
            }
            None => return Err(bad_ref("pool")),
        }
        .map_err(st)?;
        Ok(Response::new(LookupStoragePoolResponse {
            pool: Some(pool(&h)),
        }))
    }

    async fn list_all_storage_pools(
        &self,
        req: Request<ListAllStoragePoolsRequest>,
    ) -> R<ListAllStoragePoolsResponse> {
        let d = self.storage(&req)?;
        let list = d
            .list_all_storage_pools(req.get_ref().flags)
            .await
            .map_err(st)?;
        Ok(Response::new(ListAllStoragePoolsResponse {
            pools: list
                .iter()
                .map(|s| StoragePoolSummary {
                    pool: Some(pool(&s.pool)),
                    active: s.active,
                    persistent: s.persistent,
                    autostart: s.autostart,
                    r#type: s.pool_type.clone(),
                })
                .collect(),
        }))
    }

    async fn define_storage_pool(
        &self,
        req: Request<DefineStoragePoolRequest>,
    ) -> R<DefineStoragePoolResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let h = d.define_storage_pool(&r.xml, r.flags).await.map_err(st)?;
        Ok(Response::new(DefineStoragePoolResponse {
            pool: Some(pool(&h)),
        }))
    }

    async fn create_storage_pool_xml(
        &self,
        req: Request<CreateStoragePoolXmlRequest>,
    ) -> R<CreateStoragePoolXmlResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let h = d
            .create_storage_pool_xml(&r.xml, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(CreateStoragePoolXmlResponse {
            pool: Some(pool(&h)),
        }))
    }

    async fn build_storage_pool(
        &self,
        req: Request<BuildStoragePoolRequest>,
    ) -> R<BuildStoragePoolResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.build_storage_pool(&pool_ref(r.pool.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(BuildStoragePoolResponse {}))
    }

    async fn start_storage_pool(
        &self,
        req: Request<StartStoragePoolRequest>,
    ) -> R<StartStoragePoolResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.start_storage_pool(&pool_ref(r.pool.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(StartStoragePoolResponse {}))
    }

    async fn refresh_storage_pool(
        &self,
        req: Request<RefreshStoragePoolRequest>,
    ) -> R<RefreshStoragePoolResponse> {
        let d = self.storage(&req)?;
        d.refresh_storage_pool(&pool_ref(req.get_ref().pool.as_ref())?)
            .await
            .map_err(st)?;
        Ok(Response::new(RefreshStoragePoolResponse {}))
    }

    async fn destroy_storage_pool(
        &self,
        req: Request<DestroyStoragePoolRequest>,
    ) -> R<DestroyStoragePoolResponse> {
        let d = self.storage(&req)?;
        d.destroy_storage_pool(&pool_ref(req.get_ref().pool.as_ref())?)
            .await
            .map_err(st)?;
        Ok(Response::new(DestroyStoragePoolResponse {}))
    }

    async fn delete_storage_pool(
        &self,
        req: Request<DeleteStoragePoolRequest>,
    ) -> R<DeleteStoragePoolResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.delete_storage_pool(&pool_ref(r.pool.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(DeleteStoragePoolResponse {}))
    }

    async fn undefine_storage_pool(
        &self,
        req: Request<UndefineStoragePoolRequest>,
    ) -> R<UndefineStoragePoolResponse> {
        let d = self.storage(&req)?;
        d.undefine_storage_pool(&pool_ref(req.get_ref().pool.as_ref())?)
            .await
            .map_err(st)?;
        Ok(Response::new(UndefineStoragePoolResponse {}))
    }

    async fn get_storage_pool_info(
        &self,
        req: Request<GetStoragePoolInfoRequest>,
    ) -> R<GetStoragePoolInfoResponse> {
        let d = self.storage(&req)?;
        let i = d
            .get_storage_pool_info(&pool_ref(req.get_ref().pool.as_ref())?)
            .await
            .map_err(st)?;
        Ok(Response::new(GetStoragePoolInfoResponse {
            pool: Some(pool(&i.summary.pool)),
            state: i.state,
            capacity: i.capacity,
            allocation: i.allocation,
            available: i.available,
            persistent: i.summary.persistent,
            autostart: i.summary.autostart,
            r#type: i.summary.pool_type,
        }))
    }

    async fn get_storage_pool_xml(
        &self,
        req: Request<GetStoragePoolXmlRequest>,
    ) -> R<GetStoragePoolXmlResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let xml = d
            .get_storage_pool_xml(&pool_ref(r.pool.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(GetStoragePoolXmlResponse { xml }))
    }

    async fn set_storage_pool_autostart(
        &self,
        req: Request<SetStoragePoolAutostartRequest>,
    ) -> R<SetStoragePoolAutostartResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.set_storage_pool_autostart(&pool_ref(r.pool.as_ref())?, r.autostart)
            .await
            .map_err(st)?;
        Ok(Response::new(SetStoragePoolAutostartResponse {}))
    }

    async fn list_storage_volumes(
        &self,
        req: Request<ListStorageVolumesRequest>,
    ) -> R<ListStorageVolumesResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let list = d
            .list_storage_volumes(&pool_ref(r.pool.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(ListStorageVolumesResponse {
            volumes: list.iter().map(vol_info).collect(),
        }))
    }

    async fn lookup_storage_volume(
        &self,
        req: Request<LookupStorageVolumeRequest>,
    ) -> R<LookupStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let h = d
            .lookup_storage_volume(&vol_ref(req.get_ref().volume.as_ref())?)
            .await
            .map_err(st)?;
        Ok(Response::new(LookupStorageVolumeResponse {
            volume: Some(vol(&h)),
        }))
    }

    async fn create_storage_volume(
        &self,
        req: Request<CreateStorageVolumeRequest>,
    ) -> R<CreateStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let h = d
            .create_storage_volume(&pool_ref(r.pool.as_ref())?, &r.xml, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(CreateStorageVolumeResponse {
            volume: Some(vol(&h)),
        }))
    }

    async fn clone_storage_volume(
        &self,
        req: Request<CloneStorageVolumeRequest>,
    ) -> R<CloneStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let h = d
            .clone_storage_volume(
                &pool_ref(r.pool.as_ref())?,
                &r.xml,
                &vol_ref(r.source.as_ref())?,
                r.flags,
            )
            .await
            .map_err(st)?;
        Ok(Response::new(CloneStorageVolumeResponse {
            volume: Some(vol(&h)),
        }))
    }

    async fn delete_storage_volume(
        &self,
        req: Request<DeleteStorageVolumeRequest>,
    ) -> R<DeleteStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.delete_storage_volume(&vol_ref(r.volume.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(DeleteStorageVolumeResponse {}))
    }

    async fn resize_storage_volume(
        &self,
        req: Request<ResizeStorageVolumeRequest>,
    ) -> R<ResizeStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.resize_storage_volume(&vol_ref(r.volume.as_ref())?, r.capacity, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(ResizeStorageVolumeResponse {}))
    }

    async fn wipe_storage_volume(
        &self,
        req: Request<WipeStorageVolumeRequest>,
    ) -> R<WipeStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        d.wipe_storage_volume(&vol_ref(r.volume.as_ref())?, r.algorithm, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(WipeStorageVolumeResponse {}))
    }

    async fn get_storage_volume_info(
        &self,
        req: Request<GetStorageVolumeInfoRequest>,
    ) -> R<GetStorageVolumeInfoResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let i = d
            .get_storage_volume_info(&vol_ref(r.volume.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(GetStorageVolumeInfoResponse {
            info: Some(vol_info(&i)),
        }))
    }

    async fn get_storage_volume_xml(
        &self,
        req: Request<GetStorageVolumeXmlRequest>,
    ) -> R<GetStorageVolumeXmlResponse> {
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let xml = d
            .get_storage_volume_xml(&vol_ref(r.volume.as_ref())?, r.flags)
            .await
            .map_err(st)?;
        Ok(Response::new(GetStorageVolumeXmlResponse { xml }))
    }

    async fn upload_storage_volume(
        &self,
        req: Request<Streaming<UploadStorageVolumeRequest>>,
    ) -> R<UploadStorageVolumeResponse> {
        let d = self.storage(&req)?;
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("upload stream ended before its start"))?;
        let Some(upload_storage_volume_request::Part::Start(start)) = first.part else {
            return Err(Status::invalid_argument(
                "the first upload message must carry `start`",
            ));
        };
        let vref = vol_ref(start.volume.as_ref())?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Some(m) = stream.next().await {
                let item = match m {
                    Ok(UploadStorageVolumeRequest {
                        part: Some(upload_storage_volume_request::Part::Data(b)),
                    }) => Ok(b),
                    Ok(_) => Err(VirtError::new(
                        ErrorCode::InvalidArg,
                        ErrorDomain::Storage,
                        "upload messages after the first must carry `data`",
                    )),
                    Err(e) => Err(VirtError::new(
                        ErrorCode::InternalError,
                        ErrorDomain::Storage,
                        format!("upload stream failed: {}", e.message()),
                    )),
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        });
        let written = d
            .upload_storage_volume(&vref, start.offset, start.length, start.flags, rx)
            .await
            .map_err(st)?;
        Ok(Response::new(UploadStorageVolumeResponse { written }))
    }

    type DownloadStorageVolumeStream = S<DownloadStorageVolumeResponse>;

    async fn download_storage_volume(
        &self,
        req: Request<DownloadStorageVolumeRequest>,
    ) -> R<Self::DownloadStorageVolumeStream> {
        if is_read_only(&req) {
            return Err(status(&VirtError::read_only("virStorageVolDownload")));
        }
        let d = self.storage(&req)?;
        let r = req.get_ref();
        let (total, mut rx) = d
            .download_storage_volume(&vol_ref(r.volume.as_ref())?, r.offset, r.length, r.flags)
            .await
            .map_err(st)?;
        let stream = async_stream(move |tx| async move {
            let mut first = true;
            loop {
                let item = rx.recv().await;
                let msg = match item {
                    None if first => Ok(DownloadStorageVolumeResponse {
                        data: Vec::new(),
                        total,
                    }),
                    None => break,
                    Some(Ok(data)) => Ok(DownloadStorageVolumeResponse {
                        data,
                        total: if first { total } else { 0 },
                    }),
                    Some(Err(e)) => Err(status(&e)),
                };
                let end = msg.is_err() || (first && msg.as_ref().is_ok_and(|m| m.data.is_empty()));
                first = false;
                if tx.send(msg).await.is_err() || end {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
    }

    type StreamStoragePoolEventsStream = S<StreamStoragePoolEventsResponse>;

    async fn stream_storage_pool_events(
        &self,
        req: Request<StreamStoragePoolEventsRequest>,
    ) -> R<Self::StreamStoragePoolEventsStream> {
        let d = self.storage(&req)?;
        let r = req.into_inner();
        let filter = match r.pool.as_ref().filter(|p| p.r#ref.is_some()) {
            Some(p) => Some(pool_ref(Some(p))?),
            None => None,
        };
        let mut sub = d
            .subscribe_storage_pool_events(r.from_sequence)
            .await
            .map_err(st)?;
        let stream = async_stream(move |tx| async move {
            while let Some(e) = sub.next().await {
                let wanted = match &filter {
                    None => true,
                    Some(PoolRef::Name(n)) => e.subject.name == *n,
                    Some(PoolRef::Uuid(u)) => e.subject.uuid == *u,
                };
                if !wanted {
                    continue;
                }
                let msg = StreamStoragePoolEventsResponse {
                    sequence: e.sequence,
                    pool: Some(pool(&e.subject)),
                    r#type: event_type(e.kind) as i32,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
    }
}
