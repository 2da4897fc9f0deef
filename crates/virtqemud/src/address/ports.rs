//! Ports on the buses that are not PCI: virtio-serial ports for channels (libvirt's
//! `virDomainVirtioSerialAddrSet`) and USB ports for USB devices (`virDomainUSBAddressSet`).
//!
//! virtio-serial: each controller has `ports` ports (31 when not given); port 0 is kept for
//! a virtio console, so channels take the lowest free port from 1 on the first controller
//! that has one. A channel that names only its controller gets the next port there.
//!
//! USB: each controller (the EHCI of a USB2 set; its UHCI companions add no ports) has a
//! fixed number of ports by model (qemu-xhci: `ports`, else 4; piix3-uhci: 2; EHCI: 6;
//! pci-ohci: 3). Devices keep the ports they name; the others take the first free port of
//! the first controller (then of its hubs), in libvirt's device order (host devices, disks,
//! inputs, USB serial ports, sound, redirected devices).

use std::collections::BTreeMap;

use virt_core::model::devices::{Address, Controller};
use virt_core::model::enums::{ControllerType, DiskBus, InputBus, SoundModel};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::addr_error;

/// Default number of ports of a virtio-serial controller.
const VIRTIO_SERIAL_PORTS: u32 = 31;

/// Gives virtio channels their virtio-serial ports.
pub(super) fn assign_virtio_serial(def: &mut DomainDef) -> Result<(), VirtError> {
    let mut ports: BTreeMap<u32, Vec<bool>> = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.controller_type == ControllerType::VirtioSerial)
        .map(|c| {
            let n = c.ports.unwrap_or(VIRTIO_SERIAL_PORTS) as usize;
            (c.index, vec![false; n])
        })
        .collect();
    let d = &mut def.devices;
    let virtio = |t: &Option<String>| t.as_deref() == Some("virtio");
    // Reserve what the definition names.
    for (i, c) in d.channels.iter().chain(d.consoles.iter()).enumerate() {
        if let Some(Address::VirtioSerial {
            controller, port, ..
        }) = &c.address
        {
            if *port == 0 {
                continue;
            }
            let map = ports.get_mut(controller).ok_or_else(|| {
                addr_error(format!("virtio serial controller {controller} is missing"))
                    .at(format!("/domain/devices/channel[{}]/address", i + 1))
            })?;
            let slot = map.get_mut(*port as usize).ok_or_else(|| {
                addr_error(format!(
                    "virtio serial controller {controller} does not have port {port}"
                ))
            })?;
            if *slot {
                return Err(addr_error(format!(
                    "virtio serial port {port} on controller {controller} is already occupied"
                )));
            }
            *slot = true;
        }
    }
    // A virtio console takes port 0 (its address is not written, as in libvirt).
    for c in &d.consoles {
        if virtio(&c.target.target_type) && c.address.is_none() {
            if let Some(map) = ports.values_mut().find(|m| m.iter().any(|p| !p)) {
                if let Some(p) = map.iter().position(|p| !p) {
                    map[p] = true;
                }
            }
        }
    }
    for (i, c) in d.channels.iter_mut().enumerate() {
        if !virtio(&c.target.target_type) {
            continue;
        }
        let wanted_controller = match &c.address {
            Some(Address::VirtioSerial { port, .. }) if *port != 0 => continue,
            Some(Address::VirtioSerial { controller, .. }) => Some(*controller),
            None => None,
            Some(_) => continue,
        };
        let free = |m: &Vec<bool>| m.iter().skip(1).position(|p| !p).map(|p| p + 1);
        let found = match wanted_controller {
            Some(ctl) => ports.get(&ctl).and_then(|m| free(m).map(|p| (ctl, p))),
            None => ports.iter().find_map(|(ctl, m)| free(m).map(|p| (*ctl, p))),
        };
        let (controller, port) = found.ok_or_else(|| {
            addr_error("Unable to find a free virtio-serial port")
                .at(format!("/domain/devices/channel[{}]", i + 1))
        })?;
        if let Some(m) = ports.get_mut(&controller) {
            m[port] = true;
        }
        c.address = Some(Address::VirtioSerial {
            controller,
            bus: 0,
            port: port as u32,
        });
    }
    Ok(())
}

/// The ports a USB controller offers (0 for companions and `none`).
fn usb_ports(c: &Controller) -> usize {
    match c.model.as_deref() {
        None | Some("piix3-uhci") | Some("piix4-uhci") | Some("vt82c686b-uhci") => 2,
        Some("ehci") | Some("ich9-ehci1") => 6,
        Some("pci-ohci") => 3,
        Some("qemu-xhci") | Some("nec-xhci") => c.ports.unwrap_or(4) as usize,
        Some("qusb1") | Some("qusb2") => c.ports.unwrap_or(8) as usize,
        _ => 0,
    }
}

/// Ports of a USB hub.
const HUB_PORTS: usize = 8;

/// Adds the USB hubs the devices need when the controllers' ports are too few (libvirt's
/// `qemuDomainUSBAddressAddHubs`: each hub takes one port and gives eight).
fn add_hubs(def: &mut DomainDef, available: usize) {
    let d = &def.devices;
    let count = d
        .controllers
        .iter()
        .filter(|c| c.controller_type == ControllerType::Ccid)
        .count()
        + d.inputs
            .iter()
            .filter(|x| x.bus == Some(InputBus::Usb))
            .count()
        + d.sounds
            .iter()
            .filter(|x| x.model == SoundModel::Usb)
            .count()
        + d.disks
            .iter()
            .filter(|x| x.target_bus == Some(DiskBus::Usb))
            .count()
        + d.hostdevs
            .iter()
            .filter(|x| x.hostdev_type == "usb")
            .count()
        + d.serials.iter().filter(|x| is_usb_serial(x)).count()
        + d.redirdevs.len()
        + d.hubs.len();
    if count > available {
        let needed = (count - available + 1).div_ceil(HUB_PORTS - 1);
        for _ in 0..needed {
            def.devices.hubs.push(virt_core::model::devices::Hub {
                hub_type: "usb".into(),
                ..Default::default()
            });
        }
    }
}

/// Whether a serial port is a USB one.
fn is_usb_serial(s: &virt_core::model::chardev::CharDev) -> bool {
    s.target.target_type.as_deref() == Some("usb-serial")
}

/// Gives USB devices their ports.
pub(super) fn assign_usb(def: &mut DomainDef) -> Result<(), VirtError> {
    let mut buses: BTreeMap<u32, Vec<bool>> = BTreeMap::new();
    for c in &def.devices.controllers {
        if c.controller_type != ControllerType::Usb {
            continue;
        }
        let n = usb_ports(c);
        if n > 0 {
            buses.insert(c.index, vec![false; n]);
        }
    }
    if !buses.is_empty() {
        let hubs = def.devices.hubs.len() * HUB_PORTS;
        add_hubs(def, buses.values().map(Vec::len).sum::<usize>() + hubs);
    }
    // Hubs first: a hub's ports exist only once the hub has its own.
    let mut hub_ports: BTreeMap<(u32, String), Vec<bool>> = BTreeMap::new();
    for (i, h) in def.devices.hubs.iter_mut().enumerate() {
        let path = format!("/domain/devices/hub[{}]", i + 1);
        let (bus, port) = match &h.address {
            Some(Address::Usb { bus, port: Some(p) }) => (*bus, p.clone()),
            _ => {
                let (b, p) = buses
                    .iter()
                    .find_map(|(b, m)| m.iter().position(|x| !x).map(|p| (*b, p)))
                    .ok_or_else(|| addr_error("No free USB ports").at(path.clone()))?;
                h.address = Some(Address::Usb {
                    bus: b,
                    port: Some((p + 1).to_string()),
                });
                (b, (p + 1).to_string())
            }
        };
        if !port.contains('.') {
            if let Some(slot) = buses.get_mut(&bus).and_then(|m| {
                port.parse::<usize>()
                    .ok()
                    .and_then(|n| m.get_mut(n.checked_sub(1)?))
            }) {
                *slot = true;
            }
        }
        hub_ports.insert((bus, port), vec![false; HUB_PORTS]);
    }
    let d = &mut def.devices;
    // libvirt's virDomainUSBDeviceDefForeach order (checked with its define): host devices,
    // disks, CCID controllers (smartcard readers are USB devices themselves), inputs, serial
    // ports, sound, redirected devices.
    let mut slots: Vec<(String, &mut Option<Address>)> = Vec::new();
    for (i, x) in d.hostdevs.iter_mut().enumerate() {
        if x.hostdev_type == "usb" {
            slots.push((
                format!("/domain/devices/hostdev[{}]", i + 1),
                &mut x.address,
            ));
        }
    }
    for (i, x) in d.disks.iter_mut().enumerate() {
        if x.target_bus == Some(DiskBus::Usb) {
            slots.push((format!("/domain/devices/disk[{}]", i + 1), &mut x.address));
        }
    }
    for (i, x) in d.controllers.iter_mut().enumerate() {
        if x.controller_type == ControllerType::Ccid {
            slots.push((
                format!("/domain/devices/controller[{}]", i + 1),
                &mut x.address,
            ));
        }
    }
    for (i, x) in d.inputs.iter_mut().enumerate() {
        if x.bus == Some(InputBus::Usb) {
            slots.push((format!("/domain/devices/input[{}]", i + 1), &mut x.address));
        }
    }
    for (i, x) in d.serials.iter_mut().enumerate() {
        if is_usb_serial(x) {
            slots.push((format!("/domain/devices/serial[{}]", i + 1), &mut x.address));
        }
    }
    for (i, x) in d.sounds.iter_mut().enumerate() {
        if x.model == SoundModel::Usb {
            slots.push((format!("/domain/devices/sound[{}]", i + 1), &mut x.address));
        }
    }
    for (i, x) in d.redirdevs.iter_mut().enumerate() {
        slots.push((
            format!("/domain/devices/redirdev[{}]", i + 1),
            &mut x.address,
        ));
    }
    if slots.is_empty() {
        return Ok(());
    }
    if buses.is_empty() {
        return Err(VirtError::new(
            virt_core::error::ErrorCode::ConfigUnsupported,
            virt_core::error::ErrorDomain::Qemu,
            "USB is disabled for this domain, but USB devices are present in the domain XML",
        )
        .at(slots[0].0.clone()));
    }
    // Reserve the ports devices name (top-level ports; hub paths are left as written).
    for (path, a) in &slots {
        if let Some(Address::Usb {
            bus,
            port: Some(port),
        }) = a
        {
            if let Some((hub, p)) = port.rsplit_once('.') {
                if let Some(slot) = hub_ports.get_mut(&(*bus, hub.to_string())).and_then(|m| {
                    p.parse::<usize>()
                        .ok()
                        .and_then(|n| m.get_mut(n.checked_sub(1)?))
                }) {
                    *slot = true;
                }
                continue;
            }
            let map = buses
                .get_mut(bus)
                .ok_or_else(|| addr_error(format!("Missing USB bus {bus}")).at(path.clone()))?;
            let n: usize = port.parse().unwrap_or(0);
            let slot = n
                .checked_sub(1)
                .and_then(|i| map.get_mut(i))
                .ok_or_else(|| {
                    addr_error(format!(
                        "requested USB port {port} not present on USB bus {bus}"
                    ))
                    .at(path.clone())
                })?;
            if *slot {
                return Err(addr_error(format!(
                    "Attempted double use of USB address bus='{bus}' port='{port}'"
                ))
                .at(path.clone()));
            }
            *slot = true;
        }
    }
    for (path, a) in slots {
        let bus_wanted = match a {
            Some(Address::Usb { port: Some(_), .. }) => continue,
            Some(Address::Usb { bus, port: None }) => Some(*bus),
            None => None,
            Some(_) => continue,
        };
        let top = buses
            .iter()
            .filter(|(b, _)| bus_wanted.is_none_or(|w| w == **b))
            .find_map(|(b, m)| m.iter().position(|p| !p).map(|p| (*b, None, p)));
        let found = top.or_else(|| {
            hub_ports
                .iter()
                .filter(|((b, _), _)| bus_wanted.is_none_or(|w| w == *b))
                .find_map(|((b, hub), m)| {
                    m.iter()
                        .position(|p| !p)
                        .map(|p| (*b, Some(hub.clone()), p))
                })
        });
        let (bus, hub, p) = found.ok_or_else(|| addr_error("No free USB ports").at(path))?;
        let port = match hub {
            None => {
                if let Some(m) = buses.get_mut(&bus) {
                    m[p] = true;
                }
                (p + 1).to_string()
            }
            Some(h) => {
                if let Some(m) = hub_ports.get_mut(&(bus, h.clone())) {
                    m[p] = true;
                }
                format!("{h}.{}", p + 1)
            }
        };
        *a = Some(Address::Usb {
            bus,
            port: Some(port),
        });
    }
    Ok(())
}
