//! The gRPC services of proto/virt/v1, as thin adapters over the [`Driver`] trait.
//!
//! Each call reads the `virt-uri` metadata to pick the driver (through a [`DriverRegistry`]),
//! converts the request into the driver's vocabulary, calls it, and converts the answer back.
//! Errors travel as [`crate::status`] builds them. Read-only enforcement happens by method in
//! [`crate::readonly`]'s layer; the few flag-dependent refusals (GetDomainXml with SECURE, GetInterfaceAddresses
//! from the AGENT source) are checked here.

mod connect;
mod console;
mod domain;
pub mod embedded;
mod events;
mod guest;
mod network;
mod snapshot;
mod stats;
mod storage;
#[cfg(test)]
pub(crate) mod test_support;

use std::sync::Arc;

use tonic::{Request, Status};

use crate::driver::Driver;
use crate::error::VirtError;
use crate::registry::{DriverRegistry, URI_METADATA};

pub use embedded::embedded_channel;

/// Shared state of every service: the registry and the daemon's name.
#[derive(Clone)]
pub(crate) struct Ctx {
    registry: Arc<dyn DriverRegistry>,
    daemon: Arc<str>,
}

impl Ctx {
    /// The driver for a request, by its `virt-uri` metadata.
    pub(crate) fn driver<T>(&self, req: &Request<T>) -> Result<Arc<dyn Driver>, Status> {
        let uri = req
            .metadata()
            .get(URI_METADATA)
            .map(|v| {
                v.to_str()
                    .map_err(|_| Status::invalid_argument("virt-uri metadata is not valid ASCII"))
            })
            .transpose()?;
        self.registry.driver_for(uri).map_err(|e| status(&e))
    }

    /// The network driver for a request, by its `virt-uri` metadata.
    pub(crate) fn network_driver<T>(
        &self,
        req: &Request<T>,
    ) -> Result<Arc<dyn crate::network::NetworkDriver>, Status> {
        let uri = req
            .metadata()
            .get(URI_METADATA)
            .map(|v| {
                v.to_str()
                    .map_err(|_| Status::invalid_argument("virt-uri metadata is not valid ASCII"))
            })
            .transpose()?;
        self.registry
            .network_driver_for(uri)
            .map_err(|e| status(&e))
    }
}

/// Whether the caller came in on a read-only listener.
pub(crate) fn is_read_only<T>(req: &Request<T>) -> bool {
    req.extensions()
        .get::<crate::readonly::ConnectionInfo>()
        .is_some_and(|c| c.read_only)
}

/// The gRPC status of a driver error.
pub(crate) fn status(err: &VirtError) -> Status {
    crate::status::to_status(err)
}

/// Every virt.v1 service over `registry`, for a daemon called `daemon` (e.g. `virt-proxy`).
pub fn routes(registry: Arc<dyn DriverRegistry>, daemon: &str) -> tonic::service::Routes {
    use crate::proto::{
        connect_service_server::ConnectServiceServer, console_service_server::ConsoleServiceServer,
        domain_service_server::DomainServiceServer, event_service_server::EventServiceServer,
        guest_service_server::GuestServiceServer, snapshot_service_server::SnapshotServiceServer,
        stats_service_server::StatsServiceServer,
    };
    let ctx = Ctx {
        registry,
        daemon: Arc::from(daemon),
    };
    tonic::service::Routes::new(ConnectServiceServer::new(ctx.clone()))
        .add_service(DomainServiceServer::new(ctx.clone()))
        .add_service(SnapshotServiceServer::new(ctx.clone()))
        .add_service(StatsServiceServer::new(ctx.clone()))
        .add_service(EventServiceServer::new(ctx.clone()))
        .add_service(GuestServiceServer::new(ctx.clone()))
        .add_service(ConsoleServiceServer::new(ctx.clone()))
        .add_service(crate::proto::network_service_server::NetworkServiceServer::new(ctx.clone()))
        .add_service(crate::proto::storage_service_server::StorageServiceServer::new(ctx))
}
