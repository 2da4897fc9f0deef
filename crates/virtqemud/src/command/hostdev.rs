//! Host devices on the command line, as libvirt 9.0 writes them for QEMU 7.2, after the USB
//! redirections and before the balloon:
//!
//! ```text
//! -device {"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","bootindex":1,"bus":"pci.4","addr":"0x0"}
//! -device {"driver":"usb-host","hostdevice":"/dev/bus/usb/001/003","id":"hostdev1","bus":"usb.0","port":"4"}
//! ```
//!
//! A USB device found by vendor and product has its bus and device number by now (the start
//! looked it up, `crate::hostdev`); one without is a preparation that did not happen.

use virt_core::VirtError;

use super::devices::{id_of, pci_addr};
use super::json::Json;
use super::usb::usb_addr;
use super::{unsupported, Builder};

/// Every `<hostdev>`.
pub(super) fn hostdevs(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, h) in b.def.devices.hostdevs.iter().enumerate() {
        let id = id_of(&h.alias, || format!("hostdev{i}"));
        let dev = match h.hostdev_type.as_str() {
            "pci" => {
                let a = h.source.pci_address.ok_or_else(|| {
                    unsupported(format!("{id}: a PCI host device needs its host address"))
                })?;
                let mut dev = Json::obj([
                    ("driver", Json::str("vfio-pci")),
                    ("host", Json::str(crate::hostdev::pci_name(&a))),
                    ("id", Json::str(id.clone())),
                ]);
                if let Some(order) = h.boot_order {
                    dev.set("bootindex", Json::Num(order.into()));
                }
                pci_addr(b, &mut dev, &h.address, &id)?;
                dev
            }
            "usb" => {
                let (bus, device) = h.source.usb_address.ok_or_else(|| {
                    VirtError::internal(
                        virt_core::error::ErrorDomain::Qemu,
                        format!("{id}: USB host device is missing bus/device information"),
                    )
                })?;
                let mut dev = Json::obj([
                    ("driver", Json::str("usb-host")),
                    (
                        "hostdevice",
                        Json::str(format!("/dev/bus/usb/{bus:03}/{device:03}")),
                    ),
                    ("id", Json::str(id.clone())),
                ]);
                usb_addr(b, &mut dev, &h.address, &id)?;
                if let Some(order) = h.boot_order {
                    dev.set("bootindex", Json::Num(order.into()));
                }
                dev
            }
            t => {
                return Err(unsupported(format!(
                    "{id}: hostdev type '{t}' is not supported (usb, pci)"
                )))
            }
        };
        b.json("-device", dev);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::command::build;
    use crate::command::tests::ctx;

    /// The hostdev devices of a q35 guest, as libvirt 9.0 writes them once the USB device's
    /// bus and number are known.
    #[test]
    fn vfio_pci_and_usb_host_devices_match_libvirts_form() {
        let def = virt_xml::parse_domain(
            "<domain type='qemu'><name>hd</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>\
             <controller type='usb' index='0' model='qemu-xhci' ports='15'/>\
             <hostdev mode='subsystem' type='pci' managed='yes'><source>\
             <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source>\
             <boot order='1'/>\
             <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\
             </hostdev>\
             <hostdev mode='subsystem' type='usb' managed='yes'><source>\
             <vendor id='0x1050'/><product id='0x0010'/><address bus='1' device='3'/>\
             </source><address type='usb' bus='0' port='4'/></hostdev>\
             <controller type='pci' index='4' model='pcie-root-port'/>\
             </devices></domain>",
        )
        .expect("parses");
        let args = build(&def, &ctx()).expect("builds").args;
        let got: Vec<&String> = args
            .iter()
            .filter(|a| a.contains("vfio-pci") || a.contains("usb-host"))
            .collect();
        assert_eq!(
            got,
            [
                r#"{"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","bootindex":1,"bus":"pci.4","addr":"0x0"}"#,
                r#"{"driver":"usb-host","hostdevice":"/dev/bus/usb/001/003","id":"hostdev1","bus":"usb.0","port":"4"}"#,
            ]
        );
    }
}
