//! Memory, vCPUs, resource partition, lifecycle actions, power management and security
//! labels of a domain.

use virt_core::model::domain::{
    LxcNamespace, LxcShare, NumaTune, PmDef, QemuCommandline, SecLabel,
};
use virt_core::model::enums::{LifecycleAction, LockFailureAction, SecLabelType, VcpuPlacement};
use virt_core::model::DomainDef;
use virt_core::xml::FormatOptions;

use super::non_empty;
use crate::strict::Cursor;
use crate::units::parse_kib;
use crate::writer::Writer;
use crate::XmlError;

/// Largest CPU number a cpuset may name (libvirt's `VIR_DOMAIN_CPUMASK_LEN`).
const CPUMASK_LEN: u32 = 8192;

fn scaled(c: &mut Cursor<'_>, name: &str) -> Result<Option<u64>, XmlError> {
    let Some(mut m) = c.child(name)? else {
        return Ok(None);
    };
    let unit = m.attr("unit");
    let text = m.text()?;
    let kib = parse_kib(m.path(), &text, unit)?;
    m.finish()?;
    Ok(Some(kib))
}

pub(super) fn parse_memory(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let path = format!("{}/memory", c.path());
    def.memory_kib = scaled(c, "memory")?.unwrap_or(0);
    if def.memory_kib == 0 {
        return Err(XmlError::Invalid {
            path,
            message: "memory size must be specified via <memory>".into(),
        });
    }
    let max_path = format!("{}/maxMemory", c.path());
    if let Some(mut m) = c.child("maxMemory")? {
        def.memory_slots = m.attr_u32("slots")?;
        let unit = m.attr("unit");
        let text = m.text()?;
        def.max_memory_kib = Some(parse_kib(m.path(), &text, unit)?).filter(|k| *k > 0);
        m.finish()?;
    }
    match (def.max_memory_kib, def.memory_slots.filter(|s| *s > 0)) {
        (None, None) => {}
        (Some(max), Some(_)) if max < def.memory_kib => {
            return Err(XmlError::Unsupported {
                path: max_path,
                message: "maximum memory size must be equal or greater than the actual memory size"
                    .into(),
            })
        }
        (Some(_), Some(_)) => {}
        _ => {
            return Err(XmlError::Unsupported {
                path: max_path,
                message: "both maximum memory size and memory slot count must be specified".into(),
            })
        }
    }
    let cur_path = format!("{}/currentMemory", c.path());
    def.current_memory_kib = scaled(c, "currentMemory")?.unwrap_or(def.memory_kib);
    if def.current_memory_kib > def.memory_kib {
        return Err(XmlError::Invalid {
            path: cur_path,
            message: format!(
                "current memory {} KiB exceeds maximum memory {} KiB",
                def.current_memory_kib, def.memory_kib
            ),
        });
    }
    Ok(())
}

pub(super) fn parse_vcpu(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut v) = c.child("vcpu")? else {
        def.vcpus = 1;
        def.current_vcpus = 1;
        return Ok(());
    };
    def.vcpu_placement = v
        .attr_with(
            "placement",
            "expected 'static' or 'auto'",
            VcpuPlacement::from_xml,
        )?
        .unwrap_or_default();
    if let Some(set) = v.attr("cpuset") {
        let cpus = parse_cpuset(set)
            .ok_or_else(|| v.invalid_attr("cpuset", set, "expected a cpuset such as 0-3,^2,8"))?;
        if def.vcpu_placement == VcpuPlacement::Auto {
            return Err(XmlError::Unsupported {
                path: v.attr_path("cpuset"),
                message: "cpuset cannot be combined with placement 'auto'".into(),
            });
        }
        def.vcpu_cpuset = Some(format_cpuset(&cpus));
    }
    let current = v.attr_u32("current")?;
    let text = v.text()?;
    def.vcpus = crate::strict::parse_u32(text.trim())
        .filter(|n| *n > 0)
        .ok_or_else(|| v.invalid_text(&text, "expected a positive vCPU count"))?;
    def.current_vcpus = current.unwrap_or(def.vcpus);
    if def.current_vcpus == 0 || def.current_vcpus > def.vcpus {
        return Err(XmlError::Unsupported {
            path: v.attr_path("current"),
            message: "maximum vCPU count must not be less than current vCPU count".into(),
        });
    }
    v.finish()
}

/// `<numatune>`: the `<memory>` policy, with libvirt's placement rules (static needs a
/// nodeset; without either, placement follows the vCPUs). `<memnode>` needs guest NUMA cells,
/// which this crate does not model, so it is refused as unsupported.
pub(super) fn parse_numatune(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut n) = c.child("numatune")? else {
        return Ok(());
    };
    if let Some(mut m) = n.child("memory")? {
        let mode = m
            .attr_word(
                "mode",
                &["strict", "preferred", "interleave", "restrictive"],
            )?
            .unwrap_or_else(|| "strict".into());
        let placement = m.attr_word("placement", &["static", "auto"])?;
        let nodeset = match m.attr("nodeset") {
            None => None,
            Some(set) => Some(format_cpuset(&parse_cpuset(set).ok_or_else(|| {
                m.invalid_attr("nodeset", set, "expected a nodeset such as 0-3,^2,8")
            })?)),
        };
        let auto = match placement.as_deref() {
            Some("auto") => true,
            Some(_) => false,
            None => nodeset.is_none() && def.vcpu_placement == VcpuPlacement::Auto,
        };
        if auto && nodeset.is_some() {
            // libvirt drops the nodeset silently here.
            return Err(XmlError::Unsupported {
                path: m.attr_path("nodeset"),
                message: "nodeset cannot be combined with placement 'auto'".into(),
            });
        }
        if !auto && nodeset.is_none() {
            return Err(XmlError::Unsupported {
                path: m.path().to_string(),
                message: "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
                    .into(),
            });
        }
        m.finish()?;
        def.numatune = Some(NumaTune {
            mode,
            placement_auto: auto,
            nodeset,
        });
    }
    n.finish()
}

/// Parses libvirt's cpuset syntax (`0-3,^2,8`) into sorted CPU numbers.
pub(crate) fn parse_cpuset(s: &str) -> Option<Vec<u32>> {
    let mut set = std::collections::BTreeSet::new();
    let mut excluded = Vec::new();
    for part in s.split(',') {
        let (neg, part) = match part.strip_prefix('^') {
            Some(p) => (true, p),
            None => (false, part),
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) if !neg => (crate::strict::parse_u32(a)?, crate::strict::parse_u32(b)?),
            Some(_) => return None,
            None => {
                let n = crate::strict::parse_u32(part)?;
                (n, n)
            }
        };
        if lo > hi || hi >= CPUMASK_LEN {
            return None;
        }
        if neg {
            excluded.push(lo);
        } else {
            set.extend(lo..=hi);
        }
    }
    for e in excluded {
        set.remove(&e);
    }
    (!set.is_empty()).then(|| set.into_iter().collect())
}

/// Formats sorted CPU numbers as libvirt's `virBitmapFormat` does (`0-2,5`).
pub(crate) fn format_cpuset(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

pub(super) fn parse_resource(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut r) = c.child("resource")? else {
        return Ok(());
    };
    let path = format!("{}/partition", r.path());
    let partition = non_empty(r.child_text("partition")?);
    if let Some(p) = &partition {
        if !p.starts_with('/') {
            return Err(XmlError::Invalid {
                path,
                message: format!("resource partition '{p}' must start with '/'"),
            });
        }
    }
    def.resource_partition = partition;
    r.finish()
}

fn action<T>(
    c: &mut Cursor<'_>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, XmlError> {
    let path = format!("{}/{name}", c.path());
    let Some(text) = c.child_text(name)? else {
        return Ok(None);
    };
    let value = parse(&text).ok_or_else(|| XmlError::Unsupported {
        path,
        message: format!("unknown {name} action: {text}"),
    })?;
    Ok(Some(value))
}

pub(super) fn parse_lifecycle(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    def.on_poweroff = Some(
        action(c, "on_poweroff", LifecycleAction::from_xml)?.unwrap_or(LifecycleAction::Destroy),
    );
    def.on_reboot = Some(
        action(c, "on_reboot", LifecycleAction::from_xml)?.unwrap_or(LifecycleAction::Restart),
    );
    def.on_crash =
        Some(action(c, "on_crash", LifecycleAction::from_xml)?.unwrap_or(LifecycleAction::Destroy));
    // Core dumps are crash actions only (libvirt's virDomainDefLifecycleActionAllowed).
    for (event, a) in [("poweroff", def.on_poweroff), ("reboot", def.on_reboot)] {
        if let Some(a @ (LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart)) = a {
            return Err(XmlError::Unsupported {
                path: format!("{}/on_{event}", c.path()),
                message: format!("Lifecycle event '{event}' doesn't support '{a}' action"),
            });
        }
    }
    def.on_lockfailure = action(c, "on_lockfailure", LockFailureAction::from_xml)?;
    Ok(())
}

pub(super) fn parse_pm(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut pm) = c.child("pm")? else {
        return Ok(());
    };
    let mut state = |name: &str| -> Result<Option<bool>, XmlError> {
        let Some(mut s) = pm.child(name)? else {
            return Ok(None);
        };
        let v = s.attr_yes_no("enabled")?;
        s.finish()?;
        Ok(v)
    };
    def.pm = PmDef {
        suspend_to_mem: state("suspend-to-mem")?,
        suspend_to_disk: state("suspend-to-disk")?,
    };
    pm.finish()
}

/// `<perf>`: `<event name=... enabled='yes|no'/>` per perf event (libvirt virDomainPerfDef);
/// names are libvirt's (CONFIG_UNSUPPORTED "x is not a supported event name").
pub(super) fn parse_perf(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut perf) = c.child("perf")? else {
        return Ok(());
    };
    for mut e in perf.children("event") {
        let name = e.attr_req("name")?.to_string();
        if !virt_core::kit::tune::PERF_EVENTS.contains(&name.as_str()) {
            return Err(XmlError::Unsupported {
                path: format!("{}/@name", e.path()),
                message: format!("{name} is not a supported event name"),
            });
        }
        let enabled = e.attr_yes_no("enabled")?.unwrap_or(false);
        e.finish()?;
        match def.perf_events.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = enabled,
            None => def.perf_events.push((name, enabled)),
        }
    }
    perf.finish()
}

pub(super) fn parse_seclabels(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    for mut s in c.children("seclabel") {
        let label_type = s
            .attr_with(
                "type",
                "expected 'dynamic', 'static' or 'none'",
                SecLabelType::from_xml,
            )?
            .unwrap_or_default();
        let model = s.attr_string("model");
        let relabel = s.attr_yes_no("relabel")?;
        if label_type == SecLabelType::Dynamic && relabel == Some(false) {
            return Err(XmlError::Invalid {
                path: s.attr_path("relabel"),
                message: "dynamic label type must use resource relabeling".into(),
            });
        }
        let label = SecLabel {
            label_type,
            model: model.clone(),
            relabel,
            label: non_empty(s.child_text("label")?),
            imagelabel: non_empty(s.child_text("imagelabel")?),
            baselabel: non_empty(s.child_text("baselabel")?),
        };
        if label_type == SecLabelType::Static && label.label.is_none() {
            return Err(XmlError::Missing {
                path: format!("{}/label", s.path()),
            });
        }
        if def.seclabels.iter().any(|o| o.model == model) {
            return Err(XmlError::Duplicate {
                path: s.path().to_string(),
            });
        }
        s.finish()?;
        def.seclabels.push(label);
    }
    Ok(())
}

pub(super) fn format_memory_vcpu(w: &mut Writer, def: &DomainDef) {
    if let (Some(max), Some(slots)) = (def.max_memory_kib, def.memory_slots) {
        w.tag("maxMemory")
            .attr("slots", slots)
            .attr("unit", "KiB")
            .text(&max.to_string());
    }
    w.tag("memory")
        .attr("unit", "KiB")
        .text(&def.memory_kib.to_string());
    w.tag("currentMemory")
        .attr("unit", "KiB")
        .text(&def.current_memory_kib.to_string());
    super::tuning::format_memory_tuning(w, def);
    let current =
        (def.current_vcpus > 0 && def.current_vcpus < def.vcpus).then_some(def.current_vcpus);
    w.tag("vcpu")
        .attr("placement", def.vcpu_placement)
        .attr_opt("cpuset", def.vcpu_cpuset.as_deref())
        .attr_opt("current", current)
        .text(&def.vcpus.max(1).to_string());
    super::cputune::format_cpu_tuning(w, def);
    if let Some(n) = &def.numatune {
        w.tag("numatune").open();
        let mut m = w.tag("memory").attr("mode", &n.mode);
        m = if n.placement_auto {
            m.attr("placement", "auto")
        } else {
            m.attr_opt("nodeset", n.nodeset.as_deref())
        };
        m.empty();
        w.close("numatune");
    }
    if let Some(p) = &def.resource_partition {
        w.tag("resource").open();
        w.tag("partition").text(p);
        w.close("resource");
    }
}

pub(super) fn format_lifecycle(w: &mut Writer, def: &DomainDef) {
    w.tag("on_poweroff").text(def.poweroff_action().as_str());
    w.tag("on_reboot").text(def.reboot_action().as_str());
    w.tag("on_crash").text(def.crash_action().as_str());
    if let Some(a) = def.on_lockfailure {
        w.tag("on_lockfailure").text(a.as_str());
    }
    let pm = def.pm;
    if pm.suspend_to_mem.is_some() || pm.suspend_to_disk.is_some() {
        w.tag("pm").open();
        if let Some(v) = pm.suspend_to_mem {
            w.tag("suspend-to-mem").yes_no("enabled", Some(v)).empty();
        }
        if let Some(v) = pm.suspend_to_disk {
            w.tag("suspend-to-disk").yes_no("enabled", Some(v)).empty();
        }
        w.close("pm");
    }
    // libvirt prints the events it knows of in its enum order.
    if !def.perf_events.is_empty() {
        w.tag("perf").open();
        for name in virt_core::kit::tune::PERF_EVENTS {
            if let Some((_, on)) = def.perf_events.iter().find(|(n, _)| n == name) {
                w.tag("event")
                    .attr("name", name)
                    .yes_no("enabled", Some(*on))
                    .empty();
            }
        }
        w.close("perf");
    }
}

pub(super) fn format_seclabels(w: &mut Writer, def: &DomainDef, opts: FormatOptions) {
    for s in &def.seclabels {
        let mut tag = w
            .tag("seclabel")
            .attr("type", s.label_type)
            .attr_opt("model", s.model.as_deref());
        if s.label_type == SecLabelType::None {
            tag.empty();
            continue;
        }
        let relabel = s.relabel.unwrap_or(s.label_type == SecLabelType::Dynamic);
        tag = tag.yes_no("relabel", Some(relabel));
        let dynamic = s.label_type == SecLabelType::Dynamic;
        tag.children(|w| {
            if !dynamic || !opts.inactive {
                w.text_elem("label", s.label.as_deref());
            }
            if relabel && !opts.inactive {
                w.text_elem("imagelabel", s.imagelabel.as_deref());
            }
            if dynamic {
                w.text_elem("baselabel", s.baselabel.as_deref());
            }
        });
    }
}

/// `<qemu:commandline>`: arguments and environment, with libvirt's checks on variable names.
pub(super) fn parse_qemu_commandline(mut c: Cursor<'_>) -> Result<QemuCommandline, XmlError> {
    let mut q = QemuCommandline::default();
    for mut a in c.children_in(Some(super::QEMU_NS), "arg") {
        q.args.push(a.attr_req("value")?.to_string());
        a.finish()?;
    }
    for mut e in c.children_in(Some(super::QEMU_NS), "env") {
        let name = e.attr_req("name")?;
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_');
        if !first_ok
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Err(e.invalid_attr(
                "name",
                name,
                "an environment name is a letter or underscore, then alphanumerics and underscores",
            ));
        }
        let name = name.to_string();
        let value = e.attr_string("value");
        e.finish()?;
        q.env.push((name, value));
    }
    c.finish()?;
    Ok(q)
}

/// Prints `<qemu:commandline>` as libvirt does: the arguments, then the environment.
pub(super) fn format_qemu_commandline(w: &mut Writer, q: &QemuCommandline) {
    w.tag("qemu:commandline").children(|w| {
        for a in &q.args {
            w.tag("qemu:arg").attr("value", a).empty();
        }
        for (name, value) in &q.env {
            w.tag("qemu:env")
                .attr("name", name)
                .attr_opt("value", value.as_deref())
                .empty();
        }
    });
}

/// The children of `<lxc:namespace>`, in libvirt's order.
const LXC_SHARES: &[&str] = &["sharenet", "shareipc", "shareuts"];

/// Reads `<lxc:namespace>`: each child a namespace to share, `type` `name`, `pid` or `netns`
/// (`none` shares nothing) and a `value`.
pub(super) fn parse_lxc_namespace(mut c: Cursor<'_>) -> Result<LxcNamespace, XmlError> {
    let mut ns = LxcNamespace::default();
    for (name, mut e) in c.all_children() {
        let in_ns = e.element().ns.as_deref() == Some(super::LXC_NS);
        let slot = match name.as_str() {
            "sharenet" if in_ns => &mut ns.sharenet,
            "shareipc" if in_ns => &mut ns.shareipc,
            "shareuts" if in_ns => &mut ns.shareuts,
            _ => {
                return Err(XmlError::Unsupported {
                    path: e.path().to_string(),
                    message: format!("unsupported Namespace feature: {name}"),
                })
            }
        };
        let ty = e
            .attr_word("type", &["none", "name", "pid", "netns"])?
            .ok_or_else(|| XmlError::Missing {
                path: e.attr_path("type"),
            })?;
        let value = e.attr_req("value")?.to_string();
        e.finish()?;
        *slot = (ty != "none").then_some(LxcShare {
            source_type: ty,
            value,
        });
    }
    c.finish()?;
    Ok(ns)
}

/// Prints `<lxc:namespace>` as libvirt's LXC driver does (open and close lines even when
/// nothing is shared).
pub(super) fn format_lxc_namespace(w: &mut Writer, ns: &LxcNamespace) {
    w.tag("lxc:namespace").open();
    for (name, share) in LXC_SHARES
        .iter()
        .zip([&ns.sharenet, &ns.shareipc, &ns.shareuts])
    {
        if let Some(s) = share {
            w.tag(&format!("lxc:{name}"))
                .attr("type", &s.source_type)
                .attr("value", &s.value)
                .empty();
        }
    }
    w.close("lxc:namespace");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpusets_normalise_like_libvirt() {
        let f = |s: &str| parse_cpuset(s).map(|v| format_cpuset(&v));
        assert_eq!(f("0,1,2,5,^1").as_deref(), Some("0,2,5"));
        assert_eq!(f("0,1,2,5").as_deref(), Some("0-2,5"));
        assert_eq!(f("3,1").as_deref(), Some("1,3"));
        assert_eq!(f("1-4,8-20,525").as_deref(), Some("1-4,8-20,525"));
        assert_eq!(f("4-1"), None);
        assert_eq!(f("a"), None);
        assert_eq!(f("^1"), None);
        assert_eq!(f("9000"), None);
    }
}
