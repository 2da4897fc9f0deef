//! virt-core: the vocabulary every crate of the project shares — errors with libvirt's
//! numbering, connection URIs, states and reasons, typed parameters, events, the domain model,
//! the `Driver` trait, the in-memory test driver, the code generated from proto/ and its
//! conversions; and, behind cargo features, the gRPC service adapters and the daemon runtime
//! that serves any driver.
//!
//! # Layers
//!
//! Modules form four layers; a module imports only from its own layer or the ones below it
//! (`crates/virt-core/tests/layering.rs` checks this on every test run):
//!
//! | layer | modules | feature |
//! |---|---|---|
//! | 0. vocabulary | [`error`], [`types`], [`state`], [`uuid`], [`guest`], [`model`], [`honour`], [`xml`], [`jsontext`], [`fsutil`], [`cgroup`], [`hostinfo`], [`procfs`], [`timefmt`], [`uri`], [`paths`], [`tls`] (PEM loading); the wire vocabulary: [`proto`], [`proto_conv`], [`api_names`], [`status`], [`readonly`], [`features`] | always |
//! | 1. drivers | [`events`], [`driver`], [`registry`], [`kit`], [`test_driver`] | always |
//! | 2. gRPC services | `service` (the adapters over `Driver`, `service::routes`, the in-process `service::embedded_channel`) | `embedded` |
//! | 3. daemon runtime | `runtime` (listeners, socket activation, sd_notify, TLS server, health, reflection, idle exit, `Daemon`) | `server` |
//!
//! Events and drivers speak proto through [`proto_conv`], never through the service adapters,
//! and the service adapters know nothing of listeners or sockets.
//!
//! # Cargo features
//!
//! Both are off by default, so a crate that only needs the vocabulary (virt-xml, a fuzz target)
//! builds none of the server stack.
//!
//! - **`embedded`**: the gRPC service adapters and an in-process channel to them
//!   (tonic's server and router over a memory pipe). virt-client enables it to serve
//!   `test:///default` with the test driver in the client's own process, as libvirt's client
//!   does, with no daemon. It adds no listener, health, reflection, sd_notify, config parsing or
//!   certificate parsing.
//! - **`server`** (implies `embedded`): the daemon runtime, with its dependencies tonic-health,
//!   tonic-reflection, sd-notify, tracing-subscriber, clap, x509-parser, tokio-rustls, the
//!   HPACK decoder, zbus, and hyper's HTTP/1.1 server for the `/metrics` endpoint. The driver daemons (virtqemud, virtxend, virtlxcd), virt-proxy and the
//!   workspace tests enable it; virt-client must not (`tools/check-client-deps.sh`, run by
//!   `tools/test-all.sh`, fails if it does).

/// The libvirt API name each gRPC method follows.
pub mod api_names;
pub mod busy_poll;
pub mod cgroup;
pub mod driver;
pub mod error;
pub mod events;
pub mod features;
pub mod fsutil;
pub mod guest;
pub mod honour;
pub mod hostinfo;
pub mod jsontext;
pub mod kit;
#[cfg(feature = "server")]
pub mod machined;
pub mod model;
pub mod network;
/// Host suspend for every driver that offers it (libvirt's virnodesuspend).
#[cfg(feature = "server")]
pub mod nodesuspend;
pub mod numbered;
pub mod paths;
pub mod procfs;
pub mod proto_conv;
pub mod readonly;
pub mod registry;
/// The daemon runtime: listeners, socket activation, sd_notify, TLS, health, shutdown.
#[cfg(feature = "server")]
pub mod runtime;
#[cfg(feature = "embedded")]
pub mod service;
pub mod state;
/// libvirt errors to gRPC statuses and back.
pub mod status;
pub mod storage;
pub mod test_driver;
pub mod timefmt;
pub mod tls;
pub mod types;
/// Connection URIs: grammar, transports, default-URI and alias resolution.
pub mod uri;
pub mod uuid;
pub mod xml;

pub mod proto {
    //! Code generated from proto/ (package `virt.v1`).
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("virt.v1");
    /// Encoded `FileDescriptorSet` of proto/, for reflection and the read-only allowlist test.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("virt_v1_descriptor");
}

pub use driver::{Driver, DriverResult};
pub use error::{ErrorCode, ErrorDomain, VirtError};
