//! The in-memory test driver: libvirt's `test:///default` and `test:///ABSOLUTE/PATH.xml`,
//! the reference implementation of every operation's state machine and error cases.
//!
//! `test:///default` holds libvirt's default objects (the running domain `test`, a 16-CPU
//! i686 host with two NUMA cells). A file URI loads a `<node>` description. All clients of one
//! [`TestRegistry`] share each URI's state, as clients of libvirt's daemon do.
//!
//! Where libvirt's own test driver is weak we differ on purpose, and say so here:
//! - wrong-state calls are OPERATION_INVALID with the QEMU driver's wording ("domain is not
//!   running") rather than the test driver's INTERNAL_ERROR ("domain 'x' not running");
//! - START_PAUSED, shutdown/reboot mode bits, UPDATE_CPU and console access are supported
//!   (libvirt's test driver refuses them), so clients can exercise those paths without a
//!   hypervisor; the console echoes what it is sent, like a terminal in echo mode;
//! - reboot emits a REBOOT event; undefining a transient domain is refused as QEMU does;
//! - kept for byte-for-byte virsh compatibility: virDomainGetOSType answers "linux", CPU time
//!   of an active domain is the wall clock (libvirt's test driver does both), and bulk stats
//!   support only the `state` group.
//!
//! Each capability is implemented, bodies and all, in its own module: `Host` here,
//! `Definitions` in `definitions.rs`, `Lifecycle` in `lifecycle.rs`, `Resources` in
//! `resources.rs`, `SaveRestore` in `save.rs`, `Snapshots` in `snapshots.rs`, `Monitoring` in
//! `stats.rs`, `Consoles` in `console.rs`, `GuestAgent` in `guest.rs`.

mod console;
mod definitions;
mod guest;
mod host;
mod lifecycle;
mod mgmt;
pub mod networks;
pub mod pools;
mod resources;
mod save;
mod snapshots;
mod state;
mod stats;
mod tune;
mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::driver::prelude::*;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain, VirtError};
use crate::events::EventBus;
use crate::model::{Capabilities, DomainCapabilities, NodeDef};
use crate::proto::domain_event::Payload;
use crate::registry::{DaemonInfo, DriverRegistry};
use crate::state::{DomainState, StateReason};
use crate::types::{DomainHandle, NodeInfo, VersionInfo};
use crate::xml::DomainXmlCodec;
use state::{Dom, State};

/// The default domain of `test:///default`, exactly as libvirt 9.0's `virsh dumpxml test`
/// prints it (the `id` is runtime state and ignored on parse).
pub const DEFAULT_DOMAIN_XML: &str = "<domain type='test' id='1'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

/// libvirt's version of the API level this driver implements (9.0.0).
pub const LIB_VERSION: u64 = 9_000_000;

/// One test connection's state.
pub struct TestDriver {
    uri: String,
    codec: Arc<dyn DomainXmlCodec>,
    node: NodeInfo,
    state: Mutex<State>,
    bus: EventBus,
    /// The connection's networks; `None` when the codec has no network side.
    networks: Option<Arc<networks::TestNetworks>>,
    /// Pools and volumes (`pools.rs`), when the codec has a storage half.
    storage: Option<Arc<pools::TestStorage>>,
}

impl TestDriver {
    /// `test:///default`: libvirt's default objects.
    pub fn new_default(codec: Arc<dyn DomainXmlCodec>) -> Result<TestDriver, VirtError> {
        let mut node = NodeDef {
            memory_kib: 3_145_728,
            ..NodeDef::default()
        };
        let def = codec.parse_domain(DEFAULT_DOMAIN_XML)?;
        if let Some(nc) = codec.network_codec() {
            node.networks
                .push(nc.parse_network(networks::DEFAULT_NETWORK_XML)?);
        }
        node.domains.push(crate::model::node::NodeDomain {
            def,
            runstate: Some(StateReason::new(DomainState::Running, 0)),
            transient: false,
            has_managed_save: false,
            snapshots: Vec::new(),
        });
        let mut driver = TestDriver::from_node("test:///default".into(), codec.clone(), node);
        driver.storage = match codec.storage_codec() {
            Some(sc) => Some(Arc::new(pools::default_storage(sc)?)),
            None => None,
        };
        Ok(driver)
    }

    /// `test:///PATH.xml`: the objects of a `<node>` file. A file that cannot be read or
    /// parsed is XML_ERROR from the TEST domain, as in libvirt.
    pub fn open_file(path: &str, codec: Arc<dyn DomainXmlCodec>) -> Result<TestDriver, VirtError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            VirtError::new(
                ErrorCode::XmlError,
                ErrorDomain::Test,
                format!("failed to read test driver file '{path}': {e}"),
            )
        })?;
        let node = codec.parse_node(&text).map_err(|e| {
            VirtError::new(
                ErrorCode::XmlError,
                ErrorDomain::Test,
                format!("invalid test driver file '{path}': {}", e.message()),
            )
        })?;
        Ok(TestDriver::from_node(format!("test://{path}"), codec, node))
    }

    fn from_node(uri: String, codec: Arc<dyn DomainXmlCodec>, node: NodeDef) -> TestDriver {
        let storage = codec
            .storage_codec()
            .map(|sc| Arc::new(pools::storage_for(sc, node.pools.clone())));
        let c = &node.cpu;
        let info = NodeInfo {
            model: c.model.clone(),
            memory_kib: node.memory_kib,
            cpus: c.active,
            mhz: c.mhz,
            nodes: c.nodes,
            sockets: c.sockets,
            cores: c.cores,
            threads: c.threads,
        };
        let networks = codec
            .network_codec()
            .map(|nc| networks::build(nc, node.networks));
        let mut st = State::new();
        for nd in node.domains {
            let uuid = nd.def.uuid;
            let mut dom = Dom::new(nd.def, !nd.transient);
            if nd.has_managed_save {
                dom.managed_save = Some((dom.def.clone(), false));
            }
            dom.snapshots = snapshots::from_node(&dom.def, &nd.snapshots);
            st.insert(dom);
            let run = nd
                .runstate
                .unwrap_or(StateReason::new(DomainState::Running, 0));
            if run.state.is_active() {
                st.activate(&uuid, run);
            } else if let Some(d) = st.domains.get_mut(&uuid) {
                d.state = run;
            }
        }
        TestDriver {
            uri,
            codec,
            node: info,
            state: Mutex::new(st),
            bus: EventBus::default(),
            networks,
            storage,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("test driver state lock poisoned")
    }

    fn emit(&self, handle: DomainHandle, payload: Payload) {
        self.bus.emit(handle, payload);
    }

    fn lifecycle(&self, handle: DomainHandle, ty: i32, detail: i32) {
        self.emit(handle, crate::events::lifecycle::payload(ty, detail));
    }

    fn check_flags(&self, flags: u32, allowed: u32, function: &str) -> DriverResult<()> {
        VirtError::check_flags(flags, allowed, ErrorDomain::Test, function)
    }
}

#[async_trait::async_trait]
impl Host for TestDriver {
    fn error_domain(&self) -> ErrorDomain {
        ErrorDomain::Test
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }

    async fn version(&self) -> DriverResult<VersionInfo> {
        Ok(VersionInfo {
            hypervisor_type: "TEST".into(),
            hypervisor_version: 2,
            lib_version: LIB_VERSION,
        })
    }

    async fn capabilities(&self) -> DriverResult<String> {
        Ok(self.codec.format_capabilities(&Capabilities::test_driver()))
    }

    async fn domain_capabilities(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "testConnectGetDomainCapabilities")?;
        let bad = |what: &str, v: &str| {
            Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Test,
                format!("{what} '{v}' is not supported by the test driver"),
            ))
        };
        if !emulator.is_empty() && emulator != "/usr/bin/test-hv" {
            return bad("emulator", emulator);
        }
        if !arch.is_empty() && arch != "i686" {
            return bad("architecture", arch);
        }
        if !virt_type.is_empty() && virt_type != "test" {
            return bad("virt type", virt_type);
        }
        let caps = DomainCapabilities {
            path: "/usr/bin/test-hv".into(),
            domain: "test".into(),
            machine: (!machine.is_empty()).then(|| machine.to_string()),
            arch: "i686".into(),
            vcpu_max: 32,
            ..Default::default()
        };
        Ok(self.codec.format_domain_capabilities(&caps))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(self.node.clone())
    }

    async fn max_vcpus(&self, _virt_type: &str) -> DriverResult<u32> {
        Ok(32)
    }

    async fn security_model(&self) -> DriverResult<(String, String)> {
        Ok(("testSecurity".into(), String::new()))
    }

    // Host and Hypervisor group (issue 15): libvirt 9.0's test driver answers fixed facts.

    async fn sysinfo(&self, flags: u32) -> DriverResult<String> {
        self.check_flags(flags, 0, "testConnectGetSysinfo")?;
        Ok(host::SYSINFO.into())
    }

    async fn cells_free_memory(&self, start: i32, max: i32) -> DriverResult<Vec<u64>> {
        host::cells_free_memory(start, max)
    }

    async fn free_memory(&self) -> DriverResult<u64> {
        Ok(host::CELLS.iter().map(|c| c.free_bytes).sum())
    }

    async fn cpu_map(&self, flags: u32) -> DriverResult<Vec<bool>> {
        self.check_flags(flags, 0, "testNodeGetCPUMap")?;
        Ok(host::cpu_map())
    }

    async fn cpu_stats(&self, _cpu: i32, flags: u32) -> DriverResult<Vec<(String, u64)>> {
        self.check_flags(flags, 0, "testNodeGetCPUStats")?;
        Ok(host::CPU_STATS
            .iter()
            .map(|(f, v)| (f.to_string(), *v))
            .collect())
    }

    // CPU models and host memory (issue 15, cpu helper): libvirt 9.0's test driver answers
    // model names and baselines from the CPU map, and made-up free page counts.

    async fn cpu_model_names(&self, arch: &str, flags: u32) -> DriverResult<Vec<String>> {
        self.check_flags(flags, 0, "testConnectGetCPUModelNames")?;
        crate::kit::cpu_map::model_names(&crate::kit::cpu_map::map_dir(), arch)
    }

    async fn baseline_cpu(&self, cpus: &[String], flags: u32) -> DriverResult<String> {
        self.check_flags(flags, 1, "testConnectBaselineCPU")?;
        crate::kit::cpu_map::baseline(&crate::kit::cpu_map::map_dir(), cpus, flags & 1 != 0)
    }

    async fn free_pages(
        &self,
        pages: &[u32],
        _start: i32,
        count: u32,
        flags: u32,
    ) -> DriverResult<Vec<u64>> {
        self.check_flags(flags, 0, "testNodeGetFreePages")?;
        Ok(host::free_pages(pages.len(), count as usize))
    }
}

/// The test driver as a [`DriverRegistry`]: `test:///default` shared by every caller of this
/// registry, and one instance per node file path.
pub struct TestRegistry {
    codec: Arc<dyn DomainXmlCodec>,
    instances: Mutex<HashMap<String, Arc<TestDriver>>>,
}

impl TestRegistry {
    /// A registry using `codec` for XML.
    pub fn new(codec: Arc<dyn DomainXmlCodec>) -> TestRegistry {
        TestRegistry {
            codec,
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// The driver for a `test:` URI (`test:///default` or `test:///ABS/PATH.xml`).
    pub fn open(&self, uri: &str) -> Result<Arc<TestDriver>, VirtError> {
        let path = test_uri_path(uri)?;
        let mut map = self.instances.lock().expect("registry lock poisoned");
        if let Some(d) = map.get(&path) {
            return Ok(d.clone());
        }
        let driver = if path == "/default" {
            TestDriver::new_default(self.codec.clone())?
        } else {
            TestDriver::open_file(&path, self.codec.clone())?
        };
        let driver = Arc::new(driver);
        map.insert(path, driver.clone());
        Ok(driver)
    }
}

/// What the test driver serves beyond the baseline (see [`crate::features`]).
fn test_features() -> Vec<String> {
    use crate::features::{self, SAVE_RESTORE, SNAPSHOTS};
    // libvirt 9.0's test driver serves the state group only (stats.rs).
    let mut f = features::base(crate::kit::flags::stats::STATE);
    f.push(SNAPSHOTS.into());
    f.extend(features::rpcs("domain", SAVE_RESTORE));
    // The guest calls its fake guest answers (guest.rs); no agent passthrough.
    let guest = [
        "get_interface_addresses",
        "fs_freeze",
        "fs_thaw",
        "get_domain_time",
    ];
    f.extend(features::rpcs("guest", &guest));
    f.extend(features::rpcs(
        "guest",
        &[
            "set_domain_time",
            "get_domain_hostname",
            "get_fs_info",
            "fs_trim",
            "set_user_password",
        ],
    ));
    f
}

/// The path part of a `test:` URI; NO_CONNECT for anything else.
fn test_uri_path(uri: &str) -> Result<String, VirtError> {
    let no_connect = || VirtError::new(ErrorCode::NoConnect, ErrorDomain::Test, uri.to_string());
    let rest = uri
        .strip_prefix("test://")
        .or_else(|| uri.strip_prefix("test+unix://"))
        .ok_or_else(no_connect)?;
    let path = rest.split('?').next().unwrap_or_default();
    if !path.starts_with('/') || path == "/" {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            format!("test driver URI '{uri}' needs a path: /default or /ABSOLUTE/PATH.xml"),
        ));
    }
    Ok(path.to_string())
}

impl DriverRegistry for TestRegistry {
    fn driver_for(&self, uri: Option<&str>) -> Result<Arc<dyn Driver>, VirtError> {
        Ok(self.open(uri.unwrap_or("test:///default"))?)
    }

    fn network_driver_for(
        &self,
        uri: Option<&str>,
    ) -> Result<Arc<dyn crate::network::NetworkDriver>, VirtError> {
        let d = self.open(uri.unwrap_or("test:///default"))?;
        match &d.networks {
            Some(n) => Ok(n.clone()),
            None => Err(VirtError::no_support(ErrorDomain::Network, "virNetwork")),
        }
    }

    fn storage_driver_for(
        &self,
        uri: Option<&str>,
    ) -> Result<Arc<dyn crate::storage::StorageDriver>, VirtError> {
        let driver = self.open(uri.unwrap_or("test:///default"))?;
        match &driver.storage {
            Some(s) => Ok(s.clone()),
            None => Err(VirtError::no_support(
                ErrorDomain::Storage,
                "virConnectListAllStoragePools",
            )),
        }
    }

    fn daemon_info(&self) -> DaemonInfo {
        DaemonInfo {
            driver: "TEST".into(),
            schemes: vec!["test".into()],
            features: test_features(),
        }
    }
}
