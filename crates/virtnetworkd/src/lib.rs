//! virtnetworkd: libvirt's virtual networks for every local hypervisor URI.
//!
//! The network state machine is virt-core's [`NetworkManager`]; this crate adds the host side
//! ([`host::HostBackend`]: bridges, dnsmasq, nftables, files), the registry that serves
//! network calls for `qemu:///system`, `qemu:///session`, `lxc:///system`, `xen:///system`,
//! `network:///system` and no URI (domain calls are NO_SUPPORT), reattachment to networks that
//! outlived a previous daemon, autostart, and the `default` network defined on first start.

pub mod host;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use virt_core::driver::Driver;
use virt_core::network::manager::NetworkManager;
use virt_core::network::model::subnets_overlap;
use virt_core::network::{NetworkDriver, NetworkXmlCodec};
use virt_core::paths::Paths;
use virt_core::registry::{DaemonInfo, DriverRegistry};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

pub use host::{HostBackend, NetPaths};

/// The daemon's name (sockets `virtnetworkd-sock`, `virtnetworkd-sock-ro`).
pub const DAEMON_NAME: &str = "virtnetworkd";

/// virtnetworkd's network driver.
pub type HostNetworks = NetworkManager<HostBackend>;

/// The driver of one daemon: loaded from disk, dead networks cleaned up, live ones reattached.
pub struct NetworkDaemon {
    /// The network driver.
    pub networks: Arc<HostNetworks>,
    active: Arc<AtomicUsize>,
}

/// The `default` network's XML for subnet 192.168.`n`.0/24.
pub fn default_network_xml(n: u8) -> String {
    format!(
        "<network>\n  <name>default</name>\n  <forward mode='nat'/>\n  <bridge name='virbr0'/>\n  \
         <ip address='192.168.{n}.1' netmask='255.255.255.0'>\n    <dhcp>\n      \
         <range start='192.168.{n}.2' end='192.168.{n}.254'/>\n    </dhcp>\n  </ip>\n</network>\n"
    )
}

/// The first 192.168.N.0/24 (N from 122) that no host route or address overlaps.
pub fn free_default_subnet() -> u8 {
    let routes = host::host_routes();
    (122u8..=254)
        .find(|n| {
            let a: IpAddr = [192, 168, *n, 0].into();
            !routes
                .iter()
                .any(|(d, p, _)| subnets_overlap(a, 24, *d, *p))
        })
        .unwrap_or(122)
}

impl NetworkDaemon {
    /// Loads the networks under `paths`. On first start (no CONFIG/network directory yet) the
    /// `default` network is defined and marked autostart, on a subnet that collides with
    /// nothing on the host.
    pub async fn open(paths: &Paths, codec: Arc<dyn NetworkXmlCodec>) -> NetworkDaemon {
        let np = NetPaths::new(&paths.config_dir, &paths.run_dir);
        let first_start = !np.config.exists();
        let backend = HostBackend::new(np, codec.clone());
        let active = backend.active_count();
        let loaded = backend.load();
        let networks = Arc::new(NetworkManager::with_networks(
            "network", backend, codec, loaded,
        ));
        if first_start {
            let xml = default_network_xml(free_default_subnet());
            match networks.define_network(&xml, 0).await {
                Ok(h) => {
                    let l = virt_core::network::NetworkLookup::Name(h.name);
                    if let Err(e) = networks.set_network_autostart(&l, true).await {
                        tracing::warn!(error = %e.message(), "cannot mark the default network autostart");
                    }
                }
                Err(e) => tracing::warn!(error = %e.message(), "cannot define the default network"),
            }
        }
        NetworkDaemon { networks, active }
    }

    /// Whether any network is active (keeps the daemon from an idle exit).
    pub fn busy_flag(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let a = self.active.clone();
        move || a.load(Ordering::SeqCst) > 0
    }
}

/// The registry of virtnetworkd.
pub struct NetworkRegistry {
    networks: Arc<HostNetworks>,
}

impl NetworkRegistry {
    /// A registry serving `networks`.
    pub fn new(networks: Arc<HostNetworks>) -> NetworkRegistry {
        NetworkRegistry { networks }
    }
}

/// Whether virtnetworkd serves network calls for `uri`: a local hypervisor or network URI.
pub fn serves(uri: &str) -> bool {
    virt_core::uri::probe::serves_secondary(virt_core::uri::probe::Secondary::Network, uri)
}

impl DriverRegistry for NetworkRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        let _ = uri;
        Err(VirtError::new(
            ErrorCode::NoSupport,
            ErrorDomain::Network,
            "virtnetworkd serves network calls only; domain calls are served by the hypervisor daemons",
        ))
    }

    fn daemon_info(&self) -> DaemonInfo {
        DaemonInfo {
            driver: "NETWORK".into(),
            schemes: ["network", "qemu", "lxc", "xen"].map(String::from).to_vec(),
            features: Vec::new(),
        }
    }

    fn network_driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn NetworkDriver>, VirtError> {
        match uri {
            None | Some("") => Ok(self.networks.clone()),
            Some(u) if serves(u) => Ok(self.networks.clone()),
            Some(u) => Err(VirtError::new(
                ErrorCode::NoConnect,
                ErrorDomain::Network,
                format!("virtnetworkd does not serve networks for '{u}'"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hypervisor_uris_are_served() {
        for u in [
            "qemu:///system",
            "lxc:///system",
            "xen:///system",
            "network:///system",
        ] {
            assert!(serves(u), "{u}");
        }
        // A session's networks are not this system daemon's (libvirt has no session one).
        for u in [
            "test:///default",
            "qemu://host/system",
            "storage:///system",
            "qemu:///session",
        ] {
            assert!(!serves(u), "{u}");
        }
    }

    #[test]
    fn default_network_uses_the_subnet_given() {
        let x = default_network_xml(123);
        assert!(x.contains("address='192.168.123.1'") && x.contains("end='192.168.123.254'"));
    }
}

#[cfg(test)]
mod manager_tests {
    //! libvirt's network driver semantics of the shared manager (Flavour::Bridge), with a
    //! backend that touches nothing.
    use std::sync::Arc;

    use virt_core::network::manager::{NetworkBackend, NetworkManager};
    use virt_core::network::{NetworkDriver, NetworkEventKind, NetworkLookup};
    use virt_core::ErrorCode;

    struct Nothing;
    impl NetworkBackend for Nothing {}

    fn mgr() -> NetworkManager<Nothing> {
        NetworkManager::new("t", Nothing, Arc::new(virt_xml::LibvirtXml))
    }

    const X: &str =
        "<network><name>n</name><bridge name='vb1'/><ip address='10.1.1.1' prefix='24'/></network>";

    fn n() -> NetworkLookup {
        NetworkLookup::Name("n".into())
    }

    #[tokio::test]
    async fn lifecycle_follows_libvirts_bridge_driver() {
        let m = mgr();
        let mut ev = m.subscribe_network_events(Some(1)).await.expect("sub");
        let h = m.define_network(X, 0).await.expect("define");
        // Redefining keeps the UUID.
        assert_eq!(m.define_network(X, 0).await.expect("redefine").uuid, h.uuid);
        let e = m.destroy_network(&n()).await.expect_err("inactive");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        m.start_network(&n()).await.expect("start");
        let e = m.start_network(&n()).await.expect_err("active");
        assert_eq!(
            e.message(),
            "Requested operation is not valid: network is already active"
        );
        // Undefining an active network leaves it running, transient.
        m.undefine_network(&n()).await.expect("undefine");
        let s = m.get_network_info(&n()).await.expect("info");
        assert!(s.active && !s.persistent);
        let e = m
            .set_network_autostart(&n(), true)
            .await
            .expect_err("transient");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        m.destroy_network(&n()).await.expect("destroy");
        let e = m.lookup_network(&n()).await.expect_err("gone");
        assert_eq!(e.code, ErrorCode::NoNetwork);
        assert_eq!(
            e.message(),
            "Network not found: no network with matching name 'n'"
        );
        let kinds: Vec<(u64, NetworkEventKind)> = {
            let mut v = Vec::new();
            for _ in 0..5 {
                let e = ev.next().await.expect("event");
                v.push((e.sequence, e.kind));
            }
            v
        };
        use NetworkEventKind::*;
        assert_eq!(
            kinds,
            vec![
                (1, Defined),
                (2, Defined),
                (3, Started),
                (4, Undefined),
                (5, Stopped)
            ]
        );
    }

    #[tokio::test]
    async fn inactive_xml_ports_and_name_clashes() {
        let m = mgr();
        m.define_network(X, 0).await.expect("define");
        let e = m
            .create_network_port(&n(), "<networkport><owner><name>a</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner><mac address='52:54:00:00:00:01'/></networkport>", 0)
            .await
            .expect_err("inactive network");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        m.start_network(&n()).await.expect("start");
        let p = m
            .create_network_port(&n(), "<networkport><owner><name>a</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner><mac address='52:54:00:00:00:01'/></networkport>", 0)
            .await
            .expect("port");
        assert!(p
            .xml
            .contains("<plug type='network' bridge='vb1' macTableManager='kernel'/>"));
        let live = m.get_network_xml(&n(), 0).await.expect("xml");
        assert!(live.starts_with("<network connections='1'>"));
        let inactive = m.get_network_xml(&n(), 1).await.expect("xml");
        assert!(inactive.starts_with("<network>\n"));
        let (_, ports) = m.list_network_ports(&n(), 0).await.expect("ports");
        assert_eq!(ports, vec![p.uuid]);
        m.delete_network_port(&n(), &p.uuid.to_string())
            .await
            .expect("delete");
        let e = m
            .delete_network_port(&n(), &p.uuid.to_string())
            .await
            .expect_err("gone");
        assert_eq!(e.code, ErrorCode::NoNetworkPort);
        // Same name, other UUID; same UUID, other name.
        let uuid = m.lookup_network(&n()).await.expect("h").uuid;
        let e = m
            .define_network("<network><name>n</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>", 0)
            .await
            .expect_err("clash");
        assert_eq!(e.code, ErrorCode::OperationFailed);
        let e = m
            .define_network(
                &format!("<network><name>m</name><uuid>{uuid}</uuid></network>"),
                0,
            )
            .await
            .expect_err("clash");
        assert!(
            e.message()
                .contains("network 'n' is already defined with uuid"),
            "{}",
            e.message()
        );
        let e = m.list_all_networks(64).await.expect_err("bad flag");
        assert_eq!(e.code, ErrorCode::InvalidArg);
    }
}
