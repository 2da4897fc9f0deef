//! virt-core: the vocabulary every crate of the project shares — errors with libvirt's
//! numbering, connection URIs, states and reasons, typed parameters, events, the domain model,
//! the `Driver` trait, the in-memory test driver, the code generated from proto/ and the daemon
//! runtime that serves any driver.

/// The libvirt API name each gRPC method follows.
pub mod api_names;
pub mod driver;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod guest;
pub mod honour;
pub mod jsontext;
pub mod kit;
pub mod model;
/// The daemon runtime: listeners, socket activation, sd_notify, read-only enforcement, shutdown.
pub mod runtime;
pub mod service;
pub mod state;
/// libvirt errors to gRPC statuses and back.
pub mod status;
pub mod test_driver;
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
