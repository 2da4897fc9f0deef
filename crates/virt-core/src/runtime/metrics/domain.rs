//! Every domain's bulk stats (virConnectGetAllDomainStats's keys) as metrics.
//!
//! The names and labels are those of the `libvirt-exporter` line that reads
//! `GetAllDomainStats` (kumina's `libvirt_exporter` as rewritten by AlexZzz, the naming most
//! libvirt dashboards use): `libvirt_domain_info_*`, `libvirt_domain_vcpu_*`,
//! `libvirt_domain_block_stats_*`, `libvirt_domain_interface_stats_*`,
//! `libvirt_domain_memory_stats_*`. Every sample is labelled `domain` (the name) and `uuid`;
//! per-device samples add `target_device` (the `block.N.name` / `net.N.name` of the same
//! index), per-vCPU ones `vcpu`. Times in nanoseconds become seconds, KiB become bytes.
//!
//! No key is dropped: a numeric key without a mapping is `libvirt_domain_stat{key="..."}` with
//! its raw value (booleans as 0/1), and a string key that is not used as a label is
//! `libvirt_domain_stat_info{key="...",value="..."} 1`. deploy/metrics.md has the table.

use std::collections::{BTreeMap, HashMap};

use super::text::{Kind, Num, Writer};
use crate::types::{StatsRecord, TypedValue};

/// How a raw value is converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    /// As is.
    One,
    /// KiB to bytes.
    KiB,
    /// Nanoseconds to seconds.
    Nanos,
}

/// Which labels a mapped key takes besides `domain` and `uuid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Per {
    Domain,
    Vcpu,
    Block,
    Net,
}

/// One mapped key: (group, field after the index, family, kind, scale, help).
struct Map {
    per: Per,
    field: &'static str,
    family: &'static str,
    kind: Kind,
    scale: Scale,
    help: &'static str,
}

const fn m(
    per: Per,
    field: &'static str,
    family: &'static str,
    kind: Kind,
    scale: Scale,
    help: &'static str,
) -> Map {
    Map {
        per,
        field,
        family,
        kind,
        scale,
        help,
    }
}

use Kind::{Counter as C, Gauge as G};
use Per::{Block as B, Domain as D, Net as N, Vcpu as V};
use Scale::{KiB, Nanos as NS, One};

/// The mapping table (deploy/metrics.md lists the same).
const MAPS: &[Map] = &[
    m(D, "state.state", "libvirt_domain_info_vstate", G, One, "Domain state (virDomainState): 0 no state, 1 running, 2 blocked, 3 paused, 4 shutting down, 5 shut off, 6 crashed, 7 suspended by guest power management."),
    m(D, "cpu.time", "libvirt_domain_info_cpu_time_seconds_total", C, NS, "Amount of CPU time used by the domain, in seconds."),
    m(D, "balloon.current", "libvirt_domain_info_memory_usage_bytes", G, KiB, "Memory usage of the domain (current balloon size), in bytes."),
    m(D, "balloon.maximum", "libvirt_domain_info_maximum_memory_bytes", G, KiB, "Maximum allowed memory of the domain, in bytes."),
    m(D, "vcpu.current", "libvirt_domain_info_virtual_cpus", G, One, "Number of virtual CPUs for the domain."),
    m(D, "balloon.unused", "libvirt_domain_memory_stats_unused_bytes", G, KiB, "Memory left completely unused by the guest, in bytes."),
    m(D, "balloon.available", "libvirt_domain_memory_stats_available_bytes", G, KiB, "Total usable memory as seen by the guest, in bytes."),
    m(D, "balloon.usable", "libvirt_domain_memory_stats_usable_bytes", G, KiB, "Memory the balloon can take without the guest swapping, in bytes."),
    m(D, "balloon.rss", "libvirt_domain_memory_stats_rss_bytes", G, KiB, "Resident set size of the process running the domain, in bytes."),
    m(D, "balloon.disk_caches", "libvirt_domain_memory_stats_disk_cache_bytes", G, KiB, "Guest memory that can be reclaimed without I/O (disk caches), in bytes."),
    m(D, "balloon.major_fault", "libvirt_domain_memory_stats_major_fault_total", C, One, "Major page faults in the guest."),
    m(D, "balloon.minor_fault", "libvirt_domain_memory_stats_minor_fault_total", C, One, "Minor page faults in the guest."),
    m(V, "state", "libvirt_domain_vcpu_state", G, One, "vCPU state: 0 offline, 1 running, 2 blocked."),
    m(V, "time", "libvirt_domain_vcpu_time_seconds_total", C, NS, "Amount of CPU time used by the vCPU, in seconds."),
    m(V, "wait", "libvirt_domain_vcpu_wait_seconds_total", C, NS, "Time the vCPU wanted to run but was not scheduled, in seconds."),
    m(V, "delay", "libvirt_domain_vcpu_delay_seconds_total", C, NS, "Time the vCPU thread waited in the host's run queue (steal time), in seconds."),
    m(B, "rd.bytes", "libvirt_domain_block_stats_read_bytes_total", C, One, "Number of bytes read from a block device, in bytes."),
    m(B, "rd.reqs", "libvirt_domain_block_stats_read_requests_total", C, One, "Number of read requests from a block device."),
    m(B, "rd.times", "libvirt_domain_block_stats_read_time_seconds_total", C, NS, "Total time spent on reads from a block device, in seconds."),
    m(B, "wr.bytes", "libvirt_domain_block_stats_write_bytes_total", C, One, "Number of bytes written to a block device, in bytes."),
    m(B, "wr.reqs", "libvirt_domain_block_stats_write_requests_total", C, One, "Number of write requests to a block device."),
    m(B, "wr.times", "libvirt_domain_block_stats_write_time_seconds_total", C, NS, "Total time spent on writes to a block device, in seconds."),
    m(B, "fl.reqs", "libvirt_domain_block_stats_flush_requests_total", C, One, "Total flush requests of a block device."),
    m(B, "fl.times", "libvirt_domain_block_stats_flush_time_seconds_total", C, NS, "Total time spent on cache flushes of a block device, in seconds."),
    m(B, "allocation", "libvirt_domain_block_stats_allocation", G, One, "Offset of the highest written sector of a block device, in bytes."),
    m(B, "capacity", "libvirt_domain_block_stats_capacity_bytes", G, One, "Logical size of the block device's backing image, in bytes."),
    m(B, "physical", "libvirt_domain_block_stats_physicalsize_bytes", G, One, "Physical size of the container of the backing image, in bytes."),
    m(N, "rx.bytes", "libvirt_domain_interface_stats_receive_bytes_total", C, One, "Number of bytes received on a network interface, in bytes."),
    m(N, "rx.pkts", "libvirt_domain_interface_stats_receive_packets_total", C, One, "Number of packets received on a network interface."),
    m(N, "rx.errs", "libvirt_domain_interface_stats_receive_errors_total", C, One, "Number of packet receive errors on a network interface."),
    m(N, "rx.drop", "libvirt_domain_interface_stats_receive_drops_total", C, One, "Number of packet receive drops on a network interface."),
    m(N, "tx.bytes", "libvirt_domain_interface_stats_transmit_bytes_total", C, One, "Number of bytes transmitted on a network interface, in bytes."),
    m(N, "tx.pkts", "libvirt_domain_interface_stats_transmit_packets_total", C, One, "Number of packets transmitted on a network interface."),
    m(N, "tx.errs", "libvirt_domain_interface_stats_transmit_errors_total", C, One, "Number of packet transmit errors on a network interface."),
    m(N, "tx.drop", "libvirt_domain_interface_stats_transmit_drops_total", C, One, "Number of packet transmit drops on a network interface."),
];

/// The family of unmapped numeric keys.
pub const FALLBACK: &str = "libvirt_domain_stat";
/// The family of unmapped string keys.
pub const FALLBACK_INFO: &str = "libvirt_domain_stat_info";
/// The family of block device metadata (`source_file` from `block.N.path`).
pub const BLOCK_META: &str = "libvirt_domain_block_meta";

/// One sample of a family: labels in order, and the value.
pub type Sample = (Vec<(&'static str, String)>, Num);

/// Samples grouped by family, in the order families are written (sorted by name).
#[derive(Debug, Default)]
pub struct Families {
    families: BTreeMap<&'static str, (Kind, &'static str, Vec<Sample>)>,
}

impl Families {
    fn push(&mut self, family: &'static str, kind: Kind, help: &'static str, sample: Sample) {
        self.families
            .entry(family)
            .or_insert_with(|| (kind, help, Vec::new()))
            .2
            .push(sample);
    }

    /// The samples of `family` (tests).
    pub fn get(&self, family: &str) -> Option<&[Sample]> {
        self.families.get(family).map(|f| f.2.as_slice())
    }

    /// Writes every family.
    pub fn write(&self, w: &mut Writer) {
        for (name, (kind, help, samples)) in &self.families {
            w.family(name, *kind, help);
            for (labels, value) in samples {
                w.sample(name, labels, *value);
            }
        }
    }
}

fn raw(value: &TypedValue) -> Option<Num> {
    Some(match value {
        TypedValue::Int(v) => Num::I(i64::from(*v)),
        TypedValue::UInt(v) => Num::U(u64::from(*v)),
        TypedValue::LLong(v) => Num::I(*v),
        TypedValue::ULLong(v) => Num::U(*v),
        TypedValue::Double(v) => Num::F(*v),
        TypedValue::Bool(v) => Num::U(u64::from(*v)),
        TypedValue::String(_) => return None,
    })
}

fn scaled(n: Num, scale: Scale) -> Num {
    let f = |n: Num| match n {
        Num::U(v) => v as f64,
        Num::I(v) => v as f64,
        Num::F(v) => v,
    };
    match scale {
        Scale::One => n,
        Scale::KiB => match n {
            Num::U(v) => v
                .checked_mul(1024)
                .map_or(Num::F(v as f64 * 1024.0), Num::U),
            Num::I(v) => v
                .checked_mul(1024)
                .map_or(Num::F(v as f64 * 1024.0), Num::I),
            Num::F(v) => Num::F(v * 1024.0),
        },
        Scale::Nanos => Num::F(f(n) / 1e9),
    }
}

/// `group.N.rest` as (group, N, rest).
fn indexed(key: &str) -> Option<(&str, &str, &str)> {
    let (group, rest) = key.split_once('.')?;
    let (index, field) = rest.split_once('.')?;
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .then_some((group, index, field))
}

/// Adds one domain's record to `out`.
pub fn add_record(rec: &StatsRecord, out: &mut Families) {
    let name = rec.handle.name.clone();
    let uuid = rec.handle.uuid.to_string();
    // Device names and paths by index: they label the device's samples.
    let mut names: HashMap<(&str, &str), &str> = HashMap::new();
    let mut paths: Vec<(&str, &str)> = Vec::new();
    for p in &rec.params {
        if let (Some((group, index, field)), TypedValue::String(s)) = (indexed(&p.field), &p.value)
        {
            match (group, field) {
                ("block" | "net", "name") => {
                    names.insert((group, index), s.as_str());
                }
                ("block", "path") => paths.push((index, s.as_str())),
                _ => {}
            }
        }
    }
    let base = || vec![("domain", name.clone()), ("uuid", uuid.clone())];
    for (index, path) in paths {
        let dev = names.get(&("block", index)).copied().unwrap_or(index);
        let mut labels = base();
        labels.push(("target_device", dev.to_string()));
        labels.push(("source_file", path.to_string()));
        out.push(
            BLOCK_META,
            Kind::Gauge,
            "Block device metadata: target device and source file.",
            (labels, Num::U(1)),
        );
    }
    for p in &rec.params {
        let key = p.field.as_str();
        let Some(value) = raw(&p.value) else {
            let used = matches!(
                indexed(key),
                Some(("block" | "net", _, "name")) | Some(("block", _, "path"))
            );
            if !used {
                if let TypedValue::String(s) = &p.value {
                    let mut labels = base();
                    labels.push(("key", key.to_string()));
                    labels.push(("value", s.clone()));
                    out.push(
                        FALLBACK_INFO,
                        Kind::Gauge,
                        "A string-valued GetAllDomainStats key with no mapping, its value as a label.",
                        (labels, Num::U(1)),
                    );
                }
            }
            continue;
        };
        let mapped = match indexed(key) {
            Some((group, index, field)) => {
                let per = match group {
                    "vcpu" => Some(Per::Vcpu),
                    "block" => Some(Per::Block),
                    "net" => Some(Per::Net),
                    _ => None,
                };
                per.and_then(|per| MAPS.iter().find(|m| m.per == per && m.field == field))
                    .map(|m| {
                        let mut labels = base();
                        match m.per {
                            Per::Vcpu => labels.push(("vcpu", index.to_string())),
                            _ => {
                                let dev = names.get(&(group, index)).copied().unwrap_or(index);
                                labels.push(("target_device", dev.to_string()));
                            }
                        }
                        (m, labels)
                    })
            }
            None => MAPS
                .iter()
                .find(|m| m.per == Per::Domain && m.field == key)
                .map(|m| (m, base())),
        };
        match mapped {
            Some((m, labels)) => {
                out.push(m.family, m.kind, m.help, (labels, scaled(value, m.scale)))
            }
            None => {
                let mut labels = base();
                labels.push(("key", key.to_string()));
                out.push(
                    FALLBACK,
                    Kind::Gauge,
                    "A numeric GetAllDomainStats key with no mapping, raw value (key names it).",
                    (labels, value),
                );
            }
        }
    }
}

/// The mapping table as (libvirt key, metric, type, conversion) rows, for documentation and
/// tests; indexed keys are written `vcpu.N.time`.
pub fn table() -> Vec<(String, &'static str, &'static str, &'static str)> {
    MAPS.iter()
        .map(|m| {
            let key = match m.per {
                Per::Domain => m.field.to_string(),
                Per::Vcpu => format!("vcpu.N.{}", m.field),
                Per::Block => format!("block.N.{}", m.field),
                Per::Net => format!("net.N.{}", m.field),
            };
            let kind = if m.kind == Kind::Counter {
                "counter"
            } else {
                "gauge"
            };
            let conv = match m.scale {
                Scale::One => "",
                Scale::KiB => "KiB x 1024",
                Scale::Nanos => "ns / 1e9",
            };
            (key, m.family, kind, conv)
        })
        .collect()
}
