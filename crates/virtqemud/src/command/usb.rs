//! USB on the command line: the controllers (qemu-xhci, nec-xhci, piix3/piix4 UHCI, the ICH9
//! EHCI with its UHCI companions, EHCI, OHCI), a USB device's bus and port, and redirected
//! USB devices (`<redirdev>`: a SPICE channel or a TCP socket carrying a USB device).

use virt_core::model::devices::{Address, Controller};
use virt_core::model::enums::{CharType, ControllerType};
use virt_core::VirtError;

use super::chardev::{chardev, Frontend};
use super::devices::id_of;
use super::json::Json;
use super::{unsupported, Builder};

/// The QEMU device of a USB controller model, and whether it is a companion of an EHCI.
fn driver(model: Option<&str>, family: super::Family) -> Option<(&'static str, bool)> {
    Some(match model {
        None if family == super::Family::Q35 => ("qemu-xhci", false),
        None | Some("piix3-uhci") => ("piix3-usb-uhci", false),
        Some("piix4-uhci") => ("piix4-usb-uhci", false),
        Some("ehci") => ("usb-ehci", false),
        Some("ich9-ehci1") => ("ich9-usb-ehci1", false),
        Some("ich9-uhci1") => ("ich9-usb-uhci1", true),
        Some("ich9-uhci2") => ("ich9-usb-uhci2", true),
        Some("ich9-uhci3") => ("ich9-usb-uhci3", true),
        Some("vt82c686b-uhci") => ("vt82c686b-usb-uhci", false),
        Some("pci-ohci") => ("pci-ohci", false),
        Some("nec-xhci") => ("nec-usb-xhci", false),
        Some("qemu-xhci") => ("qemu-xhci", false),
        _ => return None,
    })
}

/// The QOM bus name of USB controller `index` (`usb.0`, `usb1.0`).
fn bus_name(b: &Builder<'_>, index: u32) -> String {
    let master = b.def.devices.controllers.iter().find(|c| {
        c.controller_type == ControllerType::Usb && c.index == index && c.master_startport.is_none()
    });
    let id = master.and_then(|c| c.alias.clone()).unwrap_or_else(|| {
        if index == 0 {
            "usb".into()
        } else {
            format!("usb{index}")
        }
    });
    format!("{id}.0")
}

/// The `-device` of a USB controller (`None`: nothing to emit).
pub(super) fn controller(
    b: &mut Builder<'_>,
    c: &Controller,
    id: &str,
    what: &str,
) -> Result<Option<Json>, VirtError> {
    let (drv, companion) = driver(c.model.as_deref(), b.family).ok_or_else(|| {
        unsupported(format!(
            "{what}: USB controller model '{}' is not supported",
            c.model.as_deref().unwrap_or("default")
        ))
    })?;
    let mut j = Json::obj([("driver", Json::str(drv))]);
    if drv == "qemu-xhci" || drv == "nec-usb-xhci" {
        if let Some(p) = c.ports {
            j.set("p2", Json::Num(p.into()));
            j.set("p3", Json::Num(p.into()));
        }
    }
    if companion {
        // A companion has no id of its own: it serves the master's bus.
        j.set("masterbus", Json::str(bus_name(b, c.index)));
        j.set(
            "firstport",
            Json::Num(c.master_startport.unwrap_or(0).into()),
        );
    } else {
        j.set("id", Json::str(id));
    }
    Ok(Some(j))
}

/// Adds `bus` (and `port`) for a USB device at `addr`.
pub(super) fn usb_addr(
    b: &Builder<'_>,
    j: &mut Json,
    addr: &Option<Address>,
    what: &str,
) -> Result<(), VirtError> {
    let has_usb =
        b.def.devices.controllers.iter().any(|c| {
            c.controller_type == ControllerType::Usb && c.model.as_deref() != Some("none")
        });
    if !has_usb {
        return Err(unsupported(format!(
            "{what}: a USB device needs a USB controller"
        )));
    }
    match addr {
        None => j.set("bus", Json::str(bus_name(b, 0))),
        Some(Address::Usb { bus, port }) => {
            j.set("bus", Json::str(bus_name(b, *bus)));
            if let Some(p) = port {
                j.set("port", Json::str(p.clone()));
            }
        }
        Some(_) => {
            return Err(unsupported(format!(
                "{what}: a USB device needs a USB address"
            )))
        }
    }
    Ok(())
}

/// `<hub type='usb'>`: `usb-hub` devices, hubs before the devices behind them.
pub(super) fn hubs(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let mut hubs: Vec<(usize, &virt_core::model::devices::Hub)> =
        b.def.devices.hubs.iter().enumerate().collect();
    // A hub on a hub port needs that hub first: shorter port paths first.
    hubs.sort_by_key(|(i, h)| match &h.address {
        Some(Address::Usb { port: Some(p), .. }) => (p.matches('.').count(), *i),
        _ => (0, *i),
    });
    for (i, h) in hubs {
        let id = id_of(&h.alias, || format!("hub{i}"));
        let mut dev = Json::obj([
            ("driver", Json::str("usb-hub")),
            ("id", Json::str(id.clone())),
        ]);
        usb_addr(b, &mut dev, &h.address, &id)?;
        b.json("-device", dev);
    }
    Ok(())
}

/// `<redirdev bus='usb'>`: a chardev carrying the device, and a `usb-redir` on the bus.
pub(super) fn redirdevs(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, r) in b.def.devices.redirdevs.iter().enumerate() {
        let id = id_of(&r.alias, || format!("redir{i}"));
        let chr = format!("char{id}");
        let s = &r.source;
        if !matches!(s.char_type, CharType::Spicevmc | CharType::Tcp) {
            return Err(unsupported(format!(
                "{id}: redirected USB over '{}' is not supported",
                s.char_type
            )));
        }
        let chardev = chardev(s, &chr, &id, Frontend::Redir)?;
        if s.char_type == CharType::Spicevmc && !b.has_spice() {
            return Err(unsupported(format!(
                "{id}: a spicevmc USB redirection needs SPICE graphics"
            )));
        }
        b.arg("-chardev", chardev);
        let mut dev = Json::obj([
            ("driver", Json::str("usb-redir")),
            ("chardev", Json::str(chr)),
            ("id", Json::str(id.clone())),
        ]);
        usb_addr(b, &mut dev, &r.address, &id)?;
        if let Some(order) = r.boot_order {
            dev.set("bootindex", Json::Num(order.into()));
        }
        b.json("-device", dev);
    }
    Ok(())
}
