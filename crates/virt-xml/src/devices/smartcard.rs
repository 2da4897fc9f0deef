//! `<smartcard>`: parsed with libvirt's rules (`virDomainSmartcardDefParseXML`) and written in
//! its order (mode, the passthrough character device's type, certificates and database or the
//! character device's source, then alias and address).

use virt_core::model::devices::Address;
use virt_core::model::enums::CharType;
use virt_core::model::smartcard::Smartcard;
use virt_core::xml::FormatOptions;

use super::{chardev, format_info, parse_address, parse_alias};
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// Parses a `<smartcard>`.
pub(super) fn parse(mut c: Cursor<'_>) -> Result<Smartcard, XmlError> {
    let mode = c
        .attr_word("mode", &["host", "host-certificates", "passthrough"])?
        .ok_or_else(|| XmlError::Missing {
            path: c.attr_path("mode"),
        })?;
    let mut card = Smartcard {
        mode,
        ..Smartcard::default()
    };
    match card.mode.as_str() {
        "host-certificates" => {
            let certs = c.children("certificate");
            if certs.len() != 3 {
                return Err(XmlError::Invalid {
                    path: format!("{}/certificate", c.path()),
                    message: "host-certificates mode needs exactly three certificates".into(),
                });
            }
            for mut cert in certs {
                let text = cert.text()?;
                if text.is_empty() {
                    return Err(XmlError::Invalid {
                        path: cert.path().to_string(),
                        message: "expected a certificate name".into(),
                    });
                }
                cert.finish()?;
                card.certificates.push(text);
            }
            if let Some(mut db) = c.child("database")? {
                let path = db.path().to_string();
                let text = db.text()?;
                if !text.starts_with('/') {
                    return Err(XmlError::Invalid {
                        path,
                        message: format!("expecting absolute path: {text}"),
                    });
                }
                db.finish()?;
                card.database = Some(text);
            }
        }
        "passthrough" => {
            let ty = c.attr_req("type")?;
            let ty = match CharType::from_xml(ty) {
                Some(t @ (CharType::Spicevmc | CharType::Tcp)) => t,
                _ => return Err(c.invalid_attr("type", ty, "expected spicevmc or tcp")),
            };
            let source = chardev::parse_source(&mut c, ty)?;
            if ty == CharType::Tcp && (source.host.is_none() || source.service.is_none()) {
                return Err(XmlError::Missing {
                    path: format!("{}/source/@service", c.path()),
                });
            }
            card.source = Some(source);
        }
        _ => {}
    }
    card.alias = parse_alias(&mut c)?;
    let addr_path = format!("{}/address/@type", c.path());
    card.address = parse_address(&mut c)?;
    if let Some(a) = &card.address {
        if !matches!(a, Address::Other { address_type, .. } if address_type == "ccid") {
            return Err(XmlError::Unsupported {
                path: addr_path,
                message: "Controllers must use the 'ccid' address type".into(),
            });
        }
    }
    c.finish()?;
    Ok(card)
}

/// Writes a `<smartcard>`.
pub(super) fn format(w: &mut Writer, s: &Smartcard, opts: FormatOptions) {
    let mut tag = w.tag("smartcard").attr("mode", &s.mode);
    if let Some(src) = &s.source {
        tag = tag.attr("type", src.char_type);
    }
    tag.children(|w| {
        for cert in &s.certificates {
            w.tag("certificate").text(cert);
        }
        w.text_elem("database", s.database.as_deref());
        if let Some(src) = &s.source {
            chardev::format_source(w, src, opts);
        }
        format_info(w, None, s.alias.as_deref(), s.address.as_ref());
    });
}

#[cfg(test)]
mod tests {
    use virt_core::xml::DomainXmlCodec;

    use crate::LibvirtXml;

    fn domain(card: &str) -> String {
        format!(
            "<domain type='qemu'><name>s</name><memory>65536</memory><os><type>hvm</type></os>\
             <devices>{card}</devices></domain>"
        )
    }

    #[test]
    fn smartcards_round_trip_in_libvirts_shape() {
        let xml = domain(
            "<smartcard mode='passthrough' type='spicevmc'><address type='ccid' controller='0' \
             slot='0'/></smartcard><smartcard mode='host'/><smartcard mode='passthrough' \
             type='tcp'><source mode='connect' host='127.0.0.1' service='2001'/></smartcard>\
             <smartcard mode='host-certificates'><certificate>a</certificate><certificate>b\
             </certificate><certificate>c</certificate><database>/etc/pki/nssdb\
             </database></smartcard>",
        );
        let def = LibvirtXml.parse_domain(&xml).expect("parses");
        assert_eq!(def.devices.smartcards.len(), 4);
        let out = LibvirtXml.format_domain(&def, Default::default());
        assert!(out.contains(
            "    <smartcard mode='passthrough' type='spicevmc'>\n      \
             <address type='ccid' controller='0' slot='0'/>\n    </smartcard>\n"
        ));
        // Cards without an address take the next slot of CCID controller 0, which is added.
        assert!(out.contains(
            "    <smartcard mode='host'>\n      <address type='ccid' controller='0' slot='1'/>\n"
        ));
        assert!(out.contains("<controller type='ccid' index='0'"));
        assert!(out.contains(
            "      <source mode='connect' host='127.0.0.1' service='2001'/>\n      \
             <protocol type='raw'/>\n"
        ));
        assert!(out.contains("<certificate>b</certificate>"));
        assert!(out.contains("<database>/etc/pki/nssdb</database>"));
        let again = LibvirtXml.parse_domain(&out).expect("re-parses");
        assert_eq!(again.devices.smartcards, def.devices.smartcards);
    }

    #[test]
    fn bad_smartcards_are_refused_naming_the_place() {
        for (card, path) in [
            ("<smartcard/>", "/domain/devices/smartcard[1]/@mode"),
            (
                "<smartcard mode='passthrough'/>",
                "/domain/devices/smartcard[1]/@type",
            ),
            (
                "<smartcard mode='passthrough' type='pty'/>",
                "/domain/devices/smartcard[1]/@type",
            ),
            (
                "<smartcard mode='host-certificates'><certificate>a</certificate></smartcard>",
                "/domain/devices/smartcard[1]/certificate",
            ),
            (
                "<smartcard mode='host'><address type='usb' bus='0' port='1'/></smartcard>",
                "/domain/devices/smartcard[1]/address/@type",
            ),
        ] {
            let e = crate::parse_domain(&domain(card)).expect_err(card);
            assert_eq!(e.path(), Some(path), "{card}: {e}");
        }
    }
}
