//! The PCI address set: which buses a definition has, what each accepts, and which slots and
//! functions are taken; how an address is checked, reserved, and how the next free one is
//! found (libvirt's `virDomainPCIAddressSet`, which the QEMU driver's assignment builds on).
//!
//! # Connection flags
//!
//! Every device that sits on PCI has *connect flags*: what kind of slot it needs (a standard
//! PCI slot, a PCI Express slot, a root port, a bridge, ...), whether it may be placed
//! automatically, whether it must be hot-pluggable. Every bus has flags too: what it accepts
//! downstream. A device fits a bus when they share a connection type. Addresses written in a
//! definition are checked more loosely than placed ones (a PCI device may sit in a PCIe slot
//! and vice versa, as QEMU allows), and a device is never placed on a bus that does not take
//! automatic placement (the q35 root bus takes only integrated devices and ports).
//!
//! # Growing
//!
//! A *dry run* set adds buses when no slot fits: a pcie-root-port for a PCIe device, a
//! pci-bridge for a PCI device (on a pure PCIe machine, a pcie-root-port plus a
//! pcie-to-pci-bridge first). The assignment runs once dry to learn which controllers to add,
//! adds them, then runs for real on the grown topology.

use virt_core::model::devices::PciAddress;
use virt_core::model::enums::ControllerType;
use virt_core::model::DomainDef;

use super::addr_error;
use virt_core::VirtError;

/// Connection flags (libvirt's `virDomainPCIConnectFlags`).
pub(crate) mod connect {
    /// A standard PCI endpoint.
    pub const PCI_DEVICE: u32 = 1 << 0;
    /// A PCI Express endpoint.
    pub const PCIE_DEVICE: u32 = 1 << 1;
    /// May be placed automatically (on a device); takes automatic placement (on a bus).
    pub const AUTOASSIGN: u32 = 1 << 2;
    /// Needs (device) or offers (bus) hot-plug.
    pub const HOTPLUGGABLE: u32 = 1 << 3;
    /// A pcie-root-port.
    pub const PCIE_ROOT_PORT: u32 = 1 << 4;
    /// A pcie-switch-upstream-port.
    pub const PCIE_SWITCH_UPSTREAM_PORT: u32 = 1 << 5;
    /// A pcie-switch-downstream-port.
    pub const PCIE_SWITCH_DOWNSTREAM_PORT: u32 = 1 << 6;
    /// A pci-bridge.
    pub const PCI_BRIDGE: u32 = 1 << 7;
    /// A dmi-to-pci-bridge.
    pub const DMI_TO_PCI_BRIDGE: u32 = 1 << 8;
    /// A pcie-to-pci-bridge.
    pub const PCIE_TO_PCI_BRIDGE: u32 = 1 << 9;
    /// A pci-expander-bus.
    pub const PCI_EXPANDER_BUS: u32 = 1 << 10;
    /// A pcie-expander-bus.
    pub const PCIE_EXPANDER_BUS: u32 = 1 << 11;
    /// Must sit on the root bus (integrated endpoint).
    pub const INTEGRATED: u32 = 1 << 12;
    /// Several of these may share one slot as functions (root ports).
    pub const AGGREGATE_SLOT: u32 = 1 << 13;

    /// Every connection type.
    pub const TYPES: u32 = PCI_DEVICE
        | PCIE_DEVICE
        | PCIE_ROOT_PORT
        | PCIE_SWITCH_UPSTREAM_PORT
        | PCIE_SWITCH_DOWNSTREAM_PORT
        | PCI_BRIDGE
        | DMI_TO_PCI_BRIDGE
        | PCIE_TO_PCI_BRIDGE
        | PCI_EXPANDER_BUS
        | PCIE_EXPANDER_BUS;
    /// Endpoint connection types.
    pub const ENDPOINT: u32 = PCI_DEVICE | PCIE_DEVICE;
    /// A standard PCI endpoint placed automatically.
    pub const PCI: u32 = PCI_DEVICE | AUTOASSIGN;
    /// A PCI Express endpoint placed automatically.
    pub const PCIE: u32 = PCIE_DEVICE | AUTOASSIGN;
}

use connect::*;

/// The PCI controller models, as `<controller type='pci' model=...>` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BusModel {
    PciRoot,
    PcieRoot,
    PciBridge,
    DmiToPciBridge,
    PcieToPciBridge,
    PcieRootPort,
    SwitchUpstreamPort,
    SwitchDownstreamPort,
    PciExpanderBus,
    PcieExpanderBus,
}

impl BusModel {
    pub(crate) const ALL: &'static [(BusModel, &'static str)] = &[
        (BusModel::PciRoot, "pci-root"),
        (BusModel::PcieRoot, "pcie-root"),
        (BusModel::PciBridge, "pci-bridge"),
        (BusModel::DmiToPciBridge, "dmi-to-pci-bridge"),
        (BusModel::PcieToPciBridge, "pcie-to-pci-bridge"),
        (BusModel::PcieRootPort, "pcie-root-port"),
        (BusModel::SwitchUpstreamPort, "pcie-switch-upstream-port"),
        (
            BusModel::SwitchDownstreamPort,
            "pcie-switch-downstream-port",
        ),
        (BusModel::PciExpanderBus, "pci-expander-bus"),
        (BusModel::PcieExpanderBus, "pcie-expander-bus"),
    ];

    pub(crate) fn from_name(name: &str) -> Option<BusModel> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }

    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .expect("every model is listed")
    }

    /// What a controller of this model needs upstream (`virDomainPCIControllerModelToConnectType`).
    pub(crate) fn connect_type(self) -> u32 {
        match self {
            BusModel::PciRoot | BusModel::PcieRoot => 0,
            BusModel::PciBridge => PCI_BRIDGE,
            BusModel::PciExpanderBus => PCI_EXPANDER_BUS,
            BusModel::PcieExpanderBus => PCIE_EXPANDER_BUS,
            BusModel::DmiToPciBridge => DMI_TO_PCI_BRIDGE,
            BusModel::PcieToPciBridge => PCIE_TO_PCI_BRIDGE,
            BusModel::PcieRootPort => PCIE_ROOT_PORT | AGGREGATE_SLOT,
            BusModel::SwitchUpstreamPort => PCIE_SWITCH_UPSTREAM_PORT,
            BusModel::SwitchDownstreamPort => PCIE_SWITCH_DOWNSTREAM_PORT,
        }
    }

    /// What the bus it provides accepts, and its slot range.
    fn downstream(self, hotplug: bool) -> (u32, u32, u32) {
        let hp = if hotplug { HOTPLUGGABLE } else { 0 };
        match self {
            BusModel::PciRoot => (
                AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | PCI_EXPANDER_BUS | hp,
                1,
                31,
            ),
            BusModel::PciBridge | BusModel::PcieToPciBridge => {
                (AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp, 1, 31)
            }
            BusModel::PciExpanderBus => (AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp, 0, 31),
            BusModel::PcieRoot => (
                PCIE_DEVICE | PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE | PCIE_EXPANDER_BUS,
                1,
                31,
            ),
            BusModel::DmiToPciBridge => (PCI_DEVICE | PCI_BRIDGE, 0, 31),
            BusModel::PcieRootPort | BusModel::SwitchDownstreamPort => (
                AUTOASSIGN | PCIE_DEVICE | PCIE_SWITCH_UPSTREAM_PORT | PCIE_TO_PCI_BRIDGE | hp,
                0,
                0,
            ),
            BusModel::SwitchUpstreamPort => (PCIE_SWITCH_DOWNSTREAM_PORT, 0, 31),
            BusModel::PcieExpanderBus => (PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE, 0, 31),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    functions: u8,
    aggregate: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Bus {
    pub model: Option<BusModel>,
    flags: u32,
    min_slot: u32,
    max_slot: u32,
    slots: [Slot; 32],
}

impl Bus {
    fn empty() -> Bus {
        Bus {
            model: None,
            flags: 0,
            min_slot: 0,
            max_slot: 0,
            slots: [Slot::default(); 32],
        }
    }

    fn set_model(&mut self, model: BusModel, hotplug: bool) {
        let (flags, min, max) = model.downstream(hotplug);
        self.model = Some(model);
        self.flags = flags;
        self.min_slot = min;
        self.max_slot = max;
    }

    fn is_full(&self) -> bool {
        (self.min_slot..=self.max_slot).all(|s| self.slots[s as usize].functions != 0)
    }
}

/// `0000:00:01.0`, libvirt's spelling of an address in messages.
pub(crate) fn show(a: &PciAddress) -> String {
    format!(
        "{:04x}:{:02x}:{:02x}.{:x}",
        a.domain, a.bus, a.slot, a.function
    )
}

/// The buses of one definition and what is taken on them.
#[derive(Debug, Clone)]
pub(crate) struct AddrSet {
    pub buses: Vec<Bus>,
    /// Add buses instead of failing when nothing fits (the first pass).
    dry_run: bool,
    /// Flags every placed device needs on top of its own (hot-plug for a running guest).
    pub required: u32,
}

impl AddrSet {
    /// A set of `nbuses` buses with the models of the definition's PCI controllers; buses
    /// without a controller get pcie-root-port (under pcie-root) or pci-bridge.
    pub(crate) fn new(def: &DomainDef, nbuses: usize, dry_run: bool) -> Result<AddrSet, VirtError> {
        let mut set = AddrSet {
            buses: vec![Bus::empty(); nbuses],
            dry_run,
            required: 0,
        };
        let mut pcie_root = false;
        for c in &def.devices.controllers {
            if c.controller_type != ControllerType::Pci {
                continue;
            }
            let model = c
                .model
                .as_deref()
                .and_then(BusModel::from_name)
                .ok_or_else(|| addr_error("PCI controller model was not set correctly"))?;
            let hotplug = !c.target.iter().any(|(k, v)| k == "hotplug" && v == "off");
            if let Some(bus) = set.buses.get_mut(c.index as usize) {
                bus.set_model(model, hotplug);
            }
            pcie_root |= model == BusModel::PcieRoot;
        }
        if let Some(root) = set.buses.first_mut() {
            if root.model.is_none() {
                root.set_model(BusModel::PciRoot, true);
            }
        }
        let default = if pcie_root {
            BusModel::PcieRootPort
        } else {
            BusModel::PciBridge
        };
        for bus in set.buses.iter_mut().skip(1) {
            if bus.model.is_none() {
                bus.set_model(default, true);
            }
        }
        Ok(set)
    }

    pub(crate) fn nbuses(&self) -> usize {
        self.buses.len()
    }

    pub(crate) fn slot_in_use(&self, a: &PciAddress) -> bool {
        self.buses
            .get(a.bus as usize)
            .is_some_and(|b| b.slots[a.slot as usize].functions != 0)
    }

    pub(crate) fn all_full(&self) -> bool {
        self.buses.iter().all(Bus::is_full)
    }

    /// Whether `dev` may use a slot of a bus with `bus_flags` (libvirt's
    /// `virDomainPCIAddressFlagsCompatible`); `Err` carries the reason when asked for.
    fn compatible(
        a: &PciAddress,
        mut bus_flags: u32,
        mut dev: u32,
        from_config: bool,
    ) -> Result<(), String> {
        let at = show(a);
        if dev & INTEGRATED != 0 {
            if a.bus != 0 {
                return Err(format!(
                    "The device at PCI address {at} needs to be an integrated device (bus=0)"
                ));
            }
            bus_flags |= AUTOASSIGN;
        }
        if from_config {
            if bus_flags & ENDPOINT != 0 {
                bus_flags |= ENDPOINT;
            }
            if dev & PCI_BRIDGE != 0 {
                dev |= PCI_DEVICE;
            }
        } else if dev & AUTOASSIGN != 0 && bus_flags & AUTOASSIGN == 0 {
            return Err(format!(
                "The device at PCI address {at} was auto-assigned this address, but the PCI \
                 controller with index='{}' doesn't allow auto-assignment",
                a.bus
            ));
        }
        if dev & HOTPLUGGABLE != 0 && bus_flags & HOTPLUGGABLE == 0 {
            return Err(format!(
                "The device at PCI address {at} requires hotplug capability, but the PCI \
                 controller with index='{}' doesn't support hotplug",
                a.bus
            ));
        }
        if dev & bus_flags & TYPES == 0 {
            let what = [
                (PCI_DEVICE, "standard PCI device"),
                (PCIE_DEVICE, "PCI Express device"),
                (PCIE_ROOT_PORT, "pcie-root-port"),
                (PCIE_SWITCH_UPSTREAM_PORT, "pcie-switch-upstream-port"),
                (PCIE_SWITCH_DOWNSTREAM_PORT, "pcie-switch-downstream-port"),
                (DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
                (PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"),
                (PCI_EXPANDER_BUS, "pci-expander-bus"),
                (PCIE_EXPANDER_BUS, "pcie-expander-bus"),
                (PCI_BRIDGE, "pci-bridge"),
            ]
            .iter()
            .find(|(f, _)| dev & f != 0)
            .map_or("device of an unknown kind", |(_, w)| w);
            return Err(format!(
                "The device at PCI address {at} cannot be plugged into the PCI controller \
                 with index='{}'. It requires a controller that accepts a {what}.",
                a.bus
            ));
        }
        Ok(())
    }

    /// Checks that `a` exists and suits a device with `flags` (libvirt's
    /// `virDomainPCIAddressValidate`).
    pub(crate) fn validate(
        &self,
        a: &PciAddress,
        flags: u32,
        from_config: bool,
    ) -> Result<(), String> {
        let at = show(a);
        if self.buses.is_empty() {
            return Err("No PCI buses available".into());
        }
        if a.domain != 0 {
            return Err(format!(
                "Invalid PCI address {at}. Only PCI domain 0 is available"
            ));
        }
        let Some(bus) = self.buses.get(a.bus as usize) else {
            return Err(format!(
                "Invalid PCI address {at}. Only PCI buses up to {} are available",
                self.buses.len() - 1
            ));
        };
        Self::compatible(a, bus.flags, flags, from_config)?;
        if bus.min_slot > 0 && a.slot < bus.min_slot {
            return Err(format!(
                "Invalid PCI address {at}. slot must be >= {}",
                bus.min_slot
            ));
        }
        if a.slot > bus.max_slot {
            return Err(format!(
                "Invalid PCI address {at}. slot must be <= {}",
                bus.max_slot
            ));
        }
        if a.function > 7 {
            return Err(format!("Invalid PCI address {at}. function must be <= 7"));
        }
        Ok(())
    }

    /// Marks `a` taken by a device with `flags`. In a dry run a bus `a` names that does not
    /// exist yet is added, which may move `a` behind a bridge added first (libvirt does the
    /// same to the definition's address).
    pub(crate) fn reserve(
        &mut self,
        a: &mut PciAddress,
        flags: u32,
        from_config: bool,
    ) -> Result<(), String> {
        if self.dry_run {
            self.grow(a, flags)?;
        }
        self.validate(a, flags, from_config)?;
        let slot = &mut self.buses[a.bus as usize].slots[a.slot as usize];
        if slot.functions & (1 << a.function) != 0 {
            return Err(format!("Attempted double use of PCI Address {}", show(a)));
        }
        if slot.functions == 0 && flags & AGGREGATE_SLOT != 0 {
            slot.aggregate = true;
        }
        slot.functions |= 1 << a.function;
        Ok(())
    }

    /// The first free slot (any function of an aggregating slot for aggregating devices)
    /// where a device with `flags` fits, growing the set in a dry run.
    fn next(&mut self, flags: u32, function: Option<u32>) -> Result<PciAddress, String> {
        if self.buses.is_empty() {
            return Err("No PCI buses available".into());
        }
        let mut a = PciAddress {
            function: function.unwrap_or(0),
            ..PciAddress::default()
        };
        for (n, bus) in self.buses.iter().enumerate() {
            a.bus = n as u32;
            a.slot = bus.min_slot;
            a.function = function.unwrap_or(0);
            if Self::compatible(&a, bus.flags, flags, false).is_err() {
                continue;
            }
            while a.slot <= bus.max_slot {
                let s = bus.slots[a.slot as usize];
                if s.functions == 0 {
                    return Ok(a);
                }
                if flags & AGGREGATE_SLOT != 0 && s.aggregate {
                    if s.functions & (1 << a.function) == 0 {
                        return Ok(a);
                    }
                    if function.is_none() {
                        if let Some(f) = (a.function..8).find(|f| s.functions & (1 << f) == 0) {
                            a.function = f;
                            return Ok(a);
                        }
                        a.function = 0;
                    }
                }
                a.slot += 1;
            }
        }
        if self.dry_run {
            a.bus = self.buses.len() as u32;
            a.function = function.unwrap_or(0);
            self.grow(&mut a, flags)?;
            a.slot = self.buses[a.bus as usize].min_slot;
            return Ok(a);
        }
        Err("No more available PCI slots".into())
    }

    /// Reserves the next free address for a device with `flags`; the address it got.
    pub(crate) fn reserve_next(
        &mut self,
        flags: u32,
        function: Option<u32>,
    ) -> Result<PciAddress, String> {
        let flags = flags | self.required;
        let mut a = self.next(flags, function)?;
        self.reserve(&mut a, flags, false)?;
        Ok(a)
    }

    /// Adds the buses `a` needs (libvirt's `virDomainPCIAddressSetGrow`); may move `a` to a
    /// later bus when a bridge must come first.
    fn grow(&mut self, a: &mut PciAddress, flags: u32) -> Result<(), String> {
        let have = self.buses.len() as i64;
        let mut add = i64::from(a.bus) - have + 1;
        if add <= 0 {
            return Ok(());
        }
        let mut need_pcie_to_pci = false;
        let model = if flags & PCI_DEVICE != 0 {
            // A pure PCIe machine has no place for a pci-bridge: a pcie-root-port and a
            // pcie-to-pci-bridge come first, and the device goes on the bridge.
            need_pcie_to_pci = !self.buses.iter().any(|b| b.flags & PCI_BRIDGE != 0);
            if need_pcie_to_pci && add == 1 {
                add += 1;
                a.bus += 1;
            }
            BusModel::PciBridge
        } else if flags & (PCIE_DEVICE | PCIE_SWITCH_UPSTREAM_PORT) != 0 {
            BusModel::PcieRootPort
        } else {
            return Err(format!(
                "Cannot automatically add a new PCI bus for a device with connect flags {flags:#x}"
            ));
        };
        let start = self.buses.len();
        self.buses.extend((0..add).map(|_| Bus::empty()));
        let mut i = start;
        if need_pcie_to_pci {
            self.buses[i].set_model(BusModel::PcieRootPort, true);
            // Only the bridge may use this port, so a later spare PCIe slot gets its own.
            self.buses[i].flags = PCIE_TO_PCI_BRIDGE;
            i += 1;
            self.buses[i].set_model(BusModel::PcieToPciBridge, true);
            i += 1;
        }
        for bus in &mut self.buses[i..] {
            bus.set_model(model, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_set(model: BusModel) -> AddrSet {
        let mut bus = Bus::empty();
        bus.set_model(model, true);
        AddrSet {
            buses: vec![bus],
            dry_run: true,
            required: 0,
        }
    }

    #[test]
    fn pci_devices_take_root_slots_in_order_from_slot_1() {
        let mut s = root_set(BusModel::PciRoot);
        s.dry_run = false;
        let a = s.reserve_next(PCI, None).expect("slot");
        assert_eq!((a.bus, a.slot, a.function), (0, 1, 0));
        let b = s.reserve_next(PCI, None).expect("slot");
        assert_eq!(b.slot, 2);
    }

    #[test]
    fn a_pcie_device_on_q35_grows_a_root_port() {
        let mut s = root_set(BusModel::PcieRoot);
        let a = s.reserve_next(PCIE, None).expect("grown");
        assert_eq!((a.bus, a.slot), (1, 0));
        assert_eq!(s.buses[1].model, Some(BusModel::PcieRootPort));
    }

    #[test]
    fn a_pci_device_on_q35_grows_a_root_port_and_a_pcie_to_pci_bridge() {
        let mut s = root_set(BusModel::PcieRoot);
        let a = s.reserve_next(PCI, None).expect("grown");
        assert_eq!((a.bus, a.slot), (2, 1));
        assert_eq!(s.buses[1].model, Some(BusModel::PcieRootPort));
        assert_eq!(s.buses[2].model, Some(BusModel::PcieToPciBridge));
        // The bridge's port takes only the bridge: the next PCIe device gets a new port.
        let b = s.reserve_next(PCIE, None).expect("grown");
        assert_eq!(b.bus, 3);
    }

    #[test]
    fn root_ports_aggregate_as_functions_of_one_slot() {
        let mut s = root_set(BusModel::PcieRoot);
        s.dry_run = false;
        let flags = BusModel::PcieRootPort.connect_type();
        let got: Vec<(u32, u32)> = (0..9)
            .map(|_| {
                s.reserve_next(flags, None)
                    .map(|a| (a.slot, a.function))
                    .expect("port")
            })
            .collect();
        assert_eq!(got[..3], [(1, 0), (1, 1), (1, 2)]);
        assert_eq!(got[8], (2, 0));
    }

    #[test]
    fn config_addresses_are_checked_as_libvirt_does() {
        let s = root_set(BusModel::PciRoot);
        let slot0 = PciAddress::default();
        let e = s.validate(&slot0, PCI, true).expect_err("slot 0");
        assert_eq!(e, "Invalid PCI address 0000:00:00.0. slot must be >= 1");
        let far = PciAddress {
            bus: 3,
            slot: 2,
            ..PciAddress::default()
        };
        let e = s.validate(&far, PCI, true).expect_err("bus 3");
        assert!(e.contains("Only PCI buses up to 0 are available"), "{e}");
        let q35 = root_set(BusModel::PcieRoot);
        // A user-placed endpoint may sit on pcie-root, as QEMU allows.
        let a = PciAddress {
            slot: 3,
            ..PciAddress::default()
        };
        q35.validate(&a, PCI, true).expect("integrated endpoint");
        q35.validate(&a, BusModel::PcieRootPort.connect_type(), true)
            .expect("root port on pcie-root");
        // A root port has no place on a PCI machine.
        let e = s
            .validate(&a, BusModel::PcieRootPort.connect_type(), true)
            .expect_err("root port on pci-root");
        assert!(
            e.ends_with("It requires a controller that accepts a pcie-root-port."),
            "{e}"
        );
    }

    #[test]
    fn double_use_is_refused() {
        let mut s = root_set(BusModel::PciRoot);
        s.dry_run = false;
        let mut a = PciAddress {
            slot: 4,
            ..PciAddress::default()
        };
        s.reserve(&mut a, PCI, true).expect("first");
        let e = s.reserve(&mut a, PCI, true).expect_err("second");
        assert_eq!(e, "Attempted double use of PCI Address 0000:00:04.0");
    }
}
