//! Host devices given to a guest (`<hostdev mode='subsystem'>`), on the host side: finding a
//! USB device by vendor/product or bus/device in sysfs, and readying a PCI device for VFIO,
//! before a start (and, read-only, for its domxml-to-native preview). What QEMU then gets is
//! in `command/hostdev.rs`.
//!
//! * USB: the device is looked up under `SYS/bus/usb/devices/*` (`idVendor`, `idProduct`,
//!   `busnum`, `devnum`); the live definition gets its `<address bus= device=>` as libvirt's
//!   does, and `DEV/bus/usb/BBB/DDD` must exist (QEMU opens it). No USB bus, no such device,
//!   or several matching a vendor/product are errors naming the device and what is missing.
//! * PCI: the device must exist under `SYS/bus/pci/devices/DDDD:BB:SS.F`, the host must have
//!   an IOMMU (groups under `SYS/kernel/iommu_groups`), VFIO (`DEV/vfio/vfio`) and the
//!   device's group node (`DEV/vfio/N`). A `managed='yes'` device bound to another driver is
//!   moved to `vfio-pci` (`driver_override`, unbind, `drivers_probe`) and moved back when the
//!   guest stops ([`reattach_pci`]); an unmanaged one must already be bound to `vfio-pci`.
//!
//! `SYS` and `DEV` are `/sys` and `/dev`, or a fake tree in tests ([`HostRoots`]).

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::devices::PciAddress;
use virt_core::model::hostdev::Hostdev;
use virt_core::model::DomainDef;
use virt_core::VirtError;

/// Where sysfs and devfs are.
#[derive(Debug, Clone)]
pub(crate) struct HostRoots {
    /// `/sys`.
    pub sys: PathBuf,
    /// `/dev`.
    pub dev: PathBuf,
}

impl Default for HostRoots {
    fn default() -> HostRoots {
        HostRoots {
            sys: "/sys".into(),
            dev: "/dev".into(),
        }
    }
}

/// What a start may do to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A start: managed PCI devices are moved to vfio-pci.
    Start,
    /// A preview: nothing on the host changes.
    Preview,
}

fn unsupported(detail: String) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail)
}

fn missing(detail: String) -> VirtError {
    VirtError::new(ErrorCode::OperationFailed, ErrorDomain::Qemu, detail)
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn hex(p: &Path) -> Option<u32> {
    u32::from_str_radix(&read_trim(p)?, 16).ok()
}

fn dec(p: &Path) -> Option<u32> {
    read_trim(p)?.parse().ok()
}

/// The name a hostdev goes by in errors: its alias, else `hostdev<index>`.
fn name_of(h: &Hostdev, i: usize) -> String {
    h.alias.clone().unwrap_or_else(|| format!("hostdev{i}"))
}

/// A USB device of the host: (bus, device) of the one `h` names.
fn find_usb(roots: &HostRoots, h: &Hostdev, what: &str) -> Result<(u32, u32), VirtError> {
    let s = &h.source;
    let wanted = match (s.usb_vendor, s.usb_product, s.usb_address) {
        (Some(v), Some(p), _) => format!("{v:04x}:{p:04x}"),
        (Some(v), None, _) => format!("{v:04x}"),
        (_, _, Some((b, d))) => format!("{b:03}:{d:03}"),
        _ => return Err(unsupported(format!("{what}: names no USB device"))),
    };
    let dir = roots.sys.join("bus/usb/devices");
    let entries = std::fs::read_dir(&dir).map_err(|_| {
        missing(format!(
            "{what}: USB device {wanted} cannot be given to the guest: this host has no USB \
             bus ({} does not exist)",
            dir.display()
        ))
    })?;
    let mut found: Vec<(u32, u32)> = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let (Some(bus), Some(dev)) = (dec(&p.join("busnum")), dec(&p.join("devnum"))) else {
            continue;
        };
        let ids_match = s
            .usb_vendor
            .is_none_or(|v| hex(&p.join("idVendor")) == Some(v))
            && s.usb_product
                .is_none_or(|v| hex(&p.join("idProduct")) == Some(v));
        let addr_match = s.usb_address.is_none_or(|a| a == (bus, dev));
        if ids_match && addr_match && !found.contains(&(bus, dev)) {
            found.push((bus, dev));
        }
    }
    match found.as_slice() {
        [] => Err(missing(format!(
            "{what}: USB device {wanted} is not on this host"
        ))),
        [one] => Ok(*one),
        _ => Err(unsupported(format!(
            "{what}: several USB devices are {wanted}; say which with <address bus= device=> in \
             the hostdev's <source>"
        ))),
    }
}

/// The sysfs name of a PCI address.
pub(crate) fn pci_name(a: &PciAddress) -> String {
    format!(
        "{:04x}:{:02x}:{:02x}.{:x}",
        a.domain, a.bus, a.slot, a.function
    )
}

fn driver_of(dev: &Path) -> Option<String> {
    let link = std::fs::read_link(dev.join("driver")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

fn write(p: &Path, what: &str, text: &str) -> Result<(), VirtError> {
    std::fs::write(p, text).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("{what}: cannot write '{text}' to {}: {e}", p.display()),
        )
    })
}

/// Moves a PCI device to the vfio-pci driver (libvirt's managed detach).
fn bind_vfio(roots: &HostRoots, name: &str, what: &str) -> Result<(), VirtError> {
    let dev = roots.sys.join("bus/pci/devices").join(name);
    write(&dev.join("driver_override"), what, "vfio-pci")?;
    if dev.join("driver").exists() {
        write(&dev.join("driver/unbind"), what, name)?;
    }
    write(&roots.sys.join("bus/pci/drivers_probe"), what, name)
}

/// Checks (and for a managed device on a start, readies) a PCI device for VFIO.
fn ready_pci(roots: &HostRoots, h: &Hostdev, what: &str, mode: Mode) -> Result<(), VirtError> {
    let a = h
        .source
        .pci_address
        .ok_or_else(|| unsupported(format!("{what}: names no PCI device")))?;
    let name = pci_name(&a);
    let dev = roots.sys.join("bus/pci/devices").join(&name);
    if !dev.exists() {
        return Err(missing(format!(
            "{what}: PCI device {name} is not on this host"
        )));
    }
    let groups = roots.sys.join("kernel/iommu_groups");
    let has_iommu = std::fs::read_dir(&groups).is_ok_and(|mut d| d.next().is_some());
    if !has_iommu {
        return Err(unsupported(format!(
            "{what}: host doesn't support passthrough of host PCI devices: PCI device {name} \
             needs VFIO, and this host has no IOMMU ({} is empty; enable VT-d/AMD-Vi and \
             intel_iommu=on or amd_iommu=on)",
            groups.display()
        )));
    }
    let vfio = roots.dev.join("vfio/vfio");
    if !vfio.exists() {
        return Err(unsupported(format!(
            "{what}: PCI device {name} needs VFIO, and {} does not exist (load the vfio-pci \
             module)",
            vfio.display()
        )));
    }
    let group = std::fs::read_link(dev.join("iommu_group"))
        .ok()
        .and_then(|l| Some(l.file_name()?.to_string_lossy().into_owned()))
        .ok_or_else(|| unsupported(format!("{what}: PCI device {name} is in no IOMMU group")))?;
    if driver_of(&dev).as_deref() != Some("vfio-pci") {
        match (h.managed, mode) {
            (true, Mode::Start) => bind_vfio(roots, &name, what)?,
            (true, Mode::Preview) => {}
            (false, _) => {
                return Err(unsupported(format!(
                    "{what}: PCI device {name} is bound to '{}', not vfio-pci: bind it to \
                     vfio-pci or set managed='yes'",
                    driver_of(&dev).unwrap_or_else(|| "no driver".into())
                )))
            }
        }
    }
    let node = roots.dev.join("vfio").join(&group);
    if mode == Mode::Start && !node.exists() {
        return Err(unsupported(format!(
            "{what}: PCI device {name}: {} does not exist (is the device bound to vfio-pci?)",
            node.display()
        )));
    }
    Ok(())
}

/// Readies every host device of `def` (see the module docs); USB ones get their host bus
/// and device number in `def`.
pub(crate) fn prepare(def: &mut DomainDef, roots: &HostRoots, mode: Mode) -> Result<(), VirtError> {
    for (i, h) in def.devices.hostdevs.iter_mut().enumerate() {
        let what = name_of(h, i);
        match h.hostdev_type.as_str() {
            "usb" => {
                let (bus, dev) = find_usb(roots, h, &what)?;
                let node = roots.dev.join(format!("bus/usb/{bus:03}/{dev:03}"));
                if !node.exists() {
                    return Err(missing(format!(
                        "{what}: USB device {bus:03}:{dev:03} has no device node {}",
                        node.display()
                    )));
                }
                h.source.usb_address = Some((bus, dev));
            }
            "pci" => ready_pci(roots, h, &what, mode)?,
            t => {
                return Err(unsupported(format!(
                    "{what}: hostdev type '{t}' is not supported"
                )))
            }
        }
    }
    Ok(())
}

/// Gives the managed PCI devices of a stopped guest back to their own drivers (libvirt's
/// managed reattach). Failures are logged: the guest is gone either way.
pub(crate) fn reattach_pci(def: &DomainDef, roots: &HostRoots) {
    for h in &def.devices.hostdevs {
        let Some(a) = h
            .source
            .pci_address
            .filter(|_| h.managed && h.hostdev_type == "pci")
        else {
            continue;
        };
        let name = pci_name(&a);
        let dev = roots.sys.join("bus/pci/devices").join(&name);
        let steps = [
            (dev.join("driver_override"), "\n".to_string()),
            (dev.join("driver/unbind"), name.clone()),
            (roots.sys.join("bus/pci/drivers_probe"), name.clone()),
        ];
        for (path, text) in steps {
            if path.exists() {
                if let Err(e) = std::fs::write(&path, &text) {
                    tracing::warn!(device = %name, path = %path.display(), error = %e,
                        "cannot give a PCI device back to its driver");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
