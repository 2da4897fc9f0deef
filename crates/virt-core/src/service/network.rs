//! NetworkService: networks, their ports, DHCP leases and lifecycle events, over the
//! [`crate::network::NetworkDriver`] the registry picks for the call's URI.

use std::pin::Pin;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use super::events::async_stream;
use super::{status, Ctx};
use crate::network::{NetworkHandle, NetworkLookup, NetworkStatus};
use crate::proto::network_service_server::NetworkService;
use crate::proto::*;
use crate::uuid::Uuid;

type R<T> = Result<Response<T>, Status>;
type EventStream = Pin<Box<dyn Stream<Item = Result<StreamNetworkEventsResponse, Status>> + Send>>;

/// The lookup a NetworkRef names: INVALID_ARGUMENT when it names nothing or a malformed UUID.
fn lookup(r: Option<&NetworkRef>) -> Result<NetworkLookup, Status> {
    match r.and_then(|r| r.r#ref.as_ref()) {
        Some(network_ref::Ref::Name(n)) if !n.is_empty() => Ok(NetworkLookup::Name(n.clone())),
        Some(network_ref::Ref::Uuid(u)) => Uuid::parse(u)
            .map(NetworkLookup::Uuid)
            .ok_or_else(|| Status::invalid_argument(format!("invalid network UUID '{u}'"))),
        _ => Err(Status::invalid_argument(
            "a network name or UUID is required",
        )),
    }
}

fn network(h: &NetworkHandle) -> Network {
    Network {
        name: h.name.clone(),
        uuid: h.uuid.to_string(),
    }
}

fn summary(s: &NetworkStatus) -> NetworkSummary {
    NetworkSummary {
        network: Some(network(&s.handle)),
        active: s.active,
        persistent: s.persistent,
        autostart: s.autostart,
    }
}

macro_rules! call {
    ($e:expr) => {
        $e.await.map_err(|e| status(&e))?
    };
}

#[tonic::async_trait]
impl NetworkService for Ctx {
    type StreamNetworkEventsStream = EventStream;

    async fn lookup_network(&self, req: Request<LookupNetworkRequest>) -> R<LookupNetworkResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        let h = call!(d.lookup_network(&l));
        Ok(Response::new(LookupNetworkResponse {
            network: Some(network(&h)),
        }))
    }

    async fn list_all_networks(
        &self,
        req: Request<ListAllNetworksRequest>,
    ) -> R<ListAllNetworksResponse> {
        let d = self.network_driver(&req)?;
        let list = call!(d.list_all_networks(req.get_ref().flags));
        Ok(Response::new(ListAllNetworksResponse {
            networks: list.iter().map(summary).collect(),
        }))
    }

    async fn define_network(&self, req: Request<DefineNetworkRequest>) -> R<DefineNetworkResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let h = call!(d.define_network(&r.xml, r.flags));
        Ok(Response::new(DefineNetworkResponse {
            network: Some(network(&h)),
        }))
    }

    async fn create_network_xml(
        &self,
        req: Request<CreateNetworkXmlRequest>,
    ) -> R<CreateNetworkXmlResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let h = call!(d.create_network_xml(&r.xml, r.flags));
        Ok(Response::new(CreateNetworkXmlResponse {
            network: Some(network(&h)),
        }))
    }

    async fn undefine_network(
        &self,
        req: Request<UndefineNetworkRequest>,
    ) -> R<UndefineNetworkResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        call!(d.undefine_network(&l));
        Ok(Response::new(UndefineNetworkResponse {}))
    }

    async fn start_network(&self, req: Request<StartNetworkRequest>) -> R<StartNetworkResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        call!(d.start_network(&l));
        Ok(Response::new(StartNetworkResponse {}))
    }

    async fn destroy_network(
        &self,
        req: Request<DestroyNetworkRequest>,
    ) -> R<DestroyNetworkResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        call!(d.destroy_network(&l));
        Ok(Response::new(DestroyNetworkResponse {}))
    }

    async fn get_network_xml(
        &self,
        req: Request<GetNetworkXmlRequest>,
    ) -> R<GetNetworkXmlResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        let xml = call!(d.get_network_xml(&l, req.get_ref().flags));
        Ok(Response::new(GetNetworkXmlResponse { xml }))
    }

    async fn get_network_info(
        &self,
        req: Request<GetNetworkInfoRequest>,
    ) -> R<GetNetworkInfoResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        let s = call!(d.get_network_info(&l));
        Ok(Response::new(GetNetworkInfoResponse {
            network: Some(network(&s.handle)),
            active: s.active,
            persistent: s.persistent,
            autostart: s.autostart,
            bridge: s.bridge.unwrap_or_default(),
        }))
    }

    async fn set_network_autostart(
        &self,
        req: Request<SetNetworkAutostartRequest>,
    ) -> R<SetNetworkAutostartResponse> {
        let d = self.network_driver(&req)?;
        let l = lookup(req.get_ref().network.as_ref())?;
        call!(d.set_network_autostart(&l, req.get_ref().autostart));
        Ok(Response::new(SetNetworkAutostartResponse {}))
    }

    async fn get_dhcp_leases(
        &self,
        req: Request<GetDhcpLeasesRequest>,
    ) -> R<GetDhcpLeasesResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.network.as_ref())?;
        let leases = call!(d.get_dhcp_leases(&l, r.mac.as_deref(), r.flags));
        Ok(Response::new(GetDhcpLeasesResponse { leases }))
    }

    async fn create_network_port(
        &self,
        req: Request<CreateNetworkPortRequest>,
    ) -> R<CreateNetworkPortResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.network.as_ref())?;
        let p = call!(d.create_network_port(&l, &r.xml, r.flags));
        Ok(Response::new(CreateNetworkPortResponse {
            port: Some(NetworkPort {
                network: Some(network(&p.network)),
                uuid: p.uuid.to_string(),
            }),
            xml: p.xml,
        }))
    }

    async fn list_network_ports(
        &self,
        req: Request<ListNetworkPortsRequest>,
    ) -> R<ListNetworkPortsResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.network.as_ref())?;
        let (h, ports) = call!(d.list_network_ports(&l, r.flags));
        Ok(Response::new(ListNetworkPortsResponse {
            ports: ports
                .iter()
                .map(|u| NetworkPort {
                    network: Some(network(&h)),
                    uuid: u.to_string(),
                })
                .collect(),
        }))
    }

    async fn get_network_port_xml(
        &self,
        req: Request<GetNetworkPortXmlRequest>,
    ) -> R<GetNetworkPortXmlResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.network.as_ref())?;
        let xml = call!(d.get_network_port_xml(&l, &r.port_uuid));
        Ok(Response::new(GetNetworkPortXmlResponse { xml }))
    }

    async fn delete_network_port(
        &self,
        req: Request<DeleteNetworkPortRequest>,
    ) -> R<DeleteNetworkPortResponse> {
        let d = self.network_driver(&req)?;
        let r = req.get_ref();
        let l = lookup(r.network.as_ref())?;
        call!(d.delete_network_port(&l, &r.port_uuid));
        Ok(Response::new(DeleteNetworkPortResponse {}))
    }

    async fn stream_network_events(
        &self,
        req: Request<StreamNetworkEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let d = self.network_driver(&req)?;
        let r = req.into_inner();
        // A filter names a network whether or not it exists yet.
        let filter = match r.network.as_ref().and_then(|n| n.r#ref.as_ref()) {
            None => None,
            Some(_) => Some(lookup(r.network.as_ref())?),
        };
        let mut sub = call!(d.subscribe_network_events(r.from_sequence));
        let stream = async_stream(move |tx| async move {
            while let Some(e) = sub.next().await {
                let wanted = match &filter {
                    None => true,
                    Some(NetworkLookup::Name(n)) => e.subject.name == *n,
                    Some(NetworkLookup::Uuid(u)) => e.subject.uuid == *u,
                };
                if !wanted {
                    continue;
                }
                let item = StreamNetworkEventsResponse {
                    sequence: e.sequence,
                    network: Some(network(&e.subject)),
                    r#type: e.kind as i32,
                };
                if tx.send(Ok(item)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(stream))
    }
}
