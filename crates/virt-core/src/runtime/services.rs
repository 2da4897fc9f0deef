//! The services the runtime adds to every daemon: gRPC health checking and server reflection.
//!
//! Health (`grpc.health.v1.Health`) answers SERVING for "" and for every `virt.v1` service of
//! the schema while the daemon runs, NOT_SERVING once shutdown starts. Reflection (v1 and
//! v1alpha) describes the `virt.v1` schema and the health service, so `grpcurl` and friends
//! work against a daemon socket without the .proto files. A daemon must not add these itself:
//! two services with one name in the same routes is a conflict.

use prost::Message;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// Fully-qualified names of the `virt.v1` services in the schema, e.g. `virt.v1.DomainService`.
pub fn virt_service_names() -> Vec<String> {
    let fds = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set compiled into the crate decodes");
    fds.file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .map(move |s| format!("{}.{}", f.package(), s.name()))
        })
        .collect()
}

/// Health statuses of the daemon, flipped together.
#[derive(Clone, Debug)]
pub struct Health {
    reporter: HealthReporter,
}

impl Health {
    /// Sets "" and every `virt.v1` service to `status`.
    pub async fn set_all(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for name in virt_service_names() {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// Adds health and reflection to `routes`; every service starts SERVING.
pub async fn add_runtime_services(routes: Routes) -> (Routes, Health) {
    let (reporter, health_server) = tonic_health::server::health_reporter();
    let health = Health { reporter };
    health.set_all(ServingStatus::Serving).await;
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled-in descriptor sets are valid");
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the compiled-in descriptor sets are valid");
    let routes = routes
        .add_service(health_server)
        .add_service(v1)
        .add_service(v1alpha);
    (routes, health)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_services_are_listed_with_their_package() {
        let names = virt_service_names();
        for want in ["virt.v1.ConnectService", "virt.v1.DomainService"] {
            assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
        }
    }
}
