//! xl's `vnuma`: a list of guest NUMA nodes, each a list of `pnode=N`, `size=MiB`,
//! `vcpus=LIST` and `vdistances=D,D,...`, as `<cpu><numa>` cells.
//!
//! libvirt keeps neither the physical node nor a `maxmem` beside the nodes (the memory size
//! becomes their sum), and its `<cpu>` for the nodes replaces the one of `nestedhvm` or
//! `cpuid`; so a `pnode` other than the node's own index, sizes that do not add up to the
//! memory, and `vnuma` with `nestedhvm` or `cpuid` are refused.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::cfg::Value;
use super::from_native::Cfg;

/// One guest node.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// vCPU list.
    pub cpus: String,
    /// Size in KiB.
    pub kib: u64,
    /// Distances to every node, in node order.
    pub distances: Vec<u32>,
}

fn cpu_count(list: &str) -> Option<u64> {
    let mut n = 0;
    for r in list.split(',') {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
        if b < a || b >= 4096 {
            return None;
        }
        n += b - a + 1;
    }
    Some(n)
}

/// A CPU list as libvirt prints a bitmap: sorted, consecutive numbers as ranges (`4,5` is
/// `4-5`).
fn canonical(list: &str) -> String {
    let mut ids: Vec<u64> = Vec::new();
    for r in list.split(',') {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
            ids.extend(a..=b);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        while i + 1 < ids.len() && ids[i + 1] == ids[i] + 1 {
            i += 1;
        }
        out.push(if ids[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", ids[i])
        });
        i += 1;
    }
    out.join(",")
}

fn node(i: usize, count: usize, items: &[Value]) -> Result<Node, String> {
    let (mut pnode, mut n) = (None, Node::default());
    for it in items {
        let s = it.as_str().ok_or("node items must be strings")?;
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))?;
        match k {
            "pnode" => pnode = v.parse::<usize>().ok(),
            "size" => {
                n.kib = v
                    .parse::<u64>()
                    .ok()
                    .filter(|m| (1..1 << 40).contains(m))
                    .ok_or_else(|| format!("size '{v}'"))?
                    * 1024
            }
            "vcpus" => {
                cpu_count(v).ok_or_else(|| format!("vcpus '{v}'"))?;
                n.cpus = canonical(v);
            }
            "vdistances" => {
                n.distances = v
                    .split(',')
                    .map(|d| d.parse::<u32>().map_err(|_| format!("vdistances '{v}'")))
                    .collect::<Result<_, _>>()?;
                if n.distances.len() != count {
                    return Err(format!("vdistances '{v}' must name {count} distances"));
                }
            }
            _ => return Err(format!("'{k}' is not supported")),
        }
    }
    if pnode != Some(i) {
        return Err(format!(
            "node {i} needs 'pnode={i}' (libvirt keeps no other)"
        ));
    }
    if n.kib == 0 || n.cpus.is_empty() {
        return Err(format!("node {i} needs 'size' and 'vcpus'"));
    }
    // libvirt writes default distances back for a node without them.
    if n.distances.is_empty() {
        return Err(format!(
            "node {i} needs 'vdistances' (libvirt would add defaults)"
        ));
    }
    Ok(n)
}

/// The `<cpu><numa>` of `c`'s `vnuma`, checked against the memory size `total_kib` and the
/// vCPU count `maxvcpus`.
pub(crate) fn from_native(
    c: &Cfg,
    total_kib: u64,
    maxvcpus: u64,
    x: &mut String,
) -> Result<(), VirtError> {
    let Some(v) = c.value("vnuma") else {
        return Ok(());
    };
    let bad = |why: String| c.refuse("vnuma", why);
    for k in ["nestedhvm", "cpuid"] {
        if c.has(k) {
            return Err(bad(format!(
                "with '{k}' is not supported (libvirt keeps one <cpu>)"
            )));
        }
    }
    let Value::List(nodes) = v else {
        return Err(bad("expected a list of lists".into()));
    };
    let mut cells = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let Value::List(items) = n else {
            return Err(bad("expected a list of lists".into()));
        };
        cells.push(node(i, nodes.len(), items).map_err(bad)?);
    }
    if cells.is_empty() {
        return Err(bad("an empty list is not supported".into()));
    }
    let sum: u64 = cells.iter().map(|n| n.kib).sum();
    if sum != total_kib {
        return Err(bad(format!(
            "the nodes' {sum} KiB differ from the memory size, {total_kib} KiB"
        )));
    }
    let cpus: u64 = cells.iter().filter_map(|n| cpu_count(&n.cpus)).sum();
    if cpus > maxvcpus {
        return Err(bad(format!(
            "{cpus} vCPUs in the nodes, more than {maxvcpus}"
        )));
    }
    x.push_str("  <cpu>\n    <numa>\n");
    for (i, n) in cells.iter().enumerate() {
        let _ = write!(
            x,
            "      <cell id='{i}' cpus='{}' memory='{}' unit='KiB'",
            n.cpus, n.kib
        );
        if n.distances.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n        <distances>\n");
        for (j, d) in n.distances.iter().enumerate() {
            let _ = writeln!(x, "          <sibling id='{j}' value='{d}'/>");
        }
        x.push_str("        </distances>\n      </cell>\n");
    }
    x.push_str("    </numa>\n  </cpu>\n");
    Ok(())
}

/// The `vnuma` value of `nodes`, as libvirt writes it.
pub(crate) fn native(nodes: &[Node]) -> Value {
    let s = |x: String| Value::Str(x);
    Value::List(
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut items = vec![
                    s(format!("pnode={i}")),
                    s(format!("size={}", n.kib / 1024)),
                    s(format!("vcpus={}", n.cpus)),
                ];
                if !n.distances.is_empty() {
                    let d: Vec<String> = n.distances.iter().map(u32::to_string).collect();
                    items.push(s(format!("vdistances={}", d.join(","))));
                }
                Value::List(items)
            })
            .collect(),
    )
}
