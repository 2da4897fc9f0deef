//! `<smartcard mode='passthrough'>`: the card's character device (SPICE's `smartcard`
//! channel, or a TCP socket) and a `ccid-card-passthru` on its CCID controller's bus
//! (`ccid0.0`), after the NICs, as libvirt 9.0 writes them. The CCID controller itself is
//! `usb-ccid` among the controllers. Other modes are refused at define (`define/tuning.rs`).

use virt_core::model::devices::Address;
use virt_core::model::enums::CharType;
use virt_core::VirtError;

use super::devices::id_of;
use super::json::Json;
use super::{opt, unsupported, Builder};

/// The controller index of a `ccid` address.
fn ccid_controller(addr: &Option<Address>) -> u32 {
    match addr {
        Some(Address::Other {
            address_type,
            attributes,
        }) if address_type == "ccid" => attributes
            .iter()
            .find(|(k, _)| k == "controller")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

pub(super) fn smartcards(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, s) in b.def.devices.smartcards.iter().enumerate() {
        let id = id_of(&s.alias, || format!("smartcard{i}"));
        let Some(src) = s.source.as_ref().filter(|_| s.mode == "passthrough") else {
            return Err(unsupported(format!(
                "{id}: smartcard mode '{}' is not supported",
                s.mode
            )));
        };
        let chr = format!("char{id}");
        let chardev = match src.char_type {
            CharType::Spicevmc if b.has_spice() => format!("spicevmc,id={chr},name=smartcard"),
            CharType::Spicevmc => {
                return Err(unsupported(format!(
                    "{id}: a spicevmc smartcard needs SPICE graphics"
                )))
            }
            CharType::Tcp => {
                let host = src.host.as_deref().unwrap_or("");
                let port = src.service.as_deref().unwrap_or("");
                let server = if src.mode == Some(virt_core::model::enums::CharSourceMode::Bind) {
                    ",server=on,wait=off"
                } else {
                    ""
                };
                format!(
                    "socket,id={chr},host={},port={}{server}",
                    opt(host),
                    opt(port)
                )
            }
            t => {
                return Err(unsupported(format!(
                    "{id}: a smartcard over '{t}' is not supported"
                )))
            }
        };
        b.arg("-chardev", chardev);
        let bus = format!("ccid{}.0", ccid_controller(&s.address));
        b.json(
            "-device",
            Json::obj([
                ("driver", Json::str("ccid-card-passthru")),
                ("chardev", Json::str(chr)),
                ("id", Json::str(id)),
                ("bus", Json::str(bus)),
            ]),
        );
    }
    Ok(())
}
