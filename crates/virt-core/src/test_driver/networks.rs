//! The test driver's networks: libvirt's `default` network in `test:///default`, the
//! `<network>` elements of a node file (active and persistent, as libvirt's test driver loads
//! them), and every NetworkService call as libvirt 9.0's test driver answers it, through the
//! shared [`NetworkManager`] with the [`Flavour::Test`] quirks (undefine of a running network
//! refused, destroy of an inactive one accepted, GetXMLDesc without flags, no bridge name
//! chosen at define).
//!
//! Where we differ on purpose: libvirt 9.0's test driver answers DHCP leases and ports with
//! NO_SUPPORT; here ports work as virtnetworkd's do (so hypervisor-side code and `net-port-*`
//! can be exercised without root), and an active `default` network reports the running test
//! domain's lease (MAC aa:bb:cc:dd:ee:ff, 192.168.122.3/24, hostname `test`), as newer libvirt
//! test drivers report a lease per running domain interface.

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::VirtError;
use crate::network::manager::{Flavour, LoadedNetwork, NetworkBackend, NetworkManager, RunInfo};
use crate::network::{DhcpLease, NetworkDef, NetworkXmlCodec};

/// The `default` network of `test:///default`, exactly as `virsh net-dumpxml default` prints it.
pub const DEFAULT_NETWORK_XML: &str = "<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
";

/// The host side of the test driver's networks: nothing on the host.
#[derive(Debug, Default)]
pub struct TestNetBackend;

impl NetworkBackend for TestNetBackend {
    fn flavour(&self) -> Flavour {
        Flavour::Test
    }

    fn leases(&self, def: &NetworkDef, _run: &RunInfo) -> Result<Vec<DhcpLease>, VirtError> {
        // The running test domain's interface sits on `default` (DEFAULT_DOMAIN_XML).
        let lease_ip: IpAddr = [192, 168, 122, 3].into();
        let Some(ip) = def.ips.iter().find(|i| i.contains(lease_ip)) else {
            return Ok(Vec::new());
        };
        if def.name != "default" {
            return Ok(Vec::new());
        }
        Ok(vec![DhcpLease {
            iface: def.bridge_name().unwrap_or_default().to_string(),
            expiry_time: 0,
            r#type: 0,
            mac: "aa:bb:cc:dd:ee:ff".into(),
            iaid: String::new(),
            ipaddr: lease_ip.to_string(),
            prefix: u32::from(ip.prefix_len()),
            hostname: "test".into(),
            clientid: String::new(),
        }])
    }
}

/// The test driver's network driver.
pub type TestNetworks = NetworkManager<TestNetBackend>;

/// The networks of one test connection: `defs` loaded active and persistent.
pub fn build(codec: Arc<dyn NetworkXmlCodec>, defs: Vec<NetworkDef>) -> Arc<TestNetworks> {
    let loaded = defs
        .into_iter()
        .map(|mut def| {
            if def.uuid.is_none() {
                def.uuid = Some(crate::uuid::Uuid::random());
            }
            LoadedNetwork {
                config: Some(def.clone()),
                autostart: false,
                live: Some(crate::network::manager::LiveStatus {
                    def,
                    run: RunInfo::default(),
                    ports: Vec::new(),
                }),
            }
        })
        .collect();
    Arc::new(NetworkManager::with_networks(
        "test",
        TestNetBackend,
        codec,
        loaded,
    ))
}
