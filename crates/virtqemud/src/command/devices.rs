//! The `<devices>` part of the command line: controllers, disks (blockdev), NICs, serial
//! and parallel ports and consoles (`serial.rs`), channels (`channel.rs`), inputs, graphics,
//! video, balloon and rng, each under libvirt's alias, in libvirt's order.

use std::os::fd::RawFd;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::{Address, Controller};
use virt_core::model::enums::{
    BootDev, ControllerType, DiskDevice, InputBus, InputType, InterfaceType, MemballoonModel,
    RngModel,
};
use virt_core::VirtError;

use super::json::Json;
use super::{unsupported, Builder, Family};

/// The first descriptor number handed to the child for tap devices.
pub const FIRST_CHILD_FD: RawFd = 3;

pub(super) fn all(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let boot = BootIndices::of(b.def);
    controllers(b)?;
    super::usb::hubs(b)?;
    super::disk::disks(b, &boot.disks)?;
    super::fs::filesystems(b)?;
    interfaces(b, &boot)?;
    super::smartcard::smartcards(b)?;
    super::serial::serials(b)?;
    super::serial::parallels(b)?;
    super::channel::channels(b)?;
    super::serial::consoles(b)?;
    super::tpm::tpms(b)?;
    inputs(b)?;
    super::graphics::audio_and_graphics(b)?;
    super::video::videos(b)?;
    super::sound::sounds(b)?;
    watchdog(b)?;
    super::usb::redirdevs(b)?;
    super::hostdev::hostdevs(b)?;
    balloon(b)?;
    rngs(b)
}

/// `<watchdog>`: the device, and what QEMU does when it fires (`-watchdog-action`).
fn watchdog(b: &mut Builder<'_>) -> Result<(), VirtError> {
    use virt_core::model::enums::{WatchdogAction, WatchdogModel};
    let Some(w) = &b.def.devices.watchdog else {
        return Ok(());
    };
    let id = id_of(&w.alias, || "watchdog0".into());
    match w.model {
        WatchdogModel::I6300esb => {
            let mut dev = Json::obj([
                ("driver", Json::str("i6300esb")),
                ("id", Json::str(id.clone())),
            ]);
            pci_addr(b, &mut dev, &w.address, &id)?;
            b.json("-device", dev);
        }
        WatchdogModel::Ib700 => b.json(
            "-device",
            Json::obj([("driver", Json::str("ib700")), ("id", Json::str(id))]),
        ),
        m => {
            return Err(unsupported(format!(
                "watchdog model '{m}' is not supported on machine type '{}'",
                super::machine_type(b.def, b.ctx.qemu_version)
            )))
        }
    }
    let action = match w.action {
        WatchdogAction::Reset => "reset",
        WatchdogAction::Shutdown => "shutdown",
        WatchdogAction::Poweroff => "poweroff",
        WatchdogAction::Pause => "pause",
        WatchdogAction::None => "none",
        WatchdogAction::InjectNmi => "inject-nmi",
        a => {
            return Err(unsupported(format!(
                "watchdog action '{a}' is not supported (reset, shutdown, poweroff, pause, \
                 none, inject-nmi)"
            )))
        }
    };
    b.arg("-watchdog-action", action);
    Ok(())
}

/// `<panic>`: the ISA pvpanic device (x86's default model) or its PCI variant; libvirt writes
/// them after `-sandbox`.
pub(super) fn panics(b: &mut Builder<'_>) -> Result<(), VirtError> {
    use virt_core::model::enums::PanicModel;
    for (i, p) in b.def.devices.panics.iter().enumerate() {
        match p.model {
            None | Some(PanicModel::Isa) => {
                let mut dev = Json::obj([("driver", Json::str("pvpanic"))]);
                if let Some(Address::Other { attributes, .. }) = &p.address {
                    if let Some((_, port)) = attributes.iter().find(|(k, _)| k == "iobase") {
                        let port = parse_num(port).unwrap_or(0x505);
                        dev.set("ioport", Json::Num(port));
                    }
                }
                b.json("-device", dev);
            }
            Some(PanicModel::Pvpanic) => {
                let id = id_of(&p.alias, || format!("panic{i}"));
                let mut dev = Json::obj([
                    ("driver", Json::str("pvpanic-pci")),
                    ("id", Json::str(id.clone())),
                ]);
                pci_addr(b, &mut dev, &p.address, &id)?;
                b.json("-device", dev);
            }
            Some(m) => {
                return Err(unsupported(format!(
                    "panic model '{m}' is not supported (isa, pvpanic)"
                )))
            }
        }
    }
    Ok(())
}

/// The device's QOM id: its alias (assigned at start), or the name libvirt would give it.
pub(super) fn id_of(alias: &Option<String>, fallback: impl FnOnce() -> String) -> String {
    alias.clone().unwrap_or_else(fallback)
}

/// `bootindex` per disk and interface: per-device `<boot order>`, or libvirt's conversion of
/// `<os><boot dev>` (the first device of each kind, in the listed order).
pub(super) struct BootIndices {
    disks: Vec<Option<u32>>,
    nets: Vec<Option<u32>>,
}

impl BootIndices {
    fn of(def: &virt_core::model::DomainDef) -> BootIndices {
        let d = &def.devices;
        let mut out = BootIndices {
            disks: d.disks.iter().map(|x| x.boot_order).collect(),
            nets: d.interfaces.iter().map(|x| x.boot_order).collect(),
        };
        if out.disks.iter().chain(&out.nets).any(Option::is_some) {
            return out;
        }
        let mut next = 1;
        for dev in &def.os.boot_devs {
            let slot = match dev {
                BootDev::Network => out.nets.first_mut(),
                _ => {
                    let kind = match dev {
                        BootDev::Cdrom => DiskDevice::Cdrom,
                        BootDev::Fd => DiskDevice::Floppy,
                        _ => DiskDevice::Disk,
                    };
                    d.disks
                        .iter()
                        .position(|x| x.device == kind)
                        .and_then(|i| out.disks.get_mut(i))
                }
            };
            if let Some(slot) = slot {
                if slot.is_none() {
                    *slot = Some(next);
                    next += 1;
                }
            }
        }
        out
    }
}

/// The QOM bus of PCI bus number `n`: the root bus is built in, others are controllers.
fn pci_bus(b: &Builder<'_>, n: u32) -> String {
    match (n, b.family) {
        (0, Family::Q35) => "pcie.0".into(),
        (0, _) => "pci.0".into(),
        (n, _) => format!("pci.{n}"),
    }
}

/// Adds `bus`/`addr`: the device's PCI address, or a free root-bus slot (see `pci`).
pub(super) fn pci_addr(
    b: &mut Builder<'_>,
    j: &mut Json,
    addr: &Option<Address>,
    what: &str,
) -> Result<(), VirtError> {
    match addr {
        None if b.family == Family::Other => Ok(()),
        None => {
            let slot = if what == "video0" {
                b.pci.video_slot()
            } else {
                None
            };
            let slot = slot.or_else(|| b.pci.take_slot()).ok_or_else(|| {
                unsupported(format!("{what}: no free slot left on the PCI root bus"))
            })?;
            j.set("bus", Json::str(pci_bus(b, 0)));
            j.set("addr", Json::str(format!("0x{slot:x}")));
            Ok(())
        }
        Some(Address::Pci(a)) => {
            if a.domain != 0 {
                return Err(unsupported(format!(
                    "{what}: PCI domain {} is not supported",
                    a.domain
                )));
            }
            let known = a.bus == 0
                || b.pci.implicit.contains(&a.bus)
                || b.def.devices.controllers.iter().any(|c| {
                    c.controller_type == ControllerType::Pci
                        && c.index == a.bus
                        && c.model
                            .as_deref()
                            .is_some_and(|m| m != "pci-root" && m != "pcie-root")
                });
            if !known {
                return Err(unsupported(format!(
                    "{what}: PCI bus {:#04x} is not a bus this machine has",
                    a.bus
                )));
            }
            j.set("bus", Json::str(pci_bus(b, a.bus)));
            if a.multifunction == Some(true) {
                j.set("multifunction", Json::Bool(true));
            }
            let mut s = format!("0x{:x}", a.slot);
            if a.function != 0 {
                s.push_str(&format!(".0x{:x}", a.function));
            }
            j.set("addr", Json::str(s));
            Ok(())
        }
        Some(other) => Err(unsupported(format!(
            "{what}: address type '{}' is not supported here",
            address_type(other)
        ))),
    }
}

/// A controller for each bus an address names and no controller provides.
fn implicit_buses(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for bus in b.pci.implicit.clone() {
        let mut dev = match b.family {
            Family::Q35 => Json::obj([
                ("driver", Json::str("pcie-root-port")),
                ("port", Json::Num(0x10 + u64::from(bus) - 1)),
                ("chassis", Json::Num(bus.into())),
                ("id", Json::str(format!("pci.{bus}"))),
            ]),
            _ => Json::obj([
                ("driver", Json::str("pci-bridge")),
                ("chassis_nr", Json::Num(bus.into())),
                ("id", Json::str(format!("pci.{bus}"))),
            ]),
        };
        pci_addr(b, &mut dev, &None, &format!("pci.{bus}"))?;
        b.json("-device", dev);
    }
    Ok(())
}

fn address_type(a: &Address) -> &str {
    match a {
        Address::Pci(_) => "pci",
        Address::Drive { .. } => "drive",
        Address::VirtioSerial { .. } => "virtio-serial",
        Address::Usb { .. } => "usb",
        Address::Other { address_type, .. } => address_type,
    }
}

fn target_attr<'a>(c: &'a Controller, name: &str) -> Option<&'a str> {
    c.target
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The order libvirt emits controller kinds in: PCI first (in index order, so QEMU builds
/// the bus tree top-down), then USB, SCSI, IDE, SATA, virtio-serial.
const CONTROLLER_ORDER: &[ControllerType] = &[
    ControllerType::Pci,
    ControllerType::Usb,
    ControllerType::Scsi,
    ControllerType::Ide,
    ControllerType::Sata,
    ControllerType::Fdc,
    ControllerType::VirtioSerial,
    ControllerType::Ccid,
];

fn controllers(b: &mut Builder<'_>) -> Result<(), VirtError> {
    implicit_buses(b)?;
    let def = b.def;
    let mut ordered: Vec<&Controller> = Vec::new();
    for ty in CONTROLLER_ORDER {
        let mut of: Vec<&Controller> = def
            .devices
            .controllers
            .iter()
            .filter(|c| c.controller_type == *ty)
            .collect();
        if *ty == ControllerType::Pci {
            of.sort_by_key(|c| c.index);
        }
        ordered.extend(of);
    }
    if let Some(c) = def
        .devices
        .controllers
        .iter()
        .find(|c| !CONTROLLER_ORDER.contains(&c.controller_type))
    {
        return Err(unsupported(format!(
            "controller type '{}' is not supported",
            c.controller_type
        )));
    }
    for c in ordered {
        if let Some(dev) = controller(b, c)? {
            b.json("-device", dev);
        }
    }
    Ok(())
}

/// The `-device` of one controller; `None` for controllers built into the machine.
fn controller(b: &mut Builder<'_>, c: &Controller) -> Result<Option<Json>, VirtError> {
    let what = format!("controller {} {}", c.controller_type, c.index);
    let model = c.model.as_deref();
    let id = id_of(&c.alias, || {
        crate::aliases::controller_alias(b.chipset(), c)
    });
    let mut dev = match (c.controller_type, model) {
        (ControllerType::Pci, Some("pci-root" | "pcie-root")) if c.index == 0 => return Ok(None),
        (ControllerType::Pci, Some("pcie-root-port")) => {
            let chassis = target_attr(c, "chassis")
                .and_then(|v| v.parse().ok())
                .unwrap_or(c.index as u64);
            let port = target_attr(c, "port")
                .and_then(parse_num)
                .unwrap_or(0x10 + c.index.saturating_sub(1) as u64);
            let driver = c.model_name.as_deref().unwrap_or("pcie-root-port");
            Json::obj([
                ("driver", Json::str(driver)),
                ("port", Json::Num(port)),
                ("chassis", Json::Num(chassis)),
                ("id", Json::str(id)),
            ])
        }
        (ControllerType::Pci, Some("pci-bridge")) => {
            let nr = target_attr(c, "chassisNr")
                .and_then(|v| v.parse().ok())
                .unwrap_or(c.index as u64);
            Json::obj([
                ("driver", Json::str("pci-bridge")),
                ("chassis_nr", Json::Num(nr)),
                ("id", Json::str(id)),
            ])
        }
        (ControllerType::Pci, Some("pcie-to-pci-bridge")) => Json::obj([
            ("driver", Json::str("pcie-pci-bridge")),
            ("id", Json::str(id)),
        ]),
        (ControllerType::Pci, Some("dmi-to-pci-bridge")) => Json::obj([
            ("driver", Json::str("i82801b11-bridge")),
            ("id", Json::str(id)),
        ]),
        (ControllerType::Ccid, None) => {
            let mut dev = Json::obj([("driver", Json::str("usb-ccid")), ("id", Json::str(id))]);
            super::usb::usb_addr(b, &mut dev, &c.address, &what)?;
            return Ok(Some(dev));
        }
        (ControllerType::Usb, Some("none")) => return Ok(None),
        (ControllerType::Usb, _) => match super::usb::controller(b, c, &id, &what)? {
            Some(j) => j,
            None => return Ok(None),
        },
        (ControllerType::Scsi, Some("virtio-scsi")) => virtio_scsi(c, "virtio-scsi-pci", id),
        (ControllerType::Scsi, Some("virtio-transitional")) => {
            virtio_scsi(c, "virtio-scsi-pci-transitional", id)
        }
        (ControllerType::Scsi, Some("virtio-non-transitional")) => {
            virtio_scsi(c, "virtio-scsi-pci-non-transitional", id)
        }
        (ControllerType::Scsi, Some("lsilogic")) => {
            Json::obj([("driver", Json::str("lsi")), ("id", Json::str(id))])
        }
        (ControllerType::Scsi, Some("lsisas1068")) => {
            Json::obj([("driver", Json::str("mptsas1068")), ("id", Json::str(id))])
        }
        (ControllerType::Scsi, Some("lsisas1078")) => {
            Json::obj([("driver", Json::str("megasas")), ("id", Json::str(id))])
        }
        (ControllerType::Scsi, None) => virtio_scsi(c, "virtio-scsi-pci", id),
        // The q35 machine's own AHCI is sata0; the i440fx machine's own IDE is ide.
        (ControllerType::Sata, None) if c.index == 0 && b.family == Family::Q35 => return Ok(None),
        (ControllerType::Sata, None) => {
            Json::obj([("driver", Json::str("ahci")), ("id", Json::str(id))])
        }
        (ControllerType::Ide, None) if c.index == 0 && b.family == Family::I440fx => {
            return Ok(None)
        }
        (ControllerType::Fdc, None) if c.index == 0 && b.family != Family::Other => {
            return Ok(None)
        }
        (ControllerType::VirtioSerial, m) => {
            let driver = match m {
                None | Some("virtio") => "virtio-serial-pci",
                Some("virtio-transitional") => "virtio-serial-pci-transitional",
                Some("virtio-non-transitional") => "virtio-serial-pci-non-transitional",
                Some(m) => {
                    return Err(unsupported(format!("{what}: model '{m}' is not supported")))
                }
            };
            let mut j = Json::obj([("driver", Json::str(driver)), ("id", Json::str(id))]);
            if let Some(p) = c.ports {
                j.set("max_ports", Json::Num(p.into()));
            }
            if let Some(v) = c.vectors {
                j.set("vectors", Json::Num(v.into()));
            }
            j
        }
        (_, m) => {
            return Err(unsupported(format!(
                "{what}{}: not supported on machine type '{}'",
                m.map(|m| format!(" model '{m}'")).unwrap_or_default(),
                super::machine_type(b.def, b.ctx.qemu_version)
            )))
        }
    };
    pci_addr(b, &mut dev, &c.address, &what)?;
    Ok(Some(dev))
}

/// A virtio-scsi controller: its IOThread and queue count (`<driver iothread= queues=>`) as
/// libvirt orders them around the id.
fn virtio_scsi(c: &Controller, driver: &str, id: String) -> Json {
    let mut j = Json::obj([("driver", Json::str(driver))]);
    if let Some(t) = c.driver_iothread {
        j.set("iothread", Json::str(format!("iothread{t}")));
    }
    j.set("id", Json::str(id));
    if let Some(q) = c.driver_queues {
        j.set("num_queues", Json::Num(q.into()));
    }
    j
}

fn parse_num(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn interfaces(b: &mut Builder<'_>, boot: &BootIndices) -> Result<(), VirtError> {
    let mut taps = b.ctx.taps.iter();
    for (i, n) in b.def.devices.interfaces.iter().enumerate() {
        let id = id_of(&n.alias, || format!("net{i}"));
        let what = format!("interface {id}");
        let netdev = format!("host{id}");
        let backend = match n.interface_type {
            InterfaceType::User => Json::obj([
                ("type", Json::str("user")),
                ("id", Json::str(netdev.clone())),
            ]),
            InterfaceType::Bridge | InterfaceType::Ethernet | InterfaceType::Network => {
                let tap = taps.next().ok_or_else(|| {
                    VirtError::internal(
                        ErrorDomain::Qemu,
                        format!("{what}: no tap device was prepared for it"),
                    )
                })?;
                let fd = tap.fd.try_clone().map_err(|e| {
                    VirtError::new(
                        ErrorCode::SystemError,
                        ErrorDomain::Qemu,
                        format!("{what}: cannot duplicate tap '{}': {e}", tap.name),
                    )
                })?;
                let num = FIRST_CHILD_FD + b.fds.len() as RawFd;
                b.fds.push((num, fd));
                Json::obj([
                    ("type", Json::str("tap")),
                    ("fd", Json::str(num.to_string())),
                    ("id", Json::str(netdev.clone())),
                ])
            }
            t => {
                return Err(unsupported(format!(
                    "{what}: interface type '{t}' is not supported"
                )))
            }
        };
        let driver = match n.model.as_deref() {
            Some("virtio") => "virtio-net-pci",
            Some("virtio-transitional") => "virtio-net-pci-transitional",
            Some("virtio-non-transitional") => "virtio-net-pci-non-transitional",
            Some("e1000") => "e1000",
            Some("e1000e") => "e1000e",
            Some("rtl8139") | None => "rtl8139",
            Some("vmxnet3") => "vmxnet3",
            Some("ne2k_pci") => "ne2k_pci",
            Some("pcnet") => "pcnet",
            Some(m) => return Err(unsupported(format!("{what}: model '{m}' is not supported"))),
        };
        let mac = n
            .mac
            .clone()
            .ok_or_else(|| unsupported(format!("{what}: has no MAC address")))?;
        let mut dev = Json::obj([
            ("driver", Json::str(driver)),
            ("netdev", Json::str(netdev)),
            ("id", Json::str(id)),
            ("mac", Json::str(mac)),
        ]);
        pci_addr(b, &mut dev, &n.address, &what)?;
        if let Some(idx) = boot.nets.get(i).copied().flatten() {
            dev.set("bootindex", Json::Num(idx.into()));
        }
        b.json("-netdev", backend);
        b.json("-device", dev);
    }
    Ok(())
}

fn inputs(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, input) in b.def.devices.inputs.iter().enumerate() {
        let what = id_of(&input.alias, || format!("input{i}"));
        let driver = match (input.input_type, input.bus) {
            // PS/2 mouse and keyboard are part of every x86 PC machine.
            (InputType::Mouse | InputType::Keyboard, Some(InputBus::Ps2)) => continue,
            (InputType::Tablet, Some(InputBus::Usb) | None) => "usb-tablet",
            (InputType::Mouse, Some(InputBus::Usb)) => "usb-mouse",
            (InputType::Keyboard, Some(InputBus::Usb)) => "usb-kbd",
            (InputType::Tablet, Some(InputBus::Virtio)) => "virtio-tablet-pci",
            (InputType::Mouse, Some(InputBus::Virtio)) => "virtio-mouse-pci",
            (InputType::Keyboard, Some(InputBus::Virtio)) => "virtio-keyboard-pci",
            (t, bus) => {
                return Err(unsupported(format!(
                    "{what}: {t} on bus '{}' is not supported",
                    bus.map(|b| b.as_str()).unwrap_or("default")
                )))
            }
        };
        let mut dev = Json::obj([
            ("driver", Json::str(driver)),
            ("id", Json::str(what.clone())),
        ]);
        if input.bus == Some(InputBus::Virtio) {
            pci_addr(b, &mut dev, &input.address, &what)?;
        } else {
            super::usb::usb_addr(b, &mut dev, &input.address, &what)?;
        }
        b.json("-device", dev);
    }
    Ok(())
}

fn balloon(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let Some(m) = &b.def.devices.memballoon else {
        return Ok(());
    };
    let driver = match m.model {
        MemballoonModel::None => return Ok(()),
        MemballoonModel::Virtio => "virtio-balloon-pci",
        MemballoonModel::VirtioTransitional => "virtio-balloon-pci-transitional",
        MemballoonModel::VirtioNonTransitional => "virtio-balloon-pci-non-transitional",
        MemballoonModel::Xen => return Err(unsupported("memballoon model 'xen' is not supported")),
    };
    let id = id_of(&m.alias, || "balloon0".into());
    let mut dev = Json::obj([("driver", Json::str(driver)), ("id", Json::str(id.clone()))]);
    pci_addr(b, &mut dev, &m.address, &id)?;
    if let Some(on) = m.autodeflate {
        dev.set("deflate-on-oom", Json::Bool(on));
    }
    if let Some(on) = m.free_page_reporting {
        dev.set("free-page-reporting", Json::Bool(on));
    }
    b.json("-device", dev);
    Ok(())
}

fn rngs(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, r) in b.def.devices.rngs.iter().enumerate() {
        let what = id_of(&r.alias, || format!("rng{i}"));
        let obj_id = format!("obj{what}");
        let backend = match &r.backend {
            virt_core::model::devices::RngBackend::Random(path) => Json::obj([
                ("qom-type", Json::str("rng-random")),
                ("id", Json::str(obj_id.clone())),
                (
                    "filename",
                    Json::str(path.clone().unwrap_or_else(|| "/dev/urandom".into())),
                ),
            ]),
            virt_core::model::devices::RngBackend::Builtin => Json::obj([
                ("qom-type", Json::str("rng-builtin")),
                ("id", Json::str(obj_id.clone())),
            ]),
            virt_core::model::devices::RngBackend::Egd(_) => {
                return Err(unsupported(format!(
                    "{what}: the egd backend is not supported"
                )))
            }
        };
        let driver = match r.model {
            RngModel::Virtio => "virtio-rng-pci",
            RngModel::VirtioTransitional => "virtio-rng-pci-transitional",
            RngModel::VirtioNonTransitional => "virtio-rng-pci-non-transitional",
        };
        let mut dev = Json::obj([
            ("driver", Json::str(driver)),
            ("rng", Json::str(obj_id)),
            ("id", Json::str(what.clone())),
        ]);
        if let Some(bytes) = r.rate_bytes {
            dev.set("max-bytes", Json::Num(bytes.into()));
            dev.set("period", Json::Num(r.rate_period.unwrap_or(1000).into()));
        }
        pci_addr(b, &mut dev, &r.address, &what)?;
        b.json("-object", backend);
        b.json("-device", dev);
    }
    Ok(())
}
