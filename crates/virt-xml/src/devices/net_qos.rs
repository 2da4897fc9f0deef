//! An interface's `<vlan>` tags and `<bandwidth>` rates (libvirt's virnetdevvlan.c and
//! virnetdevbandwidth.c formats), parsed strictly and written in libvirt's attribute order.

use virt_core::model::devices::{Bandwidth, BandwidthRate, Vlan};

use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// `<vlan [trunk='yes|no']><tag id='N' [nativeMode='tagged|untagged']/>...</vlan>`; several
/// tags make a trunk even without `trunk='yes'`, as in libvirt.
pub(super) fn parse_vlan(mut c: Cursor<'_>) -> Result<Vlan, XmlError> {
    let trunk = c.attr_yes_no("trunk")?;
    let mut v = Vlan::default();
    for mut t in c.children("tag") {
        let id = t.attr_u32("id")?.ok_or_else(|| XmlError::Missing {
            path: t.attr_path("id"),
        })?;
        if id > 4095 {
            return Err(t.invalid_attr("id", &id.to_string(), "a VLAN tag from 0 to 4095"));
        }
        let mode = t.attr_word("nativeMode", &["tagged", "untagged"])?;
        t.finish()?;
        v.tags.push((id, mode));
    }
    if v.tags.is_empty() {
        return Err(XmlError::Missing {
            path: format!("{}/tag", c.path()),
        });
    }
    v.trunk = match trunk {
        Some(false) if v.tags.len() > 1 => {
            return Err(c.invalid_attr("trunk", "no", "'yes' with more than one tag"))
        }
        Some(t) => t,
        None => v.tags.len() > 1,
    };
    c.finish()?;
    Ok(v)
}

pub(super) fn format_vlan(w: &mut Writer, v: &Vlan) {
    let mut tag = w.tag("vlan");
    if v.trunk {
        tag = tag.attr("trunk", "yes");
    }
    tag.children(|w| {
        for (id, mode) in &v.tags {
            w.tag("tag")
                .attr("id", id)
                .attr_opt("nativeMode", mode.as_deref())
                .empty();
        }
    });
}

fn parse_rate(mut c: Cursor<'_>, inbound: bool) -> Result<BandwidthRate, XmlError> {
    let num = |c: &mut Cursor<'_>, name: &str| -> Result<Option<u64>, XmlError> {
        match c.attr(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| c.invalid_attr(name, v, "a number")),
        }
    };
    let r = BandwidthRate {
        average: num(&mut c, "average")?,
        peak: num(&mut c, "peak")?,
        floor: if inbound { num(&mut c, "floor")? } else { None },
        burst: num(&mut c, "burst")?,
    };
    if r.average.is_none() && r.floor.is_none() {
        return Err(XmlError::Missing {
            path: c.attr_path("average"),
        });
    }
    c.finish()?;
    Ok(r)
}

/// `<bandwidth>` with an optional `<inbound>` and `<outbound>`.
pub(super) fn parse_bandwidth(mut c: Cursor<'_>) -> Result<Bandwidth, XmlError> {
    let b = Bandwidth {
        inbound: c
            .child("inbound")?
            .map(|i| parse_rate(i, true))
            .transpose()?,
        outbound: c
            .child("outbound")?
            .map(|o| parse_rate(o, false))
            .transpose()?,
    };
    c.finish()?;
    Ok(b)
}

pub(super) fn format_bandwidth(w: &mut Writer, b: &Bandwidth) {
    if b.inbound.is_none() && b.outbound.is_none() {
        return;
    }
    w.tag("bandwidth").children(|w| {
        for (name, r) in [("inbound", &b.inbound), ("outbound", &b.outbound)] {
            if let Some(r) = r {
                w.tag(name)
                    .attr_opt("average", r.average)
                    .attr_opt("peak", r.peak)
                    .attr_opt("floor", r.floor)
                    .attr_opt("burst", r.burst)
                    .empty();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};

    const XML: &str = "<domain type='xen'>
  <name>q</name>
  <uuid>0bfa7c0a-4b87-444e-adb8-dfb5dbe18e78</uuid>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='xenpv'>linux</type>
    <kernel>/k</kernel>
  </os>
  <clock offset='utc' adjustment='reset'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
    <controller type='xenbus' index='0'/>
    <interface type='bridge'>
      <mac address='00:16:3e:00:00:01'/>
      <source bridge='ovsbr0'/>
      <vlan trunk='yes'>
        <tag id='10'/>
        <tag id='20' nativeMode='untagged'/>
      </vlan>
      <virtualport type='openvswitch'/>
      <bandwidth>
        <inbound average='1000' peak='2000' floor='500' burst='1024'/>
        <outbound average='12'/>
      </bandwidth>
      <ip address='10.0.0.1' family='ipv4'/>
    </interface>
    <console type='pty'>
      <target type='xen' port='0'/>
    </console>
    <input type='mouse' bus='xen'/>
    <input type='keyboard' bus='xen'/>
    <memballoon model='xen'/>
  </devices>
</domain>
";

    #[test]
    fn vlan_and_bandwidth_round_trip_in_libvirts_order() {
        let codec = crate::LibvirtXml;
        let def = codec.parse_domain(XML).expect("parses");
        let i = &def.devices.interfaces[0];
        assert_eq!(i.vlan.as_ref().map(|v| v.tags.len()), Some(2));
        assert_eq!(
            i.bandwidth
                .as_ref()
                .and_then(|b| b.outbound.as_ref()?.average),
            Some(12)
        );
        assert_eq!(codec.format_domain(&def, FormatOptions::default()), XML);
    }

    #[test]
    fn bad_vlans_and_rates_are_errors() {
        let codec = crate::LibvirtXml;
        for (from, to) in [
            ("<tag id='10'/>", "<tag id='5000'/>"),
            ("<vlan trunk='yes'>", "<vlan trunk='no'>"),
            ("<outbound average='12'/>", "<outbound average='x'/>"),
            ("<outbound average='12'/>", "<outbound peak='12'/>"),
        ] {
            let bad = XML.replacen(from, to, 1);
            assert!(codec.parse_domain(&bad).is_err(), "{to}");
        }
    }
}
