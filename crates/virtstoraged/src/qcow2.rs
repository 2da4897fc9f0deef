//! qcow2 images without qemu-img: writing an empty image (header, refcount table and block,
//! L1 table) and reading the facts a pool refresh needs from the first bytes of a file.
//!
//! `qemu-img create` costs a process start and QEMU's block layer initialisation for what is a
//! few hundred bytes of metadata, so images are written here (checked against `qemu-img check`
//! and `qemu-img info` in tests/tests/virtstoraged.rs). The layout is the one qemu-img itself
//! writes for a fresh version-3 image with 64 KiB clusters: header in cluster 0, the refcount
//! table in cluster 1, its one refcount block in cluster 2, the L1 table from cluster 3.

use std::io::Write;

const MAGIC: u32 = 0x5146_49fb;
const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
/// Header extension: the backing file's format.
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// Version-3 header length without the compression-type field.
const HEADER_LEN: u32 = 104;

/// What a probe of a file's first bytes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `qcow2` or `raw`.
    pub format: &'static str,
    /// Virtual size for qcow2.
    pub virtual_size: Option<u64>,
    /// Backing file name and format, for qcow2.
    pub backing: Option<(String, Option<String>)>,
    /// Cluster size in bytes, for qcow2.
    pub cluster_size: Option<u64>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Probes `head`, the first bytes of a file (1 KiB is enough for images this crate writes and
/// for qemu-img's own; a backing name beyond them is left unread).
pub fn probe(head: &[u8]) -> Probe {
    let raw = Probe {
        format: "raw",
        virtual_size: None,
        backing: None,
        cluster_size: None,
    };
    if be32(head, 0) != Some(MAGIC) {
        return raw;
    }
    let version = be32(head, 4).unwrap_or(0);
    let size = be64(head, 24);
    let boff = be64(head, 8).unwrap_or(0) as usize;
    let blen = be32(head, 16).unwrap_or(0) as usize;
    let mut backing = None;
    if boff > 0 && blen > 0 {
        if let Some(name) = head.get(boff..boff + blen) {
            let mut format = None;
            let hlen = if version >= 3 {
                be32(head, 100).unwrap_or(HEADER_LEN) as usize
            } else {
                72
            };
            let mut at = hlen;
            while let (Some(ty), Some(len)) = (be32(head, at), be32(head, at + 4)) {
                if ty == 0 {
                    break;
                }
                let len = len as usize;
                if ty == EXT_BACKING_FORMAT {
                    format = head
                        .get(at + 8..at + 8 + len)
                        .map(|b| String::from_utf8_lossy(b).into_owned());
                }
                at += 8 + len.div_ceil(8) * 8;
            }
            backing = Some((String::from_utf8_lossy(name).into_owned(), format));
        }
    }
    Probe {
        format: "qcow2",
        virtual_size: size,
        backing,
        cluster_size: be32(head, 20)
            .filter(|b| (9..=21).contains(b))
            .map(|b| 1u64 << b),
    }
}

/// The bytes of an empty version-3 qcow2 image of `size` bytes, optionally over a backing
/// file (`name`, `format`).
pub fn empty_image(size: u64, backing: Option<(&str, Option<&str>)>) -> Vec<u8> {
    let l2_entries = CLUSTER / 8;
    let l1_size = size.div_ceil(CLUSTER * l2_entries).max(1);
    let l1_clusters = (l1_size * 8).div_ceil(CLUSTER);
    let total_clusters = 3 + l1_clusters;
    let mut img = vec![0u8; (total_clusters * CLUSTER) as usize];
    let put32 =
        |img: &mut Vec<u8>, at: usize, v: u32| img[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let put64 =
        |img: &mut Vec<u8>, at: usize, v: u64| img[at..at + 8].copy_from_slice(&v.to_be_bytes());
    put32(&mut img, 0, MAGIC);
    put32(&mut img, 4, 3);
    put32(&mut img, 20, CLUSTER_BITS);
    put64(&mut img, 24, size);
    put32(&mut img, 32, 0); // no encryption
    put32(&mut img, 36, l1_size as u32);
    put64(&mut img, 40, 3 * CLUSTER); // L1 table
    put64(&mut img, 48, CLUSTER); // refcount table
    put32(&mut img, 56, 1); // refcount table clusters
    put32(&mut img, 96, 4); // refcount order: 16-bit refcounts
    put32(&mut img, 100, HEADER_LEN);
    let mut at = HEADER_LEN as usize;
    if let Some((name, format)) = backing {
        if let Some(f) = format {
            put32(&mut img, at, EXT_BACKING_FORMAT);
            put32(&mut img, at + 4, f.len() as u32);
            img[at + 8..at + 8 + f.len()].copy_from_slice(f.as_bytes());
            at += 8 + f.len().div_ceil(8) * 8;
        }
        at += 8; // end-of-extensions marker (zeros)
        put64(&mut img, 8, at as u64);
        put32(&mut img, 16, name.len() as u32);
        img[at..at + name.len()].copy_from_slice(name.as_bytes());
    }
    // Refcount table entry 0 points at the refcount block in cluster 2.
    put64(&mut img, CLUSTER as usize, 2 * CLUSTER);
    for c in 0..total_clusters as usize {
        let at = 2 * CLUSTER as usize + 2 * c;
        img[at..at + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    img
}

/// Writes an empty image to `w`.
pub fn write_empty(
    w: &mut impl Write,
    size: u64,
    backing: Option<(&str, Option<&str>)>,
) -> std::io::Result<()> {
    w.write_all(&empty_image(size, backing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_image_probes_back_with_size_and_backing() {
        let img = empty_image(10 << 30, Some(("/p/base.img", Some("raw"))));
        assert_eq!(img.len() as u64, 4 * CLUSTER);
        let p = probe(&img[..1024]);
        assert_eq!(p.format, "qcow2");
        assert_eq!(p.virtual_size, Some(10 << 30));
        assert_eq!(
            p.backing,
            Some(("/p/base.img".to_string(), Some("raw".to_string())))
        );
        assert_eq!(probe(b"hello").format, "raw");
    }
}
