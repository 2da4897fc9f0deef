//! `<capabilities>` (libvirt's `virCapabilitiesFormatXML`, blank lines included) and
//! `<domainCapabilities>` (`virDomainCapsFormat`), both valid against libvirt's schemas
//! (`capability.rng`, `domaincaps.rng`): blocks the schema does not know are not printed, and
//! known ones follow the schema's order.

use virt_core::model::caps::{DomainCapsBlock, GuestCaps, NumaCell};
use virt_core::model::{Capabilities, DomainCapabilities};

use crate::writer::Writer;

/// Formats host capabilities.
pub fn format_capabilities(caps: &Capabilities) -> String {
    let mut w = Writer::default();
    w.tag("capabilities").open();
    w.blank();
    w.tag("host").open();
    w.text_elem("uuid", caps.host_uuid.as_deref());
    w.tag("cpu").open();
    w.tag("arch").text(&caps.host_arch);
    if !caps.host_features.is_empty() {
        w.tag("features").open();
        for f in &caps.host_features {
            w.tag(f).empty();
        }
        w.close("features");
    }
    if let Some(cpu) = &caps.host_cpu {
        w.text_elem("model", cpu.model.as_deref());
        w.text_elem("vendor", cpu.vendor.as_deref());
        if let Some((sockets, dies, cores, threads)) = cpu.topology {
            w.tag("topology")
                .attr("sockets", sockets)
                .attr("dies", dies)
                .attr("cores", cores)
                .attr("threads", threads)
                .empty();
        }
        for f in &cpu.features {
            w.tag("feature").attr("name", f).empty();
        }
    }
    for size in &caps.host_page_sizes_kib {
        w.tag("pages")
            .attr("unit", "KiB")
            .attr("size", size)
            .empty();
    }
    w.close("cpu");
    w.tag("power_management").children(|w| {
        for p in &caps.power_management {
            w.tag(p).empty();
        }
    });
    if let Some(iommu) = caps.iommu {
        w.tag("iommu").yes_no("support", Some(iommu)).empty();
    }
    if let Some(transports) = &caps.migration_transports {
        w.tag("migration_features").open();
        w.tag("live").empty();
        w.tag("uri_transports").children(|w| {
            for t in transports {
                w.tag("uri_transport").text(t);
            }
        });
        w.close("migration_features");
    }
    if !caps.cells.is_empty() {
        w.tag("topology").open();
        w.tag("cells").attr("num", caps.cells.len()).open();
        for cell in &caps.cells {
            format_cell(&mut w, cell);
        }
        w.close("cells");
        w.close("topology");
    }
    for (model, doi) in &caps.secmodels {
        w.tag("secmodel").open();
        w.tag("model").text(model);
        w.tag("doi").text(doi);
        w.close("secmodel");
    }
    w.close("host");
    w.blank();
    for g in &caps.guests {
        format_guest(&mut w, g);
        w.blank();
    }
    w.close("capabilities");
    w.finish()
}

fn format_cell(w: &mut Writer, cell: &NumaCell) {
    w.tag("cell").attr("id", cell.id).open();
    w.tag("memory")
        .attr("unit", "KiB")
        .text(&cell.memory_kib.to_string());
    for (size, count) in &cell.pages {
        w.tag("pages")
            .attr("unit", "KiB")
            .attr("size", size)
            .text(&count.to_string());
    }
    if !cell.distances.is_empty() {
        w.tag("distances").open();
        for (id, value) in &cell.distances {
            w.tag("sibling").attr("id", id).attr("value", value).empty();
        }
        w.close("distances");
    }
    w.tag("cpus").attr("num", cell.cpus.len()).open();
    for c in &cell.cpus {
        w.tag("cpu")
            .attr("id", c.id)
            .attr("socket_id", c.socket_id)
            .attr("die_id", c.die_id)
            .attr("core_id", c.core_id)
            .attr("siblings", &c.siblings)
            .empty();
    }
    w.close("cpus");
    w.close("cell");
}

fn format_guest(w: &mut Writer, g: &GuestCaps) {
    w.tag("guest").open();
    w.tag("os_type").text(&g.os_type);
    w.tag("arch").attr("name", &g.arch).open();
    w.tag("wordsize").text(&g.wordsize.to_string());
    w.tag("emulator").text(&g.emulator);
    for m in &g.machines {
        w.tag("machine").text(m);
    }
    for m in &g.machine_entries {
        w.tag("machine")
            .attr_opt("canonical", m.canonical.as_deref())
            .attr_opt("maxCpus", m.max_cpus)
            .attr_opt("deprecated", m.deprecated.then_some("yes"))
            .text(&m.name);
    }
    for d in &g.domain_types {
        w.tag("domain").attr("type", d).empty();
    }
    w.close("arch");
    if !g.features.is_empty() {
        w.tag("features").open();
        for f in &g.features {
            w.tag(&f.name)
                .on_off("default", f.default_on)
                .yes_no("toggle", f.toggle)
                .empty();
        }
        w.close("features");
    }
    w.close("guest");
}

/// Device blocks of `<domainCapabilities><devices>`, in schema order.
const DEVICE_BLOCKS: &[&str] = &[
    "disk",
    "graphics",
    "video",
    "hostdev",
    "rng",
    "filesystem",
    "tpm",
    "redirdev",
    "channel",
];
/// Feature blocks of `<domainCapabilities><features>`, in schema order.
const FEATURE_BLOCKS: &[&str] = &[
    "gic",
    "vmcoreinfo",
    "genid",
    "backingStoreInput",
    "backup",
    "s390-pv",
    "sev",
    "sgx",
    "hyperv",
];
/// CPU modes, in schema order (the schema requires all four when `<cpu>` is printed).
const CPU_MODES: &[&str] = &["host-passthrough", "maximum", "host-model", "custom"];

fn format_block(w: &mut Writer, b: &DomainCapsBlock) {
    w.tag(&b.name)
        .yes_no("supported", Some(b.supported))
        .children(|w| format_enums(w, &b.enums));
}

fn format_enums(w: &mut Writer, enums: &[(String, Vec<String>)]) {
    for (name, values) in enums {
        w.tag("enum").attr("name", name).children(|w| {
            for v in values {
                w.tag("value").text(v);
            }
        });
    }
}

/// Formats domain capabilities.
pub fn format_domain_capabilities(caps: &DomainCapabilities) -> String {
    let mut w = Writer::default();
    w.tag("domainCapabilities").open();
    w.tag("path").text(&caps.path);
    w.tag("domain").text(&caps.domain);
    w.text_elem("machine", caps.machine.as_deref());
    w.tag("arch").text(&caps.arch);
    w.tag("vcpu").attr("max", caps.vcpu_max).empty();
    if let Some(io) = caps.iothreads {
        w.tag("iothreads").yes_no("supported", Some(io)).empty();
    }
    if let Some(os) = &caps.os {
        w.tag("os")
            .yes_no("supported", Some(os.supported))
            .children(|w| format_enums(w, &os.enums));
    }
    if !caps.cpu_modes.is_empty() {
        w.tag("cpu").open();
        for mode in CPU_MODES {
            let supported = caps.cpu_modes.iter().any(|(m, s)| m == mode && *s);
            w.tag("mode")
                .attr("name", mode)
                .yes_no("supported", Some(supported))
                .empty();
        }
        w.close("cpu");
    }
    let known = |list: &[&str], name: &str| list.contains(&name);
    if caps.devices.iter().any(|b| known(DEVICE_BLOCKS, &b.name)) {
        w.tag("devices").open();
        for name in DEVICE_BLOCKS {
            if let Some(b) = caps.devices.iter().find(|b| b.name == *name) {
                format_block(&mut w, b);
            }
        }
        w.close("devices");
    }
    if caps.features.iter().any(|(n, _)| known(FEATURE_BLOCKS, n)) {
        w.tag("features").open();
        for name in FEATURE_BLOCKS {
            if let Some((_, s)) = caps.features.iter().find(|(n, _)| n == name) {
                w.tag(name).yes_no("supported", Some(*s)).empty();
            }
        }
        w.close("features");
    }
    w.close("domainCapabilities");
    w.finish()
}

#[cfg(test)]
mod tests {
    use crate::LibvirtXml;
    use virt_core::model::{Capabilities, DomainCapabilities};
    use virt_core::xml::DomainXmlCodec;

    #[test]
    fn test_driver_capabilities_match_libvirt() {
        let out = LibvirtXml.format_capabilities(&Capabilities::test_driver());
        assert_eq!(
            out,
            include_str!("../testdata/test-driver-capabilities.xml")
        );
    }

    #[test]
    fn domain_capabilities_have_the_schema_order() {
        let caps = DomainCapabilities {
            path: "/usr/bin/test-hv".into(),
            domain: "test".into(),
            machine: None,
            arch: "i686".into(),
            vcpu_max: 32,
            iothreads: Some(false),
            cpu_modes: vec![("custom".into(), true)],
            devices: vec![virt_core::model::caps::DomainCapsBlock {
                name: "disk".into(),
                supported: true,
                enums: vec![("diskDevice".into(), vec!["disk".into(), "cdrom".into()])],
            }],
            features: vec![("genid".into(), false), ("nonsense".into(), true)],
            ..DomainCapabilities::default()
        };
        let out = LibvirtXml.format_domain_capabilities(&caps);
        let expected = include_str!("../testdata/domain-capabilities-small.xml");
        assert_eq!(out, expected);
    }
}
