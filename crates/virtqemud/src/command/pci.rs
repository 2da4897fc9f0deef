//! PCI placement for devices the definition leaves unaddressed, and the buses its addresses
//! name but no controller provides.
//!
//! libvirt assigns every PCI address (and adds the controllers they need) at define time; a
//! definition written by hand, or one of libvirt's test inputs, may carry only some of them.
//! Letting QEMU place the rest is unsafe: a device created early takes the first free slot,
//! which a device created later may name explicitly. So every explicitly used slot of the
//! root bus is reserved first, then unaddressed devices get free root-bus slots in the order
//! they are emitted (the primary video first at libvirt's slot: 1 on q35, 2 on i440fx), and a
//! bus named by an address without a controller gets one (a pcie-root-port on q35, a
//! pci-bridge on i440fx) at a free slot. These are runtime placements: the definition is not
//! rewritten.

use std::collections::BTreeSet;

use virt_core::model::devices::{Address, PciAddress};
use virt_core::model::enums::ControllerType;
use virt_core::model::DomainDef;

use super::Family;

/// Root-bus slots, buses and the primary video's slot for one build.
#[derive(Debug, Default)]
pub(crate) struct PciPlan {
    used: BTreeSet<u32>,
    video_slot: Option<u32>,
    /// Buses addresses name that no controller provides, ascending.
    pub implicit: Vec<u32>,
}

fn addresses(def: &DomainDef) -> Vec<&PciAddress> {
    let d = &def.devices;
    let all = d
        .disks
        .iter()
        .map(|x| &x.address)
        .chain(d.controllers.iter().map(|x| &x.address))
        .chain(d.interfaces.iter().map(|x| &x.address))
        .chain(d.videos.iter().map(|x| &x.address))
        .chain(d.memballoon.iter().map(|x| &x.address))
        .chain(d.rngs.iter().map(|x| &x.address));
    all.filter_map(|a| match a {
        Some(Address::Pci(p)) => Some(p),
        _ => None,
    })
    .collect()
}

impl PciPlan {
    pub(crate) fn of(def: &DomainDef, family: Family) -> PciPlan {
        let mut plan = PciPlan::default();
        if family == Family::Other {
            return plan;
        }
        // Slot 0 is the host bridge; i440fx's PIIX3 sits in slot 1, q35's ICH9 in 0x1f.
        plan.used.insert(0);
        plan.used
            .insert(if family == Family::Q35 { 0x1f } else { 1 });
        let addrs = addresses(def);
        plan.used
            .extend(addrs.iter().filter(|a| a.bus == 0).map(|a| a.slot));
        let controllers: BTreeSet<u32> = def
            .devices
            .controllers
            .iter()
            .filter(|c| c.controller_type == ControllerType::Pci)
            .map(|c| c.index)
            .collect();
        let wanted: BTreeSet<u32> = addrs.iter().map(|a| a.bus).filter(|b| *b > 0).collect();
        plan.implicit = wanted.difference(&controllers).copied().collect();
        let video_unplaced = def.devices.videos.first().is_some_and(|v| {
            v.address.is_none() && v.model != virt_core::model::enums::VideoModel::None
        });
        let preferred = if family == Family::Q35 { 1 } else { 2 };
        if video_unplaced && plan.used.insert(preferred) {
            plan.video_slot = Some(preferred);
        }
        plan
    }

    /// The primary video's reserved slot, once.
    pub(crate) fn video_slot(&mut self) -> Option<u32> {
        self.video_slot.take()
    }

    /// The lowest free root-bus slot.
    pub(crate) fn take_slot(&mut self) -> Option<u32> {
        let slot = (1..0x20).find(|s| !self.used.contains(s))?;
        self.used.insert(slot);
        Some(slot)
    }
}
