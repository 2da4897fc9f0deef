//! `virt nodememstats [--cell N]`: host memory counters (KiB), of the host or one NUMA cell.

use virt_client::Connection;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `nodememstats`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Prints specified cell statistics only.
    #[arg(value_name = "CELL")]
    pub cell: Option<String>,
    /// Prints specified cell statistics only.
    #[arg(
        long = "cell",
        value_name = "CELL",
        allow_hyphen_values = true,
        conflicts_with = "cell"
    )]
    pub cell_opt: Option<String>,
}

/// Runs `nodememstats`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let cell = match args.cell.as_ref().or(args.cell_opt.as_ref()) {
        None => -1,
        Some(v) => v.parse::<i32>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{v}' for <cell> option is malformed or out of range"
            ))
        })?,
    };
    // virsh asks for the number of counters first, under this message.
    let stats = conn
        .memory_stats(cell, 0)
        .await
        .context(|| "Unable to get number of memory stats".into())?;
    let text: String = stats
        .iter()
        .map(|s| format!("{:<7} {:>20} KiB\n", s.field, s.value))
        .collect();
    out.text(&text);
    Ok(())
}
