//! Guest RAM on the host, prepared before a start: where hugetlbfs is mounted (found as
//! libvirt finds it, from the mount table, each mount's page size from its `pagesize=`
//! option), the per-domain directory on it (`MOUNT/libvirt/qemu/ID-NAME`, or
//! `MOUNT/libvirt/qemu-embed-HASH/ID-NAME` for a daemon under `--root`, as libvirt's embedded
//! driver names it), the memory backing file of `<source type='file'/>`
//! (`STATE/qemu/ram/ID-NAME/pc.ram`), and whether enough huge pages are free.
//!
//! A definition asking for huge pages defines on any host, as in libvirt; its start fails
//! when no hugetlbfs of its page size is mounted (libvirt's words), and, before QEMU runs,
//! when fewer pages of that size are free than the guest needs (libvirt lets QEMU fail on
//! that with "Cannot allocate memory"; we name the pool instead). The preview
//! (domxml-to-native) resolves the same paths without touching anything or counting pages.

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::command::{hugepage_request, memory_backend, MemoryBackend, MemoryPlacement};

/// A mounted hugetlbfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HugeTlbMount {
    /// The mount point.
    pub dir: PathBuf,
    /// Its page size, KiB.
    pub page_kib: u64,
}

/// The host facts a placement needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostMemory {
    /// Every hugetlbfs mount.
    pub mounts: Vec<HugeTlbMount>,
    /// The kernel's default huge page size (`Hugepagesize` of /proc/meminfo), KiB.
    pub default_kib: Option<u64>,
}

impl HostMemory {
    /// This host's (`/proc/mounts`, `/proc/meminfo`).
    pub(crate) fn detect() -> HostMemory {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let default_kib = default_hugepage_kib(&meminfo);
        let mounts = std::fs::read_to_string("/proc/mounts")
            .map(|t| hugetlbfs_mounts(&t, default_kib))
            .unwrap_or_default();
        HostMemory {
            mounts,
            default_kib,
        }
    }
}

/// `Hugepagesize:` of a /proc/meminfo text, KiB.
pub(crate) fn default_hugepage_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Hugepagesize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A `pagesize=` value (`2M`, `1G`, `2048k`) in KiB.
fn page_size_kib(v: &str) -> Option<u64> {
    let (num, mul) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1),
        'm' | 'M' => (&v[..v.len() - 1], 1024),
        'g' | 'G' => (&v[..v.len() - 1], 1024 * 1024),
        _ => return v.parse::<u64>().ok().map(|b| b / 1024),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// The hugetlbfs mounts of a /proc/mounts text; a mount without `pagesize=` has the default
/// size.
pub(crate) fn hugetlbfs_mounts(mounts: &str, default_kib: Option<u64>) -> Vec<HugeTlbMount> {
    let mut out = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(dir), Some("hugetlbfs"), Some(opts)) = (f.get(1), f.get(2).copied(), f.get(3))
        else {
            continue;
        };
        let size = opts
            .split(',')
            .find_map(|o| o.strip_prefix("pagesize="))
            .and_then(page_size_kib)
            .or(default_kib);
        if let Some(page_kib) = size {
            out.push(HugeTlbMount {
                dir: PathBuf::from(dir.replace("\\040", " ")),
                page_kib,
            });
        }
    }
    out
}

fn internal(detail: String) -> VirtError {
    VirtError::new(ErrorCode::InternalError, ErrorDomain::Qemu, detail)
}

/// Where the RAM of `def`, running as `short` (`ID-NAME`), goes: `prefix` names this
/// daemon's dir on hugetlbfs (`qemu`, `qemu-embed-HASH`), `ram_dir` holds memory backing
/// files.
pub(crate) fn placement(
    def: &DomainDef,
    short: &str,
    prefix: &str,
    ram_dir: &Path,
    host: &HostMemory,
) -> Result<MemoryPlacement, VirtError> {
    let backend = memory_backend(def);
    let Some(requested) = hugepage_request(def) else {
        let mem_path = (backend == MemoryBackend::File).then(|| ram_dir.join(short).join("pc.ram"));
        return Ok(MemoryPlacement {
            mem_path,
            hugepage_kib: None,
        });
    };
    let kib = requested.or(host.default_kib).ok_or_else(|| {
        internal("this host has no default huge page size (no hugetlb support)".into())
    })?;
    if backend == MemoryBackend::Memfd {
        return Ok(MemoryPlacement {
            mem_path: None,
            hugepage_kib: Some(kib),
        });
    }
    if host.mounts.is_empty() {
        return Err(internal(
            "hugetlbfs filesystem is not mounted or disabled by administrator config".into(),
        ));
    }
    let mount = host
        .mounts
        .iter()
        .find(|m| m.page_kib == kib)
        .ok_or_else(|| {
            internal(format!(
                "Unable to find any usable hugetlbfs mount for {kib} KiB"
            ))
        })?;
    Ok(MemoryPlacement {
        mem_path: Some(mount.dir.join("libvirt").join(prefix).join(short)),
        hugepage_kib: Some(kib),
    })
}

/// Free pages of `kib` in the kernel's pool (`/sys/kernel/mm/hugepages`).
fn free_hugepages(kib: u64) -> Option<u64> {
    let path = format!("/sys/kernel/mm/hugepages/hugepages-{kib}kB/free_hugepages");
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Refuses a start whose huge pages the pool cannot give: `free` pages of `kib` against the
/// guest's `memory_kib`.
pub(crate) fn check_free_pages(
    name: &str,
    memory_kib: u64,
    kib: u64,
    free: Option<u64>,
) -> Result<(), VirtError> {
    let needed = memory_kib.div_ceil(kib.max(1));
    let free = free.unwrap_or(0);
    if free >= needed {
        return Ok(());
    }
    Err(internal(format!(
        "not enough free huge pages of {kib} KiB for domain '{name}': {free} free, {needed} \
         needed (reserve them in /sys/kernel/mm/hugepages/hugepages-{kib}kB/nr_hugepages)"
    )))
}

/// Makes what a start's `placement` needs: the huge page check against the pool, then the
/// domain's dir on hugetlbfs or for its backing file.
pub(crate) fn prepare(def: &DomainDef, placement: &MemoryPlacement) -> Result<(), VirtError> {
    if let Some(kib) = placement.hugepage_kib {
        check_free_pages(&def.name, def.memory_kib, kib, free_hugepages(kib))?;
    }
    let Some(path) = &placement.mem_path else {
        return Ok(());
    };
    let dir = if placement.hugepage_kib.is_some() {
        path.as_path()
    } else {
        path.parent().unwrap_or(path)
    };
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Qemu,
                format!(
                    "unable to create the memory backing path {}: {e}",
                    dir.display()
                ),
            )
        })
}

/// Removes the per-domain memory dir of a stopped guest (the live definition and its
/// private dir name tell which).
pub(crate) fn cleanup(placement: &MemoryPlacement) {
    let Some(path) = &placement.mem_path else {
        return;
    };
    let dir = if placement.hugepage_kib.is_some() {
        path.as_path()
    } else {
        path.parent().unwrap_or(path)
    };
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the guest's memory dir");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(backing: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>g</name><memory unit='MiB'>256</memory>\
             <memoryBacking>{backing}</memoryBacking><os><type>hvm</type></os></domain>"
        ))
        .expect("parses")
    }

    fn host() -> HostMemory {
        HostMemory {
            mounts: hugetlbfs_mounts(
                "proc /proc proc rw 0 0\n\
                 none /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n\
                 none /mnt/huge\\0401g hugetlbfs rw,pagesize=1024M 0 0\n",
                Some(2048),
            ),
            default_kib: Some(2048),
        }
    }

    #[test]
    fn hugetlbfs_mounts_and_the_default_size_are_read_as_libvirt_reads_them() {
        assert_eq!(
            host().mounts,
            [
                HugeTlbMount {
                    dir: "/dev/hugepages".into(),
                    page_kib: 2048
                },
                HugeTlbMount {
                    dir: "/mnt/huge 1g".into(),
                    page_kib: 1024 * 1024
                }
            ]
        );
        assert_eq!(
            default_hugepage_kib("MemFree: 1 kB\nHugepagesize:       2048 kB\n"),
            Some(2048)
        );
        assert_eq!(default_hugepage_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn each_backing_gets_its_path() {
        let ram = Path::new("/var/lib/virt/qemu/ram");
        let p = |b: &str, h: &HostMemory| placement(&def(b), "3-g", "qemu", ram, h);
        let huge = p("<hugepages/>", &host()).expect("mounted");
        assert_eq!(
            huge.mem_path.as_deref(),
            Some(Path::new("/dev/hugepages/libvirt/qemu/3-g"))
        );
        assert_eq!(huge.hugepage_kib, Some(2048));
        let gig = p("<hugepages><page size='1' unit='G'/></hugepages>", &host()).expect("1G");
        assert_eq!(
            gig.mem_path.as_deref(),
            Some(Path::new("/mnt/huge 1g/libvirt/qemu/3-g"))
        );
        let file = p("<source type='file'/>", &host()).expect("file");
        assert_eq!(
            file.mem_path.as_deref(),
            Some(Path::new("/var/lib/virt/qemu/ram/3-g/pc.ram"))
        );
        let memfd = p("<hugepages/><source type='memfd'/>", &HostMemory::default());
        let memfd = memfd.expect_err("no default size known");
        assert!(memfd.detail.contains("default huge page size"));
        let plain = p("", &host()).expect("ram");
        assert_eq!(plain, MemoryPlacement::default());
    }

    #[test]
    fn missing_hugetlbfs_is_libvirts_error_at_start() {
        let ram = Path::new("/r");
        let none = HostMemory {
            mounts: Vec::new(),
            default_kib: Some(2048),
        };
        let e = placement(&def("<hugepages/>"), "1-g", "qemu", ram, &none).expect_err("none");
        assert_eq!(
            e.detail,
            "hugetlbfs filesystem is not mounted or disabled by administrator config"
        );
        let only_2m = HostMemory {
            mounts: vec![HugeTlbMount {
                dir: "/h".into(),
                page_kib: 2048,
            }],
            default_kib: Some(2048),
        };
        let e = placement(
            &def("<hugepages><page size='1048576'/></hugepages>"),
            "1-g",
            "qemu",
            ram,
            &only_2m,
        )
        .expect_err("no 1G mount");
        assert_eq!(
            e.detail,
            "Unable to find any usable hugetlbfs mount for 1048576 KiB"
        );
    }

    #[test]
    fn too_few_free_pages_names_the_pool() {
        check_free_pages("g", 262_144, 2048, Some(128)).expect("exactly enough");
        let e = check_free_pages("g", 262_144, 2048, Some(3)).expect_err("short");
        assert!(e.detail.contains("3 free, 128 needed"), "{}", e.detail);
        assert!(e.detail.contains("hugepages-2048kB"));
        assert!(check_free_pages("g", 1, 2048, None).is_err());
    }
}
