//! `<iothreads>` and `<cputune>`: shares, bandwidth periods and quotas with libvirt's (and its
//! schema's) ranges, and vCPU, emulator and IOThread pinning checked against the domain's
//! vCPUs and IOThreads.

use virt_core::model::tuning::{CpuPin, CpuTune};
use virt_core::model::DomainDef;

use super::general::{format_cpuset, parse_cpuset};
use super::tuning::number;
use crate::strict::{parse_u32, parse_u64, Cursor};
use crate::writer::Writer;
use crate::XmlError;

/// `<iothreads>` (the count; 0 means none) and `<iothreadids>`: given IDs in document
/// order, then the lowest free numbers up to the count, as libvirt fills them in; more IDs
/// than the count raise it.
pub(super) fn parse_iothreads(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    def.iothreads = number(c, "iothreads", "expected an IOThread count", parse_u32)?.unwrap_or(0);
    let Some(mut ids) = c.child("iothreadids")? else {
        return Ok(());
    };
    let mut list: Vec<u32> = Vec::new();
    for mut t in ids.children("iothread") {
        let v = t.attr_req("id")?;
        let id = parse_u32(v)
            .filter(|n| *n > 0)
            .ok_or_else(|| t.invalid_attr("id", v, "expected a positive IOThread id"))?;
        if list.contains(&id) {
            return Err(XmlError::Invalid {
                path: t.attr_path("id"),
                message: format!("duplicate iothread id '{id}' found"),
            });
        }
        t.finish()?;
        list.push(id);
    }
    ids.finish()?;
    if list.is_empty() {
        return Ok(());
    }
    let count = def
        .iothreads
        .max(u32::try_from(list.len()).unwrap_or(u32::MAX));
    let mut next = 1;
    while list.len() < count as usize {
        while list.contains(&next) {
            next += 1;
        }
        list.push(next);
    }
    def.iothreads = count;
    def.iothread_ids = list;
    Ok(())
}

/// A cpuset attribute in canonical form.
fn cpuset_attr(c: &mut Cursor<'_>) -> Result<String, XmlError> {
    let set = c.attr_req("cpuset")?;
    parse_cpuset(set)
        .map(|cpus| format_cpuset(&cpus))
        .ok_or_else(|| c.invalid_attr("cpuset", set, "expected a non-empty cpuset such as 0-3,^2"))
}

/// `<cputune>`, after `<vcpu>` and `<iothreads>` (pins are checked against both).
pub(super) fn parse_cputune(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut t) = c.child("cputune")? else {
        return Ok(());
    };
    let mut tune = CpuTune {
        shares: number(&mut t, "shares", "expected 0 or 2 to 262144", |s| {
            parse_u64(s).filter(|v| *v == 0 || (2..=262_144).contains(v))
        })?,
        ..CpuTune::default()
    };
    let period = |t: &mut Cursor<'_>, name: &str| {
        number(t, name, "expected 0 (unset) or 1000 to 1000000", |s| {
            parse_u64(s).filter(|v| *v == 0 || (1000..=1_000_000).contains(v))
        })
        .map(|v| v.filter(|v| *v > 0))
    };
    let quota = |t: &mut Cursor<'_>, name: &str| {
        let expected = "expected -1 (unlimited), 0 (unset) or 1000 to 17592186044415";
        number(t, name, expected, |s| {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse::<i64>()
                .ok()
                .filter(|v| matches!(*v, -1 | 0 | 1000..=17_592_186_044_415))
        })
        .map(|v| v.filter(|v| *v != 0))
    };
    tune.period = period(&mut t, "period")?;
    tune.quota = quota(&mut t, "quota")?;
    tune.global_period = period(&mut t, "global_period")?;
    tune.global_quota = quota(&mut t, "global_quota")?;
    tune.emulator_period = period(&mut t, "emulator_period")?;
    tune.emulator_quota = quota(&mut t, "emulator_quota")?;
    tune.iothread_period = period(&mut t, "iothread_period")?;
    tune.iothread_quota = quota(&mut t, "iothread_quota")?;
    for mut p in t.children("vcpupin") {
        let v = p.attr_req("vcpu")?;
        let vcpu =
            parse_u32(v).ok_or_else(|| p.invalid_attr("vcpu", v, "expected a vCPU number"))?;
        if vcpu >= def.vcpus {
            // libvirt ignores such a pin with only a log warning.
            return Err(p.invalid_attr(
                "vcpu",
                v,
                &format!(
                    "the domain has {} vCPUs (0 to {})",
                    def.vcpus,
                    def.vcpus - 1
                ),
            ));
        }
        if tune.vcpupins.iter().any(|o| o.id == vcpu) {
            return Err(XmlError::Duplicate {
                path: p.path().to_string(),
            });
        }
        let cpuset = cpuset_attr(&mut p)?;
        p.finish()?;
        tune.vcpupins.push(CpuPin { id: vcpu, cpuset });
    }
    tune.vcpupins.sort_by_key(|p| p.id);
    if let Some(mut e) = t.child("emulatorpin")? {
        tune.emulatorpin = Some(cpuset_attr(&mut e)?);
        e.finish()?;
    }
    for mut p in t.children("iothreadpin") {
        let v = p.attr_req("iothread")?;
        let id =
            parse_u32(v).ok_or_else(|| p.invalid_attr("iothread", v, "expected an IOThread id"))?;
        if !def.iothread_id_list().contains(&id) {
            return Err(XmlError::Invalid {
                path: p.attr_path("iothread"),
                message: format!("Cannot find 'iothread' : {id}"),
            });
        }
        if tune.iothreadpins.iter().any(|o| o.id == id) {
            return Err(XmlError::Duplicate {
                path: p.path().to_string(),
            });
        }
        let cpuset = cpuset_attr(&mut p)?;
        p.finish()?;
        tune.iothreadpins.push(CpuPin { id, cpuset });
    }
    tune.iothreadpins.sort_by_key(|p| p.id);
    t.finish()?;
    def.cputune = tune;
    Ok(())
}

/// Writes `<iothreads>` and `<cputune>` (after `<vcpu>`).
pub(super) fn format_cpu_tuning(w: &mut Writer, def: &DomainDef) {
    if def.iothreads > 0 {
        w.tag("iothreads").text(&def.iothreads.to_string());
    }
    if !def.iothread_ids.is_empty() {
        w.tag("iothreadids").children(|w| {
            for id in &def.iothread_ids {
                w.tag("iothread").attr("id", id).empty();
            }
        });
    }
    let t = &def.cputune;
    if t.is_empty() {
        return;
    }
    w.tag("cputune").open();
    if let Some(v) = t.shares {
        w.tag("shares").text(&v.to_string());
    }
    let pairs = [
        ("period", t.period, "quota", t.quota),
        (
            "global_period",
            t.global_period,
            "global_quota",
            t.global_quota,
        ),
        (
            "emulator_period",
            t.emulator_period,
            "emulator_quota",
            t.emulator_quota,
        ),
        (
            "iothread_period",
            t.iothread_period,
            "iothread_quota",
            t.iothread_quota,
        ),
    ];
    for (pname, p, qname, q) in pairs {
        if let Some(p) = p {
            w.tag(pname).text(&p.to_string());
        }
        if let Some(q) = q {
            w.tag(qname).text(&q.to_string());
        }
    }
    for p in &t.vcpupins {
        w.tag("vcpupin")
            .attr("vcpu", p.id)
            .attr("cpuset", &p.cpuset)
            .empty();
    }
    if let Some(s) = &t.emulatorpin {
        w.tag("emulatorpin").attr("cpuset", s).empty();
    }
    for p in &t.iothreadpins {
        w.tag("iothreadpin")
            .attr("iothread", p.id)
            .attr("cpuset", &p.cpuset)
            .empty();
    }
    w.close("cputune");
}
