//! The event stream of [`Connection`] (EventService): subscribe, optionally resuming from a
//! sequence number, and read events one by one.

use virt_core::proto;
use virt_core::types::DomainLookup;

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

/// A live event subscription.
pub struct EventStream {
    inner: tonic::Streaming<proto::StreamEventsResponse>,
}

/// One item of an [`EventStream`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem {
    /// An event.
    Event(Box<proto::DomainEvent>),
    /// Events `first..=last` were lost before the next one.
    Gap {
        /// First missing sequence number.
        first: u64,
        /// Last missing sequence number.
        last: u64,
    },
}

impl EventStream {
    /// The next item; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<EventItem>, ClientError> {
        use proto::stream_events_response::Item;
        loop {
            let Some(msg) = self.inner.message().await? else {
                return Ok(None);
            };
            match msg.item {
                Some(Item::Event(ev)) => return Ok(Some(EventItem::Event(Box::new(ev)))),
                Some(Item::Gap(g)) => {
                    return Ok(Some(EventItem::Gap {
                        first: g.first_missing,
                        last: g.last_missing,
                    }))
                }
                // An item kind newer than this client: skip it.
                None => continue,
            }
        }
    }
}

impl Connection {
    /// Subscribes to domain events: of `domain` only when given, of the `event_ids` kinds only
    /// when not empty; with `from_sequence`, retained events numbered at or above it come first.
    /// libvirt: virConnectDomainEventRegisterAny.
    pub async fn stream_events(
        &self,
        from_sequence: Option<u64>,
        domain: Option<&DomainLookup>,
        event_ids: &[proto::DomainEventId],
    ) -> Result<EventStream, ClientError> {
        let req = proto::StreamEventsRequest {
            from_sequence,
            domain: domain.map(domain_ref),
            event_ids: event_ids.iter().map(|id| *id as i32).collect(),
        };
        let inner = self.event_client().stream_events(req).await?.into_inner();
        Ok(EventStream { inner })
    }

    /// The sequence number the daemon's next event will get: pass it as `from_sequence` later
    /// to receive every event from now on, however late the stream starts.
    pub async fn get_event_sequence(&self) -> Result<u64, ClientError> {
        Ok(self
            .event_client()
            .get_event_sequence(proto::GetEventSequenceRequest {})
            .await?
            .into_inner()
            .next_sequence)
    }
}
