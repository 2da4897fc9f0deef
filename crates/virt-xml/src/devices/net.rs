//! `<controller>` and `<interface>`.

use virt_core::model::devices::{Controller, Interface, VirtualPort};
use virt_core::model::enums::{ControllerType, InterfaceType, MacvtapMode};

use super::{format_address, format_alias, format_info, parse_address, parse_alias, parse_boot};
use crate::domain::non_empty;
use crate::strict::{parse_u32_c, Cursor};
use crate::writer::Writer;
use crate::XmlError;

fn controller_models(ty: ControllerType) -> &'static [&'static str] {
    match ty {
        ControllerType::Scsi => &[
            "auto",
            "buslogic",
            "lsilogic",
            "lsisas1068",
            "vmpvscsi",
            "ibmvscsi",
            "virtio-scsi",
            "lsisas1078",
            "virtio-transitional",
            "virtio-non-transitional",
            "ncr53c90",
            "am53c974",
            "dc390",
        ],
        ControllerType::Usb => &[
            "piix3-uhci",
            "piix4-uhci",
            "ehci",
            "ich9-ehci1",
            "ich9-uhci1",
            "ich9-uhci2",
            "ich9-uhci3",
            "vt82c686b-uhci",
            "pci-ohci",
            "nec-xhci",
            "qusb1",
            "qusb2",
            "qemu-xhci",
            "none",
        ],
        ControllerType::Pci => &[
            "pci-root",
            "pcie-root",
            "pci-bridge",
            "dmi-to-pci-bridge",
            "pcie-root-port",
            "pcie-switch-upstream-port",
            "pcie-switch-downstream-port",
            "pci-expander-bus",
            "pcie-expander-bus",
            "pcie-to-pci-bridge",
        ],
        ControllerType::Ide => &["piix3", "piix4", "ich6"],
        ControllerType::VirtioSerial => {
            &["virtio", "virtio-transitional", "virtio-non-transitional"]
        }
        _ => &[],
    }
}

/// Parses a `<controller>`; the flag says whether it carried an index.
pub(super) fn parse_controller(mut c: Cursor<'_>) -> Result<(Controller, bool), XmlError> {
    let ty = c.attr_req("type")?;
    let ty = ControllerType::from_xml(ty)
        .ok_or_else(|| c.invalid_attr("type", ty, "expected a controller type"))?;
    let index = c.attr_u32("index")?;
    let models = controller_models(ty);
    let mut ctl = Controller {
        controller_type: ty,
        index: index.unwrap_or(0),
        model: c.attr_word("model", models)?,
        ..Controller::default()
    };
    if matches!(ty, ControllerType::Usb | ControllerType::VirtioSerial) {
        ctl.ports = c.attr_u32("ports")?;
    }
    if ty == ControllerType::VirtioSerial {
        ctl.vectors = c.attr_u32("vectors")?;
    }
    if ty == ControllerType::Xenbus {
        ctl.max_grant_frames = c.attr_u32("maxGrantFrames")?;
        ctl.max_event_channels = c.attr_u32("maxEventChannels")?;
    }
    if ty == ControllerType::Pci {
        if let Some(mut m) = c.child("model")? {
            ctl.model_name = non_empty(m.attr_string("name"));
            m.finish()?;
        }
        if let Some(mut t) = c.child("target")? {
            for (name, hex) in [
                ("chassisNr", false),
                ("chassis", false),
                ("port", true),
                ("busNr", false),
                ("index", false),
            ] {
                if let Some(v) = t.attr(name) {
                    let n = parse_u32_c(v)
                        .ok_or_else(|| t.invalid_attr(name, v, "expected a number"))?;
                    ctl.target.push((
                        name.to_string(),
                        if hex {
                            format!("{n:#x}")
                        } else {
                            n.to_string()
                        },
                    ));
                }
            }
            if let Some(h) = t.attr_on_off("hotplug")? {
                ctl.target
                    .push(("hotplug".into(), if h { "on" } else { "off" }.into()));
            }
            t.finish()?;
        }
    }
    if ty == ControllerType::Usb {
        if let Some(mut m) = c.child("master")? {
            ctl.master_startport =
                Some(m.attr_u32("startport")?.ok_or_else(|| XmlError::Missing {
                    path: m.attr_path("startport"),
                })?);
            m.finish()?;
        }
    }
    if ty == ControllerType::Scsi {
        if let Some(mut d) = c.child("driver")? {
            ctl.driver_queues = d.attr_u32("queues")?.filter(|q| *q > 0);
            let v = d.attr("iothread");
            ctl.driver_iothread = match v {
                None => None,
                Some(v) => Some(parse_u32_c(v).filter(|n| *n > 0).ok_or_else(|| {
                    d.invalid_attr("iothread", v, "expected a positive IOThread id")
                })?),
            };
            d.finish()?;
        }
    }
    ctl.alias = parse_alias(&mut c)?;
    ctl.address = parse_address(&mut c)?;
    c.finish()?;
    Ok((ctl, index.is_some()))
}

pub(super) fn format_controller(w: &mut Writer, c: &Controller) {
    w.tag("controller")
        .attr("type", c.controller_type)
        .attr("index", c.index)
        .attr_opt("model", c.model.as_deref())
        .attr_opt("ports", c.ports)
        .attr_opt("vectors", c.vectors)
        .attr_opt("maxGrantFrames", c.max_grant_frames)
        .attr_opt("maxEventChannels", c.max_event_channels)
        .children(|w| {
            if c.driver_queues.is_some() || c.driver_iothread.is_some() {
                w.tag("driver")
                    .attr_opt("queues", c.driver_queues)
                    .attr_opt("iothread", c.driver_iothread)
                    .empty();
            }
            if let Some(n) = &c.model_name {
                w.tag("model").attr("name", n).empty();
            }
            if !c.target.is_empty() {
                let mut t = w.tag("target");
                for (k, v) in &c.target {
                    t = t.attr(k, v);
                }
                t.empty();
            }
            format_alias(w, c.alias.as_deref());
            if let Some(p) = c.master_startport {
                w.tag("master").attr("startport", p).empty();
            }
            format_address(w, c.address.as_ref());
        });
}

/// Parses `aa:bb:cc:dd:ee:ff` into lower case, refusing multicast addresses.
fn parse_mac(c: &Cursor<'_>, v: &str) -> Result<String, XmlError> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        return Err(c.invalid_attr("address", v, "unable to parse mac address"));
    }
    let first = u8::from_str_radix(parts[0], 16).unwrap_or(0);
    if first & 1 == 1 {
        return Err(c.invalid_attr(
            "address",
            v,
            "expected unicast mac address, found multicast",
        ));
    }
    Ok(v.to_ascii_lowercase())
}

pub(super) fn parse_interface(mut c: Cursor<'_>) -> Result<Interface, XmlError> {
    let ty = c
        .attr_with(
            "type",
            "expected an interface type",
            InterfaceType::from_xml,
        )?
        .unwrap_or_default();
    if !matches!(
        ty,
        InterfaceType::Network
            | InterfaceType::Bridge
            | InterfaceType::Direct
            | InterfaceType::User
            | InterfaceType::Ethernet
    ) {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("interface type '{ty}' is not supported"),
        });
    }
    let mut n = Interface {
        interface_type: ty,
        ..Interface::default()
    };
    if let Some(mut m) = c.child("mac")? {
        let v = m.attr_req("address")?;
        n.mac = Some(parse_mac(&m, v)?);
        m.finish()?;
    }
    if let Some(mut s) = c.child("source")? {
        match ty {
            InterfaceType::Network => {
                n.source_network = Some(s.attr_req("network")?.to_string());
                n.source_portgroup = non_empty(s.attr_string("portgroup"));
                // A running domain's live XML (and its status) says which port and bridge.
                n.source_portid = non_empty(s.attr_string("portid"));
                n.source_bridge = non_empty(s.attr_string("bridge"));
            }
            InterfaceType::Bridge => n.source_bridge = Some(s.attr_req("bridge")?.to_string()),
            InterfaceType::Direct => {
                n.source_dev = Some(s.attr_req("dev")?.to_string());
                if s.attr("portgroup").is_some() {
                    // libvirt drops it silently and its schema allows it only with network=.
                    s.report(XmlError::Unsupported {
                        path: s.attr_path("portgroup"),
                        message: "a portgroup applies only to interface type='network'".into(),
                    })?;
                }
                n.source_mode = s.attr_with(
                    "mode",
                    "expected vepa, private, bridge or passthrough",
                    MacvtapMode::from_xml,
                )?;
            }
            // A veth pair's host end: the addresses and routes set on it (LXC).
            InterfaceType::Ethernet => n.host_ip = super::netip::parse(&mut s)?,
            _ => {
                return Err(XmlError::UnknownElement {
                    path: s.path().to_string(),
                })
            }
        }
        s.finish()?;
    } else if matches!(
        ty,
        InterfaceType::Network | InterfaceType::Bridge | InterfaceType::Direct
    ) {
        return Err(XmlError::Missing {
            path: format!("{}/source", c.path()),
        });
    }
    if matches!(
        ty,
        InterfaceType::Network | InterfaceType::Bridge | InterfaceType::Direct
    ) {
        if let Some(v) = c.child("virtualport")? {
            n.virtualport = Some(parse_virtualport(v)?);
        }
        if let Some(v) = c.child("vlan")? {
            n.vlan = Some(super::net_qos::parse_vlan(v)?);
        }
    }
    if let Some(b) = c.child("bandwidth")? {
        n.bandwidth = Some(super::net_qos::parse_bandwidth(b)?);
    }
    n.guest_ip = super::netip::parse(&mut c)?;
    if let Some(mut s) = c.child("script")? {
        n.script = Some(s.attr_req("path")?.to_string());
        s.finish()?;
    }
    if let Some(mut t) = c.child("target")? {
        n.target_dev = non_empty(t.attr_string("dev"));
        t.finish()?;
    }
    if let Some(mut g) = c.child("guest")? {
        n.guest_dev = non_empty(g.attr_string("dev"));
        n.guest_actual = non_empty(g.attr_string("actual"));
        g.finish()?;
    }
    if let Some(mut m) = c.child("model")? {
        let v = m.attr_req("type")?;
        if v.is_empty()
            || !v
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            return Err(m.invalid_attr("type", v, "model name contains invalid characters"));
        }
        n.model = Some(v.to_string());
        m.finish()?;
    }
    if let Some(mut d) = c.child("driver")? {
        n.driver_name = d.attr_word("name", &["qemu", "vhost", "kvm", "vfio", "xen"])?;
        n.driver_queues = d.attr_u32("queues")?;
        d.finish()?;
    }
    if let Some(mut f) = c.child("filterref")? {
        n.filterref = Some(f.attr_req("filter")?.to_string());
        f.finish()?;
    }
    if let Some(mut l) = c.child("link")? {
        n.link_up = l.attr_with("state", "expected up or down", |v| match v {
            "up" => Some(true),
            "down" => Some(false),
            _ => None,
        })?;
        l.finish()?;
    }
    if let Some(mut m) = c.child("mtu")? {
        n.mtu = Some(m.attr_u32("size")?.ok_or_else(|| XmlError::Missing {
            path: m.attr_path("size"),
        })?);
        m.finish()?;
    }
    n.boot_order = parse_boot(&mut c)?;
    n.alias = parse_alias(&mut c)?;
    n.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(n)
}

/// `<parameters>` attributes of a `<virtualport>`, in libvirt's print order.
const VIRTUALPORT_PARAMETERS: &[&str] = &[
    "managerid",
    "typeid",
    "typeidversion",
    "instanceid",
    "profileid",
    "interfaceid",
];

fn parse_virtualport(mut c: Cursor<'_>) -> Result<VirtualPort, XmlError> {
    let mut v = VirtualPort {
        port_type: c.attr_word("type", &["802.1Qbg", "802.1Qbh", "openvswitch", "midonet"])?,
        parameters: Vec::new(),
    };
    if let Some(mut p) = c.child("parameters")? {
        for &name in VIRTUALPORT_PARAMETERS {
            let Some(value) = p.attr(name) else {
                continue;
            };
            let ok = match name {
                "managerid" | "typeidversion" => parse_u32_c(value).is_some_and(|n| n <= 0xff),
                "typeid" => parse_u32_c(value).is_some_and(|n| n <= 0xff_ffff),
                "instanceid" | "interfaceid" => virt_core::uuid::Uuid::parse(value).is_some(),
                _ => !value.is_empty(),
            };
            if !ok {
                return Err(p.invalid_attr(name, value, "invalid virtualport parameter"));
            }
            v.parameters.push((name.to_string(), value.to_string()));
        }
        p.finish()?;
    }
    c.finish()?;
    Ok(v)
}

fn format_virtualport(w: &mut Writer, v: &VirtualPort) {
    w.tag("virtualport")
        .attr_opt("type", v.port_type.as_deref())
        .children(|w| {
            if !v.parameters.is_empty() {
                let mut tag = w.tag("parameters");
                for (k, val) in &v.parameters {
                    tag = tag.attr(k, val);
                }
                tag.empty();
            }
        });
}

/// Whether `name` is a host device name libvirt generates for a `virt_type` domain (`vnetN`
/// taps and LXC veth ends, `macvtapN`, `macvlanN`; Xen's `vifD.N`): an inactive definition
/// neither keeps nor prints one, so the next start names the device afresh.
pub(crate) fn is_generated_ifname(name: &str, virt_type: &str) -> bool {
    ["vnet", "macvtap", "macvlan"]
        .iter()
        .any(|p| name.starts_with(p))
        || (virt_type == "xen" && name.starts_with("vif"))
}

/// Writes an `<interface>`; `inactive_type` is the domain type when printing an inactive
/// definition (generated host device names are left out then).
pub(super) fn format_interface(w: &mut Writer, n: &Interface, inactive_type: Option<&str>) {
    w.tag("interface").attr("type", n.interface_type).open();
    if let Some(m) = &n.mac {
        w.tag("mac").attr("address", m).empty();
    }
    match n.interface_type {
        InterfaceType::Network => w
            .tag("source")
            .attr_opt("network", n.source_network.as_deref())
            .attr_opt("portgroup", n.source_portgroup.as_deref())
            .attr_opt("portid", n.source_portid.as_deref())
            .attr_opt("bridge", n.source_bridge.as_deref())
            .empty(),
        InterfaceType::Bridge => w
            .tag("source")
            .attr_opt("bridge", n.source_bridge.as_deref())
            .empty(),
        InterfaceType::Direct => w
            .tag("source")
            .attr_opt("dev", n.source_dev.as_deref())
            .attr("mode", n.source_mode.unwrap_or_default())
            .empty(),
        InterfaceType::Ethernet if !n.host_ip.is_empty() => w
            .tag("source")
            .children(|w| super::netip::format(w, &n.host_ip)),
        _ => {}
    }
    if let Some(v) = &n.vlan {
        super::net_qos::format_vlan(w, v);
    }
    if let Some(v) = &n.virtualport {
        format_virtualport(w, v);
    }
    if let Some(b) = &n.bandwidth {
        super::net_qos::format_bandwidth(w, b);
    }
    super::netip::format(w, &n.guest_ip);
    if let Some(s) = &n.script {
        w.tag("script").attr("path", s).empty();
    }
    if let Some(t) = n
        .target_dev
        .as_ref()
        .filter(|t| !inactive_type.is_some_and(|vt| is_generated_ifname(t, vt)))
    {
        w.tag("target").attr("dev", t).empty();
    }
    if n.guest_dev.is_some() || n.guest_actual.is_some() {
        w.tag("guest")
            .attr_opt("dev", n.guest_dev.as_deref())
            .attr_opt("actual", n.guest_actual.as_deref())
            .empty();
    }
    if let Some(m) = &n.model {
        w.tag("model").attr("type", m).empty();
    }
    if n.driver_name.is_some() || n.driver_queues.is_some() {
        w.tag("driver")
            .attr_opt("name", n.driver_name.as_deref())
            .attr_opt("queues", n.driver_queues)
            .empty();
    }
    if let Some(f) = &n.filterref {
        w.tag("filterref").attr("filter", f).empty();
    }
    if let Some(up) = n.link_up {
        w.tag("link")
            .attr("state", if up { "up" } else { "down" })
            .empty();
    }
    if let Some(m) = n.mtu {
        w.tag("mtu").attr("size", m).empty();
    }
    format_info(w, n.boot_order, n.alias.as_deref(), n.address.as_ref());
    w.close("interface");
}

#[cfg(test)]
mod xenbus_tests {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};

    #[test]
    fn a_xenbus_controller_keeps_its_grant_and_event_channel_limits() {
        let ctl = "    <controller type='xenbus' index='0' maxGrantFrames='64' maxEventChannels='2048'/>\n";
        let xml = format!(
            "<domain type='xen'>\n  <name>x</name>\n  <uuid>0bfa7c0a-4b87-444e-adb8-dfb5dbe18e78</uuid>\n  \
             <memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>131072</currentMemory>\n  \
             <vcpu placement='static'>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='xenpv'>linux</type>\n    \
             <kernel>/k</kernel>\n  </os>\n  <clock offset='utc' adjustment='reset'/>\n  \
             <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>restart</on_crash>\n  \
             <devices>\n{ctl}    <console type='pty'>\n      <target type='xen' port='0'/>\n    </console>\n    \
             <input type='mouse' bus='xen'/>\n    <input type='keyboard' bus='xen'/>\n    \
             <memballoon model='xen'/>\n  </devices>\n</domain>\n"
        );
        let codec = crate::LibvirtXml;
        let def = codec.parse_domain(&xml).expect("parses");
        let c = &def.devices.controllers[0];
        assert_eq!(
            (c.max_grant_frames, c.max_event_channels),
            (Some(64), Some(2048))
        );
        assert_eq!(codec.format_domain(&def, FormatOptions::default()), xml);
        assert!(codec.parse_domain(&xml.replace("'64'", "'x'")).is_err());
    }
}
