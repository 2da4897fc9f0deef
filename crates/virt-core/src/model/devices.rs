//! The `<devices>` of a domain: the container, device addresses, disks, controllers and
//! network interfaces. Display, input and character devices live in
//! [`super::display`] and [`super::chardev`].

use super::chardev::{CharDev, CharSource};
use super::display::{Audio, Graphics, Input, Sound, Video};
use super::enums::{
    ControllerType, DiskBus, DiskDevice, DiskType, InterfaceType, MacvtapMode, MemballoonModel,
    PanicModel, RngModel, WatchdogAction, WatchdogModel,
};
use super::fs::Filesystem;
use super::hostdev::{Hostdev, Redirdev};
use super::tpm::Tpm;

/// `<devices>`; each list keeps document order (disks in libvirt's bus/target order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Devices {
    /// `<emulator>`.
    pub emulator: Option<String>,
    /// `<disk>` elements.
    pub disks: Vec<Disk>,
    /// `<controller>` elements.
    pub controllers: Vec<Controller>,
    /// `<filesystem>` elements.
    pub filesystems: Vec<Filesystem>,
    /// `<interface>` elements.
    pub interfaces: Vec<Interface>,
    /// `<smartcard>` devices.
    pub smartcards: Vec<super::smartcard::Smartcard>,
    /// `<serial>` elements.
    pub serials: Vec<CharDev>,
    /// `<parallel>` elements.
    pub parallels: Vec<CharDev>,
    /// `<console>` elements.
    pub consoles: Vec<CharDev>,
    /// `<channel>` elements.
    pub channels: Vec<CharDev>,
    /// `<input>` elements.
    pub inputs: Vec<Input>,
    /// `<tpm>` elements.
    pub tpms: Vec<Tpm>,
    /// `<graphics>` elements.
    pub graphics: Vec<Graphics>,
    /// `<sound>` elements.
    pub sounds: Vec<Sound>,
    /// `<audio>` backends.
    pub audios: Vec<Audio>,
    /// `<video>` elements; the primary one first.
    pub videos: Vec<Video>,
    /// `<hostdev>` elements.
    pub hostdevs: Vec<Hostdev>,
    /// `<redirdev>` elements.
    pub redirdevs: Vec<Redirdev>,
    /// `<watchdog>`.
    pub watchdog: Option<Watchdog>,
    /// `<memballoon>`.
    pub memballoon: Option<Memballoon>,
    /// `<rng>` elements.
    pub rngs: Vec<Rng>,
    /// `<panic>` elements.
    pub panics: Vec<Panic>,
    /// `<hub>` elements (USB hubs).
    pub hubs: Vec<Hub>,
}

/// `<hub type='usb'>`: a USB hub giving more ports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hub {
    /// `type=...` (`usb`).
    pub hub_type: String,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>` (a USB port).
    pub address: Option<Address>,
}

/// `<address>`: where a device sits on its bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `type='pci'`.
    Pci(PciAddress),
    /// `type='drive'`: `controller`, `bus`, `target`, `unit`.
    Drive {
        /// Controller index.
        controller: u32,
        /// Bus.
        bus: u32,
        /// Target.
        target: u32,
        /// Unit.
        unit: u32,
    },
    /// `type='virtio-serial'`: `controller`, `bus`, `port`.
    VirtioSerial {
        /// Controller index.
        controller: u32,
        /// Bus.
        bus: u32,
        /// Port (0 = assign).
        port: u32,
    },
    /// `type='usb'`: `bus`, `port` (dotted hub path such as `1.2`).
    Usb {
        /// USB bus (controller index).
        bus: u32,
        /// Port path; `None` = assign.
        port: Option<String>,
    },
    /// Any other address type (`ccid`, `isa`, `ccw`, `spapr-vio`, `virtio-mmio`, `dimm`,
    /// `unassigned`), with its attributes `(name, value)` in document order.
    Other {
        /// `type=...`.
        address_type: String,
        /// The other attributes.
        attributes: Vec<(String, String)>,
    },
}

/// A PCI address; printed as `domain='0x0000' bus='0x00' slot='0x00' function='0x0'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PciAddress {
    /// PCI domain (0..=0xffff).
    pub domain: u32,
    /// Bus (0..=0xff).
    pub bus: u32,
    /// Slot (0..=0x1f).
    pub slot: u32,
    /// Function (0..=7).
    pub function: u32,
    /// `multifunction='on|off'`.
    pub multifunction: Option<bool>,
}

/// `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disk {
    /// `type=...` (file when absent). See [`Disk::effective_type`] for a volume's.
    pub disk_type: DiskType,
    /// `device=...` (disk when absent).
    pub device: DiskDevice,
    /// `<driver>`.
    pub driver: Option<DiskDriver>,
    /// `<source>`; `None` for an empty cdrom/floppy.
    pub source: Option<DiskSource>,
    /// `<backingStore/>` written empty: the image has no backing chain to probe.
    pub backing_store_none: bool,
    /// The `<backingStore>` chain below the source in the live XML (images a snapshot put
    /// the source on top of), top first; ends in `<backingStore/>`.
    pub backing_chain: Vec<BackingStore>,
    /// `<target dev=...>`.
    pub target_dev: String,
    /// `<target bus=...>`; inferred from the device name when absent.
    pub target_bus: Option<DiskBus>,
    /// `<target tray='open|closed'>`.
    pub target_tray: Option<String>,
    /// `<target removable='on|off'>`.
    pub target_removable: Option<bool>,
    /// `<iotune>` children `(name, value)` in libvirt's print order (`total_bytes_sec`,
    /// `read_iops_sec`, `group_name`, ...), values as written; zeros are kept.
    pub iotune: Vec<(String, String)>,
    /// `<readonly/>` (always set for cdroms).
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<transient/>`.
    pub transient: bool,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<wwn>`.
    pub wwn: Option<String>,
    /// `<boot order=...>`.
    pub boot_order: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<disk><driver>`: attributes in libvirt's print order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDriver {
    /// `name=...` (`qemu`, `phy`, `tap`, `file`).
    pub name: Option<String>,
    /// `type=...`: image format.
    pub format: Option<String>,
    /// `cache=...`.
    pub cache: Option<String>,
    /// `error_policy=...`.
    pub error_policy: Option<String>,
    /// `rerror_policy=...`.
    pub rerror_policy: Option<String>,
    /// `io=...`.
    pub io: Option<String>,
    /// `ioeventfd='on|off'`.
    pub ioeventfd: Option<bool>,
    /// `event_idx='on|off'`.
    pub event_idx: Option<bool>,
    /// `copy_on_read='on|off'`.
    pub copy_on_read: Option<bool>,
    /// `discard=...`.
    pub discard: Option<String>,
    /// `iothread=...`.
    pub iothread: Option<u32>,
    /// `detect_zeroes=...`.
    pub detect_zeroes: Option<String>,
    /// `queues=...`.
    pub queues: Option<u32>,
}

/// One image of a disk's `<backingStore>` chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackingStore {
    /// `type='file'` image path (`<source file=...>`).
    pub path: String,
    /// `<format type=...>`.
    pub format: Option<String>,
}

/// `<disk><source>`; which fields apply depends on the disk type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskSource {
    /// `file=...` (file), `dev=...` (block) or `dir=...` (dir).
    pub path: Option<String>,
    /// `protocol=...` (network).
    pub protocol: Option<String>,
    /// `name=...` (network).
    pub name: Option<String>,
    /// `<host>` children (network).
    pub hosts: Vec<DiskSourceHost>,
    /// `pool=...` (volume).
    pub pool: Option<String>,
    /// `volume=...` (volume).
    pub volume: Option<String>,
    /// `mode='host|direct'` (volume).
    pub mode: Option<String>,
    /// What a volume resolved to when the domain started (file or block, with `path` set to
    /// the volume's): runtime only, never formatted, as libvirt keeps the translated source
    /// beside the `pool`/`volume` it shows.
    pub resolved_type: Option<DiskType>,
    /// `startupPolicy=...`.
    pub startup_policy: Option<String>,
    /// `<seclabel>` children: per-image security label overrides, in document order.
    pub seclabels: Vec<DeviceSecLabel>,
}

/// A device's `<seclabel>` (under a disk `<source>`): overrides the domain's label for one
/// image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceSecLabel {
    /// `model=...`: `selinux`, `apparmor`, `dac`.
    pub model: Option<String>,
    /// `relabel='yes|no'`.
    pub relabel: Option<bool>,
    /// `labelskip='yes|no'`.
    pub labelskip: Option<bool>,
    /// `<label>`.
    pub label: Option<String>,
}

/// `<disk><source><host>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskSourceHost {
    /// `name=...`.
    pub name: Option<String>,
    /// `port=...`.
    pub port: Option<u32>,
    /// `transport='tcp|unix|rdma'`.
    pub transport: Option<String>,
    /// `socket=...` (unix transport).
    pub socket: Option<String>,
}

/// `<controller>`.
#[derive(Debug, Clone, Default)]
pub struct Controller {
    /// `type=...`.
    pub controller_type: ControllerType,
    /// `index=...`; assigned (lowest free per type) when absent.
    pub index: u32,
    /// `model=...`.
    pub model: Option<String>,
    /// `ports=...` (usb, virtio-serial).
    pub ports: Option<u32>,
    /// `vectors=...` (virtio-serial).
    pub vectors: Option<u32>,
    /// `<model name=...>` (pci).
    pub model_name: Option<String>,
    /// `<target>` attributes (pci): `(name, value)` in libvirt's print order.
    pub target: Vec<(String, String)>,
    /// `<master startport=...>` (USB companion controllers).
    pub master_startport: Option<u32>,
    /// `<driver queues=...>` (SCSI, virtio-serial).
    pub driver_queues: Option<u32>,
    /// `<driver iothread=...>`: the IOThread a virtio-scsi controller runs in.
    pub driver_iothread: Option<u32>,
    /// `maxGrantFrames=...` (xenbus): the guest's grant table size limit.
    pub max_grant_frames: Option<u32>,
    /// `maxEventChannels=...` (xenbus): the guest's event channel limit.
    pub max_event_channels: Option<u32>,
    /// Added by the generic post-parse step for devices that need it (a disk's SCSI
    /// controller, a channel's virtio-serial controller), not written in the definition;
    /// libvirt adds a driver's own default controllers before these. Not part of the XML.
    pub implicit: bool,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// `type=...`.
    pub interface_type: InterfaceType,
    /// `<mac address=...>`, lower case.
    pub mac: Option<String>,
    /// `<source network=...>` (network).
    pub source_network: Option<String>,
    /// `<source portgroup=...>` (network, direct).
    pub source_portgroup: Option<String>,
    /// `<source bridge=...>` (bridge; for a network interface of a running domain, the bridge
    /// its network port plugs into, as libvirt's live XML shows it).
    pub source_bridge: Option<String>,
    /// `<source portid=...>` (network): the network port of a running domain's interface.
    pub source_portid: Option<String>,
    /// `<source dev=...>` (direct).
    pub source_dev: Option<String>,
    /// `<source mode=...>` (direct).
    pub source_mode: Option<MacvtapMode>,
    /// `<virtualport>`: the port profile (network, bridge, direct).
    pub virtualport: Option<VirtualPort>,
    /// `<vlan>`: VLAN tags (Open vSwitch bridges, SR-IOV).
    pub vlan: Option<Vlan>,
    /// `<bandwidth>`: traffic shaping in each direction.
    pub bandwidth: Option<Bandwidth>,
    /// `<script path=...>`.
    pub script: Option<String>,
    /// `<source><ip>`/`<source><route>`: addresses and routes of the host-side end
    /// (LXC `ethernet` veth pairs).
    pub host_ip: super::netip::NetIpInfo,
    /// `<ip>`/`<route>` (children of `<interface>`): addresses and routes configured inside
    /// the guest (LXC applies them in the container).
    pub guest_ip: super::netip::NetIpInfo,
    /// `<target dev=...>`: the host-side device.
    pub target_dev: Option<String>,
    /// `<guest dev=...>`: the device name inside the container.
    pub guest_dev: Option<String>,
    /// `<guest actual=...>`: the name the device got inside the container (live XML).
    pub guest_actual: Option<String>,
    /// `<model type=...>`.
    pub model: Option<String>,
    /// `<driver name=...>`.
    pub driver_name: Option<String>,
    /// `<driver queues=...>`.
    pub driver_queues: Option<u32>,
    /// `<filterref filter=...>`.
    pub filterref: Option<String>,
    /// `<link state='up|down'>`.
    pub link_up: Option<bool>,
    /// `<mtu size=...>`.
    pub mtu: Option<u32>,
    /// `<boot order=...>`.
    pub boot_order: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<interface><virtualport>`: a port profile for 802.1Qbg/802.1Qbh switches, Open vSwitch or
/// MidoNet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VirtualPort {
    /// `type=...`: `802.1Qbg`, `802.1Qbh`, `openvswitch`, `midonet`; `None` when not written.
    pub port_type: Option<String>,
    /// `<parameters>` attributes `(name, value)` in libvirt's print order (`managerid`,
    /// `typeid`, `typeidversion`, `instanceid`, `profileid`, `interfaceid`), values as written.
    pub parameters: Vec<(String, String)>,
}

/// `<interface><vlan>`: one tag, or a trunk of several.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vlan {
    /// `trunk='yes'`.
    pub trunk: bool,
    /// `<tag id=...>` in order, each with its `nativeMode=...` (`tagged`, `untagged`) if any.
    pub tags: Vec<(u32, Option<String>)>,
}

/// `<interface><bandwidth>`: `<inbound>` and `<outbound>` rates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bandwidth {
    /// `<inbound>` (traffic to the guest).
    pub inbound: Option<BandwidthRate>,
    /// `<outbound>` (traffic from the guest).
    pub outbound: Option<BandwidthRate>,
}

/// One direction of a `<bandwidth>`, in KiB/s (`burst` in KiB).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BandwidthRate {
    /// `average=...`.
    pub average: Option<u64>,
    /// `peak=...`.
    pub peak: Option<u64>,
    /// `floor=...` (inbound only).
    pub floor: Option<u64>,
    /// `burst=...`.
    pub burst: Option<u64>,
}

/// `<watchdog>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watchdog {
    /// `model=...`.
    pub model: WatchdogModel,
    /// `action=...` (reset when absent, always printed).
    pub action: WatchdogAction,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<memballoon>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memballoon {
    /// `model=...`.
    pub model: MemballoonModel,
    /// `autodeflate='on|off'`.
    pub autodeflate: Option<bool>,
    /// `freePageReporting='on|off'`.
    pub free_page_reporting: Option<bool>,
    /// `<stats period=...>` seconds.
    pub stats_period: Option<u32>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<rng>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rng {
    /// `model=...`.
    pub model: RngModel,
    /// `<rate bytes=...>`.
    pub rate_bytes: Option<u32>,
    /// `<rate period=...>` in ms.
    pub rate_period: Option<u32>,
    /// `<backend>`.
    pub backend: RngBackend,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<rng><backend>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RngBackend {
    /// `model='random'`: a host device; `None` is the hypervisor's default.
    Random(Option<String>),
    /// `model='egd'`: an entropy daemon reached through a character device.
    Egd(CharSource),
    /// `model='builtin'`.
    Builtin,
}

impl Disk {
    /// The type the hypervisor opens: a volume's resolved file or block type once the domain
    /// started (see [`DiskSource::resolved_type`]), else `disk_type`.
    pub fn effective_type(&self) -> DiskType {
        match (
            self.disk_type,
            self.source.as_ref().and_then(|s| s.resolved_type),
        ) {
            (DiskType::Volume, Some(t)) => t,
            (t, _) => t,
        }
    }
}

impl Default for RngBackend {
    fn default() -> RngBackend {
        RngBackend::Random(None)
    }
}

/// `<panic>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Panic {
    /// `model=...`.
    pub model: Option<PanicModel>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// Equal as XML: [`Controller::implicit`] only records where the controller came from.
impl PartialEq for Controller {
    fn eq(&self, o: &Controller) -> bool {
        self.controller_type == o.controller_type
            && self.index == o.index
            && self.model == o.model
            && self.ports == o.ports
            && self.vectors == o.vectors
            && self.model_name == o.model_name
            && self.target == o.target
            && self.master_startport == o.master_startport
            && self.max_grant_frames == o.max_grant_frames
            && self.max_event_channels == o.max_event_channels
            && self.alias == o.alias
            && self.address == o.address
    }
}

impl Eq for Controller {}

/// Whether `alias` is a user alias (`ua-` prefix), which belongs to the definition; every
/// other alias is a name a driver gave a device for one run.
pub fn is_user_alias(alias: &str) -> bool {
    alias.starts_with("ua-")
}

impl Devices {
    /// Every device's alias slot, in one walk (libvirt's `virDomainDeviceInfoIterate` order:
    /// disks, controllers, filesystems, interfaces, inputs, sounds, videos, hostdevs,
    /// redirdevs, watchdog, memballoon, serials, parallels, channels, consoles, rngs, TPMs,
    /// panics).
    pub fn aliases_mut(&mut self) -> Vec<&mut Option<String>> {
        let mut out: Vec<&mut Option<String>> = Vec::new();
        out.extend(self.disks.iter_mut().map(|d| &mut d.alias));
        out.extend(self.controllers.iter_mut().map(|d| &mut d.alias));
        out.extend(self.filesystems.iter_mut().map(|d| &mut d.alias));
        out.extend(self.interfaces.iter_mut().map(|d| &mut d.alias));
        out.extend(self.smartcards.iter_mut().map(|d| &mut d.alias));
        out.extend(self.inputs.iter_mut().map(|d| &mut d.alias));
        out.extend(self.sounds.iter_mut().map(|d| &mut d.alias));
        out.extend(self.videos.iter_mut().map(|d| &mut d.alias));
        out.extend(self.hostdevs.iter_mut().map(|d| &mut d.alias));
        out.extend(self.redirdevs.iter_mut().map(|d| &mut d.alias));
        out.extend(self.watchdog.iter_mut().map(|d| &mut d.alias));
        out.extend(self.memballoon.iter_mut().map(|d| &mut d.alias));
        out.extend(self.serials.iter_mut().map(|d| &mut d.alias));
        out.extend(self.parallels.iter_mut().map(|d| &mut d.alias));
        out.extend(self.channels.iter_mut().map(|d| &mut d.alias));
        out.extend(self.consoles.iter_mut().map(|d| &mut d.alias));
        out.extend(self.rngs.iter_mut().map(|d| &mut d.alias));
        out.extend(self.tpms.iter_mut().map(|d| &mut d.alias));
        out.extend(self.panics.iter_mut().map(|d| &mut d.alias));
        out.extend(self.hubs.iter_mut().map(|d| &mut d.alias));
        out
    }

    /// Every device's address slot, in the same order as [`Devices::aliases_mut`].
    pub fn addresses_mut(&mut self) -> Vec<&mut Option<Address>> {
        let mut out: Vec<&mut Option<Address>> = Vec::new();
        out.extend(self.disks.iter_mut().map(|d| &mut d.address));
        out.extend(self.controllers.iter_mut().map(|d| &mut d.address));
        out.extend(self.filesystems.iter_mut().map(|d| &mut d.address));
        out.extend(self.interfaces.iter_mut().map(|d| &mut d.address));
        out.extend(self.smartcards.iter_mut().map(|d| &mut d.address));
        out.extend(self.inputs.iter_mut().map(|d| &mut d.address));
        out.extend(self.sounds.iter_mut().map(|d| &mut d.address));
        out.extend(self.videos.iter_mut().map(|d| &mut d.address));
        out.extend(self.hostdevs.iter_mut().map(|d| &mut d.address));
        out.extend(self.redirdevs.iter_mut().map(|d| &mut d.address));
        out.extend(self.watchdog.iter_mut().map(|d| &mut d.address));
        out.extend(self.memballoon.iter_mut().map(|d| &mut d.address));
        out.extend(self.serials.iter_mut().map(|d| &mut d.address));
        out.extend(self.parallels.iter_mut().map(|d| &mut d.address));
        out.extend(self.channels.iter_mut().map(|d| &mut d.address));
        out.extend(self.consoles.iter_mut().map(|d| &mut d.address));
        out.extend(self.rngs.iter_mut().map(|d| &mut d.address));
        out.extend(self.tpms.iter_mut().map(|d| &mut d.address));
        out.extend(self.panics.iter_mut().map(|d| &mut d.address));
        out.extend(self.hubs.iter_mut().map(|d| &mut d.address));
        out
    }

    /// Drops every alias a driver generated, keeping user aliases: what a define does with
    /// the live XML of a running guest (libvirt ignores such aliases there too), so a dumped
    /// definition defines unchanged and its devices are named afresh at the next start.
    pub fn clear_generated_aliases(&mut self) {
        for a in self.aliases_mut() {
            if a.as_deref().is_some_and(|n| !is_user_alias(n)) {
                *a = None;
            }
        }
    }
}
