//! The guest CPU of an xl HVM guest: `nestedhvm` (host passthrough, with `vmx` disabled for
//! `nestedhvm = 0`) and `cpuid = "host,NAME=V,..."` in libxl's format, `V` being `1` (force),
//! `0` (disable) or `x` (optional). libxl's feature names differ from libvirt's for a few
//! features; both ways use the same table. libvirt folds `vmx`/`svm` into `nestedhvm` when
//! writing, so `cpuid` naming them is refused.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::from_native::Cfg;

/// (libvirt name, libxl name) where they differ.
const NAMES: &[(&str, &str)] = &[
    ("cx16", "cmpxchg16"),
    ("cid", "cntxid"),
    ("ds_cpl", "dscpl"),
    ("pclmuldq", "pclmulqdq"),
    ("pni", "sse3"),
    ("ht", "htt"),
    ("pn", "psn"),
    ("clflush", "clfsh"),
    ("sep", "sysenter"),
    ("cx8", "cmpxchg8"),
    ("nodeid_msr", "nodeid"),
    ("cr8legacy", "altmovcr8"),
    ("lahf_lm", "lahfsahf"),
    ("cmp_legacy", "cmplegacy"),
    ("fxsr_opt", "ffxsr"),
    ("pdpe1gb", "page1gb"),
    ("spec-ctrl", "ibrsb"),
];

/// libvirt's name of libxl feature `name`.
fn to_libvirt(name: &str) -> &str {
    NAMES
        .iter()
        .find(|(_, x)| *x == name)
        .map_or(name, |(v, _)| v)
}

/// libxl's name of libvirt feature `name`.
pub(crate) fn to_libxl(name: &str) -> &str {
    NAMES
        .iter()
        .find(|(v, _)| *v == name)
        .map_or(name, |(_, x)| x)
}

/// The `<cpu>` element of `c`'s `nestedhvm` and `cpuid`, if any.
pub(crate) fn from_native(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
    let nested = c.flag("nestedhvm")?;
    let cpuid = c.str("cpuid")?;
    let mut features: Vec<(&str, String)> = Vec::new();
    if nested == Some(false) {
        features.push(("disable", "vmx".into()));
    }
    if let Some(spec) = cpuid {
        let mut items = spec.split(',');
        if items.next() != Some("host") {
            return Err(c.refuse("cpuid", "only libxl's 'host,...' form is supported"));
        }
        for item in items {
            let bad = |why: &str| c.refuse("cpuid", format!("'{item}': {why}"));
            let (name, val) = item.split_once('=').ok_or_else(|| bad("not NAME=VALUE"))?;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
            {
                return Err(bad("not a feature name"));
            }
            if matches!(name, "vmx" | "svm") {
                return Err(bad("use 'nestedhvm' (libvirt writes it so)"));
            }
            let policy = match val {
                "1" => "force",
                "0" => "disable",
                "x" => "optional",
                _ => return Err(bad("only 1, 0 and x are supported")),
            };
            let name = to_libvirt(name).to_string();
            if features.iter().any(|(_, n)| *n == name) {
                return Err(bad("named twice"));
            }
            features.push((policy, name));
        }
    }
    if nested.is_none() && cpuid.is_none() {
        return Ok(());
    }
    if features.is_empty() {
        x.push_str("  <cpu mode='host-passthrough'/>\n");
        return Ok(());
    }
    x.push_str("  <cpu mode='host-passthrough'>\n");
    for (policy, name) in features {
        let _ = writeln!(x, "    <feature policy='{policy}' name='{name}'/>");
    }
    x.push_str("  </cpu>\n");
    Ok(())
}

/// The `cpuid` value of libvirt features `(policy, name)` other than `vmx`/`svm`.
pub(crate) fn native(features: &[(String, String)]) -> Option<String> {
    let items: Vec<String> = features
        .iter()
        .filter(|(_, n)| n != "vmx" && n != "svm")
        .map(|(p, n)| {
            let v = match p.as_str() {
                "force" | "require" => "1",
                "disable" | "forbid" => "0",
                _ => "x",
            };
            format!("{}={v}", to_libxl(n))
        })
        .collect();
    (!items.is_empty()).then(|| format!("host,{}", items.join(",")))
}
