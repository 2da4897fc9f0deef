//! Virtual networks: the [`NetworkDriver`] trait that virtnetworkd and the test driver
//! implement, and the vocabulary of its calls (proto/virt/v1/network.proto).
//!
//! Both implementations share the object store and libvirt's state machine in [`manager`]
//! ([`manager::NetworkManager`]); what differs (bridges, dnsmasq, nftables, files on disk, or
//! nothing at all for the test driver) sits behind [`manager::NetworkBackend`].

pub mod events;
pub mod manager;
pub mod model;

use std::fmt;

use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::uuid::Uuid;

pub use events::{NetworkEvent, NetworkEventBus, NetworkEventKind, NetworkSubscription};
pub use model::{NetworkDef, NetworkFormat, PortDef};

/// DhcpLease of proto/virt/v1/network.proto: the driver answers in the wire type directly.
pub use crate::proto::DhcpLease;

/// Flag bits of ListAllNetworks (libvirt virConnectListAllNetworksFlags).
pub mod list_flags {
    /// Inactive.
    pub const INACTIVE: u32 = 1;
    /// Active.
    pub const ACTIVE: u32 = 2;
    /// Persistent.
    pub const PERSISTENT: u32 = 4;
    /// Transient.
    pub const TRANSIENT: u32 = 8;
    /// Autostart.
    pub const AUTOSTART: u32 = 16;
    /// No autostart.
    pub const NO_AUTOSTART: u32 = 32;
    /// Every bit.
    pub const ALL: u32 = 63;
}

/// GetNetworkXml flag: the persistent definition.
pub const XML_INACTIVE: u32 = 1;
/// CreateNetworkPort flag: reclaim a port a restarted hypervisor daemon holds.
pub const PORT_CREATE_RECLAIM: u32 = 1;
/// CreateNetworkPort flag: validate.
pub const PORT_CREATE_VALIDATE: u32 = 2;
/// Define/Create flag: validate.
pub const DEFINE_VALIDATE: u32 = 1;

/// How a call names a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkLookup {
    /// By name.
    Name(String),
    /// By UUID.
    Uuid(Uuid),
}

impl fmt::Display for NetworkLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkLookup::Name(n) => write!(f, "{n}"),
            NetworkLookup::Uuid(u) => write!(f, "{u}"),
        }
    }
}

impl NetworkLookup {
    /// NO_NETWORK as libvirt words it for this lookup.
    pub fn not_found(&self) -> VirtError {
        let detail = match self {
            NetworkLookup::Name(n) => format!("no network with matching name '{n}'"),
            NetworkLookup::Uuid(u) => format!("no network with matching uuid '{u}'"),
        };
        VirtError::new(ErrorCode::NoNetwork, ErrorDomain::Network, detail)
    }
}

/// A network's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkHandle {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
}

/// A network with its state (ListAllNetworks, GetNetworkInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkStatus {
    /// Identity.
    pub handle: NetworkHandle,
    /// Running.
    pub active: bool,
    /// Has a persistent definition.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
    /// Bridge device, when it has one.
    pub bridge: Option<String>,
}

/// A created port: its UUID and `<networkport>` XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPort {
    /// The network.
    pub network: NetworkHandle,
    /// Port UUID.
    pub uuid: Uuid,
    /// Its XML, `<plug>` filled in.
    pub xml: String,
}

/// Parses and formats libvirt's network XML (virt-xml implements it).
pub trait NetworkXmlCodec: Send + Sync + 'static {
    /// Parses a `<network>` document. XML_ERROR / XML_DETAIL for malformed or unknown
    /// content, CONFIG_UNSUPPORTED naming the element for what no driver here honours.
    fn parse_network(&self, xml: &str) -> Result<NetworkDef, VirtError>;
    /// Formats a network as libvirt 9.0 prints it.
    fn format_network(&self, def: &NetworkDef, opts: NetworkFormat) -> String;
    /// Parses a `<networkport>` document.
    fn parse_port(&self, xml: &str) -> Result<PortDef, VirtError>;
    /// Formats a `<networkport>`.
    fn format_port(&self, def: &PortDef) -> String;
}

/// What a network driver does: libvirt's virNetwork* and virNetworkPort* calls.
#[async_trait::async_trait]
pub trait NetworkDriver: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> &str;
    /// virNetworkLookupByName / ByUUIDString.
    async fn lookup_network(&self, l: &NetworkLookup) -> Result<NetworkHandle, VirtError>;
    /// virConnectListAllNetworks, sorted by name.
    async fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkStatus>, VirtError>;
    /// virNetworkDefineXMLFlags.
    async fn define_network(&self, xml: &str, flags: u32) -> Result<NetworkHandle, VirtError>;
    /// virNetworkCreateXMLFlags.
    async fn create_network_xml(&self, xml: &str, flags: u32) -> Result<NetworkHandle, VirtError>;
    /// virNetworkUndefine.
    async fn undefine_network(&self, l: &NetworkLookup) -> Result<(), VirtError>;
    /// virNetworkCreate.
    async fn start_network(&self, l: &NetworkLookup) -> Result<(), VirtError>;
    /// virNetworkDestroy.
    async fn destroy_network(&self, l: &NetworkLookup) -> Result<(), VirtError>;
    /// virNetworkGetXMLDesc.
    async fn get_network_xml(&self, l: &NetworkLookup, flags: u32) -> Result<String, VirtError>;
    /// IsActive, IsPersistent, GetAutostart, GetBridgeName.
    async fn get_network_info(&self, l: &NetworkLookup) -> Result<NetworkStatus, VirtError>;
    /// virNetworkSetAutostart.
    async fn set_network_autostart(&self, l: &NetworkLookup, on: bool) -> Result<(), VirtError>;
    /// virNetworkGetDHCPLeases.
    async fn get_dhcp_leases(
        &self,
        l: &NetworkLookup,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<DhcpLease>, VirtError>;
    /// virNetworkPortCreateXML.
    async fn create_network_port(
        &self,
        l: &NetworkLookup,
        xml: &str,
        flags: u32,
    ) -> Result<CreatedPort, VirtError>;
    /// virNetworkListAllPorts: the ports' UUIDs.
    async fn list_network_ports(
        &self,
        l: &NetworkLookup,
        flags: u32,
    ) -> Result<(NetworkHandle, Vec<Uuid>), VirtError>;
    /// virNetworkPortGetXMLDesc.
    async fn get_network_port_xml(
        &self,
        l: &NetworkLookup,
        port: &str,
    ) -> Result<String, VirtError>;
    /// virNetworkPortDelete.
    async fn delete_network_port(&self, l: &NetworkLookup, port: &str) -> Result<(), VirtError>;
    /// Lifecycle events from `from` (retained ones first), then live ones.
    async fn subscribe_network_events(
        &self,
        from: Option<u64>,
    ) -> Result<NetworkSubscription, VirtError>;
}
