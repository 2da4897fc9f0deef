//! `virt freepages [--cellno N] [--pagesize SIZE] [--all]`: free pages of one size in one NUMA
//! cell, or of every page size in every cell the capabilities list.

use virt_client::Connection;
use virt_core::kit::cpu_map::tags;

use super::cpu_xml::{scaled_kib, signed};
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `freepages`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NUMA cell number.
    #[arg(long, allow_hyphen_values = true)]
    pub cellno: Option<String>,
    /// Page size (in kibibytes).
    #[arg(long, allow_hyphen_values = true)]
    pub pagesize: Option<String>,
    /// Show free pages for all NUMA cells.
    #[arg(long)]
    pub all: bool,
}

/// The capabilities' facts freepages and allocpages use: the host CPU's page sizes (or, when
/// it lists none, the cells' ones) and the cells' ids, as text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CapsPages {
    /// `/capabilities/host/cpu/pages/@size`.
    pub cpu_sizes: Vec<String>,
    /// `/capabilities/host/topology/cells/cell/pages/@size`.
    pub cell_sizes: Vec<String>,
    /// `/capabilities/host/topology/cells/cell/@id`.
    pub cell_ids: Vec<String>,
}

/// Reads [`CapsPages`] from capabilities XML.
pub fn caps_pages(caps: &str) -> CapsPages {
    let mut out = CapsPages::default();
    let mut path: Vec<String> = Vec::new();
    for t in tags(caps) {
        if t.close {
            path.pop();
            continue;
        }
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match (p.as_slice(), t.name.as_str()) {
            (["capabilities", "host", "cpu"], "pages") => out
                .cpu_sizes
                .push(t.attr("size").unwrap_or_default().into()),
            (["capabilities", "host", "topology", "cells", "cell"], "pages") => out
                .cell_sizes
                .push(t.attr("size").unwrap_or_default().into()),
            (["capabilities", "host", "topology", "cells"], "cell") => {
                out.cell_ids.push(t.attr("id").unwrap_or_default().into())
            }
            _ => {}
        }
        if !t.empty {
            path.push(t.name.clone());
        }
    }
    out
}

/// Runs `freepages`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.all && args.cellno.is_some() {
        return Err(CliError::msg(
            "Options --all and --cellno are mutually exclusive",
        ));
    }
    let kib = match &args.pagesize {
        Some(v) => scaled_kib(v, "pagesize", u64::from(u32::MAX))?,
        None => 0,
    };
    if args.all {
        let caps = conn
            .capabilities()
            .await
            .context(|| "unable to get node capabilities".into())?;
        let facts = caps_pages(&caps);
        let sizes: Vec<u32> = if args.pagesize.is_some() {
            vec![kib]
        } else {
            let texts = if facts.cpu_sizes.is_empty() {
                &facts.cell_sizes
            } else {
                &facts.cpu_sizes
            };
            if texts.is_empty() {
                return Err(CliError::msg(
                    "could not get information about supported page sizes",
                ));
            }
            let mut sizes = Vec::new();
            for t in texts {
                sizes.push(
                    t.parse::<u32>()
                        .map_err(|_| CliError::msg(format!("unable to parse page size: {t}")))?,
                );
            }
            sizes.sort_unstable();
            sizes.dedup();
            sizes
        };
        for id in &facts.cell_ids {
            let cell: i32 = id
                .parse()
                .map_err(|_| CliError::msg(format!("unable to parse numa node id: {id}")))?;
            let counts = conn.free_pages(&sizes, cell, 1, 0).await?;
            let mut text = format!("Node {cell}:\n");
            for (size, count) in sizes.iter().zip(&counts) {
                text.push_str(&format!("{size}KiB: {}\n", *count as i64));
            }
            text.push('\n');
            out.text(&text);
        }
        return Ok(());
    }
    let Some(cellno) = &args.cellno else {
        return Err(CliError::msg("missing cellno argument"));
    };
    let cell: i32 = signed(cellno, "cellno")?;
    if cell < -1 {
        return Err(CliError::msg(
            "cell number must be non-negative integer or -1",
        ));
    }
    if args.pagesize.is_none() {
        return Err(CliError::msg("missing pagesize argument"));
    }
    let counts = conn.free_pages(&[kib], cell, 1, 0).await?;
    out.text(&format!(
        "{kib}KiB: {}\n",
        counts.first().copied().unwrap_or(0) as i64
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_and_cells_of_the_capabilities() {
        let caps = "<capabilities><host><cpu><arch>x86_64</arch>\
            <pages unit='KiB' size='4'/><pages unit='KiB' size='2048'/></cpu>\
            <topology><cells num='2'><cell id='0'><pages unit='KiB' size='4'>10</pages>\
            </cell><cell id='1'/></cells></topology></host></capabilities>";
        let f = caps_pages(caps);
        assert_eq!(f.cpu_sizes, ["4", "2048"]);
        assert_eq!(f.cell_sizes, ["4"]);
        assert_eq!(f.cell_ids, ["0", "1"]);
    }
}
