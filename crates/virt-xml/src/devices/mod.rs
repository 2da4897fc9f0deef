//! `<devices>`: the container, device `<address>` and `<boot order>`, and the print order of
//! libvirt's `virDomainDefFormatInternal` (disks, controllers, filesystems, interfaces, serials,
//! parallels, consoles, channels, inputs, TPMs, graphics, sounds, videos, watchdog, memballoon, rngs, panics).

mod chardev;
mod disk;
mod display;
mod fs;
mod hostdev;
mod misc;
mod net;
mod net_qos;
mod netip;
mod smartcard;
mod tpm;

use virt_core::model::devices::{Address, Controller, Devices, PciAddress};
use virt_core::model::DomainDef;
use virt_core::xml::FormatOptions;

use crate::strict::{parse_u32, parse_u32_c, Cursor};
use crate::writer::Writer;
use crate::XmlError;

pub(crate) use chardev::default_console_target;
pub(crate) use disk::name_to_index as disk_name_to_index;
pub(crate) use net::is_generated_ifname;

/// Parses `<devices>`.
pub fn parse(mut c: Cursor<'_>) -> Result<Devices, XmlError> {
    let mut d = Devices {
        emulator: super::domain::non_empty(c.child_text("emulator")?),
        ..Devices::default()
    };
    let mut controllers: Vec<(Controller, bool)> = Vec::new();
    for (name, e) in c.all_children() {
        if e.element().prefix.is_some() {
            c.report(XmlError::UnknownElement {
                path: format!("{}/{}", c.path(), e.element().qname()),
            })?;
            continue;
        }
        match name.as_str() {
            "emulator" => {}
            "disk" => disk::insert(&mut d.disks, disk::parse(e)?),
            "controller" => {
                let (ctl, indexed) = net::parse_controller(e)?;
                insert_controller(&mut controllers, ctl, indexed);
            }
            "filesystem" => d.filesystems.push(fs::parse(e)?),
            "interface" => d.interfaces.push(net::parse_interface(e)?),
            "smartcard" => d.smartcards.push(smartcard::parse(e)?),
            "serial" | "parallel" | "console" | "channel" => {
                let dev = chardev::parse(e, &name)?;
                match name.as_str() {
                    "serial" => d.serials.push(dev),
                    "parallel" => d.parallels.push(dev),
                    "console" => d.consoles.push(dev),
                    _ => d.channels.push(dev),
                }
            }
            "input" => d.inputs.push(display::parse_input(e)?),
            "tpm" => d.tpms.push(tpm::parse(e)?),
            "graphics" => d.graphics.push(display::parse_graphics(e)?),
            "sound" => d.sounds.push(display::parse_sound(e)?),
            "video" => {
                let path = e.path().to_string();
                let v = display::parse_video(e)?;
                if !v.primary {
                    d.videos.push(v);
                } else if d.videos.first().is_some_and(|f| f.primary) {
                    return Err(XmlError::Invalid {
                        path,
                        message: "only one primary video device is supported".into(),
                    });
                } else {
                    d.videos.insert(0, v);
                }
            }
            "watchdog" if d.watchdog.is_none() => d.watchdog = Some(misc::parse_watchdog(e)?),
            "memballoon" if d.memballoon.is_none() => {
                d.memballoon = Some(misc::parse_memballoon(e)?)
            }
            "watchdog" | "memballoon" => {
                return Err(XmlError::Unsupported {
                    path: e.path().to_string(),
                    message: format!("only one {name} device is supported"),
                })
            }
            "rng" => d.rngs.push(misc::parse_rng(e)?),
            "audio" => {
                let path = e.attr_path("id");
                let a = misc::parse_audio(e)?;
                if d.audios.iter().any(|o| o.id == a.id) {
                    return Err(XmlError::Invalid {
                        path,
                        message: format!("audio id '{}' is used more than once", a.id),
                    });
                }
                d.audios.push(a);
            }
            "hostdev" => d.hostdevs.push(hostdev::parse_hostdev(e)?),
            "redirdev" => d.redirdevs.push(hostdev::parse_redirdev(e)?),
            "panic" => d.panics.push(misc::parse_panic(e)?),
            "hub" => d.hubs.push(misc::parse_hub(e)?),
            _ => c.report(XmlError::UnknownElement {
                path: format!("{}/{name}", c.path()),
            })?,
        }
    }
    let path = c.path().to_string();
    c.finish()?;
    let indexed: Vec<bool> = controllers.iter().map(|(_, i)| *i).collect();
    d.controllers = controllers.into_iter().map(|(c, _)| c).collect();
    assign_controller_indexes(&mut d, &indexed, &path)?;
    Ok(d)
}

/// Inserts a controller where libvirt's `virDomainControllerInsert` puts it: grouped by
/// type, ordered by index, a USB master before its companions; one without an index goes
/// after the last controller of its type.
pub(crate) fn insert_controller(
    list: &mut Vec<(Controller, bool)>,
    new: Controller,
    indexed: bool,
) {
    let mut at: Option<usize> = None;
    for i in (0..list.len()).rev() {
        let (cur, cur_indexed) = &list[i];
        if cur.controller_type != new.controller_type {
            continue;
        }
        if !indexed {
            at = Some(i + 1);
            break;
        }
        let cur_idx = if *cur_indexed {
            i64::from(cur.index)
        } else {
            -1
        };
        let new_idx = i64::from(new.index);
        if cur_idx > new_idx
            || (new.master_startport.is_none()
                && cur.master_startport.is_some()
                && cur_idx == new_idx)
        {
            at = Some(i);
        } else if at.is_none() {
            at = Some(i + 1);
        }
    }
    match at {
        Some(i) => list.insert(i, (new, indexed)),
        None => list.push((new, indexed)),
    }
}

/// Gives each controller written without an index the lowest free index of its type, then
/// refuses two controllers of one type with the same index.
/// Whether a controller is part of a USB2 set (the ICH9 EHCI and its UHCI companions).
fn is_usb2(c: &Controller) -> bool {
    c.controller_type == virt_core::model::enums::ControllerType::Usb
        && matches!(
            c.model.as_deref(),
            Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
        )
}

/// libvirt's one exception to "the lowest free index": a USB2 controller without an index
/// joins the set of the USB controller just before it, when that one is USB2 too and the set
/// has no controller of this model yet.
fn usb2_group_index(d: &Devices, indexed: &[bool], i: usize) -> Option<u32> {
    let cont = &d.controllers[i];
    if i == 0 || !is_usb2(cont) {
        return None;
    }
    let prev = d.controllers[..i]
        .iter()
        .rev()
        .find(|c| c.controller_type == cont.controller_type)?;
    if !is_usb2(prev) {
        return None;
    }
    let clash = d.controllers.iter().enumerate().any(|(j, c)| {
        j != i
            && (indexed[j] || j < i)
            && is_usb2(c)
            && c.index == prev.index
            && c.model == cont.model
    });
    (!clash).then_some(prev.index)
}

fn assign_controller_indexes(
    d: &mut Devices,
    indexed: &[bool],
    path: &str,
) -> Result<(), XmlError> {
    for i in 0..d.controllers.len() {
        if indexed[i] {
            continue;
        }
        let ty = d.controllers[i].controller_type;
        if let Some(n) = usb2_group_index(d, indexed, i) {
            d.controllers[i].index = n;
            continue;
        }
        let taken = |n: u32, d: &Devices| {
            d.controllers.iter().enumerate().any(|(j, c)| {
                j != i && c.controller_type == ty && c.index == n && (indexed[j] || j < i)
            })
        };
        let mut n = 0;
        while taken(n, d) {
            n += 1;
        }
        d.controllers[i].index = n;
    }
    for (i, a) in d.controllers.iter().enumerate() {
        // USB companion controllers (with <master>) share their master's index.
        let clash = |b: &Controller| {
            b.controller_type == a.controller_type
                && b.index == a.index
                && a.master_startport.is_none()
                && b.master_startport.is_none()
        };
        if d.controllers[..i].iter().any(clash) {
            return Err(XmlError::Invalid {
                path: format!("{path}/controller[{}]", i + 1),
                message: format!(
                    "multiple '{}' controllers with index '{}'",
                    a.controller_type, a.index
                ),
            });
        }
    }
    Ok(())
}

/// Highest `controller` of a drive address: controllers 0 to it are added implicitly (as
/// libvirt does), so an unbounded value would mean unbounded work and memory.
pub(crate) const MAX_DRIVE_CONTROLLER: u32 = 1023;

/// Parses the optional `<address>` child.
pub(crate) fn parse_address(c: &mut Cursor<'_>) -> Result<Option<Address>, XmlError> {
    let Some(mut a) = c.child("address")? else {
        return Ok(None);
    };
    let ty = a.attr_req("type")?.to_string();
    let num = |a: &mut Cursor<'_>, name: &str, max: u32| -> Result<u32, XmlError> {
        match a.attr(name) {
            None => Ok(0),
            Some(v) => parse_u32_c(v).filter(|n| *n <= max).ok_or_else(|| {
                a.invalid_attr(name, v, &format!("expected a number up to {max:#x}"))
            }),
        }
    };
    let addr = match ty.as_str() {
        "pci" => Address::Pci(PciAddress {
            domain: num(&mut a, "domain", 0xffff)?,
            bus: num(&mut a, "bus", 0xff)?,
            slot: num(&mut a, "slot", 0x1f)?,
            function: num(&mut a, "function", 7)?,
            multifunction: a.attr_on_off("multifunction")?,
        }),
        "drive" => Address::Drive {
            // Every controller up to this index is added implicitly, so it is bounded.
            controller: num(&mut a, "controller", MAX_DRIVE_CONTROLLER)?,
            bus: num(&mut a, "bus", u32::MAX)?,
            target: num(&mut a, "target", u32::MAX)?,
            unit: num(&mut a, "unit", u32::MAX)?,
        },
        "virtio-serial" => Address::VirtioSerial {
            controller: num(&mut a, "controller", u32::MAX)?,
            bus: num(&mut a, "bus", u32::MAX)?,
            port: num(&mut a, "port", u32::MAX)?,
        },
        "usb" => {
            let bus = num(&mut a, "bus", u32::MAX)?;
            let port = match a.attr("port") {
                None => None,
                Some(p)
                    if p.split('.').count() <= 4
                        && p.split('.').all(|s| parse_u32(s).is_some()) =>
                {
                    Some(p.to_string())
                }
                Some(p) => {
                    return Err(a.invalid_attr(
                        "port",
                        p,
                        "expected a dotted port path such as 1.2",
                    ))
                }
            };
            Address::Usb { bus, port }
        }
        other => {
            let allowed: &[&str] = match other {
                "ccid" => &["controller", "slot"],
                "isa" => &["iobase", "irq"],
                "ccw" => &["cssid", "ssid", "devno"],
                "spapr-vio" => &["reg"],
                "dimm" => &["slot", "base"],
                "virtio-mmio" | "unassigned" | "virtio-s390" => &[],
                _ => return Err(a.invalid_attr("type", other, "expected a known address type")),
            };
            let mut attributes = Vec::new();
            for name in allowed {
                if let Some(v) = a.attr(name) {
                    if parse_u32_c(v).is_none() {
                        return Err(a.invalid_attr(name, v, "expected a number"));
                    }
                    attributes.push((name.to_string(), v.to_string()));
                }
            }
            Address::Other {
                address_type: other.to_string(),
                attributes,
            }
        }
    };
    a.finish()?;
    Ok(Some(addr))
}

/// Writes an `<address>`.
pub(crate) fn format_address(w: &mut Writer, addr: Option<&Address>) {
    let Some(addr) = addr else { return };
    match addr {
        Address::Pci(p) => w
            .tag("address")
            .attr("type", "pci")
            .attr("domain", format!("{:#06x}", p.domain))
            .attr("bus", format!("{:#04x}", p.bus))
            .attr("slot", format!("{:#04x}", p.slot))
            .attr("function", format!("{:#x}", p.function))
            .on_off("multifunction", p.multifunction)
            .empty(),
        Address::Drive {
            controller,
            bus,
            target,
            unit,
        } => w
            .tag("address")
            .attr("type", "drive")
            .attr("controller", controller)
            .attr("bus", bus)
            .attr("target", target)
            .attr("unit", unit)
            .empty(),
        Address::VirtioSerial {
            controller,
            bus,
            port,
        } => w
            .tag("address")
            .attr("type", "virtio-serial")
            .attr("controller", controller)
            .attr("bus", bus)
            .attr("port", port)
            .empty(),
        Address::Usb { bus, port } => w
            .tag("address")
            .attr("type", "usb")
            .attr("bus", bus)
            .attr_opt("port", port.as_deref())
            .empty(),
        Address::Other {
            address_type,
            attributes,
        } => {
            let mut tag = w.tag("address").attr("type", address_type);
            for (k, v) in attributes {
                tag = tag.attr(k, v);
            }
            tag.empty();
        }
    }
}

/// Parses the optional `<boot order=...>` child.
pub(crate) fn parse_boot(c: &mut Cursor<'_>) -> Result<Option<u32>, XmlError> {
    let Some(mut b) = c.child("boot")? else {
        return Ok(None);
    };
    let order = b.attr_req("order")?;
    let order = parse_u32(order)
        .filter(|n| *n > 0)
        .ok_or_else(|| b.invalid_attr("order", order, "expected a positive integer"))?;
    b.finish()?;
    Ok(Some(order))
}

/// The optional `<alias name=...>`. A user alias (`ua-` then `[A-Za-z0-9_-]`) is the
/// definition's own; any other is a name a driver gave the device for one run (live and
/// status XML). Both are kept by the parser; a define drops the generated ones
/// (`Devices::clear_generated_aliases`), as libvirt ignores them there, so the live XML of a
/// running guest defines unchanged.
pub(crate) fn parse_alias(c: &mut Cursor<'_>) -> Result<Option<String>, XmlError> {
    let Some(mut a) = c.child("alias")? else {
        return Ok(None);
    };
    let name = a.attr_req("name")?;
    let user = name.strip_prefix("ua-").map(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    let generated = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    let valid = match user {
        Some(ok) => ok,
        None => generated,
    };
    if !valid {
        return Err(a.invalid_attr(
            "name",
            name,
            "expected a user alias: 'ua-' followed by letters, digits, '_' or '-'",
        ));
    }
    let name = name.to_string();
    a.finish()?;
    Ok(Some(name))
}

/// Writes `<alias name=...>`: a user alias always, a generated one in live XML only.
pub(crate) fn format_alias(w: &mut Writer, alias: Option<&str>) {
    if let Some(a) = alias {
        if w.live_aliases || virt_core::model::devices::is_user_alias(a) {
            w.tag("alias").attr("name", a).empty();
        }
    }
}

/// Writes `<boot order=...>`, `<alias>` then `<address>`, libvirt's device-info tail.
pub(crate) fn format_info(
    w: &mut Writer,
    boot: Option<u32>,
    alias: Option<&str>,
    addr: Option<&Address>,
) {
    if let Some(o) = boot {
        w.tag("boot").attr("order", o).empty();
    }
    format_alias(w, alias);
    format_address(w, addr);
}

/// Writes `<devices>`.
pub fn format(w: &mut Writer, def: &DomainDef, opts: FormatOptions) {
    let d = &def.devices;
    w.tag("devices").open();
    w.text_elem("emulator", d.emulator.as_deref());
    for x in &d.disks {
        disk::format(w, x);
    }
    for x in &d.controllers {
        net::format_controller(w, x);
    }
    for x in &d.filesystems {
        fs::format(w, x);
    }
    for x in &d.interfaces {
        net::format_interface(w, x, opts.inactive.then_some(def.virt_type.as_str()));
    }
    for x in &d.smartcards {
        smartcard::format(w, x, opts);
    }
    chardev::format_all(w, def, opts);
    for x in &d.inputs {
        display::format_input(w, x);
    }
    for x in &d.tpms {
        tpm::format(w, x);
    }
    for x in &d.graphics {
        display::format_graphics(w, x, opts);
    }
    for x in &d.sounds {
        display::format_sound(w, x);
    }
    for x in &d.audios {
        misc::format_audio(w, x);
    }
    for x in &d.videos {
        display::format_video(w, x);
    }
    for x in &d.hostdevs {
        hostdev::format_hostdev(w, x);
    }
    for x in &d.redirdevs {
        hostdev::format_redirdev(w, x, opts);
    }
    for x in &d.hubs {
        misc::format_hub(w, x);
    }
    if let Some(x) = &d.watchdog {
        misc::format_watchdog(w, x);
    }
    if let Some(x) = &d.memballoon {
        misc::format_memballoon(w, x);
    }
    for x in &d.rngs {
        misc::format_rng(w, x);
    }
    for x in &d.panics {
        misc::format_panic(w, x);
    }
    w.close("devices");
}
