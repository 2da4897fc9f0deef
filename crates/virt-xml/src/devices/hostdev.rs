//! `<hostdev>` (USB and PCI passthrough, subsystem mode) and `<redirdev>` (USB redirection).

use virt_core::model::devices::PciAddress;
use virt_core::model::enums::CharType;
use virt_core::model::hostdev::{Hostdev, HostdevCaps, HostdevSource, Redirdev};
use virt_core::xml::FormatOptions;

use super::chardev;
use super::{format_info, parse_address, parse_alias, parse_boot};
use crate::strict::{parse_u32_c, Cursor};
use crate::writer::Writer;
use crate::XmlError;

fn hex_id(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>, XmlError> {
    let Some(mut e) = c.child(name)? else {
        return Ok(None);
    };
    let v = e.attr_req("id")?;
    let id = parse_u32_c(v)
        .filter(|n| *n <= 0xffff)
        .ok_or_else(|| e.invalid_attr("id", v, "expected a 16-bit id such as 0x1050"))?;
    e.finish()?;
    Ok(Some(id))
}

/// `<hostdev mode='capabilities'>` (LXC): a host block or character device node, or a host
/// NIC with the addresses and routes to give it inside the container.
fn parse_caps(mut c: Cursor<'_>) -> Result<Hostdev, XmlError> {
    let ty = c.attr_req("type")?;
    let (child, what) = match ty {
        "storage" => ("block", "block device path"),
        "misc" => ("char", "character device path"),
        "net" => ("interface", "host interface name"),
        _ => {
            return Err(XmlError::Unsupported {
                path: c.attr_path("type"),
                message: format!(
                    "hostdev capabilities type '{ty}' is not supported (storage, misc or net)"
                ),
            })
        }
    };
    let mut src = c.child("source")?.ok_or_else(|| XmlError::Missing {
        path: format!("{}/source", c.path()),
    })?;
    let value = src
        .child_text(child)?
        // Kept as written (libvirt does not trim it); empty is missing.
        .filter(|t| !t.is_empty())
        .ok_or_else(|| XmlError::Missing {
            path: format!("{}/{child}", src.path()),
        })?;
    if ty == "net" && (value.len() > 15 || value.contains('/') || value.contains(' ')) {
        return Err(src.invalid_text(&value, what));
    }
    src.finish()?;
    let caps = match ty {
        "storage" => HostdevCaps::Storage { block: value },
        "misc" => HostdevCaps::Misc { char_dev: value },
        _ => HostdevCaps::Net {
            interface: value,
            ip: super::netip::parse(&mut c)?,
        },
    };
    let h = Hostdev {
        hostdev_type: ty.to_string(),
        caps: Some(caps),
        boot_order: parse_boot(&mut c)?,
        alias: parse_alias(&mut c)?,
        address: parse_address(&mut c)?,
        ..Hostdev::default()
    };
    c.finish()?;
    Ok(h)
}

pub(super) fn parse_hostdev(mut c: Cursor<'_>) -> Result<Hostdev, XmlError> {
    let mode = c.attr("mode").unwrap_or("subsystem");
    if mode == "capabilities" {
        return parse_caps(c);
    }
    if mode != "subsystem" {
        return Err(XmlError::Unsupported {
            path: c.attr_path("mode"),
            message: format!("hostdev mode '{mode}' is not supported"),
        });
    }
    let ty = c.attr_req("type")?;
    if ty != "usb" && ty != "pci" {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("hostdev type '{ty}' is not supported"),
        });
    }
    let mut h = Hostdev {
        hostdev_type: ty.to_string(),
        managed: c.attr_yes_no("managed")?.unwrap_or(false),
        ..Hostdev::default()
    };
    if ty == "pci" {
        if let Some(mut d) = c.child("driver")? {
            h.driver_name = d.attr_word("name", &["xen", "vfio", "kvm"])?;
            d.finish()?;
        }
    }
    let mut src = c.child("source")?.ok_or_else(|| XmlError::Missing {
        path: format!("{}/source", c.path()),
    })?;
    let mut source = HostdevSource::default();
    if ty == "usb" {
        source.startup_policy =
            src.attr_word("startupPolicy", &["mandatory", "requisite", "optional"])?;
        source.usb_vendor = hex_id(&mut src, "vendor")?;
        source.usb_product = hex_id(&mut src, "product")?;
        if let Some(mut a) = src.child("address")? {
            let bus = a.attr_with("bus", "expected a number", parse_u32_c)?;
            let device = a.attr_with("device", "expected a number", parse_u32_c)?;
            let (Some(bus), Some(device)) = (bus, device) else {
                return Err(XmlError::Missing {
                    path: a.attr_path("device"),
                });
            };
            a.finish()?;
            source.usb_address = Some((bus, device));
        }
        if source.usb_vendor.is_none() && source.usb_address.is_none() {
            return Err(XmlError::Missing {
                path: format!("{}/vendor", src.path()),
            });
        }
    } else {
        source.write_filtering = src.attr_yes_no("writeFiltering")?;
        let mut a = src.child("address")?.ok_or_else(|| XmlError::Missing {
            path: format!("{}/address", src.path()),
        })?;
        let mut num = |name: &str, max: u32| -> Result<u32, XmlError> {
            let v = a.attr_req(name)?;
            parse_u32_c(v)
                .filter(|n| *n <= max)
                .ok_or_else(|| a.invalid_attr(name, v, "expected a PCI address number"))
        };
        source.pci_address = Some(PciAddress {
            domain: num("domain", 0xffff)?,
            bus: num("bus", 0xff)?,
            slot: num("slot", 0x1f)?,
            function: num("function", 7)?,
            multifunction: None,
        });
        a.finish()?;
    }
    src.finish()?;
    h.source = source;
    h.boot_order = parse_boot(&mut c)?;
    h.alias = parse_alias(&mut c)?;
    h.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(h)
}

pub(super) fn format_hostdev(w: &mut Writer, h: &Hostdev) {
    if let Some(caps) = &h.caps {
        w.tag("hostdev")
            .attr("mode", "capabilities")
            .attr("type", caps.type_name())
            .open();
        let (name, value) = match caps {
            HostdevCaps::Storage { block } => ("block", block),
            HostdevCaps::Misc { char_dev } => ("char", char_dev),
            HostdevCaps::Net { interface, .. } => ("interface", interface),
        };
        w.tag("source").open();
        w.tag(name).text(value);
        w.close("source");
        if let HostdevCaps::Net { ip, .. } = caps {
            super::netip::format(w, ip);
        }
        format_info(w, h.boot_order, h.alias.as_deref(), h.address.as_ref());
        w.close("hostdev");
        return;
    }
    w.tag("hostdev")
        .attr("mode", "subsystem")
        .attr("type", &h.hostdev_type)
        .yes_no("managed", Some(h.managed))
        .open();
    if let Some(d) = &h.driver_name {
        w.tag("driver").attr("name", d).empty();
    }
    let s = &h.source;
    w.tag("source")
        .attr_opt("startupPolicy", s.startup_policy.as_deref())
        .yes_no("writeFiltering", s.write_filtering)
        .children(|w| {
            if let Some(v) = s.usb_vendor {
                w.tag("vendor").attr("id", format!("{v:#06x}")).empty();
            }
            if let Some(p) = s.usb_product {
                w.tag("product").attr("id", format!("{p:#06x}")).empty();
            }
            if let Some((bus, device)) = s.usb_address {
                w.tag("address")
                    .attr("bus", bus)
                    .attr("device", device)
                    .empty();
            }
            if let Some(p) = s.pci_address {
                w.tag("address")
                    .attr("domain", format!("{:#06x}", p.domain))
                    .attr("bus", format!("{:#04x}", p.bus))
                    .attr("slot", format!("{:#04x}", p.slot))
                    .attr("function", format!("{:#x}", p.function))
                    .empty();
            }
        });
    format_info(w, h.boot_order, h.alias.as_deref(), h.address.as_ref());
    w.close("hostdev");
}

pub(super) fn parse_redirdev(mut c: Cursor<'_>) -> Result<Redirdev, XmlError> {
    let bus = c
        .attr_word("bus", &["usb"])?
        .ok_or_else(|| XmlError::Missing {
            path: c.attr_path("bus"),
        })?;
    let ty = c.attr_req("type")?;
    let ty = match CharType::from_xml(ty) {
        Some(t @ (CharType::Spicevmc | CharType::Tcp)) => t,
        _ => return Err(c.invalid_attr("type", ty, "expected spicevmc or tcp")),
    };
    let source = chardev::parse_source(&mut c, ty)?;
    if ty == CharType::Tcp && (source.host.is_none() || source.service.is_none()) {
        return Err(XmlError::Missing {
            path: format!("{}/source/@host", c.path()),
        });
    }
    let boot_order = parse_boot(&mut c)?;
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(Redirdev {
        bus,
        source,
        boot_order,
        alias,
        address,
    })
}

pub(super) fn format_redirdev(w: &mut Writer, r: &Redirdev, opts: FormatOptions) {
    // libvirt prints redirdev open and closed even when nothing is inside.
    w.tag("redirdev")
        .attr("bus", &r.bus)
        .attr("type", r.source.char_type)
        .open();
    chardev::format_source(w, &r.source, opts);
    format_info(w, r.boot_order, r.alias.as_deref(), r.address.as_ref());
    w.close("redirdev");
}

#[cfg(test)]
mod xen_pci_tests {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};

    #[test]
    fn a_xen_pci_hostdev_keeps_its_driver_and_write_filtering() {
        let dev = "    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='xen'/>
      <source writeFiltering='no'>
        <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>
      </source>
    </hostdev>
";
        let xml = format!(
            "<domain type='xen'>\n  <name>p</name>\n  <uuid>0bfa7c0a-4b87-444e-adb8-dfb5dbe18e78</uuid>\n  \
             <memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>131072</currentMemory>\n  \
             <vcpu placement='static'>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='xenpv'>linux</type>\n    \
             <kernel>/k</kernel>\n  </os>\n  <clock offset='utc' adjustment='reset'/>\n  \
             <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>restart</on_crash>\n  \
             <devices>\n    <controller type='xenbus' index='0'/>\n    <console type='pty'>\n      \
             <target type='xen' port='0'/>\n    </console>\n    <input type='mouse' bus='xen'/>\n    \
             <input type='keyboard' bus='xen'/>\n{dev}    <memballoon model='xen'/>\n  </devices>\n</domain>\n"
        );
        let codec = crate::LibvirtXml;
        let def = codec.parse_domain(&xml).expect("parses");
        let h = &def.devices.hostdevs[0];
        assert_eq!(h.driver_name.as_deref(), Some("xen"));
        assert_eq!(h.source.write_filtering, Some(false));
        assert_eq!(codec.format_domain(&def, FormatOptions::default()), xml);
        let bad = xml.replace("name='xen'", "name='bogus'");
        assert!(codec.parse_domain(&bad).is_err());
    }
}
