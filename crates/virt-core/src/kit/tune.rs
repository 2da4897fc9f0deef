//! libvirt's shared rules for the tuning calls (issue 15, group "tune"): CPU bitmaps
//! (virBitmapParse / virBitmapFormat and the cpumap bytes of the pinning calls), block I/O
//! tunables (virDomainDriverSetupPersistentDefBlkioParams), the NUMA memory policy
//! (virDomainNumatuneSet), interface bandwidth, disk I/O throttles, perf events and lifecycle
//! actions, as domain_conf / domain_driver apply them for every driver.

use std::collections::BTreeSet;

use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::model::devices::{Bandwidth, BandwidthRate};
use crate::model::domain::NumaTune;
use crate::model::enums::LifecycleAction;
use crate::model::tuning::{BlkioDevice, BlkioTune};
use crate::model::DomainDef;
use crate::types::{TypedParam, TypedValue};
use crate::VirtError;

use super::typed_params::ParamType;

/// libvirt's VIR_DOMAIN_CPUMASK_LEN: the highest bit a parsed bitmap may have, plus one.
pub const CPUMASK_LEN: u32 = 8192;

fn invalid_arg(domain: ErrorDomain, detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, domain, detail)
}

/// virBitmapParse: `N`, `N-M` and `^N` separated by commas, blanks around each; INVALID_ARG
/// "Failed to parse bitmap 'x'" otherwise (error domain NONE, as libvirt's util layer).
pub fn parse_bitmap(s: &str, max: u32) -> DriverResult<BTreeSet<u32>> {
    let fail = || invalid_arg(ErrorDomain::None, format!("Failed to parse bitmap '{s}'"));
    let mut set = BTreeSet::new();
    if s.trim().is_empty() {
        return Err(fail());
    }
    for token in s.split(',') {
        let t = token.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n');
        let (neg, body) = match t.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let num = |x: &str| -> Option<u32> {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            x.parse::<u32>().ok().filter(|v| *v < max)
        };
        match body.split_once('-') {
            Some((a, b)) if !neg => {
                let (a, b) = (num(a).ok_or_else(fail)?, num(b).ok_or_else(fail)?);
                if a > b {
                    return Err(fail());
                }
                set.extend(a..=b);
            }
            Some(_) => return Err(fail()),
            None => {
                let v = num(body).ok_or_else(fail)?;
                if neg {
                    set.remove(&v);
                } else {
                    set.insert(v);
                }
            }
        }
    }
    Ok(set)
}

/// virBitmapFormat: ranges (`0-3,5`), empty for no bit.
pub fn format_bitmap(set: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// The cpumap bytes of a bitmap (bit N of byte N/8), `len` bytes long.
pub fn to_cpumap(set: &BTreeSet<u32>, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for &cpu in set {
        if let Some(b) = out.get_mut(cpu as usize / 8) {
            *b |= 1 << (cpu % 8);
        }
    }
    out
}

/// The bitmap of cpumap bytes.
pub fn from_cpumap(map: &[u8]) -> BTreeSet<u32> {
    let mut set = BTreeSet::new();
    for (i, b) in map.iter().enumerate() {
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                set.insert(i as u32 * 8 + bit);
            }
        }
    }
    set
}

/// Every CPU below `n`.
pub fn all_cpus(n: u32) -> BTreeSet<u32> {
    (0..n).collect()
}

/// `weight` and the per-device parameters of virDomainSetBlkioParameters.
pub const BLKIO_WEIGHT: &str = "weight";
/// Per-device weights, `/path,weight,...`.
pub const BLKIO_DEVICE_WEIGHT: &str = "device_weight";
/// Per-device read IOPS limits.
pub const BLKIO_DEVICE_READ_IOPS: &str = "device_read_iops_sec";
/// Per-device write IOPS limits.
pub const BLKIO_DEVICE_WRITE_IOPS: &str = "device_write_iops_sec";
/// Per-device read byte rates.
pub const BLKIO_DEVICE_READ_BPS: &str = "device_read_bytes_sec";
/// Per-device write byte rates.
pub const BLKIO_DEVICE_WRITE_BPS: &str = "device_write_bytes_sec";

/// The parameters virDomainSetBlkioParameters accepts, with their types.
pub const BLKIO_PARAMS: &[(&str, ParamType)] = &[
    (BLKIO_WEIGHT, ParamType::UInt),
    (BLKIO_DEVICE_WEIGHT, ParamType::String),
    (BLKIO_DEVICE_READ_IOPS, ParamType::String),
    (BLKIO_DEVICE_WRITE_IOPS, ParamType::String),
    (BLKIO_DEVICE_READ_BPS, ParamType::String),
    (BLKIO_DEVICE_WRITE_BPS, ParamType::String),
];

fn blkio_value(d: &BlkioDevice, field: &str) -> u64 {
    match field {
        BLKIO_DEVICE_WEIGHT => d.weight.map(u64::from),
        BLKIO_DEVICE_READ_IOPS => d.read_iops_sec,
        BLKIO_DEVICE_WRITE_IOPS => d.write_iops_sec,
        BLKIO_DEVICE_READ_BPS => d.read_bytes_sec,
        _ => d.write_bytes_sec,
    }
    .unwrap_or(0)
}

fn set_blkio_value(d: &mut BlkioDevice, field: &str, v: u64) {
    let v = (v != 0).then_some(v);
    match field {
        BLKIO_DEVICE_WEIGHT => d.weight = v.map(|v| v as u32),
        BLKIO_DEVICE_READ_IOPS => d.read_iops_sec = v,
        BLKIO_DEVICE_WRITE_IOPS => d.write_iops_sec = v,
        BLKIO_DEVICE_READ_BPS => d.read_bytes_sec = v,
        _ => d.write_bytes_sec = v,
    }
}

/// The blkio parameters of a definition in libvirt's order: `weight` (0 unset), then each
/// device list as `/path,value,...` of the devices whose value is set.
pub fn blkio_params(b: &BlkioTune) -> Vec<TypedParam> {
    let mut out = vec![TypedParam::new(
        BLKIO_WEIGHT,
        TypedValue::UInt(b.weight.unwrap_or(0)),
    )];
    for (field, _) in &BLKIO_PARAMS[1..] {
        let list: Vec<String> = b
            .devices
            .iter()
            .filter(|d| blkio_value(d, field) != 0)
            .map(|d| format!("{},{}", d.path, blkio_value(d, field)))
            .collect();
        out.push(TypedParam::new(*field, TypedValue::String(list.join(","))));
    }
    out
}

/// Applies validated blkio parameters (virDomainDriverSetupPersistentDefBlkioParams): the
/// weight, and each device list merged into the devices by path. Errors as libvirt's
/// virDomainDriverParseBlkioDeviceStr: INVALID_ARG "unable to parse blkio device 'F' 'S'",
/// "invalid value 'V' for parameter 'F' of device 'P'".
pub fn apply_blkio(
    b: &mut BlkioTune,
    params: &[TypedParam],
    domain: ErrorDomain,
) -> DriverResult<()> {
    for p in params {
        match (&p.value, p.field.as_str()) {
            (TypedValue::UInt(w), BLKIO_WEIGHT) => b.weight = Some(*w),
            (TypedValue::String(s), field) => {
                let parts: Vec<&str> = s.split(',').collect();
                if !parts.len().is_multiple_of(2) {
                    return Err(invalid_arg(
                        domain,
                        format!("unable to parse blkio device '{field}' '{s}'"),
                    ));
                }
                let mut parsed = Vec::new();
                for pair in parts.chunks(2) {
                    let (path, value) = (pair[0], pair[1]);
                    // Weights and IOPS are unsigned ints, byte rates unsigned long longs.
                    let ok = if field == BLKIO_DEVICE_WEIGHT || field.ends_with("iops_sec") {
                        value.parse::<u32>().ok().map(u64::from)
                    } else {
                        value.parse::<u64>().ok()
                    };
                    let v = ok.filter(|_| !value.starts_with('+')).ok_or_else(|| {
                        invalid_arg(
                            domain,
                            format!(
                                "invalid value '{value}' for parameter '{field}' of device '{path}'"
                            ),
                        )
                    })?;
                    parsed.push((path.to_string(), v));
                }
                for (path, v) in parsed {
                    match b.devices.iter_mut().find(|d| d.path == path) {
                        Some(d) => set_blkio_value(d, field, v),
                        None if v != 0 => {
                            let mut d = BlkioDevice {
                                path,
                                ..Default::default()
                            };
                            set_blkio_value(&mut d, field, v);
                            b.devices.push(d);
                        }
                        None => {}
                    }
                }
                b.devices.retain(|d| {
                    BLKIO_PARAMS[1..]
                        .iter()
                        .any(|(f, _)| blkio_value(d, f) != 0)
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// `numa_mode` (INT: 0 strict, 1 preferred, 2 interleave, 3 restrictive).
pub const NUMA_MODE: &str = "numa_mode";
/// `numa_nodeset` (STRING).
pub const NUMA_NODESET: &str = "numa_nodeset";
/// The NUMA memory modes in libvirt's enum order.
pub const NUMA_MODES: &[&str] = &["strict", "preferred", "interleave", "restrictive"];

/// The NUMA parameters of a definition: its mode (strict when unset) and nodeset ("" when
/// none).
pub fn numa_params(def: &DomainDef) -> Vec<TypedParam> {
    let (mode, nodeset) = match &def.numatune {
        Some(n) => (
            NUMA_MODES.iter().position(|m| *m == n.mode).unwrap_or(0) as i32,
            n.nodeset.clone().unwrap_or_default(),
        ),
        None => (0, String::new()),
    };
    vec![
        TypedParam::new(NUMA_MODE, TypedValue::Int(mode)),
        TypedParam::new(NUMA_NODESET, TypedValue::String(nodeset)),
    ]
}

/// The mode (checked against libvirt's enum) and the nodeset (parsed, not empty) that
/// validated parameters of virDomainSetNumaParameters set.
pub fn parse_numa(
    params: &[TypedParam],
    domain: ErrorDomain,
) -> DriverResult<(Option<i32>, Option<BTreeSet<u32>>)> {
    let mut mode: Option<i32> = None;
    let mut nodeset: Option<BTreeSet<u32>> = None;
    for p in params {
        match (&p.value, p.field.as_str()) {
            (TypedValue::Int(m), NUMA_MODE) => {
                if *m < 0 || *m as usize >= NUMA_MODES.len() {
                    return Err(invalid_arg(
                        domain,
                        format!("unsupported numatune mode: '{m}'"),
                    ));
                }
                mode = Some(*m);
            }
            (TypedValue::String(s), NUMA_NODESET) => {
                let set = parse_bitmap(s, CPUMASK_LEN)?;
                if set.is_empty() {
                    return Err(VirtError::new(
                        ErrorCode::OperationInvalid,
                        domain,
                        format!("Invalid nodeset of 'numatune': {s}"),
                    ));
                }
                nodeset = Some(set);
            }
            _ => {}
        }
    }
    Ok((mode, nodeset))
}

/// virDomainSetNumaParameters on `def` (validated parameters): a mode in range, a nodeset that
/// parses and is not empty, no mode change on a running domain whose policy is set, and then
/// virDomainNumatuneSet's placement rules.
pub fn apply_numa(
    def: &mut DomainDef,
    params: &[TypedParam],
    live: bool,
    domain: ErrorDomain,
) -> DriverResult<()> {
    let (mode, nodeset) = parse_numa(params, domain)?;
    if let (true, Some(m), Some(cur)) = (live, mode, def.numatune.as_ref()) {
        if NUMA_MODES.iter().position(|x| *x == cur.mode) != Some(m as usize) {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                domain,
                "can't change numatune mode for running domain",
            ));
        }
    }
    let placement_static = def.vcpu_placement != crate::model::enums::VcpuPlacement::Auto;
    let mut n = def.numatune.clone().unwrap_or(NumaTune {
        mode: NUMA_MODES[0].to_string(),
        placement_auto: false,
        nodeset: None,
    });
    if let Some(m) = mode {
        n.mode = NUMA_MODES[m as usize].to_string();
    }
    if let Some(set) = &nodeset {
        n.nodeset = Some(format_bitmap(set));
        n.placement_auto = false;
    } else if def.numatune.is_none() {
        n.placement_auto = !placement_static;
    }
    if !n.placement_auto && n.nodeset.is_none() {
        return Err(VirtError::new(
            ErrorCode::ConfigUnsupported,
            domain,
            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
        ));
    }
    def.numatune = Some(n);
    Ok(())
}

/// The bandwidth parameters in libvirt's order.
pub const BANDWIDTH_PARAMS: &[(&str, ParamType)] = &[
    ("inbound.average", ParamType::UInt),
    ("inbound.peak", ParamType::UInt),
    ("inbound.burst", ParamType::UInt),
    ("inbound.floor", ParamType::UInt),
    ("outbound.average", ParamType::UInt),
    ("outbound.peak", ParamType::UInt),
    ("outbound.burst", ParamType::UInt),
];

/// An interface's bandwidth as virDomainGetInterfaceParameters reports it (0 unset).
pub fn bandwidth_params(b: Option<&Bandwidth>) -> Vec<TypedParam> {
    let i = b.and_then(|b| b.inbound.clone()).unwrap_or_default();
    let o = b.and_then(|b| b.outbound.clone()).unwrap_or_default();
    let v = |x: Option<u64>| TypedValue::UInt(x.unwrap_or(0) as u32);
    [
        v(i.average),
        v(i.peak),
        v(i.burst),
        v(i.floor),
        v(o.average),
        v(o.peak),
        v(o.burst),
    ]
    .into_iter()
    .zip(BANDWIDTH_PARAMS)
    .map(|(value, (f, _))| TypedParam::new(*f, value))
    .collect()
}

/// virDomainSetInterfaceParameters' merge: a direction given with its average (or inbound
/// floor) replaces that direction; one given without clears it; others stay.
pub fn apply_bandwidth(cur: &mut Option<Bandwidth>, params: &[TypedParam]) {
    let mut inb = BandwidthRate::default();
    let mut out = BandwidthRate::default();
    let (mut in_given, mut out_given) = (false, false);
    for p in params {
        let TypedValue::UInt(v) = p.value else {
            continue;
        };
        let v = (v != 0).then_some(u64::from(v));
        match p.field.as_str() {
            "inbound.average" => {
                inb.average = v;
                in_given = true;
            }
            "inbound.peak" => inb.peak = v,
            "inbound.burst" => inb.burst = v,
            "inbound.floor" => {
                inb.floor = v;
                in_given = true;
            }
            "outbound.average" => {
                out.average = v;
                out_given = true;
            }
            "outbound.peak" => out.peak = v,
            "outbound.burst" => out.burst = v,
            _ => {}
        }
    }
    let inb = (inb.average.is_some() || inb.floor.is_some()).then_some(inb);
    let out = out.average.is_some().then_some(out);
    match cur {
        None => {
            *cur = Some(Bandwidth {
                inbound: inb,
                outbound: out,
            })
        }
        Some(b) => {
            if inb.is_some() || in_given {
                b.inbound = inb;
            }
            if out.is_some() || out_given {
                b.outbound = out;
            }
        }
    }
    if let Some(b) = cur {
        if b.inbound.is_none() && b.outbound.is_none() {
            *cur = None;
        }
    }
}

/// The disk I/O throttle fields in libvirt's order (`group_name` is the STRING one).
pub const IOTUNE_FIELDS: &[&str] = &[
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec_max",
    "read_bytes_sec_max",
    "write_bytes_sec_max",
    "total_iops_sec_max",
    "read_iops_sec_max",
    "write_iops_sec_max",
    "size_iops_sec",
    "group_name",
    "total_bytes_sec_max_length",
    "read_bytes_sec_max_length",
    "write_bytes_sec_max_length",
    "total_iops_sec_max_length",
    "read_iops_sec_max_length",
    "write_iops_sec_max_length",
];

/// The group name field.
pub const IOTUNE_GROUP_NAME: &str = "group_name";

/// The types virDomainSetBlockIoTune accepts.
pub fn iotune_types() -> Vec<(&'static str, ParamType)> {
    IOTUNE_FIELDS
        .iter()
        .map(|f| {
            (
                *f,
                if *f == IOTUNE_GROUP_NAME {
                    ParamType::String
                } else {
                    ParamType::ULLong
                },
            )
        })
        .collect()
}

/// A disk's throttle as parameters (0 / "" unset).
pub fn iotune_params(iotune: &[(String, String)]) -> Vec<TypedParam> {
    let get = |f: &str| iotune.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    IOTUNE_FIELDS
        .iter()
        .map(|f| {
            let v = get(f);
            let value = if *f == IOTUNE_GROUP_NAME {
                TypedValue::String(v.unwrap_or_default())
            } else {
                TypedValue::ULLong(v.and_then(|v| v.parse().ok()).unwrap_or(0))
            };
            TypedParam::new(*f, value)
        })
        .collect()
}

/// libvirt's test driver's largest throttle value.
pub const IOTUNE_MAX: u64 = 1_000_000_000_000_000;

/// virDomainSetBlockIoTune's rules on a disk's throttle (the test driver's): each value at most
/// [`IOTUNE_MAX`], total not with read/write, no limit above its max; the merged throttle.
pub fn apply_iotune(
    iotune: &[(String, String)],
    params: &[TypedParam],
    domain: ErrorDomain,
) -> DriverResult<Vec<(String, String)>> {
    let mut vals: Vec<(String, TypedValue)> = iotune_params(iotune)
        .into_iter()
        .map(|p| (p.field, p.value))
        .collect();
    for p in params {
        if let TypedValue::ULLong(v) = p.value {
            if v > IOTUNE_MAX {
                return Err(VirtError::new(
                    ErrorCode::ArgumentUnsupported,
                    domain,
                    format!("block I/O throttle limit value must be no more than {IOTUNE_MAX}"),
                ));
            }
        }
        if let Some(slot) = vals.iter_mut().find(|(f, _)| *f == p.field) {
            slot.1 = p.value.clone();
        }
    }
    let n = |f: &str| -> u64 {
        match vals.iter().find(|(k, _)| k == f).map(|(_, v)| v) {
            Some(TypedValue::ULLong(v)) => *v,
            _ => 0,
        }
    };
    for kind in ["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"] {
        let t = n(&format!("total_{kind}"));
        if t != 0 && (n(&format!("read_{kind}")) != 0 || n(&format!("write_{kind}")) != 0) {
            return Err(invalid_arg(
                domain,
                format!("total and read/write of {kind} cannot be set at the same time"),
            ));
        }
    }
    for f in [
        "total_bytes_sec",
        "read_bytes_sec",
        "write_bytes_sec",
        "total_iops_sec",
        "read_iops_sec",
        "write_iops_sec",
    ] {
        if n(f) > n(&format!("{f}_max")) {
            // libvirt's message ends with a blank.
            return Err(invalid_arg(
                domain,
                format!("{f} cannot be set higher than {f}_max "),
            ));
        }
    }
    Ok(vals
        .into_iter()
        .filter_map(|(f, v)| match v {
            TypedValue::ULLong(0) => None,
            TypedValue::ULLong(x) => Some((f, x.to_string())),
            TypedValue::String(s) if !s.is_empty() => Some((f, s)),
            _ => None,
        })
        .collect())
}

/// The perf events in libvirt's order (virPerfEvent).
pub const PERF_EVENTS: &[&str] = &[
    "cmt",
    "mbmt",
    "mbml",
    "cpu_cycles",
    "instructions",
    "cache_references",
    "cache_misses",
    "branch_instructions",
    "branch_misses",
    "bus_cycles",
    "stalled_cycles_frontend",
    "stalled_cycles_backend",
    "ref_cpu_cycles",
    "cpu_clock",
    "task_clock",
    "page_faults",
    "context_switches",
    "cpu_migrations",
    "page_faults_min",
    "page_faults_maj",
    "alignment_faults",
    "emulation_faults",
];

/// The perf parameter types (BOOLEAN each).
pub fn perf_types() -> Vec<(&'static str, ParamType)> {
    PERF_EVENTS.iter().map(|e| (*e, ParamType::Bool)).collect()
}

/// The events of a definition, every one as a BOOLEAN.
pub fn perf_params(def: &DomainDef) -> Vec<TypedParam> {
    PERF_EVENTS
        .iter()
        .map(|e| {
            let on = def.perf_events.iter().any(|(n, v)| n == e && *v);
            TypedParam::new(*e, TypedValue::Bool(on))
        })
        .collect()
}

/// Records validated perf parameters in a definition.
pub fn apply_perf(def: &mut DomainDef, params: &[TypedParam]) {
    for p in params {
        if let TypedValue::Bool(on) = p.value {
            match def.perf_events.iter_mut().find(|(n, _)| *n == p.field) {
                Some(slot) => slot.1 = on,
                None => def.perf_events.push((p.field.clone(), on)),
            }
        }
    }
}

/// The lifecycle events in virDomainLifecycle order.
pub const LIFECYCLE_TYPES: &[&str] = &["poweroff", "reboot", "crash"];

/// virDomainDefLifecycleActionAllowed plus the change: poweroff and reboot take no coredump
/// action (CONFIG_UNSUPPORTED "Lifecycle event 'x' doesn't support 'y' action").
pub fn lifecycle_action(
    kind: u32,
    action: u32,
    domain: ErrorDomain,
) -> DriverResult<LifecycleAction> {
    let actions = LifecycleAction::ALL;
    let (Some(t), Some(a)) = (
        LIFECYCLE_TYPES.get(kind as usize),
        actions.get(action as usize),
    ) else {
        return Err(invalid_arg(
            domain,
            format!("invalid lifecycle type '{kind}' or action '{action}'"),
        ));
    };
    if kind != 2
        && matches!(
            a,
            LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart
        )
    {
        return Err(VirtError::new(
            ErrorCode::ConfigUnsupported,
            domain,
            format!(
                "Lifecycle event '{t}' doesn't support '{}' action",
                a.as_str()
            ),
        ));
    }
    Ok(*a)
}

/// Sets the action of `kind` in a definition.
pub fn set_lifecycle(def: &mut DomainDef, kind: u32, action: LifecycleAction) {
    match kind {
        0 => def.on_poweroff = Some(action),
        1 => def.on_reboot = Some(action),
        _ => def.on_crash = Some(action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_parse_and_format_as_libvirt() {
        let s = parse_bitmap("0-3,^2,5", CPUMASK_LEN).expect("valid");
        assert_eq!(format_bitmap(&s), "0-1,3,5");
        assert!(parse_bitmap("abc", CPUMASK_LEN).is_err());
        assert!(parse_bitmap("3-1", CPUMASK_LEN).is_err());
        assert!(parse_bitmap("", CPUMASK_LEN).is_err());
        assert_eq!(
            parse_bitmap("x", 8).expect_err("bad").to_string(),
            "invalid argument: Failed to parse bitmap 'x'"
        );
        let map = to_cpumap(&s, 2);
        assert_eq!(map, vec![0b0010_1011, 0]);
        assert_eq!(from_cpumap(&map), s);
    }

    #[test]
    fn blkio_device_lists_merge_by_path() {
        let mut b = BlkioTune::default();
        let p = |f: &str, s: &str| TypedParam::new(f, TypedValue::String(s.into()));
        apply_blkio(
            &mut b,
            &[p(BLKIO_DEVICE_WEIGHT, "/dev/sda,10,/dev/sdb,20")],
            ErrorDomain::Test,
        )
        .expect("valid");
        apply_blkio(
            &mut b,
            &[p(BLKIO_DEVICE_READ_IOPS, "/dev/sda,5")],
            ErrorDomain::Test,
        )
        .expect("valid");
        apply_blkio(
            &mut b,
            &[p(BLKIO_DEVICE_WEIGHT, "/dev/sdb,0")],
            ErrorDomain::Test,
        )
        .expect("valid");
        let ps = blkio_params(&b);
        assert_eq!(ps[1].value, TypedValue::String("/dev/sda,10".into()));
        assert_eq!(ps[2].value, TypedValue::String("/dev/sda,5".into()));
        assert!(apply_blkio(
            &mut b,
            &[p(BLKIO_DEVICE_WEIGHT, "/dev/sda")],
            ErrorDomain::Test
        )
        .is_err());
    }

    #[test]
    fn iotune_limits_need_their_max() {
        let u = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
        let e =
            apply_iotune(&[], &[u("total_bytes_sec", 10)], ErrorDomain::Test).expect_err("no max");
        assert!(e.to_string().ends_with("total_bytes_sec_max "), "{e}");
        let t = apply_iotune(
            &[],
            &[u("total_bytes_sec", 10), u("total_bytes_sec_max", 20)],
            ErrorDomain::Test,
        )
        .expect("valid");
        assert_eq!(t.len(), 2);
    }
}
