//! The proto form of events, both ways: a [`DomainEvent`] as the `virt.v1.DomainEvent` clients
//! receive (and the event store keeps on disk), a subscription's [`EventItem`] as a stream
//! message. Built on [`crate::proto_conv`], in the layer below, so that events never depend on
//! the gRPC service adapters.

use std::time::{Duration, UNIX_EPOCH};

use super::{DomainEvent, EventItem};
use crate::proto;
use crate::proto_conv::{domain, handle};

/// An event as proto.
pub fn event(e: &DomainEvent) -> proto::DomainEvent {
    let since = e.time.duration_since(UNIX_EPOCH).unwrap_or_default();
    proto::DomainEvent {
        sequence: e.sequence,
        time: Some(prost_types::Timestamp {
            seconds: since.as_secs() as i64,
            nanos: since.subsec_nanos() as i32,
        }),
        domain: Some(domain(&e.domain)),
        payload: Some(e.payload.clone()),
    }
}

/// A proto event back; `None` when it carries no payload. A missing or negative time reads as
/// the epoch; the lifecycle detail is re-derived from the typed fields
/// ([`super::lifecycle::with_typed_detail`]).
pub fn event_from(msg: proto::DomainEvent) -> Option<DomainEvent> {
    let time = msg.time.map_or(UNIX_EPOCH, |t| {
        UNIX_EPOCH
            + Duration::from_secs(u64::try_from(t.seconds).unwrap_or(0))
            + Duration::from_nanos(u64::try_from(t.nanos).unwrap_or(0))
    });
    Some(DomainEvent {
        sequence: msg.sequence,
        time,
        domain: handle(&msg.domain.unwrap_or_default()),
        payload: super::lifecycle::with_typed_detail(msg.payload?),
    })
}

/// A subscription item as a stream message.
pub fn event_item(item: &EventItem) -> proto::StreamEventsResponse {
    use proto::stream_events_response::Item;
    proto::StreamEventsResponse {
        item: Some(match item {
            EventItem::Event(e) => Item::Event(event(e)),
            EventItem::Gap { first, last } => Item::Gap(proto::EventGap {
                first_missing: *first,
                last_missing: *last,
            }),
        }),
    }
}
