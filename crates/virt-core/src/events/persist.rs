//! The on-disk form of a persistent event bus: its ring of recent events and the next sequence
//! number, in one file written atomically ([`crate::fsutil::write_atomic`]).
//!
//! Layout: the magic `VIRTEVT1`, the next sequence number (u64, little endian), then each
//! retained event as a length-delimited `virt.v1.DomainEvent` (the message clients receive),
//! oldest first. The header comes first so that a damaged body still yields the numbering
//! ([`salvage`]).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;

use super::wire;
use super::DomainEvent;
use crate::proto;

/// Magic bytes opening the file (format version 1).
pub const MAGIC: &[u8; 8] = b"VIRTEVT1";

/// Errors reading or writing an event store, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    /// The file could not be read, written or its directory created.
    #[error("event store {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an event store or is damaged.
    #[error("event store {}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// What a store holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    /// The number the next event gets (1 for a new store).
    pub next: u64,
    /// Retained events, oldest first.
    pub events: Vec<DomainEvent>,
}

/// Reads the store at `path`; a missing file is an empty store with `next` 1.
pub fn load(path: &Path) -> Result<Loaded, EventStoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                next: 1,
                events: Vec::new(),
            })
        }
        Err(source) => {
            return Err(EventStoreError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let bad = |what: String| EventStoreError::Format {
        path: path.to_path_buf(),
        what,
    };
    let next = header(&bytes).ok_or_else(|| bad("no valid header".into()))?;
    let mut body = &bytes[16..];
    let mut events = Vec::new();
    let mut last = 0;
    while !body.is_empty() {
        let msg = proto::DomainEvent::decode_length_delimited(&mut body)
            .map_err(|e| bad(format!("event after sequence {last}: {e}")))?;
        let ev = wire::event_from(msg)
            .ok_or_else(|| bad(format!("event after {last} has no payload")))?;
        if ev.sequence <= last || ev.sequence >= next {
            return Err(bad(format!(
                "sequence {} out of order (previous {last}, next {next})",
                ev.sequence
            )));
        }
        last = ev.sequence;
        events.push(ev);
    }
    Ok(Loaded { next, events })
}

/// What can be kept of a store [`load`] refused: the next number when the header is intact
/// (the ring is dropped), else a fresh start.
pub fn salvage(path: &Path) -> Loaded {
    let next = std::fs::read(path)
        .ok()
        .and_then(|b| header(&b))
        .unwrap_or(1);
    Loaded {
        next,
        events: Vec::new(),
    }
}

/// Writes `next` and `ring` to `path` atomically (mode 0600), creating its directory.
pub fn save(
    path: &Path,
    next: u64,
    ring: &VecDeque<Arc<DomainEvent>>,
) -> Result<(), EventStoreError> {
    let io = |source| EventStoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut buf = Vec::with_capacity(16 + ring.len() * 96);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&next.to_le_bytes());
    for ev in ring {
        wire::event(ev)
            .encode_length_delimited(&mut buf)
            .expect("a Vec grows as needed");
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::fsutil::write_atomic(path, &buf, 0o600).map_err(io)
}

/// The next sequence number of a file with a valid header.
fn header(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return None;
    }
    let next = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    (next >= 1).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::super::{EventBus, EventItem};
    use super::*;
    use crate::proto::domain_event::Payload;
    use crate::proto::RebootEvent;
    use crate::types::DomainHandle;
    use crate::uuid::Uuid;

    fn dom(name: &str) -> DomainHandle {
        DomainHandle {
            name: name.into(),
            uuid: Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").expect("uuid"),
            id: None,
        }
    }

    fn lifecycle() -> Payload {
        // As drivers emit it: with the typed detail, which reading back keeps.
        super::super::lifecycle::payload(super::super::lifecycle::DEFINED, 1)
    }

    async fn event(sub: &mut super::super::EventSubscription) -> Arc<DomainEvent> {
        match sub.next().await {
            Some(EventItem::Event(e)) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn numbering_and_ring_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("run/qemu/events");
        {
            let bus = EventBus::persistent(8, &store);
            for n in ["a", "b", "c"] {
                bus.emit(dom(n), lifecycle());
            }
            // Dropped without any shutdown step, as a killed daemon would be.
        }
        let bus = EventBus::persistent(8, &store);
        assert_eq!(bus.next_sequence(), 4);
        assert_eq!(bus.emit(dom("d"), Payload::Reboot(RebootEvent {})), 4);
        let mut sub = bus.subscribe(Some(2));
        let b = event(&mut sub).await;
        assert_eq!((b.sequence, b.domain.name.as_str()), (2, "b"));
        assert_eq!(b.domain.uuid, dom("b").uuid);
        assert_eq!(b.payload, lifecycle());
        assert_eq!(event(&mut sub).await.sequence, 3);
        let d = event(&mut sub).await;
        assert_eq!(
            (d.sequence, d.payload.clone()),
            (4, Payload::Reboot(RebootEvent {}))
        );
        bus.emit(dom("e"), lifecycle());
        assert_eq!(event(&mut sub).await.sequence, 5);
    }

    #[tokio::test]
    async fn events_older_than_the_reloaded_ring_are_an_explicit_gap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("events");
        {
            let bus = EventBus::persistent(4, &store);
            for _ in 0..10 {
                bus.emit(dom("a"), lifecycle());
            }
        }
        let loaded = load(&store).expect("load");
        assert_eq!(loaded.next, 11);
        let seqs: Vec<u64> = loaded.events.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, [7, 8, 9, 10], "the file is bounded by the ring");
        let bus = EventBus::persistent(4, &store);
        let mut sub = bus.subscribe(Some(2));
        assert_eq!(sub.next().await, Some(EventItem::Gap { first: 2, last: 6 }));
        assert_eq!(event(&mut sub).await.sequence, 7);
    }

    #[tokio::test]
    async fn a_damaged_body_keeps_the_numbering_and_reports_the_lost_ring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("events");
        {
            let bus = EventBus::persistent(8, &store);
            for _ in 0..3 {
                bus.emit(dom("a"), lifecycle());
            }
        }
        let mut bytes = std::fs::read(&store).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&store, &bytes).expect("damage");
        assert!(matches!(load(&store), Err(EventStoreError::Format { .. })));
        let bus = EventBus::persistent(8, &store);
        assert_eq!(bus.next_sequence(), 4, "no number is used twice");
        let mut sub = bus.subscribe(Some(3));
        assert_eq!(sub.next().await, Some(EventItem::Gap { first: 3, last: 3 }));
    }

    #[tokio::test]
    async fn resuming_beyond_a_lost_store_is_refused_not_silent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("events");
        {
            let bus = EventBus::persistent(8, &store);
            for _ in 0..5 {
                bus.emit(dom("a"), lifecycle());
            }
        }
        let bus = EventBus::persistent(8, &store);
        let domain = crate::error::ErrorDomain::Qemu;
        assert!(
            bus.subscribe_checked(Some(6), domain).is_ok(),
            "resume at next"
        );
        std::fs::remove_file(&store).expect("lose the store, as a reboot loses /run");
        let bus = EventBus::persistent(8, &store);
        let err = bus
            .subscribe_checked(Some(6), domain)
            .err()
            .expect("numbers never issued");
        assert_eq!(err.code, crate::error::ErrorCode::InvalidArg);
        assert!(err.detail.contains("never issued"), "{}", err.detail);
        let mut sub = bus.subscribe_checked(None, domain).expect("fresh");
        bus.emit(dom("a"), lifecycle());
        assert_eq!(event(&mut sub).await.sequence, 1);
    }

    #[test]
    fn a_file_that_is_not_a_store_starts_numbering_again_without_panicking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("events");
        std::fs::write(&store, b"<domain/>").expect("write");
        let bus = EventBus::persistent(8, &store);
        assert_eq!(bus.next_sequence(), 1);
        assert_eq!(bus.emit(dom("a"), lifecycle()), 1);
        assert_eq!(load(&store).expect("rewritten").next, 2);
    }

    #[test]
    fn the_store_is_one_private_file_with_no_temporary_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("events");
        let bus = EventBus::persistent(8, &store);
        bus.emit(dom("a"), lifecycle());
        bus.emit(dom("a"), lifecycle());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["events"]);
        let mode = std::fs::metadata(&store)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let bytes = std::fs::read(&store).expect("read");
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(
            u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            3
        );
    }
}
