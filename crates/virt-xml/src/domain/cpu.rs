//! `<cpu>` and `<clock>`.

use virt_core::model::domain::{
    ClockDef, CpuCache, CpuDef, CpuFeature, CpuTopology, NumaCell, Timer,
};
use virt_core::model::enums::{
    ClockBasis, ClockOffset, CpuCheck, CpuFallback, CpuFeaturePolicy, CpuMatch, CpuMode,
    TickPolicy, TimerName,
};
use virt_core::model::DomainDef;

use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

pub(super) fn parse_cpu(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut e) = c.child("cpu")? else {
        return Ok(());
    };
    let mut cpu = CpuDef {
        mode: e.attr_with(
            "mode",
            "expected custom, host-model, host-passthrough or maximum",
            CpuMode::from_xml,
        )?,
        match_: e.attr_with(
            "match",
            "expected exact, minimum or strict",
            CpuMatch::from_xml,
        )?,
        check: e.attr_with(
            "check",
            "expected none, partial or full",
            CpuCheck::from_xml,
        )?,
        migratable: e.attr_on_off("migratable")?,
        ..CpuDef::default()
    };
    if let Some(mut m) = e.child("model")? {
        cpu.fallback = m.attr_with(
            "fallback",
            "expected allow or forbid",
            CpuFallback::from_xml,
        )?;
        let text = m.text()?;
        cpu.model = super::non_empty(Some(text.trim().to_string()));
        m.finish()?;
    }
    cpu.vendor = super::non_empty(e.child_text("vendor")?);
    if let Some(mut t) = e.child("topology")? {
        let mut count = |name: &str, required: bool| -> Result<u32, XmlError> {
            match t.attr_u32(name)? {
                Some(0) => Err(t.invalid_attr(name, "0", "zero is not permitted")),
                Some(n) => Ok(n),
                None if required => Err(XmlError::Missing {
                    path: t.attr_path(name),
                }),
                None => Ok(1),
            }
        };
        let topology = CpuTopology {
            sockets: count("sockets", true)?,
            dies: count("dies", false)?,
            cores: count("cores", true)?,
            threads: count("threads", true)?,
        };
        t.finish()?;
        cpu.topology = Some(topology);
    }
    if let Some(mut k) = e.child("cache")? {
        let level = k.attr_u32("level")?;
        let mode = k
            .attr_word("mode", &["emulate", "passthrough", "disable"])?
            .ok_or_else(|| XmlError::Missing {
                path: k.attr_path("mode"),
            })?;
        k.finish()?;
        cpu.cache = Some(CpuCache { level, mode });
    }
    for mut f in e.children("feature") {
        let policy = f.attr_with(
            "policy",
            "expected force, require, optional, disable or forbid",
            CpuFeaturePolicy::from_xml,
        )?;
        let name = f.attr_req("name")?.to_string();
        if cpu.features.iter().any(|o| o.name == name) {
            return Err(XmlError::Invalid {
                path: f.path().to_string(),
                message: format!("CPU feature '{name}' specified more than once"),
            });
        }
        f.finish()?;
        cpu.features.push(CpuFeature { policy, name });
    }
    let mode = cpu.mode.unwrap_or_default();
    if cpu.model.is_some() && mode == CpuMode::Custom && cpu.match_.is_none() {
        cpu.match_ = Some(CpuMatch::Exact);
    }
    if cpu.model.is_some() && cpu.fallback.is_none() && mode == CpuMode::Custom {
        cpu.fallback = Some(CpuFallback::Allow);
    }
    if mode != CpuMode::HostPassthrough && mode != CpuMode::Maximum && cpu.migratable.is_some() {
        return Err(XmlError::Unsupported {
            path: e.attr_path("migratable"),
            message: "migratable is only valid for host-passthrough and maximum CPU modes".into(),
        });
    }
    for f in &mut cpu.features {
        f.policy.get_or_insert(CpuFeaturePolicy::Require);
    }
    if let Some(n) = e.child("numa")? {
        cpu.numa = parse_numa(n, def)?;
    }
    e.finish()?;
    // An empty <cpu/> says nothing; libvirt does not print it either.
    def.cpu = (cpu != CpuDef::default()).then_some(cpu);
    Ok(())
}

pub(super) fn format_cpu(w: &mut Writer, def: &DomainDef) {
    let Some(cpu) = &def.cpu else { return };
    let mode = cpu.mode.unwrap_or_default();
    // libvirt's virXMLFormatElement drops an element with no attributes and no children: a
    // bare `<cpu mode='custom' match='exact'/>` prints nothing.
    if mode == CpuMode::Custom
        && cpu.model.is_none()
        && cpu.check.is_none()
        && cpu.vendor.is_none()
        && cpu.topology.is_none()
        && cpu.cache.is_none()
        && cpu.features.is_empty()
        && cpu.numa.is_empty()
    {
        return;
    }
    let mut tag = w.tag("cpu");
    if mode != CpuMode::Custom || cpu.model.is_some() {
        tag = tag.attr("mode", mode);
    }
    if cpu.model.is_some() && mode == CpuMode::Custom {
        tag = tag.attr("match", cpu.match_.unwrap_or_default());
    }
    tag = tag.attr_opt("check", cpu.check);
    if matches!(mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
        tag = tag.on_off("migratable", cpu.migratable);
    }
    tag.children(|w| {
        if let Some(m) = &cpu.model {
            w.tag("model").attr_opt("fallback", cpu.fallback).text(m);
        }
        w.text_elem("vendor", cpu.vendor.as_deref());
        if let Some(t) = cpu.topology {
            w.tag("topology")
                .attr("sockets", t.sockets)
                .attr("dies", t.dies)
                .attr("cores", t.cores)
                .attr("threads", t.threads)
                .empty();
        }
        if let Some(k) = &cpu.cache {
            w.tag("cache")
                .attr_opt("level", k.level)
                .attr("mode", &k.mode)
                .empty();
        }
        for f in &cpu.features {
            w.tag("feature")
                .attr("policy", f.policy.unwrap_or_default())
                .attr("name", &f.name)
                .empty();
        }
        if !cpu.numa.is_empty() {
            format_numa(w, &cpu.numa);
        }
    });
}

pub(super) fn parse_clock(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let Some(mut e) = c.child("clock")? else {
        return Ok(());
    };
    let mut clock = ClockDef {
        offset: e
            .attr_with(
                "offset",
                "expected utc, localtime, timezone, variable or absolute",
                ClockOffset::from_xml,
            )?
            .unwrap_or_default(),
        ..ClockDef::default()
    };
    let adjustment = e.attr("adjustment");
    let basis = e.attr_with("basis", "expected utc or localtime", ClockBasis::from_xml)?;
    match clock.offset {
        ClockOffset::Utc | ClockOffset::Localtime => match adjustment {
            None | Some("reset") => clock.adjustment = adjustment.map(str::to_string),
            Some(n) => {
                let secs = parse_i64(n).ok_or_else(|| {
                    e.invalid_attr("adjustment", n, "expected 'reset' or seconds")
                })?;
                // libvirt turns a numeric adjustment into a variable offset from that basis.
                clock.basis = Some(if clock.offset == ClockOffset::Utc {
                    ClockBasis::Utc
                } else {
                    ClockBasis::Localtime
                });
                clock.offset = ClockOffset::Variable;
                clock.adjustment = Some(secs.to_string());
            }
        },
        ClockOffset::Variable => {
            let secs = match adjustment {
                None => 0,
                Some(n) => parse_i64(n)
                    .ok_or_else(|| e.invalid_attr("adjustment", n, "expected seconds"))?,
            };
            clock.adjustment = Some(secs.to_string());
            clock.basis = Some(basis.unwrap_or_default());
        }
        ClockOffset::Timezone => clock.timezone = Some(e.attr_req("timezone")?.to_string()),
        ClockOffset::Absolute => {
            let start = e.attr_req("start")?;
            clock.start = Some(
                crate::strict::parse_u64(start)
                    .ok_or_else(|| e.invalid_attr("start", start, "expected epoch seconds"))?,
            );
        }
    }
    if basis.is_some() && clock.offset != ClockOffset::Variable {
        return Err(XmlError::Unsupported {
            path: e.attr_path("basis"),
            message: "basis is only valid with offset 'variable'".into(),
        });
    }
    for mut t in e.children("timer") {
        let name = t.attr_req("name")?;
        let name = TimerName::from_xml(name)
            .ok_or_else(|| t.invalid_attr("name", name, "expected a timer name"))?;
        let timer = Timer {
            name,
            present: t.attr_yes_no("present")?,
            tickpolicy: t.attr_with(
                "tickpolicy",
                "expected delay, catchup, merge or discard",
                TickPolicy::from_xml,
            )?,
            track: t.attr_word("track", &["boot", "guest", "wall", "realtime"])?,
            frequency: t.attr_with("frequency", "expected Hz", crate::strict::parse_u64)?,
            mode: t.attr_word(
                "mode",
                &["auto", "native", "emulate", "paravirt", "smpsafe"],
            )?,
        };
        if matches!(name, TimerName::Kvmclock | TimerName::Hypervclock) {
            // Paravirtual clocks have no tick policy, tracking, frequency or mode (libvirt).
            let set = [
                ("tickpolicy", timer.tickpolicy.is_some()),
                ("track", timer.track.is_some()),
                ("frequency", timer.frequency.is_some()),
                ("mode", timer.mode.is_some()),
            ];
            if let Some((attr, _)) = set.iter().find(|(_, s)| *s) {
                return Err(XmlError::Unsupported {
                    path: t.attr_path(attr),
                    message: format!("timer {name} doesn't support setting of timer {attr}"),
                });
            }
        }
        t.finish()?;
        clock.timers.push(timer);
    }
    e.finish()?;
    def.clock = clock;
    Ok(())
}

fn parse_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn format_clock(w: &mut Writer, def: &DomainDef) {
    let c = &def.clock;
    let tag = w
        .tag("clock")
        .attr("offset", c.offset)
        .attr_opt("adjustment", c.adjustment.as_deref())
        .attr_opt("basis", c.basis)
        .attr_opt("timezone", c.timezone.as_deref())
        .attr_opt("start", c.start);
    tag.children(|w| {
        for t in &c.timers {
            w.tag("timer")
                .attr("name", t.name)
                .yes_no("present", t.present)
                .attr_opt("tickpolicy", t.tickpolicy)
                .attr_opt("track", t.track.as_deref())
                .attr_opt("frequency", t.frequency)
                .attr_opt("mode", t.mode.as_deref())
                .empty();
        }
    });
}

/// `<numa>`: cells with an id, a CPU list, a memory size and optional distances. libvirt
/// takes the domain's memory size from the cells, so `<memory>` becomes their sum.
fn parse_numa(mut n: Cursor<'_>, def: &mut DomainDef) -> Result<Vec<NumaCell>, XmlError> {
    let mut cells: Vec<NumaCell> = Vec::new();
    for mut c in n.children("cell") {
        let id = c.attr_u32("id")?.unwrap_or(cells.len() as u32);
        if id as usize != cells.len() {
            return Err(c.invalid_attr("id", &id.to_string(), "cell ids in order from 0"));
        }
        let raw = c.attr_req("cpus")?;
        let cpus = super::general::parse_cpuset(raw)
            .filter(|set| !set.is_empty())
            .map(|set| super::general::format_cpuset(&set))
            .ok_or_else(|| c.invalid_attr("cpus", raw, "a CPU list"))?;
        let mem = c.attr_req("memory")?;
        let memory = mem
            .parse::<u64>()
            .map_err(|_| c.invalid_attr("memory", mem, "a size"))?;
        let memory_kib = match c.attr("unit") {
            None | Some("KiB" | "k" | "K") => memory,
            Some("MiB" | "M") => memory.saturating_mul(1024),
            Some("GiB" | "G") => memory.saturating_mul(1024 * 1024),
            Some(u) => return Err(c.invalid_attr("unit", u, "KiB, MiB or GiB")),
        };
        let mut distances = Vec::new();
        if let Some(mut d) = c.child("distances")? {
            for mut s in d.children("sibling") {
                let (Some(sid), Some(v)) = (s.attr_u32("id")?, s.attr_u32("value")?) else {
                    return Err(XmlError::Missing {
                        path: s.attr_path("value"),
                    });
                };
                s.finish()?;
                distances.push((sid, v));
            }
            d.finish()?;
        }
        c.finish()?;
        cells.push(NumaCell {
            id,
            cpus,
            memory_kib,
            distances,
        });
    }
    n.finish()?;
    let total: u64 = cells.iter().map(|c| c.memory_kib).sum();
    if total > 0 {
        def.memory_kib = total;
        def.current_memory_kib = def.current_memory_kib.min(total);
    }
    Ok(cells)
}

fn format_numa(w: &mut Writer, cells: &[NumaCell]) {
    w.tag("numa").children(|w| {
        for c in cells {
            let tag = w
                .tag("cell")
                .attr("id", c.id)
                .attr("cpus", &c.cpus)
                .attr("memory", c.memory_kib)
                .attr("unit", "KiB");
            if c.distances.is_empty() {
                tag.empty();
                continue;
            }
            tag.children(|w| {
                w.tag("distances").children(|w| {
                    for (id, v) in &c.distances {
                        w.tag("sibling").attr("id", id).attr("value", v).empty();
                    }
                });
            });
        }
    });
}
