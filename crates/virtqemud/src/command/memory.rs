//! Guest RAM on the command line: `-m`, the `pc.ram` memory backend object and
//! `-overcommit`, as libvirt 9.0 writes them for a guest without NUMA cells.
//!
//! The backend follows `<memoryBacking>`:
//!
//! | `<memoryBacking>` | backend | properties |
//! |---|---|---|
//! | `<source type='memfd'/>` | `memory-backend-memfd` | `hugetlb`/`hugetlbsize` with hugepages |
//! | `<hugepages/>`, `<source type='file'/>`, or an `<access mode>` without memfd | `memory-backend-file` | `mem-path`: a hugetlbfs dir, else a file in the memory backing dir |
//! | nothing of those | `memory-backend-ram` | |
//!
//! then, in this order: `discard-data` (`<discard/>`, file backends only), `share`
//! (`<access mode>`), `x-use-canonical-path-for-ramblock-id=false` (file and memfd: keeps the
//! RAM block named `pc.ram`, as migration expects), `prealloc` (hugepages, or
//! `<allocation mode='immediate'/>`), `prealloc-threads`, `size`. `<nosharepages/>` is
//! `mem-merge=off` on `-machine` ([`mem_merge`]). Where hugetlbfs is mounted and where the
//! backing files go is the launch preparation's business ([`crate::memory`]): it hands the
//! results over in [`MemoryPlacement`].

use std::path::PathBuf;

use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::json::Json;
use super::{Builder, Family};

/// Where a start puts the guest's RAM on the host, prepared before [`super::build`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryPlacement {
    /// `mem-path` of a file backend: the domain's dir on hugetlbfs, or its `pc.ram` file in
    /// the memory backing dir.
    pub mem_path: Option<PathBuf>,
    /// The huge page size in KiB of a hugepage-backed guest (the definition's, or the host's
    /// default).
    pub hugepage_kib: Option<u64>,
}

/// Which memory backend object a definition's RAM gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `memory-backend-ram`: anonymous private memory.
    Ram,
    /// `memory-backend-file`: a file on hugetlbfs or in the memory backing dir.
    File,
    /// `memory-backend-memfd`: an anonymous memory file.
    Memfd,
}

/// The backend `def`'s `<memoryBacking>` asks for.
pub(crate) fn backend(def: &DomainDef) -> Backend {
    let m = &def.memory_backing;
    if m.source_type.as_deref() == Some("memfd") {
        Backend::Memfd
    } else if m.hugepages || m.source_type.as_deref() == Some("file") || m.access_mode.is_some() {
        Backend::File
    } else {
        Backend::Ram
    }
}

/// The huge page size `def` names for its RAM (KiB), `Some(None)` for the host's default
/// size, `None` without hugepages.
pub(crate) fn hugepage_request(def: &DomainDef) -> Option<Option<u64>> {
    let m = &def.memory_backing;
    m.hugepages.then(|| {
        m.pages
            .iter()
            .find(|p| p.nodeset.is_none())
            .map(|p| p.size_kib)
    })
}

/// `,mem-merge=off` for `-machine` when `<nosharepages/>` keeps KSM away from the guest.
pub(crate) fn mem_merge(def: &DomainDef) -> &'static str {
    if def.memory_backing.nosharepages {
        ",mem-merge=off"
    } else {
        ""
    }
}

/// `-m`, the `pc.ram` object (PC machines) and `-overcommit`.
pub(super) fn args(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let def = b.def;
    // libvirt writes whole MiB unless memory hot-plug needs the long form; a size that is
    // not a whole number of MiB keeps the exact KiB form (libvirt rounds it up at start).
    let m = match (def.max_memory_kib, def.memory_slots) {
        (Some(max), Some(slots)) => {
            format!("size={}k,slots={slots},maxmem={max}k", def.memory_kib)
        }
        _ if def.memory_kib.is_multiple_of(1024) => (def.memory_kib / 1024).to_string(),
        _ => format!("size={}k", def.memory_kib),
    };
    b.arg("-m", m);
    if b.family != Family::Other {
        let object = backend_object(def, &b.ctx.memory)?;
        b.json("-object", object);
    }
    let locked = def.memory_backing.locked;
    b.arg(
        "-overcommit",
        if locked {
            "mem-lock=on"
        } else {
            "mem-lock=off"
        },
    );
    Ok(())
}

/// `<numatune><memory>`'s binding of guest RAM, as libvirt puts it on the backend: the
/// nodeset as `host-nodes` and the mode as `policy` (strict is `bind`). `restrictive` binds
/// nothing here: it is only the cpuset group's `cpuset.mems` (live/numa.rs), as in libvirt.
pub(crate) fn host_nodes(def: &DomainDef) -> Option<(Vec<u64>, &'static str)> {
    let n = def.numatune.as_ref()?;
    let policy = match n.mode.as_str() {
        "strict" => "bind",
        "preferred" => "preferred",
        "interleave" => "interleave",
        _ => return None,
    };
    let set = virt_core::kit::tune::parse_bitmap(
        n.nodeset.as_deref()?,
        virt_core::kit::tune::CPUMASK_LEN,
    )
    .ok()?;
    Some((set.into_iter().map(u64::from).collect(), policy))
}

/// The `pc.ram` backend object of `def`, with the host paths of `placement`.
pub(crate) fn backend_object(
    def: &DomainDef,
    placement: &MemoryPlacement,
) -> Result<Json, VirtError> {
    let m = &def.memory_backing;
    let kind = backend(def);
    let huge = hugepage_request(def).is_some();
    let qom = match kind {
        Backend::Ram => "memory-backend-ram",
        Backend::File => "memory-backend-file",
        Backend::Memfd => "memory-backend-memfd",
    };
    let mut j = Json::obj([("qom-type", Json::str(qom)), ("id", Json::str("pc.ram"))]);
    match kind {
        Backend::File => {
            let path = placement.mem_path.as_ref().ok_or_else(|| {
                super::unsupported("the memory backing path of this guest was not prepared")
            })?;
            j.set("mem-path", Json::str(path.to_string_lossy()));
        }
        Backend::Memfd if huge => {
            let kib = placement.hugepage_kib.ok_or_else(|| {
                super::unsupported("the huge page size of this guest was not prepared")
            })?;
            j.set("hugetlb", Json::Bool(true));
            j.set("hugetlbsize", Json::Num(kib.saturating_mul(1024)));
        }
        _ => {}
    }
    if m.discard && kind == Backend::File {
        j.set("discard-data", Json::Bool(true));
    }
    if let Some(mode) = &m.access_mode {
        j.set("share", Json::Bool(mode == "shared"));
    }
    if kind != Backend::Ram {
        j.set("x-use-canonical-path-for-ramblock-id", Json::Bool(false));
    }
    if huge || m.allocation_mode.as_deref() == Some("immediate") {
        j.set("prealloc", Json::Bool(true));
        if let Some(t) = m.allocation_threads {
            j.set("prealloc-threads", Json::Num(t.into()));
        }
    }
    j.set("size", Json::Num(def.memory_kib.saturating_mul(1024)));
    if let Some((nodes, policy)) = host_nodes(def) {
        j.set(
            "host-nodes",
            Json::Arr(nodes.into_iter().map(Json::Num).collect()),
        );
        j.set("policy", Json::str(policy));
    }
    Ok(j)
}
