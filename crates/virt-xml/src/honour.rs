//! The define-time check of a definition against a driver's [`Honoured`] set.
//!
//! The check walks the canonical (inactive, secure) XML of the definition, so everything the
//! model holds is seen, including defaults filled at parse time, and a field added to the model
//! later is refused by every driver until it says it honours it. Each element or attribute the
//! driver does not honour is one CONFIG_UNSUPPORTED violation naming its XPath (an element's
//! subtree is not reported again below it); each attribute or element text outside a value
//! constraint is one violation naming the value and what the driver supports.

use virt_core::honour::{Constraint, Honoured};
use virt_core::model::DomainDef;
use virt_core::xml::FormatOptions;

use crate::dom::{self, Element};
use crate::XmlError;

/// Checks `def` against `honoured`: `Ok` when the driver honours all of it, otherwise every
/// violation at once ([`XmlError::several`]).
pub fn check(def: &DomainDef, honoured: &Honoured) -> Result<(), XmlError> {
    let opts = FormatOptions {
        id: None,
        secure: true,
        inactive: true,
    };
    let xml = crate::domain::format(def, opts);
    let root = dom::parse(&xml, "domain")?;
    let walk = Walk {
        honoured,
        constraints: honoured.constraints(),
    };
    let mut problems = Vec::new();
    walk.element(&root, "/domain", "/domain", &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(XmlError::several(problems))
    }
}

struct Walk<'a> {
    honoured: &'a Honoured,
    constraints: Vec<Constraint>,
}

impl Walk<'_> {
    fn element(&self, el: &Element, generic: &str, concrete: &str, out: &mut Vec<XmlError>) {
        let driver = &self.honoured.driver;
        // The root is implicit: a driver that takes definitions takes <domain>.
        if generic != "/domain" && !self.honoured.honours(generic) {
            out.push(XmlError::Unsupported {
                path: concrete.to_string(),
                message: format!("the {driver} driver does not support <{}>", el.qname()),
            });
            return;
        }
        if let Some(c) = self.constraint(generic) {
            let text = el.text();
            self.check_value(c, text.trim(), concrete, out);
        }
        for attr in &el.attrs {
            let g = format!("{generic}/@{}", attr.qname);
            let c_path = format!("{concrete}/@{}", attr.qname);
            if !self.honoured.honours(&g) {
                out.push(XmlError::Unsupported {
                    path: c_path,
                    message: format!(
                        "the {driver} driver does not support attribute '{}' of <{}>",
                        attr.qname,
                        el.qname()
                    ),
                });
                continue;
            }
            if let Some(c) = self.constraint(&g) {
                self.check_value(c, &attr.value, &c_path, out);
            }
        }
        let children: Vec<&Element> = el.elements().collect();
        for (i, child) in children.iter().enumerate() {
            let qname = child.qname();
            let same: Vec<usize> = children
                .iter()
                .enumerate()
                .filter(|(_, c)| c.qname() == qname)
                .map(|(j, _)| j)
                .collect();
            let concrete_child = if same.len() > 1 {
                let pos = same.iter().position(|j| *j == i).unwrap_or(0) + 1;
                format!("{concrete}/{qname}[{pos}]")
            } else {
                format!("{concrete}/{qname}")
            };
            self.element(child, &format!("{generic}/{qname}"), &concrete_child, out);
        }
    }

    fn constraint(&self, generic: &str) -> Option<&Constraint> {
        self.constraints.iter().find(|c| c.path == generic)
    }

    fn check_value(&self, c: &Constraint, value: &str, path: &str, out: &mut Vec<XmlError>) {
        if c.allowed.iter().any(|a| a == value) {
            return;
        }
        let supported = if c.allowed.is_empty() {
            "none".to_string()
        } else {
            c.allowed.join(", ")
        };
        out.push(XmlError::Unsupported {
            path: path.to_string(),
            message: format!(
                "the {} driver does not support {} '{value}' (supported: {supported})",
                self.honoured.driver, c.label
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use virt_core::model::{DomainCapabilities, DomainCapsBlock};
    use virt_core::ErrorCode;

    use super::*;
    use crate::tests::corpus;

    fn restricted() -> Honoured {
        Honoured {
            driver: "QEMU".into(),
            caps: DomainCapabilities {
                domain: "kvm".into(),
                cpu_modes: vec![("host-passthrough".into(), true)],
                devices: vec![
                    DomainCapsBlock {
                        name: "disk".into(),
                        supported: true,
                        enums: vec![
                            ("diskDevice".into(), vec!["disk".into(), "cdrom".into()]),
                            ("bus".into(), vec!["virtio".into(), "sata".into()]),
                        ],
                    },
                    DomainCapsBlock {
                        name: "graphics".into(),
                        supported: false,
                        enums: Vec::new(),
                    },
                ],
                ..Default::default()
            },
            paths: [
                "/domain/@*",
                "/domain/name",
                "/domain/uuid",
                "/domain/memory/**",
                "/domain/currentMemory/**",
                "/domain/vcpu/**",
                "/domain/os/**",
                "/domain/features/**",
                "/domain/cpu/**",
                "/domain/clock/**",
                "/domain/on_poweroff",
                "/domain/on_reboot",
                "/domain/on_crash",
                "/domain/devices",
                "/domain/devices/emulator",
                "/domain/devices/disk/**",
                "/domain/devices/controller/**",
                "/domain/devices/graphics/**",
                "/domain/devices/serial/**",
                "/domain/devices/console/**",
                "/domain/devices/memballoon/**",
            ]
            .map(String::from)
            .to_vec(),
            values: vec![("/domain/on_crash".into(), vec!["destroy".into()])],
        }
    }

    const DOMAIN: &str = "<domain type='kvm'><name>a</name><memory>65536</memory>\
        <os><type arch='x86_64'>hvm</type></os><cpu mode='host-passthrough'/>\
        <on_crash>restart</on_crash>\
        <numatune><memory nodeset='0'/></numatune>\
        <devices><disk type='file' device='floppy'><source file='/f.img'/>\
        <target dev='fda' bus='fdc'/></disk>\
        <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/>\
        </disk><disk type='file' device='disk'><source file='/b.img'/>\
        <target dev='sda' bus='usb'/></disk>\
        <graphics type='vnc'/><sound model='ich6'/></devices></domain>";

    #[test]
    fn every_unhonoured_element_attribute_and_value_is_one_violation_with_its_xpath() {
        let def = crate::parse_domain(DOMAIN).expect("the model represents all of it");
        let err = check(&def, &restricted()).expect_err("restricted driver refuses");
        assert_eq!(err.code(), ErrorCode::ConfigUnsupported);
        let got: Vec<(String, String)> = err
            .problems()
            .iter()
            .map(|p| (p.path().unwrap_or("").to_string(), p.to_string()))
            .collect();
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/domain/numatune",
                "/domain/on_crash",
                "/domain/devices/disk[1]/@device",
                "/domain/devices/disk[1]/target/@bus",
                "/domain/devices/disk[3]/target/@bus",
                "/domain/devices/graphics",
                "/domain/devices/sound",
                // libvirt's default video for a graphical guest, filled at parse time.
                "/domain/devices/video",
            ],
            "{got:#?}"
        );
        assert_eq!(
            got[3].1,
            "the QEMU driver does not support disk bus 'fdc' (supported: virtio, sata) \
             (/domain/devices/disk[1]/target/@bus)"
        );
        assert_eq!(
            got[0].1,
            "the QEMU driver does not support <numatune> (/domain/numatune)"
        );
        assert!(got[1].1.contains("on_crash 'restart' (supported: destroy)"));
        let virt = err.into_virt(virt_core::ErrorDomain::Qemu);
        assert_eq!(virt.violations.len(), 8);
        assert_eq!(virt.code, ErrorCode::ConfigUnsupported);
    }

    #[test]
    fn a_definition_inside_the_set_passes() {
        let xml = "<domain type='kvm'><name>a</name><memory>65536</memory>\
            <os><type arch='x86_64'>hvm</type></os>\
            <devices><disk type='file' device='disk'><source file='/a.img'/>\
            <target dev='vda' bus='virtio'/></disk></devices></domain>";
        let def = crate::parse_domain(xml).expect("parses");
        check(&def, &restricted()).expect("honoured");
    }

    #[test]
    fn other_domain_types_are_refused_at_the_type_attribute() {
        let xml = "<domain type='xen'><name>a</name><memory>65536</memory>\
            <os><type>hvm</type></os></domain>";
        let def = crate::parse_domain(xml).expect("parses");
        let err = check(&def, &restricted()).expect_err("xen refused");
        assert_eq!(err.path(), Some("/domain/@type"));
        assert!(err
            .to_string()
            .contains("domain type 'xen' (supported: kvm)"));
    }

    #[test]
    fn everything_set_accepts_every_corpus_file_the_model_represents() {
        let all = Honoured::everything("test");
        let mut checked = 0;
        for entry in std::fs::read_dir(corpus("domain-xml")).expect("corpus") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            if let Ok(def) = crate::parse_domain(&text) {
                check(&def, &all).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} corpus files parsed");
    }
}
