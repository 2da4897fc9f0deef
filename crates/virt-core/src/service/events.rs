//! EventService: the resumable event stream, filtered by domain and event kind on the server.

use std::pin::Pin;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use super::convert::{event_id, event_item, lookup};
use super::{status, Ctx};
use crate::events::EventItem;
use crate::proto::event_service_server::EventService;
use crate::proto::*;
use crate::types::DomainLookup;

type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEventsResponse, Status>> + Send>>;

/// Whether an event passes the request's domain and kind filters.
fn wanted(item: &EventItem, dom: Option<&crate::types::DomainHandle>, ids: &[i32]) -> bool {
    let EventItem::Event(e) = item else {
        return true;
    };
    if let Some(d) = dom {
        if d.uuid != e.domain.uuid {
            return false;
        }
    }
    ids.is_empty() || ids.contains(&(event_id(&e.payload) as i32))
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
        let dom = match r.domain.as_ref() {
            Some(x) if x.r#ref.is_some() => {
                let l: DomainLookup = lookup(Some(x))?;
                Some(d.lookup_domain(&l).await.map_err(|e| status(&e))?)
            }
            _ => None,
        };
        let mut sub = d
            .subscribe_events(r.from_sequence)
            .await
            .map_err(|e| status(&e))?;
        let ids = r.event_ids;
        let stream = async_stream(move |tx| async move {
            while let Some(item) = sub.next().await {
                if !wanted(&item, dom.as_ref(), &ids) {
                    continue;
                }
                if tx.send(Ok(event_item(&item))).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
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
