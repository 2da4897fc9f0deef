//! CPU models and host memory for virtqemud (issue 15, cpu helper): the CPU comparison against
//! what the probed QEMU offers a guest, free and allocated huge pages from sysfs, and the
//! kernel's shared memory (KSM) tunables, as libvirt's QEMU driver reads and writes them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::cpu_map::{self, tags, FeatureMap};
use virt_core::types::{TypedParam, TypedValue};
use virt_core::VirtError;

use crate::probe::QemuCaps;

/// virCPUCompareResult.
pub const INCOMPATIBLE: i32 = 0;
/// virCPUCompareResult.
pub const IDENTICAL: i32 = 1;
/// virCPUCompareResult.
pub const SUPERSET: i32 = 2;

/// One name for a CPU feature whatever its spelling: libvirt's name (through the map's QEMU
/// aliases) with `_` and `.` as `-`, lower case.
fn key(fmap: &FeatureMap, name: &str) -> String {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let n = norm(name);
    for (canon, aliases) in &fmap.features {
        if norm(canon) == n || aliases.iter().any(|a| norm(a) == n) {
            return norm(canon);
        }
    }
    n
}

/// virConnectCompareHypervisorCPU against the CPU `caps` gives a `virt_type` guest: its
/// host-model expansion (`host` under KVM, `max` under TCG). A CPU of that model, or of mode
/// host-model / host-passthrough / maximum, is identical unless it disables a feature the host
/// has; another model is a subset when QEMU can run it (no unavailable features that the
/// definition does not disable) and every feature it requires is the host's.
pub fn compare(
    caps: &QemuCaps,
    virt_type: &str,
    fmap: &FeatureMap,
    xml: &str,
    fail_incompatible: bool,
) -> Result<i32, VirtError> {
    let host = caps.host_model(virt_type).ok_or_else(|| {
        VirtError::new(
            ErrorCode::OperationUnsupported,
            ErrorDomain::Qemu,
            format!(
                "QEMU '{}' does not support reporting CPU model for virttype '{virt_type}'",
                caps.binary.display()
            ),
        )
    })?;
    let host_on: BTreeSet<String> = host
        .features
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| key(fmap, f))
        .collect();
    let mode = tags(xml)
        .into_iter()
        .find(|t| t.name == "cpu" && !t.close)
        .and_then(|t| t.attr("mode").map(str::to_string))
        .unwrap_or_else(|| "custom".into());
    if matches!(mode.as_str(), "host-model" | "host-passthrough" | "maximum") {
        return Ok(IDENTICAL);
    }
    let def = cpu_map::parse_cpu(xml);
    let Some(model) = def.model.clone() else {
        return Err(VirtError::new(
            ErrorCode::XmlError,
            ErrorDomain::Cpu,
            "Missing CPU model name",
        ));
    };
    let disabled: BTreeSet<String> = def
        .features
        .iter()
        .filter(|(p, _)| p == "disable" || p == "forbid")
        .map(|(_, f)| key(fmap, f))
        .collect();
    let is_host = model == host.model || model == "host" || model == "max";
    let mut missing: Vec<String> = Vec::new();
    if !is_host {
        let known = caps
            .cpu_models(virt_type)
            .iter()
            .find(|c| c.name == model)
            .ok_or_else(|| {
                VirtError::internal(ErrorDomain::Cpu, format!("Unknown CPU model {model}"))
            })?;
        for f in &known.unavailable_features {
            if !disabled.contains(&key(fmap, f)) {
                missing.push(f.clone());
            }
        }
    }
    let mut forbidden = Vec::new();
    for (policy, f) in &def.features {
        let k = key(fmap, f);
        match policy.as_str() {
            "" | "require" | "force" if !host_on.contains(&k) => missing.push(f.clone()),
            "forbid" if host_on.contains(&k) => forbidden.push(f.clone()),
            _ => {}
        }
    }
    let reason = if !forbidden.is_empty() {
        Some(format!(
            "Host CPU provides forbidden features: {}",
            forbidden.join(", ")
        ))
    } else if !missing.is_empty() {
        Some(format!(
            "Host CPU does not provide required features: {}",
            missing.join(", ")
        ))
    } else {
        None
    };
    if let Some(reason) = reason {
        if fail_incompatible {
            return Err(VirtError::new(
                ErrorCode::CpuIncompatible,
                ErrorDomain::Cpu,
                reason,
            ));
        }
        return Ok(INCOMPATIBLE);
    }
    if is_host && disabled.iter().all(|d| !host_on.contains(d)) {
        Ok(IDENTICAL)
    } else {
        Ok(SUPERSET)
    }
}

// ---------------------------------------------------------------------------------------
// Huge pages.

const NODE_DIR: &str = "/sys/devices/system/node";
const HUGEPAGES_DIR: &str = "/sys/kernel/mm/hugepages";

/// The highest NUMA node (0 without NUMA), as virNumaGetMaxNode.
pub fn last_cell() -> i32 {
    std::fs::read_to_string(format!("{NODE_DIR}/online"))
        .map(|t| virt_core::hostinfo::parse_list(&t))
        .ok()
        .and_then(|l| l.into_iter().max())
        .map_or(0, |n| n as i32)
}

fn system_page_kib() -> u32 {
    (nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096)
        / 1024) as u32
}

/// The page sizes of the host in KiB, as libvirt's capabilities list them: the system page,
/// then each huge page size the kernel offers, ascending.
pub fn page_sizes_kib() -> Vec<u64> {
    let mut huge: Vec<u64> = std::fs::read_dir(HUGEPAGES_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    huge.sort_unstable();
    let mut sizes = vec![u64::from(system_page_kib())];
    sizes.extend(huge);
    sizes
}

/// The sysfs directory of `size` KiB huge pages of `cell` (-1: the host's pool).
fn pool_dir(cell: i32, size: u32) -> PathBuf {
    let base = if cell < 0 {
        PathBuf::from(HUGEPAGES_DIR)
    } else {
        Path::new(NODE_DIR).join(format!("node{cell}/hugepages"))
    };
    base.join(format!("hugepages-{size}kB"))
}

fn not_available(cell: i32, size: u32) -> VirtError {
    let detail = if cell < 0 {
        format!("page size {size} is not available")
    } else {
        format!("page size {size} is not available on node {cell}")
    };
    VirtError::new(ErrorCode::OperationFailed, ErrorDomain::None, detail)
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Free pages of `size` KiB in `cell` (virNumaGetPageInfo): for the system page size the
/// free memory over the page size, else the pool's `free_hugepages`.
fn page_free(cell: i32, size: u32) -> Result<u64, VirtError> {
    if size == system_page_kib() {
        let free = if cell < 0 {
            virt_core::hostinfo::free_memory()?
        } else {
            virt_core::hostinfo::cells_free_memory(cell, 1)?
                .first()
                .copied()
                .unwrap_or(0)
        };
        return Ok(free / (u64::from(size) * 1024));
    }
    read_u64(&pool_dir(cell, size).join("free_hugepages")).ok_or_else(|| not_available(cell, size))
}

/// virNodeGetFreePages (virHostMemGetFreePages).
pub fn free_pages(pages: &[u32], start: i32, count: u32) -> Result<Vec<u64>, VirtError> {
    let last = last_cell();
    if start > last {
        return Err(VirtError::internal(
            ErrorDomain::None,
            format!("start cell {start} out of range (0-{last})"),
        ));
    }
    let end = last.min(start + count as i32 - 1);
    let mut out = Vec::new();
    for cell in start..=end {
        for &size in pages {
            out.push(page_free(cell, size)?);
        }
    }
    if out.is_empty() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::None,
            "no suitable info found",
        ));
    }
    Ok(out)
}

/// virNodeAllocPages (virHostMemAllocPages): sets (or with `add` grows) each pool through
/// its `nr_hugepages`, then checks the kernel gave that many.
pub fn alloc_pages(
    sizes: &[u32],
    counts: &[u64],
    start: i32,
    count: u32,
    add: bool,
) -> Result<i32, VirtError> {
    let last = last_cell();
    if start > last {
        return Err(VirtError::internal(
            ErrorDomain::None,
            format!("start cell {start} out of range (0-{last})"),
        ));
    }
    let end = last.min(start + count as i32 - 1);
    let mut done = 0;
    for cell in start..=end {
        for (&size, &want) in sizes.iter().zip(counts) {
            if size == system_page_kib() {
                return Err(VirtError::new(
                    ErrorCode::OperationInvalid,
                    ErrorDomain::None,
                    "system pages pool can't be modified",
                ));
            }
            let path = pool_dir(cell, size).join("nr_hugepages");
            let now = read_u64(&path).ok_or_else(|| not_available(cell, size))?;
            let target = if add { now + want } else { want };
            std::fs::write(&path, target.to_string()).map_err(|e| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::None,
                    format!("Unable to write to: {}: {e}", path.display()),
                )
            })?;
            let got = read_u64(&path).unwrap_or(0);
            if got != target {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::None,
                    format!("Unable to allocate {target} pages. Allocated only {got}"),
                ));
            }
            done += 1;
        }
    }
    Ok(done)
}

// ---------------------------------------------------------------------------------------
// KSM.

const KSM_DIR: &str = "/sys/kernel/mm/ksm";

/// The tunables libvirt reads, in its order: (sysfs file, typed as UINT rather than ULLONG).
const KSM_FIELDS: [(&str, bool); 8] = [
    ("pages_to_scan", true),
    ("sleep_millisecs", true),
    ("pages_shared", false),
    ("pages_sharing", false),
    ("pages_unshared", false),
    ("pages_volatile", false),
    ("full_scans", false),
    ("merge_across_nodes", true),
];

/// virNodeGetMemoryParameters (virHostMemGetParameters) from `dir`: each file there as
/// `shm_NAME`; merge_across_nodes only where the kernel has it.
pub fn ksm_parameters(dir: &Path) -> Result<Vec<TypedParam>, VirtError> {
    let mut out = Vec::new();
    for (name, uint) in KSM_FIELDS {
        let path = dir.join(name);
        if name == "merge_across_nodes" && !path.exists() {
            continue;
        }
        let v = read_u64(&path).ok_or_else(|| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::None,
                format!("unable to read {}", path.display()),
            )
        })?;
        let value = if uint {
            TypedValue::UInt(v as u32)
        } else {
            TypedValue::ULLong(v)
        };
        out.push(TypedParam::new(format!("shm_{name}"), value));
    }
    Ok(out)
}

/// The host's KSM parameters.
pub fn node_memory_parameters() -> Result<Vec<TypedParam>, VirtError> {
    ksm_parameters(Path::new(KSM_DIR))
}

/// virNodeSetMemoryParameters (virHostMemSetParameters) into `dir`: the three tunables, UINT.
pub fn set_ksm_parameters(dir: &Path, params: &[TypedParam]) -> Result<(), VirtError> {
    let settable = [
        "shm_pages_to_scan",
        "shm_sleep_millisecs",
        "shm_merge_across_nodes",
    ];
    for p in params {
        if !settable.contains(&p.field.as_str()) {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::None,
                format!(
                    "argument unsupported: parameter '{}' not supported",
                    p.field
                ),
            ));
        }
        let TypedValue::UInt(_) = p.value else {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::None,
                format!("invalid type for parameter '{}'", p.field),
            ));
        };
        let file = dir.join(p.field.trim_start_matches("shm_"));
        if !file.exists() {
            return Err(VirtError::new(
                ErrorCode::ArgumentUnsupported,
                ErrorDomain::None,
                format!("Parameter '{}' is not supported by this kernel", p.field),
            ));
        }
    }
    for p in params {
        let TypedValue::UInt(v) = p.value else {
            continue;
        };
        let file = dir.join(p.field.trim_start_matches("shm_"));
        std::fs::write(&file, v.to_string()).map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::None,
                format!("Unable to write to: {}: {e}", file.display()),
            )
        })?;
    }
    Ok(())
}

/// The host's KSM parameters, changed.
pub fn set_node_memory_parameters(params: &[TypedParam]) -> Result<(), VirtError> {
    set_ksm_parameters(Path::new(KSM_DIR), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksm_parameters_in_libvirts_order_and_types() {
        let d = tempfile::tempdir().expect("tempdir");
        for (i, (name, _)) in KSM_FIELDS.iter().enumerate() {
            if *name != "merge_across_nodes" {
                std::fs::write(d.path().join(name), format!("{}\n", i + 1)).expect("write");
            }
        }
        let ps = ksm_parameters(d.path()).expect("read");
        assert_eq!(ps.len(), 7);
        assert_eq!(ps[0].field, "shm_pages_to_scan");
        assert_eq!(ps[0].value, TypedValue::UInt(1));
        assert_eq!(ps[6].field, "shm_full_scans");
        assert_eq!(ps[6].value, TypedValue::ULLong(7));
        let set = [TypedParam::new("shm_sleep_millisecs", TypedValue::UInt(40))];
        set_ksm_parameters(d.path(), &set).expect("set");
        assert_eq!(
            ksm_parameters(d.path()).expect("read")[1].value,
            TypedValue::UInt(40)
        );
        let merge = [TypedParam::new(
            "shm_merge_across_nodes",
            TypedValue::UInt(0),
        )];
        assert_eq!(
            set_ksm_parameters(d.path(), &merge)
                .expect_err("absent")
                .message(),
            "argument unsupported: Parameter 'shm_merge_across_nodes' is not supported by this kernel"
        );
    }
}
