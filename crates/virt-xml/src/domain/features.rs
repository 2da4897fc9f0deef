//! `<features>`: the machine and CPU toggles (`<acpi/>`, `<pmu state='off'/>`), the
//! attribute ones (`<ioapic driver='kvm'/>`) and the groups of sub-features (`<hyperv>`,
//! `<kvm>`), read strictly and printed in libvirt 9.0's order with its quirks:
//!
//! * a group is printed as an open and a close line even with nothing inside
//!   (`<kvm>`/`</kvm>`), and `<hyperv>` always with its `mode` (`custom` when absent);
//! * a sub-feature's extra attribute (`spinlocks retries`, `vendor_id value`, `dirty-ring
//!   size`) and `<stimer><direct>` are kept only while the sub-feature is on, and `<direct>`
//!   only when it is on itself;
//! * `<ioapic/>` without a driver says nothing and is dropped.
//!
//! The Hyper-V list is libvirt 9.0's plus what libvirt 9.1 added and QEMU 7.2 already has:
//! `<tlbflush>` with `<direct>` and `<extended>`, `emsr_bitmap`, `xmm_input` (virt-install
//! and virt-manager write them for Windows guests; libvirt 9.0 drops them silently, we pass
//! them on).

use virt_core::model::domain::{Feature, PROCESS_CAPS};
use virt_core::model::DomainDef;

use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// How a feature is written.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Presence means on: `<acpi/>`.
    Flag,
    /// `<vmport state='on|off'/>`, printed with its state even when written bare.
    Tristate,
    /// One optional attribute from a word list: `<apic eoi='on'/>`.
    Attr(&'static str, &'static [&'static str]),
    /// One required attribute from a word list: `<msrs unknown='ignore'/>`.
    AttrReq(&'static str, &'static [&'static str]),
    /// A group of `state='on|off'` sub-features.
    Group(&'static [(&'static str, Extra)]),
    /// `<capabilities policy=...>` with `<NAME state='on|off'/>` children (containers).
    Caps,
}

/// What a sub-feature carries besides its state, while it is on.
#[derive(Clone, Copy, PartialEq)]
enum Extra {
    None,
    /// A required attribute.
    Attr(&'static str),
    /// Children `<NAME state='on|off'/>` (`stimer`: `direct`; `tlbflush`: `direct`,
    /// `extended`), kept while both they and the sub-feature are on.
    Children(&'static [&'static str]),
}

const HYPERV: &[(&str, Extra)] = &[
    ("relaxed", Extra::None),
    ("vapic", Extra::None),
    ("spinlocks", Extra::Attr("retries")),
    ("vpindex", Extra::None),
    ("runtime", Extra::None),
    ("synic", Extra::None),
    ("stimer", Extra::Children(&["direct"])),
    ("reset", Extra::None),
    ("vendor_id", Extra::Attr("value")),
    ("frequencies", Extra::None),
    ("reenlightenment", Extra::None),
    ("tlbflush", Extra::Children(&["direct", "extended"])),
    ("ipi", Extra::None),
    ("evmcs", Extra::None),
    ("avic", Extra::None),
    ("emsr_bitmap", Extra::None),
    ("xmm_input", Extra::None),
];

/// Xen's group (libxl): the host's memory map for a PV guest, IOMMU passthrough. A
/// passthrough `mode` (`sync_pt`, `share_pt`) is not read.
const XEN: &[(&str, Extra)] = &[("e820_host", Extra::None), ("passthrough", Extra::None)];

const KVM: &[(&str, Extra)] = &[
    ("hidden", Extra::None),
    ("hint-dedicated", Extra::None),
    ("poll-control", Extra::None),
    ("pv-ipi", Extra::None),
    ("dirty-ring", Extra::Attr("size")),
];

/// The features this parser understands, in libvirt's canonical (print) order.
const FEATURES: &[(&str, Kind)] = &[
    ("acpi", Kind::Flag),
    ("apic", Kind::Attr("eoi", &["on", "off"])),
    ("pae", Kind::Flag),
    ("hap", Kind::Tristate),
    ("viridian", Kind::Flag),
    ("privnet", Kind::Flag),
    ("hyperv", Kind::Group(HYPERV)),
    ("kvm", Kind::Group(KVM)),
    ("pvspinlock", Kind::Tristate),
    ("capabilities", Kind::Caps),
    ("pmu", Kind::Tristate),
    ("vmport", Kind::Tristate),
    ("gic", Kind::Attr("version", &["2", "3", "host"])),
    ("smm", Kind::Tristate),
    ("ioapic", Kind::Attr("driver", &["kvm", "qemu"])),
    ("vmcoreinfo", Kind::Tristate),
    ("htm", Kind::Tristate),
    ("nested-hv", Kind::Tristate),
    ("msrs", Kind::AttrReq("unknown", &["ignore", "fault"])),
    ("ccf-assist", Kind::Tristate),
    ("xen", Kind::Group(XEN)),
];

/// The smallest spinlock retry count libvirt accepts.
const SPINLOCK_RETRIES_MIN: u32 = 4095;

/// The longest Hyper-V vendor ID (a CPUID leaf of three registers).
const VENDOR_ID_MAX: usize = 12;

pub(super) fn parse_features(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut f) = c.child("features")? else {
        return Ok(());
    };
    for (name, kind) in FEATURES {
        let Some(mut e) = f.child(name)? else {
            continue;
        };
        let mut feature = Feature {
            name: name.to_string(),
            ..Feature::default()
        };
        match kind {
            Kind::Flag => {}
            Kind::Tristate => feature.state = Some(e.attr_on_off("state")?.unwrap_or(true)),
            Kind::Attr(attr, words) => match e.attr_word(attr, words)? {
                Some(v) => feature.attributes.push((attr.to_string(), v)),
                // `<ioapic/>` names no driver: libvirt keeps nothing of it.
                None if *name == "ioapic" => {
                    e.finish()?;
                    continue;
                }
                None => {}
            },
            Kind::AttrReq(attr, words) => {
                let v = e.attr_word(attr, words)?.ok_or_else(|| XmlError::Missing {
                    path: e.attr_path(attr),
                })?;
                feature.attributes.push((attr.to_string(), v));
            }
            Kind::Caps => {
                let policy = e
                    .attr_word("policy", &["default", "allow", "deny"])?
                    .unwrap_or_else(|| "default".into());
                feature.children = parse_caps(&mut e)?;
                e.finish()?;
                // libvirt keeps nothing of the default policy with no capability named.
                if policy == "default" && feature.children.is_empty() {
                    continue;
                }
                feature.attributes.push(("policy".into(), policy));
                def.features.push(feature);
                continue;
            }
            Kind::Group(list) => {
                if *name == "hyperv" {
                    let mode = e.attr_word("mode", &["custom", "passthrough"])?;
                    feature
                        .attributes
                        .push(("mode".into(), mode.unwrap_or_else(|| "custom".into())));
                }
                feature.children = parse_group(&mut e, list)?;
            }
        }
        e.finish()?;
        def.features.push(feature);
    }
    f.finish()
}

fn parse_group(e: &mut Cursor<'_>, list: &[(&str, Extra)]) -> Result<Vec<Feature>, XmlError> {
    let mut out = Vec::new();
    for (name, extra) in list {
        let Some(mut sub) = e.child(name)? else {
            continue;
        };
        let state = required_state(&mut sub)?;
        let mut f = Feature {
            name: name.to_string(),
            state: Some(state),
            ..Feature::default()
        };
        match extra {
            Extra::None => {}
            Extra::Attr(attr) => {
                // Read either way (so it is not refused as unknown); kept only when on.
                let value = sub.attr(attr);
                if state {
                    let v = value.ok_or_else(|| XmlError::Missing {
                        path: sub.attr_path(attr),
                    })?;
                    let v = check_extra(&sub, attr, v)?;
                    f.attributes.push((attr.to_string(), v));
                }
            }
            Extra::Children(names) => {
                for child in *names {
                    if let Some(mut d) = sub.child(child)? {
                        let on = required_state(&mut d)?;
                        d.finish()?;
                        if state && on {
                            f.children.push(Feature {
                                name: child.to_string(),
                                state: Some(true),
                                ..Feature::default()
                            });
                        }
                    }
                }
            }
        }
        sub.finish()?;
        out.push(f);
    }
    Ok(out)
}

/// The children of `<capabilities>`: each a capability name from [`PROCESS_CAPS`] with an
/// optional `state` (on when absent), returned in libvirt's order; a repeated name keeps the
/// last state written, as libvirt does.
fn parse_caps(e: &mut Cursor<'_>) -> Result<Vec<Feature>, XmlError> {
    let mut states: Vec<Option<bool>> = vec![None; PROCESS_CAPS.len()];
    for (name, mut sub) in e.all_children() {
        let Some(i) = PROCESS_CAPS.iter().position(|n| *n == name) else {
            return Err(XmlError::Unsupported {
                path: sub.path().to_string(),
                message: format!("unexpected capability feature '{name}'"),
            });
        };
        states[i] = Some(sub.attr_on_off("state")?.unwrap_or(true));
        sub.finish()?;
    }
    Ok(PROCESS_CAPS
        .iter()
        .zip(states)
        .filter_map(|(name, state)| {
            state.map(|s| Feature {
                name: name.to_string(),
                state: Some(s),
                ..Feature::default()
            })
        })
        .collect())
}

fn required_state(c: &mut Cursor<'_>) -> Result<bool, XmlError> {
    c.attr_on_off("state")?.ok_or_else(|| XmlError::Missing {
        path: c.attr_path("state"),
    })
}

/// Checks a sub-feature's extra attribute and returns it as libvirt prints it.
fn check_extra(sub: &Cursor<'_>, attr: &str, v: &str) -> Result<String, XmlError> {
    match attr {
        "retries" => {
            // libvirt reads it with C's base detection (0x2000 is 8192) and prints decimal.
            let n = crate::strict::parse_u32_c(v)
                .ok_or_else(|| sub.invalid_attr(attr, v, "expected an unsigned integer"))?;
            if n < SPINLOCK_RETRIES_MIN {
                return Err(sub.invalid_attr(
                    attr,
                    v,
                    "HyperV spinlock retry count must be at least 4095",
                ));
            }
            Ok(n.to_string())
        }
        "size" => crate::strict::parse_u32(v)
            .filter(|n| n.is_power_of_two() && (1024..=65536).contains(n))
            .map(|n| n.to_string())
            .ok_or_else(|| {
                sub.invalid_attr(
                    attr,
                    v,
                    "dirty ring must be power of 2 and ranges [1024, 65536]",
                )
            }),
        _ => {
            if v.chars().count() > VENDOR_ID_MAX || v.contains(',') {
                return Err(sub.invalid_attr(
                    attr,
                    v,
                    "HyperV vendor_id is at most 12 characters, without ','",
                ));
            }
            Ok(v.to_string())
        }
    }
}

pub(super) fn format_features(w: &mut Writer, def: &DomainDef) {
    if def.features.is_empty() {
        return;
    }
    w.tag("features").open();
    for f in &def.features {
        let mut tag = w.tag(&f.name);
        if let Some(s) = f.state {
            tag = tag.on_off("state", Some(s));
        }
        for (k, v) in &f.attributes {
            tag = tag.attr(k, v);
        }
        let group = FEATURES
            .iter()
            .any(|(n, k)| *n == f.name && matches!(k, Kind::Group(_)));
        if f.name == "capabilities" {
            tag.children(|w| {
                for c in &f.children {
                    format_sub(w, c);
                }
            });
            continue;
        }
        if !group {
            tag.empty();
            continue;
        }
        // libvirt prints a group's open and close lines even when it holds nothing.
        tag.open();
        for c in &f.children {
            format_sub(w, c);
        }
        w.close(&f.name);
    }
    w.close("features");
}

fn format_sub(w: &mut Writer, f: &Feature) {
    let mut t = w.tag(&f.name).on_off("state", f.state);
    for (k, v) in &f.attributes {
        t = t.attr(k, v);
    }
    t.children(|w| {
        for c in &f.children {
            format_sub(w, c);
        }
    });
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;
