//! `virt freecell [--cellno N | --all]`: free memory of one NUMA cell, of every cell the
//! capabilities list with a total, or (neither) of the whole host.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `freecell`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NUMA cell number.
    #[arg(value_name = "CELLNO")]
    pub cellno: Option<String>,
    /// NUMA cell number.
    #[arg(
        long = "cellno",
        value_name = "CELLNO",
        allow_hyphen_values = true,
        conflicts_with = "cellno"
    )]
    pub cellno_opt: Option<String>,
    /// Show free memory for all NUMA cells.
    #[arg(long)]
    pub all: bool,
}

/// The `id`s of the `<cell>` elements of the capabilities' host topology, in order.
pub fn cell_ids(caps: &str) -> Vec<String> {
    let Some(start) = caps.find("<cells") else {
        return Vec::new();
    };
    let end = caps[start..]
        .find("</cells>")
        .map_or(caps.len(), |e| start + e);
    let mut ids = Vec::new();
    let mut rest = &caps[start..end];
    while let Some(i) = rest.find("<cell ") {
        rest = &rest[i + 6..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(p) = tag.find("id=") {
            let v = &tag[p + 3..];
            let q = v.chars().next().unwrap_or('\'');
            if let Some(e) = v[1..].find(q) {
                ids.push(v[1..1 + e].to_string());
            }
        }
    }
    ids
}

/// Runs `freecell`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let cell = match args.cellno.as_ref().or(args.cellno_opt.as_ref()) {
        None => None,
        Some(v) => Some(v.parse::<i32>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{v}' for <cellno> option is malformed or out of range"
            ))
        })?),
    };
    if args.all && cell.is_some() {
        return Err(CliError::msg(
            "Options --all and --cellno are mutually exclusive",
        ));
    }
    if let Some(cell) = cell {
        let free = conn.cells_free_memory(cell, 1).await?;
        let bytes = free.first().copied().unwrap_or(0);
        out.text(&format!("{cell}: {} KiB\n", bytes / 1024));
        return Ok(());
    }
    if !args.all {
        let bytes = conn.free_memory().await?;
        out.text(&format!("Total: {} KiB\n", bytes / 1024));
        return Ok(());
    }
    let caps = conn
        .capabilities()
        .await
        .context(|| "unable to get node capabilities".into())?;
    let mut rows = Vec::new();
    for id in cell_ids(&caps) {
        let n: u32 = id
            .parse()
            .map_err(|_| CliError::msg("conversion from string failed"))?;
        let free = conn
            .cells_free_memory(n as i32, 1)
            .await
            .context(|| format!("failed to get free memory for NUMA node number: {n}"))?;
        rows.push((n, free.first().copied().unwrap_or(0)));
    }
    let mut total = 0u64;
    for (n, bytes) in &rows {
        out.text(&format!("{n:>5}: {:>10} KiB\n", bytes / 1024));
        total += bytes;
    }
    out.text("--------------------\n");
    out.text(&format!("{:>5}: {:>10} KiB\n", "Total", total / 1024));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_ids_of_the_topology() {
        let caps = "<capabilities><host><topology><cells num='2'>\
            <cell id='0'><cpus num='1'><cpu id='0'/></cpus></cell>\
            <cell id=\"3\"></cell></cells></topology></host></capabilities>";
        assert_eq!(cell_ids(caps), ["0", "3"]);
        assert!(cell_ids("<capabilities/>").is_empty());
    }
}
