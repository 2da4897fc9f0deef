//! `<capabilities>` (libvirt's `virCapabilitiesFormatXML`, blank lines included) and
//! `<domainCapabilities>` (`virDomainCapsFormat`), both valid against libvirt's schemas
//! (`capability.rng`, `domaincaps.rng`): blocks the schema does not know are not printed, and
//! known ones follow the schema's order. `parse_domain_capabilities` reads the latter back.

use virt_core::model::caps::{
    CustomCpuModel, DomainCapsBlock, GuestCaps, HostModelCpu, LoaderCaps, NumaCell,
};
use virt_core::model::{Capabilities, DomainCapabilities};

use crate::dom::Element;
use crate::writer::Writer;
use crate::XmlError;

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
    for (i, (model, doi)) in caps.secmodels.iter().enumerate() {
        w.tag("secmodel").open();
        w.tag("model").text(model);
        w.tag("doi").text(doi);
        for (ty, label) in caps.secmodel_baselabels.get(i).into_iter().flatten() {
            w.tag("baselabel").attr("type", ty).text(label);
        }
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

fn format_cpu(w: &mut Writer, caps: &DomainCapabilities) {
    w.tag("cpu").open();
    for mode in CPU_MODES {
        let supported = caps.cpu_modes.iter().any(|(m, s)| m == mode && *s);
        let tag = w
            .tag("mode")
            .attr("name", mode)
            .yes_no("supported", Some(supported));
        match *mode {
            "host-model" if supported => match &caps.host_model {
                Some(hm) => {
                    tag.open();
                    w.tag("model")
                        .attr_opt("fallback", hm.fallback.as_deref())
                        .text(&hm.model);
                    w.text_elem("vendor", hm.vendor.as_deref());
                    for (policy, name) in &hm.features {
                        w.tag("feature")
                            .attr("policy", policy)
                            .attr("name", name)
                            .empty();
                    }
                    w.close("mode");
                }
                None => tag.empty(),
            },
            "custom" if supported => tag.children(|w| {
                for m in &caps.custom_models {
                    let usable = match m.usable {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "unknown",
                    };
                    w.tag("model")
                        .attr("usable", usable)
                        .attr_opt("deprecated", m.deprecated.then_some("yes"))
                        .attr("vendor", m.vendor.as_deref().unwrap_or("unknown"))
                        .text(&m.name);
                }
            }),
            _ => tag.empty(),
        }
    }
    w.close("cpu");
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
            .children(|w| {
                format_enums(w, &os.enums);
                if let Some(l) = &caps.loader {
                    w.tag("loader")
                        .yes_no("supported", Some(l.supported))
                        .children(|w| {
                            for v in &l.values {
                                w.tag("value").text(v);
                            }
                            format_enums(w, &l.enums);
                        });
                }
            });
    }
    if !caps.cpu_modes.is_empty() {
        format_cpu(&mut w, caps);
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

/// Reads `<domainCapabilities>` back into the model: identity, the vCPU limit, iothreads, the
/// os block (with its `<loader>`), the CPU modes (with the host-model expansion and the custom
/// model list), device blocks and features. It reads what [`format_domain_capabilities`] prints
/// and what libvirt prints; blocks outside that (newer libvirt's `memoryBacking`, ...) are skipped,
/// since a reader of a capability document must not fail on what a newer daemon adds. Wrong
/// root, missing identity and values that do not parse are errors naming their path.
pub fn parse_domain_capabilities(xml: &str) -> Result<DomainCapabilities, XmlError> {
    let root = crate::dom::parse(xml, "domainCapabilities")?;
    if root.name != "domainCapabilities" {
        return Err(XmlError::WrongRoot {
            expected: "domainCapabilities",
            found: root.name.clone(),
        });
    }
    let text_of = |name: &str| child(&root, name).map(|e| e.text().trim().to_string());
    let required = |name: &str| {
        text_of(name).ok_or_else(|| XmlError::Missing {
            path: format!("/domainCapabilities/{name}"),
        })
    };
    let mut caps = DomainCapabilities {
        path: required("path")?,
        domain: required("domain")?,
        machine: text_of("machine"),
        arch: required("arch")?,
        ..DomainCapabilities::default()
    };
    if let Some(vcpu) = child(&root, "vcpu") {
        let max = attr(vcpu, "max").unwrap_or_default();
        caps.vcpu_max = max.parse().map_err(|_| XmlError::InvalidValue {
            path: "/domainCapabilities/vcpu/@max".into(),
            value: max.to_string(),
            reason: "expected an unsigned integer".into(),
        })?;
    }
    if let Some(io) = child(&root, "iothreads") {
        caps.iothreads = Some(supported(io, "/domainCapabilities/iothreads")?);
    }
    if let Some(os) = child(&root, "os") {
        caps.os = Some(parse_block(os, "/domainCapabilities")?);
        if let Some(l) = child(os, "loader") {
            caps.loader = Some(LoaderCaps {
                supported: supported(l, "/domainCapabilities/os/loader")?,
                values: l
                    .elements()
                    .filter(|v| v.name == "value")
                    .map(|v| v.text().trim().to_string())
                    .collect(),
                enums: parse_enums(l),
            });
        }
    }
    if let Some(cpu) = child(&root, "cpu") {
        parse_cpu(cpu, &mut caps)?;
    }
    if let Some(devices) = child(&root, "devices") {
        for b in devices.elements() {
            caps.devices
                .push(parse_block(b, "/domainCapabilities/devices")?);
        }
    }
    if let Some(features) = child(&root, "features") {
        for f in features.elements() {
            let path = format!("/domainCapabilities/features/{}", f.name);
            caps.features.push((f.name.clone(), supported(f, &path)?));
        }
    }
    Ok(caps)
}

fn child<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.elements().find(|c| c.name == name)
}

fn attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.attrs
        .iter()
        .find(|a| a.qname == name)
        .map(|a| a.value.as_str())
}

fn yes_no(value: Option<&str>, path: &str) -> Result<bool, XmlError> {
    match value {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        other => Err(XmlError::InvalidValue {
            path: path.to_string(),
            value: other.unwrap_or_default().to_string(),
            reason: "expected 'yes' or 'no'".into(),
        }),
    }
}

fn supported(e: &Element, path: &str) -> Result<bool, XmlError> {
    yes_no(attr(e, "supported"), &format!("{path}/@supported"))
}

fn parse_enums(e: &Element) -> Vec<(String, Vec<String>)> {
    e.elements()
        .filter(|c| c.name == "enum")
        .map(|en| {
            let values = en
                .elements()
                .filter(|v| v.name == "value")
                .map(|v| v.text().trim().to_string())
                .collect();
            (attr(en, "name").unwrap_or_default().to_string(), values)
        })
        .collect()
}

fn parse_block(e: &Element, parent: &str) -> Result<DomainCapsBlock, XmlError> {
    Ok(DomainCapsBlock {
        name: e.name.clone(),
        supported: supported(e, &format!("{parent}/{}", e.name))?,
        enums: parse_enums(e),
    })
}

fn parse_cpu(cpu: &Element, caps: &mut DomainCapabilities) -> Result<(), XmlError> {
    for mode in cpu.elements().filter(|m| m.name == "mode") {
        let name = attr(mode, "name").unwrap_or_default().to_string();
        let path = format!("/domainCapabilities/cpu/mode[@name='{name}']");
        let ok = supported(mode, &path)?;
        match name.as_str() {
            "host-model" => {
                if let Some(model) = child(mode, "model") {
                    caps.host_model = Some(HostModelCpu {
                        model: model.text().trim().to_string(),
                        fallback: attr(model, "fallback").map(str::to_string),
                        vendor: child(mode, "vendor").map(|v| v.text().trim().to_string()),
                        features: mode
                            .elements()
                            .filter(|f| f.name == "feature")
                            .map(|f| {
                                (
                                    attr(f, "policy").unwrap_or("require").to_string(),
                                    attr(f, "name").unwrap_or_default().to_string(),
                                )
                            })
                            .collect(),
                    });
                }
            }
            "custom" => {
                for m in mode.elements().filter(|m| m.name == "model") {
                    let usable = match attr(m, "usable") {
                        Some("unknown") | None => None,
                        v => Some(yes_no(v, &format!("{path}/model/@usable"))?),
                    };
                    caps.custom_models.push(CustomCpuModel {
                        name: m.text().trim().to_string(),
                        usable,
                        deprecated: attr(m, "deprecated") == Some("yes"),
                        vendor: attr(m, "vendor")
                            .filter(|v| *v != "unknown")
                            .map(str::to_string),
                    });
                }
            }
            _ => {}
        }
        caps.cpu_modes.push((name, ok));
    }
    Ok(())
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
    fn lxc_capabilities_publish_exe_guests_as_libvirts_lxc_driver() {
        use virt_core::model::caps::GuestCaps;
        let caps = Capabilities {
            host_uuid: Some("0d2a5d5e-63e2-4e3a-8a35-0d0a6c8a4b21".into()),
            host_arch: "x86_64".into(),
            secmodels: vec![("selinux".into(), "0".into()), ("dac".into(), "0".into())],
            secmodel_baselabels: vec![vec![(
                "lxc".into(),
                "system_u:system_r:svirt_lxc_net_t:s0".into(),
            )]],
            guests: GuestCaps::lxc_guests("x86_64", "/usr/lib/libvirt/libvirt_lxc"),
            ..Capabilities::default()
        };
        let out = LibvirtXml.format_capabilities(&caps);
        let want = "    <secmodel>
      <model>selinux</model>
      <doi>0</doi>
      <baselabel type='lxc'>system_u:system_r:svirt_lxc_net_t:s0</baselabel>
    </secmodel>
    <secmodel>
      <model>dac</model>
      <doi>0</doi>
    </secmodel>
  </host>

  <guest>
    <os_type>exe</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/usr/lib/libvirt/libvirt_lxc</emulator>
      <domain type='lxc'/>
    </arch>
  </guest>

  <guest>
    <os_type>exe</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/lib/libvirt/libvirt_lxc</emulator>
      <domain type='lxc'/>
    </arch>
  </guest>

</capabilities>
";
        assert!(out.ends_with(want), "{out}");
        assert_eq!(GuestCaps::lxc_guests("riscv64", "/x").len(), 1);
        let arm = GuestCaps::lxc_guests("aarch64", "/x");
        assert_eq!((arm[1].arch.as_str(), arm[1].wordsize), ("armv7l", 32));
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

    fn cpu_fixture() -> DomainCapabilities {
        use virt_core::model::caps::{CustomCpuModel, DomainCapsBlock, HostModelCpu, LoaderCaps};
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        DomainCapabilities {
            path: "/usr/bin/qemu-system-x86_64".into(),
            domain: "qemu".into(),
            machine: Some("pc-q35-7.2".into()),
            arch: "x86_64".into(),
            vcpu_max: 288,
            iothreads: Some(false),
            os: Some(DomainCapsBlock {
                name: "os".into(),
                supported: true,
                enums: vec![("firmware".into(), strings(&["efi"]))],
            }),
            loader: Some(LoaderCaps {
                supported: true,
                values: strings(&[
                    "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
                    "/usr/share/OVMF/OVMF_CODE_4M.fd",
                ]),
                enums: vec![
                    ("type".into(), strings(&["rom", "pflash"])),
                    ("readonly".into(), strings(&["yes", "no"])),
                    ("secure".into(), strings(&["yes", "no"])),
                ],
            }),
            cpu_modes: vec![
                ("host-passthrough".into(), false),
                ("maximum".into(), true),
                ("host-model".into(), true),
                ("custom".into(), true),
            ],
            host_model: Some(HostModelCpu {
                model: "max".into(),
                fallback: Some("forbid".into()),
                vendor: Some("AMD".into()),
                features: vec![
                    ("require".into(), "sse4.2".into()),
                    ("require".into(), "lahf-lm".into()),
                    ("disable".into(), "vmx".into()),
                ],
            }),
            custom_models: vec![
                CustomCpuModel {
                    name: "qemu64".into(),
                    usable: Some(true),
                    deprecated: false,
                    vendor: None,
                },
                CustomCpuModel {
                    name: "Skylake-Client".into(),
                    usable: Some(false),
                    deprecated: true,
                    vendor: Some("Intel".into()),
                },
                CustomCpuModel {
                    name: "odd".into(),
                    usable: None,
                    deprecated: false,
                    vendor: None,
                },
            ],
            devices: vec![DomainCapsBlock {
                name: "video".into(),
                supported: true,
                enums: vec![("modelType".into(), vec!["vga".into(), "virtio".into()])],
            }],
            features: vec![("genid".into(), false)],
        }
    }

    #[test]
    fn host_model_expansion_and_custom_models_print_as_libvirt() {
        let out = LibvirtXml.format_domain_capabilities(&cpu_fixture());
        let expected = "  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='maximum' supported='yes'/>
    <mode name='host-model' supported='yes'>
      <model fallback='forbid'>max</model>
      <vendor>AMD</vendor>
      <feature policy='require' name='sse4.2'/>
      <feature policy='require' name='lahf-lm'/>
      <feature policy='disable' name='vmx'/>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='unknown'>qemu64</model>
      <model usable='no' deprecated='yes' vendor='Intel'>Skylake-Client</model>
      <model usable='unknown' vendor='unknown'>odd</model>
    </mode>
  </cpu>
";
        assert!(out.contains(expected), "{out}");
    }

    #[test]
    fn firmware_and_loader_print_inside_os_as_libvirt() {
        let out = LibvirtXml.format_domain_capabilities(&cpu_fixture());
        let expected = "  <os supported='yes'>
    <enum name='firmware'>
      <value>efi</value>
    </enum>
    <loader supported='yes'>
      <value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>
      <value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>
      <enum name='type'>
        <value>rom</value>
        <value>pflash</value>
      </enum>
      <enum name='readonly'>
        <value>yes</value>
        <value>no</value>
      </enum>
      <enum name='secure'>
        <value>yes</value>
        <value>no</value>
      </enum>
    </loader>
  </os>
";
        assert!(out.contains(expected), "{out}");
    }

    #[test]
    fn domain_capabilities_read_back_unchanged() {
        let caps = cpu_fixture();
        let xml = LibvirtXml.format_domain_capabilities(&caps);
        let back = super::parse_domain_capabilities(&xml).expect("parse");
        assert_eq!(back, caps);
        let small = include_str!("../testdata/domain-capabilities-small.xml");
        let back = super::parse_domain_capabilities(small).expect("small");
        assert_eq!(LibvirtXml.format_domain_capabilities(&back), small);
    }

    #[test]
    fn bad_domain_capabilities_name_what_is_wrong() {
        let parse = super::parse_domain_capabilities;
        let e = parse("<capabilities/>").expect_err("root");
        assert!(e.to_string().contains("'capabilities'"), "{e}");
        let e = parse(
            "<domainCapabilities><domain>qemu</domain><arch>x86_64</arch></domainCapabilities>",
        )
        .expect_err("no path");
        assert!(e.to_string().contains("/domainCapabilities/path"), "{e}");
        let e = parse(
            "<domainCapabilities><path>/x</path><domain>qemu</domain><arch>x86_64</arch>\
             <vcpu max='lots'/></domainCapabilities>",
        )
        .expect_err("vcpu");
        assert!(e.to_string().contains("vcpu/@max"), "{e}");
        let e = parse(
            "<domainCapabilities><path>/x</path><domain>qemu</domain><arch>x86_64</arch>\
             <cpu><mode name='custom' supported='maybe'/></cpu></domainCapabilities>",
        )
        .expect_err("supported");
        assert!(
            e.to_string().contains("mode[@name='custom']/@supported"),
            "{e}"
        );
        assert!(parse("<domainCapabilities").is_err());
    }

    #[test]
    fn host_model_and_custom_models_validate_against_libvirts_schema() {
        if !crate::corpus_tests::validator_present() {
            return;
        }
        let xml = LibvirtXml.format_domain_capabilities(&cpu_fixture());
        assert_eq!(
            crate::corpus_tests::validate(&xml, "domaincaps", "domaincaps-cpu"),
            Some(Ok(()))
        );
    }
}
