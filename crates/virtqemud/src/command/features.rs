//! `<features>` and the paravirtual clocks on QEMU's command line, as libvirt 9.0 writes them
//! for x86:
//!
//! * `-cpu` properties after the model and its features, in libvirt's order: the clocks in
//!   `<clock>` order (`hv-time=on` for `<timer name='hypervclock' present='yes'/>`,
//!   `kvmclock=on|off`), `kvm-pv-unhalt` (`<pvspinlock>`), `hv-passthrough=on` then each
//!   Hyper-V enlightenment that is on (`hv-spinlocks=0x1fff`, `hv-vendor-id=...`,
//!   `hv-stimer-direct=on` right after `hv-stimer=on`), the `<kvm>` group (`kvm=off` for
//!   `<hidden state='on'/>`, `kvm-hint-dedicated=on`, `kvm-poll-control=on`,
//!   `kvm-pv-ipi=off`), and `pmu=on|off`. Features that are off give nothing, except the
//!   tristates QEMU has a default for (`pmu`, `kvm-pv-unhalt`, `kvmclock`) and `pv-ipi`.
//! * `-machine` properties: `kernel_irqchip=on|split` (`<ioapic driver>`), after the
//!   `vmport=` and `smm=` that `machine_args` writes.
//! * `-accel kvm,dirty-ring-size=N` (`<kvm><dirty-ring>`; TCG has no dirty ring).
//! * `-device {"driver":"vmcoreinfo"}` after the other devices (`<vmcoreinfo state='on'/>`).
//!
//! Under TCG (`<domain type='qemu'>`) QEMU 7.2 takes every `hv-*` property but implements
//! none of them, and it refuses `hv-vpindex=on` outright ("kernel doesn't allow setting
//! HyperV VP_INDEX": its check asks KVM even when KVM is not in use; QEMU 8.0 fixed that).
//! libvirt passes it on and the start fails; we leave `hv-vpindex` out under TCG, so the
//! Hyper-V set Windows guests are given starts there as well. `<pvspinlock state='on'/>`
//! under TCG is refused as libvirt refuses it: TCG cannot provide it.

use virt_core::model::domain::Feature;
use virt_core::model::enums::TimerName;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::json::Json;
use super::{opt, unsupported, Accel, Builder};

/// The CPU model libvirt gives an x86 guest that names none, when properties need a `-cpu`.
const DEFAULT_MODEL: &str = "qemu64";

fn feature<'a>(def: &'a DomainDef, name: &str) -> Option<&'a Feature> {
    def.features.iter().find(|f| f.name == name)
}

fn state_of(def: &DomainDef, name: &str) -> Option<bool> {
    feature(def, name).and_then(|f| f.state)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The `-cpu` value: `base` (model and CPU features, if any) followed by the properties the
/// features and clocks ask for; the default model carries them when there is no base.
pub(crate) fn cpu(
    base: Option<String>,
    def: &DomainDef,
    accel: Accel,
) -> Result<Option<String>, VirtError> {
    let props = cpu_props(def, accel)?;
    if props.is_empty() {
        return Ok(base);
    }
    let mut out = base.unwrap_or_else(|| DEFAULT_MODEL.to_string());
    for p in props {
        out.push(',');
        out.push_str(&p);
    }
    Ok(Some(out))
}

fn cpu_props(def: &DomainDef, accel: Accel) -> Result<Vec<String>, VirtError> {
    let mut props = Vec::new();
    for t in &def.clock.timers {
        match (t.name, t.present) {
            (TimerName::Hypervclock, Some(true)) => props.push("hv-time=on".to_string()),
            (TimerName::Kvmclock, Some(p)) => props.push(format!("kvmclock={}", on_off(p))),
            _ => {}
        }
    }
    if let Some(on) = state_of(def, "pvspinlock") {
        if on && accel == Accel::Tcg {
            return Err(unsupported(
                "host doesn't support paravirtual spinlocks: <pvspinlock state='on'/> needs \
                 KVM (domain type 'kvm')",
            ));
        }
        props.push(format!("kvm-pv-unhalt={}", on_off(on)));
    }
    if let Some(h) = feature(def, "hyperv") {
        hyperv_props(h, accel, &mut props);
    }
    if let Some(k) = feature(def, "kvm") {
        for sub in &k.children {
            let on = sub.state == Some(true);
            match (sub.name.as_str(), on) {
                ("hidden", true) => props.push("kvm=off".into()),
                ("hint-dedicated", true) => props.push("kvm-hint-dedicated=on".into()),
                ("poll-control", true) => props.push("kvm-poll-control=on".into()),
                ("pv-ipi", false) => props.push("kvm-pv-ipi=off".into()),
                _ => {}
            }
        }
    }
    if let Some(on) = state_of(def, "pmu") {
        props.push(format!("pmu={}", on_off(on)));
    }
    Ok(props)
}

fn hyperv_props(h: &Feature, accel: Accel, props: &mut Vec<String>) {
    let passthrough = h
        .attributes
        .iter()
        .any(|(k, v)| k == "mode" && v == "passthrough");
    if passthrough {
        props.push("hv-passthrough=on".into());
    }
    for sub in h.children.iter().filter(|s| s.state == Some(true)) {
        let attr = |name: &str| {
            sub.attributes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match sub.name.as_str() {
            "spinlocks" => {
                let retries: u32 = attr("retries").and_then(|r| r.parse().ok()).unwrap_or(0);
                props.push(format!("hv-spinlocks={retries:#x}"));
            }
            "vendor_id" => props.push(format!("hv-vendor-id={}", opt(attr("value").unwrap_or("")))),
            "vpindex" if accel == Accel::Tcg => {}
            name => {
                props.push(format!("hv-{}=on", name.replace('_', "-")));
                for c in sub.children.iter().filter(|c| c.state == Some(true)) {
                    match (name, c.name.as_str()) {
                        ("stimer", "direct") => props.push("hv-stimer-direct=on".into()),
                        ("tlbflush", "direct") => props.push("hv-tlbflush-direct=on".into()),
                        ("tlbflush", "extended") => props.push("hv-tlbflush-ext=on".into()),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `-machine` properties the features ask for besides `vmport=` and `smm=` (which
/// `machine_args` writes, as the firmware code needs `smm` too), each with its leading comma:
/// they follow `smm=` in libvirt's order.
pub(crate) fn machine_props(def: &DomainDef) -> String {
    let mut m = String::new();
    let driver = feature(def, "ioapic").and_then(|f| {
        f.attributes
            .iter()
            .find(|(k, _)| k == "driver")
            .map(|(_, v)| v.as_str())
    });
    match driver {
        Some("kvm") => m.push_str(",kernel_irqchip=on"),
        Some("qemu") => m.push_str(",kernel_irqchip=split"),
        _ => {}
    }
    m
}

/// `-accel` properties, with their leading comma: the KVM dirty ring.
pub(crate) fn accel_props(def: &DomainDef, accel: Accel) -> String {
    let size = feature(def, "kvm").and_then(|k| {
        k.children
            .iter()
            .find(|c| c.name == "dirty-ring" && c.state == Some(true))
            .and_then(|c| c.attributes.iter().find(|(k, _)| k == "size"))
            .map(|(_, v)| v.clone())
    });
    match (accel, size) {
        (Accel::Kvm, Some(size)) => format!(",dirty-ring-size={size}"),
        _ => String::new(),
    }
}

/// Devices the features add after the others: the vmcoreinfo device.
pub(crate) fn devices(b: &mut Builder<'_>) {
    if state_of(b.def, "vmcoreinfo") == Some(true) {
        b.json("-device", Json::obj([("driver", Json::str("vmcoreinfo"))]));
    }
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;
