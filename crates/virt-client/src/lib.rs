//! virt-client: the Rust client library of the virt project. Open a [`Connection`] with a
//! libvirt-style URI (`test:///default`, `qemu:///system`, ...) and call the domain, host,
//! stats, event and console methods on it; the `virt` binary (a virsh look-alike) is built on it.
#![warn(missing_docs)]

/// Opening URIs, picking the transport, the gRPC channel and its `virt-uri` metadata.
pub mod connection;
/// The console byte stream.
pub mod console;
/// Domain lookup, listing, definition, lifecycle, info, XML and resources.
pub mod domain;
/// [`ClientError`], the error of every call.
pub mod error;
/// The domain event stream.
pub mod events;
/// Guest-side calls: interface addresses, file system freeze, guest time, guest info, the
/// guest agent.
pub mod guest;
/// The local connection's gRPC channel: HTTP/2 on a UNIX socket, driven with `h2` directly.
pub mod h2_channel;
/// Versions, hostname, URI, capabilities, node facts, security model.
pub mod host;
/// Remote transports: TLS, TCP and ssh.
pub mod remote;
/// virtnetworkd and virtstoraged as a hypervisor daemon reaches them: network ports and
/// volumes.
pub mod siblings;
/// Snapshot calls (SnapshotService).
pub mod snapshot;
/// Bulk domain statistics.
pub mod stats;
/// Tuning, vCPU and IOThread calls (blkio, NUMA, bandwidth, I/O throttle, perf, pinning).
pub mod tune;

/// The libvirt API level this client implements and reports as its library version
/// (major * 1,000,000 + minor * 1,000 + micro): 9.0.0.
pub const LIBRARY_VERSION: u64 = 9_000_000;

pub use connection::{Connection, Endpointed};
pub use console::{Console, ConsoleReader, ConsoleWriter};
pub use domain::domain_ref;
pub use error::ClientError;
pub use events::{EventItem, EventStream};
pub use virt_core::types::DomainLookup;
