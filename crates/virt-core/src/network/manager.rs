//! The network object store and libvirt's state machine over it, shared by the test driver and
//! virtnetworkd. A [`NetworkManager`] keeps every network (persistent definition, live
//! definition, autostart mark, ports), answers every [`NetworkDriver`] call with libvirt's
//! errors, emits lifecycle events, and leaves what touches the host to its
//! [`NetworkBackend`]: defaults chosen at define (bridge name, MAC), starting and stopping
//! (bridge, dnsmasq, nftables), leases, and where definitions and live status are kept.
//!
//! Every call takes one async lock for its whole length, so calls on networks are serialised
//! (a start checking for overlapping subnets sees every other start finished); the backend's
//! blocking work runs on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::model::{ForwardMode, NetworkDef, NetworkFormat, PortDef, PortPlug};
use super::{
    list_flags, CreatedPort, DhcpLease, NetworkDriver, NetworkEventBus, NetworkEventKind,
    NetworkHandle, NetworkLookup, NetworkStatus, NetworkSubscription, NetworkXmlCodec,
    XML_INACTIVE,
};
use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::uuid::Uuid;

/// What a started network left running, as its backend reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunInfo {
    /// dnsmasq's PID, when one runs for the network.
    pub dnsmasq_pid: Option<i32>,
    /// The nftables table holding the network's rules.
    pub table: Option<String>,
}

/// The live state of an active network, as a backend persists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    /// The live definition.
    pub def: NetworkDef,
    /// What runs for it.
    pub run: RunInfo,
    /// Its ports.
    pub ports: Vec<PortDef>,
}

/// A network as loaded at daemon start.
#[derive(Debug, Clone)]
pub struct LoadedNetwork {
    /// The persistent definition, if any.
    pub config: Option<NetworkDef>,
    /// Marked autostart.
    pub autostart: bool,
    /// Live state of a network still running (reattached).
    pub live: Option<LiveStatus>,
}

/// How the driver differs from libvirt's bridge driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// libvirt's network driver (bridge_driver.c).
    #[default]
    Bridge,
    /// libvirt 9.0's test driver: undefining an active network is refused, destroying an
    /// inactive one succeeds, GetXMLDesc takes no flags, no bridge name is chosen.
    Test,
}

/// The host side of a network driver. Blocking methods run on the blocking pool.
pub trait NetworkBackend: Send + Sync + 'static {
    /// Which libvirt driver's behaviour to follow.
    fn flavour(&self) -> Flavour {
        Flavour::Bridge
    }
    /// Fills in what libvirt assigns at define (bridge name, MAC) and refuses what cannot be
    /// defined next to `others` (the other networks' current definitions).
    fn prepare_define(
        &self,
        def: &mut NetworkDef,
        others: &[&NetworkDef],
    ) -> Result<(), VirtError> {
        let _ = (def, others);
        Ok(())
    }
    /// Starts `def` next to the `active` networks; on error nothing it created is left.
    fn start(&self, def: &NetworkDef, active: &[NetworkDef]) -> Result<RunInfo, VirtError> {
        let _ = (def, active);
        Ok(RunInfo::default())
    }
    /// Stops what [`NetworkBackend::start`] started (best effort, never fails).
    fn stop(&self, def: &NetworkDef, run: &RunInfo) {
        let _ = (def, run);
    }
    /// DHCP leases of an active network.
    fn leases(&self, def: &NetworkDef, run: &RunInfo) -> Result<Vec<DhcpLease>, VirtError> {
        let _ = (def, run);
        Err(VirtError::no_support(
            ErrorDomain::Network,
            "virNetworkGetDHCPLeases",
        ))
    }
    /// Stores a persistent definition.
    fn save_config(&self, def: &NetworkDef) -> Result<(), VirtError> {
        let _ = def;
        Ok(())
    }
    /// Removes a persistent definition (and its autostart mark).
    fn delete_config(&self, name: &str) -> Result<(), VirtError> {
        let _ = name;
        Ok(())
    }
    /// Marks or unmarks autostart.
    fn set_autostart(&self, name: &str, on: bool) -> Result<(), VirtError> {
        let _ = (name, on);
        Ok(())
    }
    /// Stores the live status of an active network (atomically).
    fn save_status(&self, status: &LiveStatus) -> Result<(), VirtError> {
        let _ = status;
        Ok(())
    }
    /// Removes the live status of a network that stopped.
    fn delete_status(&self, name: &str) {
        let _ = name;
    }
}

struct NetObj {
    config: Option<NetworkDef>,
    live: Option<LiveStatus>,
    autostart: bool,
}

impl NetObj {
    fn current(&self) -> &NetworkDef {
        match (&self.live, &self.config) {
            (Some(l), _) => &l.def,
            (None, Some(c)) => c,
            (None, None) => unreachable!("a network object has a definition"),
        }
    }

    fn handle(&self) -> NetworkHandle {
        let d = self.current();
        NetworkHandle {
            name: d.name.clone(),
            uuid: d.uuid(),
        }
    }

    fn status(&self) -> NetworkStatus {
        NetworkStatus {
            handle: self.handle(),
            active: self.live.is_some(),
            persistent: self.config.is_some(),
            autostart: self.autostart,
            bridge: self.current().bridge_name().map(str::to_string),
        }
    }
}

/// The network driver over a backend.
pub struct NetworkManager<B: NetworkBackend> {
    name: String,
    backend: Arc<B>,
    codec: Arc<dyn NetworkXmlCodec>,
    nets: Mutex<BTreeMap<String, NetObj>>,
    bus: NetworkEventBus,
}

fn op_invalid(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::OperationInvalid, ErrorDomain::Network, detail)
}

fn find<'a>(
    nets: &'a BTreeMap<String, NetObj>,
    l: &NetworkLookup,
) -> Result<&'a NetObj, VirtError> {
    let found = match l {
        NetworkLookup::Name(n) => nets.get(n),
        NetworkLookup::Uuid(u) => nets.values().find(|o| o.current().uuid() == *u),
    };
    found.ok_or_else(|| l.not_found())
}

fn key_of(nets: &BTreeMap<String, NetObj>, l: &NetworkLookup) -> Result<String, VirtError> {
    Ok(find(nets, l)?.current().name.clone())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, VirtError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| VirtError::internal(ErrorDomain::Network, format!("worker failed: {e}")))
}

impl<B: NetworkBackend> NetworkManager<B> {
    /// A manager named `name` (for logs) over `backend`.
    pub fn new(name: &str, backend: B, codec: Arc<dyn NetworkXmlCodec>) -> NetworkManager<B> {
        NetworkManager {
            name: name.to_string(),
            backend: Arc::new(backend),
            codec,
            nets: Mutex::new(BTreeMap::new()),
            bus: NetworkEventBus::default(),
        }
    }

    /// A manager holding `loaded` from the start (fixtures, definitions read from disk).
    pub fn with_networks(
        name: &str,
        backend: B,
        codec: Arc<dyn NetworkXmlCodec>,
        loaded: Vec<LoadedNetwork>,
    ) -> NetworkManager<B> {
        let m = NetworkManager::new(name, backend, codec);
        {
            let mut nets = m.nets.try_lock().expect("a new manager is not locked");
            for n in loaded {
                let name = match (&n.live, &n.config) {
                    (Some(l), _) => l.def.name.clone(),
                    (None, Some(c)) => c.name.clone(),
                    (None, None) => continue,
                };
                nets.insert(
                    name,
                    NetObj {
                        config: n.config,
                        live: n.live,
                        autostart: n.autostart,
                    },
                );
            }
        }
        m
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<B> {
        &self.backend
    }

    /// The codec.
    pub fn codec(&self) -> &Arc<dyn NetworkXmlCodec> {
        &self.codec
    }

    /// Adds a network loaded from disk (or a fixture) without events or backend calls.
    pub async fn insert_loaded(&self, n: LoadedNetwork) {
        let name = match (&n.live, &n.config) {
            (Some(l), _) => l.def.name.clone(),
            (None, Some(c)) => c.name.clone(),
            (None, None) => return,
        };
        self.nets.lock().await.insert(
            name,
            NetObj {
                config: n.config,
                live: n.live,
                autostart: n.autostart,
            },
        );
    }

    /// Whether any network is active.
    pub async fn has_active(&self) -> bool {
        self.nets.lock().await.values().any(|o| o.live.is_some())
    }

    /// Number of networks known.
    pub async fn count(&self) -> usize {
        self.nets.lock().await.len()
    }

    /// Starts every inactive autostart network; failures are logged.
    pub async fn autostart_all(&self) {
        let names: Vec<String> = {
            let nets = self.nets.lock().await;
            nets.iter()
                .filter(|(_, o)| o.autostart && o.live.is_none() && o.config.is_some())
                .map(|(n, _)| n.clone())
                .collect()
        };
        for n in names {
            if let Err(e) = self.start_network(&NetworkLookup::Name(n.clone())).await {
                tracing::warn!(network = %n, error = %e.message(), "autostart failed");
            }
        }
    }

    fn check_unique(
        nets: &BTreeMap<String, NetObj>,
        def: &NetworkDef,
    ) -> Result<Option<String>, VirtError> {
        // The same name with another UUID, or the same UUID with another name, clash.
        if let Some(o) = nets.get(&def.name) {
            let u = o.current().uuid();
            if def.uuid.is_some_and(|d| d != u) {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Network,
                    format!("network '{}' already exists with uuid {u}", def.name),
                )
                .clash());
            }
            return Ok(Some(def.name.clone()));
        }
        if let Some(u) = def.uuid {
            if let Some(o) = nets.values().find(|o| o.current().uuid() == u) {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Network,
                    format!(
                        "network '{}' is already defined with uuid {u}",
                        o.current().name
                    ),
                )
                .clash());
            }
        }
        Ok(None)
    }

    fn others<'a>(nets: &'a BTreeMap<String, NetObj>, name: &str) -> Vec<&'a NetworkDef> {
        nets.iter()
            .filter(|(n, _)| n.as_str() != name)
            .map(|(_, o)| o.current())
            .collect()
    }

    async fn start_locked(
        &self,
        nets: &mut BTreeMap<String, NetObj>,
        name: &str,
    ) -> Result<(), VirtError> {
        let def = {
            let o = nets
                .get(name)
                .ok_or_else(|| NetworkLookup::Name(name.to_string()).not_found())?;
            o.config.clone().unwrap_or_else(|| o.current().clone())
        };
        let active: Vec<NetworkDef> = nets
            .iter()
            .filter(|(n, o)| n.as_str() != name && o.live.is_some())
            .map(|(_, o)| o.current().clone())
            .collect();
        let backend = self.backend.clone();
        let d2 = def.clone();
        let run = blocking(move || backend.start(&d2, &active)).await??;
        let live = LiveStatus {
            def,
            run,
            ports: Vec::new(),
        };
        if let Err(e) = self.backend.save_status(&live) {
            let (b, d, r) = (self.backend.clone(), live.def.clone(), live.run.clone());
            let _ = blocking(move || b.stop(&d, &r)).await;
            return Err(e);
        }
        let o = nets.get_mut(name).expect("checked above");
        o.live = Some(live);
        let h = o.handle();
        self.bus.emit(h, NetworkEventKind::Started);
        Ok(())
    }

    async fn stop_locked(&self, nets: &mut BTreeMap<String, NetObj>, name: &str) {
        let Some(o) = nets.get_mut(name) else { return };
        let Some(live) = o.live.take() else { return };
        let h = NetworkHandle {
            name: live.def.name.clone(),
            uuid: live.def.uuid(),
        };
        let b = self.backend.clone();
        let (d, r) = (live.def.clone(), live.run.clone());
        let _ = blocking(move || b.stop(&d, &r)).await;
        self.backend.delete_status(name);
        if o.config.is_none() {
            nets.remove(name);
        }
        self.bus.emit(h, NetworkEventKind::Stopped);
    }

    /// Stops every active network (daemon shutdown does not call it: networks outlive it).
    pub async fn destroy_all(&self) {
        let mut nets = self.nets.lock().await;
        let names: Vec<String> = nets.keys().cloned().collect();
        for n in names {
            self.stop_locked(&mut nets, &n).await;
        }
    }

    fn port_plug(def: &NetworkDef) -> PortPlug {
        let bridge = def.bridge_name().unwrap_or_default().to_string();
        if def.forward.mode == ForwardMode::Bridge {
            PortPlug {
                kind: "bridge".into(),
                bridge,
                mac_table_manager: None,
            }
        } else {
            PortPlug {
                kind: "network".into(),
                bridge,
                mac_table_manager: Some("kernel".into()),
            }
        }
    }
}

fn port_uuid(s: &str) -> Result<Uuid, VirtError> {
    Uuid::parse(s).ok_or_else(|| {
        VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Network,
            format!("invalid port UUID '{s}'"),
        )
    })
}

fn no_port(u: &Uuid) -> VirtError {
    VirtError::new(
        ErrorCode::NoNetworkPort,
        ErrorDomain::Network,
        format!("Network port with UUID {u} does not exist"),
    )
}

#[async_trait::async_trait]
impl<B: NetworkBackend> NetworkDriver for NetworkManager<B> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn lookup_network(&self, l: &NetworkLookup) -> Result<NetworkHandle, VirtError> {
        Ok(find(&*self.nets.lock().await, l)?.handle())
    }

    async fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkStatus>, VirtError> {
        VirtError::check_flags(
            flags,
            list_flags::ALL,
            ErrorDomain::Network,
            "virConnectListAllNetworks",
        )?;
        let nets = self.nets.lock().await;
        let pick = |a: u32, b: u32, va: bool| {
            let f = flags & (a | b);
            f == 0 || f == a | b || (f == a && va) || (f == b && !va)
        };
        Ok(nets
            .values()
            .map(NetObj::status)
            .filter(|s| {
                pick(list_flags::ACTIVE, list_flags::INACTIVE, s.active)
                    && pick(list_flags::PERSISTENT, list_flags::TRANSIENT, s.persistent)
                    && pick(list_flags::AUTOSTART, list_flags::NO_AUTOSTART, s.autostart)
            })
            .collect())
    }

    async fn define_network(&self, xml: &str, flags: u32) -> Result<NetworkHandle, VirtError> {
        VirtError::check_flags(flags, 1, ErrorDomain::Network, "networkDefineXMLFlags")?;
        let mut def = self.codec.parse_network(xml)?;
        let mut nets = self.nets.lock().await;
        let existing = Self::check_unique(&nets, &def)?;
        if let Some(n) = &existing {
            // Redefining keeps the UUID.
            def.uuid = Some(nets[n].current().uuid());
        } else if def.uuid.is_none() {
            def.uuid = Some(Uuid::random());
        }
        {
            let others = Self::others(&nets, &def.name);
            self.backend.prepare_define(&mut def, &others)?;
        }
        self.backend.save_config(&def)?;
        let h = NetworkHandle {
            name: def.name.clone(),
            uuid: def.uuid(),
        };
        match nets.get_mut(&def.name) {
            Some(o) => o.config = Some(def),
            None => {
                nets.insert(
                    def.name.clone(),
                    NetObj {
                        config: Some(def),
                        live: None,
                        autostart: false,
                    },
                );
            }
        }
        self.bus.emit(h.clone(), NetworkEventKind::Defined);
        Ok(h)
    }

    async fn create_network_xml(&self, xml: &str, flags: u32) -> Result<NetworkHandle, VirtError> {
        VirtError::check_flags(flags, 1, ErrorDomain::Network, "networkCreateXMLFlags")?;
        let mut def = self.codec.parse_network(xml)?;
        let mut nets = self.nets.lock().await;
        if let Some(n) = Self::check_unique(&nets, &def)? {
            let o = &nets[&n];
            if o.live.is_some() {
                return Err(op_invalid(format!("network '{n}' is already active")));
            }
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Network,
                format!(
                    "network '{n}' already exists with uuid {}",
                    o.current().uuid()
                ),
            )
            .clash());
        }
        if def.uuid.is_none() {
            def.uuid = Some(Uuid::random());
        }
        {
            let others = Self::others(&nets, &def.name);
            self.backend.prepare_define(&mut def, &others)?;
        }
        let name = def.name.clone();
        nets.insert(
            name.clone(),
            NetObj {
                config: None,
                live: None,
                autostart: false,
            },
        );
        // A transient object has only a live definition; start from a temporary config.
        nets.get_mut(&name).expect("inserted").config = Some(def);
        let r = self.start_locked(&mut nets, &name).await;
        let o = nets.get_mut(&name).expect("inserted");
        o.config = None;
        if let Err(e) = r {
            nets.remove(&name);
            return Err(e);
        }
        Ok(o.handle())
    }

    async fn undefine_network(&self, l: &NetworkLookup) -> Result<(), VirtError> {
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        let o = nets.get(&name).expect("found");
        if self.backend.flavour() == Flavour::Test && o.live.is_some() {
            return Err(op_invalid(format!("Network '{name}' is still running")));
        }
        if o.config.is_none() {
            return Err(op_invalid("network is not persistent"));
        }
        let h = o.handle();
        self.backend.delete_config(&name)?;
        let o = nets.get_mut(&name).expect("found");
        o.config = None;
        o.autostart = false;
        if o.live.is_none() {
            nets.remove(&name);
        }
        self.bus.emit(h, NetworkEventKind::Undefined);
        Ok(())
    }

    async fn start_network(&self, l: &NetworkLookup) -> Result<(), VirtError> {
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        if nets[&name].live.is_some() {
            return Err(match self.backend.flavour() {
                Flavour::Test => op_invalid(format!("Network '{name}' is already running")),
                Flavour::Bridge => op_invalid("network is already active"),
            });
        }
        self.start_locked(&mut nets, &name).await
    }

    async fn destroy_network(&self, l: &NetworkLookup) -> Result<(), VirtError> {
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        if nets[&name].live.is_none() {
            if self.backend.flavour() == Flavour::Test {
                // libvirt 9.0's test driver does not check.
                return Ok(());
            }
            return Err(op_invalid(format!("network '{name}' is not active")));
        }
        self.stop_locked(&mut nets, &name).await;
        Ok(())
    }

    async fn get_network_xml(&self, l: &NetworkLookup, flags: u32) -> Result<String, VirtError> {
        let allowed = match self.backend.flavour() {
            Flavour::Test => 0,
            Flavour::Bridge => XML_INACTIVE,
        };
        let function = match self.backend.flavour() {
            Flavour::Test => "testNetworkGetXMLDesc",
            Flavour::Bridge => "networkGetXMLDesc",
        };
        VirtError::check_flags(flags, allowed, ErrorDomain::Network, function)?;
        let nets = self.nets.lock().await;
        let o = find(&nets, l)?;
        let (def, connections) = match (&o.live, &o.config) {
            (Some(_), Some(c)) if flags & XML_INACTIVE != 0 => (c, None),
            (Some(live), _) => (
                &live.def,
                (!live.ports.is_empty()).then_some(live.ports.len()),
            ),
            (None, Some(c)) => (c, None),
            (None, None) => unreachable!("a network object has a definition"),
        };
        Ok(self
            .codec
            .format_network(def, NetworkFormat { connections }))
    }

    async fn get_network_info(&self, l: &NetworkLookup) -> Result<NetworkStatus, VirtError> {
        Ok(find(&*self.nets.lock().await, l)?.status())
    }

    async fn set_network_autostart(&self, l: &NetworkLookup, on: bool) -> Result<(), VirtError> {
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        let o = nets.get_mut(&name).expect("found");
        if o.config.is_none() && self.backend.flavour() == Flavour::Bridge {
            return Err(op_invalid("cannot set autostart for transient network"));
        }
        if o.autostart != on {
            self.backend.set_autostart(&name, on)?;
            o.autostart = on;
        }
        Ok(())
    }

    async fn get_dhcp_leases(
        &self,
        l: &NetworkLookup,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<DhcpLease>, VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Network, "networkGetDHCPLeases")?;
        let nets = self.nets.lock().await;
        let o = find(&nets, l)?;
        let Some(live) = &o.live else {
            if self.backend.flavour() == Flavour::Test {
                return Ok(Vec::new());
            }
            return Err(op_invalid("network is not active"));
        };
        let mut leases = self.backend.leases(&live.def, &live.run)?;
        if let Some(m) = mac {
            leases.retain(|x| x.mac.eq_ignore_ascii_case(m));
        }
        Ok(leases)
    }

    async fn create_network_port(
        &self,
        l: &NetworkLookup,
        xml: &str,
        flags: u32,
    ) -> Result<CreatedPort, VirtError> {
        VirtError::check_flags(
            flags,
            super::PORT_CREATE_RECLAIM | super::PORT_CREATE_VALIDATE,
            ErrorDomain::Network,
            "networkPortCreateXML",
        )?;
        let mut port = self.codec.parse_port(xml)?;
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        let o = nets.get_mut(&name).expect("found");
        let h = o.handle();
        let Some(live) = o.live.as_mut() else {
            return Err(op_invalid(format!("network '{name}' is not active")));
        };
        let uuid = *port.uuid.get_or_insert_with(Uuid::random);
        if live.ports.iter().any(|p| p.uuid == Some(uuid)) {
            if flags & super::PORT_CREATE_RECLAIM == 0 {
                return Err(VirtError::new(
                    ErrorCode::NetworkPortExist,
                    ErrorDomain::Network,
                    format!("Network port with UUID {uuid} already exists"),
                ));
            }
            live.ports.retain(|p| p.uuid != Some(uuid));
        }
        port.plug = Some(Self::port_plug(&live.def));
        live.ports.push(port.clone());
        if let Err(e) = self.backend.save_status(live) {
            live.ports.pop();
            return Err(e);
        }
        Ok(CreatedPort {
            network: h,
            uuid,
            xml: self.codec.format_port(&port),
        })
    }

    async fn list_network_ports(
        &self,
        l: &NetworkLookup,
        flags: u32,
    ) -> Result<(NetworkHandle, Vec<Uuid>), VirtError> {
        VirtError::check_flags(flags, 0, ErrorDomain::Network, "networkListAllPorts")?;
        let nets = self.nets.lock().await;
        let o = find(&nets, l)?;
        let mut ports: Vec<Uuid> = o
            .live
            .iter()
            .flat_map(|x| x.ports.iter().filter_map(|p| p.uuid))
            .collect();
        ports.sort();
        Ok((o.handle(), ports))
    }

    async fn get_network_port_xml(
        &self,
        l: &NetworkLookup,
        port: &str,
    ) -> Result<String, VirtError> {
        let u = port_uuid(port)?;
        let nets = self.nets.lock().await;
        let o = find(&nets, l)?;
        let p = o
            .live
            .iter()
            .flat_map(|x| x.ports.iter())
            .find(|p| p.uuid == Some(u))
            .ok_or_else(|| no_port(&u))?;
        Ok(self.codec.format_port(p))
    }

    async fn delete_network_port(&self, l: &NetworkLookup, port: &str) -> Result<(), VirtError> {
        let u = port_uuid(port)?;
        let mut nets = self.nets.lock().await;
        let name = key_of(&nets, l)?;
        let o = nets.get_mut(&name).expect("found");
        let live = o.live.as_mut().ok_or_else(|| no_port(&u))?;
        let Some(i) = live.ports.iter().position(|p| p.uuid == Some(u)) else {
            return Err(no_port(&u));
        };
        let removed = live.ports.remove(i);
        if let Err(e) = self.backend.save_status(live) {
            live.ports.insert(i, removed);
            return Err(e);
        }
        Ok(())
    }

    async fn subscribe_network_events(
        &self,
        from: Option<u64>,
    ) -> Result<NetworkSubscription, VirtError> {
        Ok(self.bus.subscribe(from))
    }
}
