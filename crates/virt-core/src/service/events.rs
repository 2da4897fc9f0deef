//! EventService: the resumable event stream, filtered by domain and event kind on the server.

use std::pin::Pin;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use super::{status, Ctx};
use crate::driver::Driver;
use crate::error::ErrorCode;
use crate::events::wire::event_item;
use crate::events::EventItem;
use crate::proto::event_service_server::EventService;
use crate::proto::*;
use crate::proto_conv::{event_id, lookup};
use crate::types::DomainLookup;
use crate::uuid::Uuid;

type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEventsResponse, Status>> + Send>>;

/// Which domain's events a stream wants (StreamEventsRequest.domain, as event.proto says).
#[derive(Debug, Clone, PartialEq)]
enum DomainFilter {
    /// Every domain.
    All,
    /// The domain with this UUID, whether or not it exists yet.
    Uuid(Uuid),
    /// The domain with this name, whether or not it exists yet.
    Name(String),
}

impl DomainFilter {
    fn matches(&self, dom: &crate::types::DomainHandle) -> bool {
        match self {
            DomainFilter::All => true,
            DomainFilter::Uuid(u) => dom.uuid == *u,
            DomainFilter::Name(n) => dom.name == *n,
        }
    }
}

/// The filter for a request's domain reference. A name or UUID that names no domain yet is not
/// NOT_FOUND (libvirt's remote registration takes a domain's identity without looking it up
/// either); an ID must name a running domain.
async fn domain_filter(d: &dyn Driver, r: Option<&DomainRef>) -> Result<DomainFilter, Status> {
    let Some(r) = r.filter(|r| r.r#ref.is_some()) else {
        return Ok(DomainFilter::All);
    };
    match lookup(Some(r))? {
        DomainLookup::Name(n) => Ok(DomainFilter::Name(n)),
        DomainLookup::Uuid(u) => Ok(DomainFilter::Uuid(u)),
        l @ DomainLookup::Id(_) => d
            .lookup_domain(&l)
            .await
            .map(|h| DomainFilter::Uuid(h.uuid))
            .map_err(|e| status(&e)),
        DomainLookup::Any(s) => match d.lookup_domain(&DomainLookup::Any(s.clone())).await {
            Ok(h) => Ok(DomainFilter::Uuid(h.uuid)),
            Err(e) if e.code == ErrorCode::NoDomain => Ok(match Uuid::parse(&s) {
                Some(u) => DomainFilter::Uuid(u),
                None => DomainFilter::Name(s),
            }),
            Err(e) => Err(status(&e)),
        },
    }
}

/// Whether an event passes the request's domain and kind filters.
fn wanted(item: &EventItem, dom: &DomainFilter, ids: &[i32]) -> bool {
    let EventItem::Event(e) = item else {
        return true;
    };
    dom.matches(&e.domain) && (ids.is_empty() || ids.contains(&(event_id(&e.payload) as i32)))
}

#[tonic::async_trait]
impl EventService for Ctx {
    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        req: Request<StreamEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let d = self.driver(&req)?;
        let r = req.into_inner();
        let dom = domain_filter(d.as_ref(), r.domain.as_ref()).await?;
        let mut sub = d
            .subscribe_events(r.from_sequence)
            .await
            .map_err(|e| status(&e))?;
        let ids = r.event_ids;
        let stream = async_stream(move |tx| async move {
            while let Some(item) = sub.next().await {
                if !wanted(&item, &dom, &ids) {
                    continue;
                }
                if tx.send(Ok(event_item(&item))).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn get_event_sequence(
        &self,
        req: Request<GetEventSequenceRequest>,
    ) -> Result<Response<GetEventSequenceResponse>, Status> {
        let d = self.driver(&req)?;
        let next_sequence = d.get_event_sequence().await.map_err(|e| status(&e))?;
        Ok(Response::new(GetEventSequenceResponse { next_sequence }))
    }
}

/// A stream fed by a task through a small channel; the task ends when the client goes away.
pub(crate) fn async_stream<T, F, Fut>(f: F) -> Pin<Box<dyn Stream<Item = T> + Send>>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
