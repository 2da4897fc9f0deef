//! `virt nodecpumap [--pretty]`: present and online host CPUs; the map as `y`/`-` per CPU, or
//! with `--pretty` as a CPU list (`0-3,6`).

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `nodecpumap`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Return human readable output.
    #[arg(long)]
    pub pretty: bool,
}

/// The set bits of `map` as libvirt formats a bitmap: ranges joined by commas.
pub fn ranges(map: &[bool]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < map.len() {
        if !map[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < map.len() && map[i + 1] {
            i += 1;
        }
        parts.push(if start == i {
            start.to_string()
        } else {
            format!("{start}-{i}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The text virsh prints.
pub fn render(map: &[bool], pretty: bool) -> String {
    let online = map.iter().filter(|b| **b).count();
    let shown = if pretty {
        ranges(map)
    } else {
        map.iter().map(|b| if *b { 'y' } else { '-' }).collect()
    };
    format!(
        "{:<15} {}\n{:<15} {}\n{:<15} {}\n",
        "CPUs present:",
        map.len(),
        "CPUs online:",
        online,
        "CPU map:",
        shown
    )
}

/// Runs `nodecpumap`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let map = conn
        .cpu_map(0)
        .await
        .context(|| "Unable to get cpu map".into())?;
    out.text(&render(&map, args.pretty));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_join_runs() {
        let m = [true, true, true, false, true, false, true, true];
        assert_eq!(ranges(&m), "0-2,4,6-7");
        assert_eq!(ranges(&[false, false]), "");
    }
}
