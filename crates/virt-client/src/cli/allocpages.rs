//! `virt allocpages PAGESIZE PAGECOUNT [--cellno N] [--add] [--all]`: sets (or with `--add`
//! grows) the pool of pages of one size, in one NUMA cell, every cell, or the host's pool.

use virt_client::Connection;

use super::cpu_xml::{scaled_kib, signed, unsigned};
use super::freepages::caps_pages;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `allocpages`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Page size (in kibibytes).
    #[arg(
        value_name = "PAGESIZE",
        allow_negative_numbers = true,
        required_unless_present = "pagesize_opt"
    )]
    pub pagesize: Option<String>,
    /// Page size (in kibibytes).
    #[arg(
        long = "pagesize",
        value_name = "PAGESIZE",
        allow_hyphen_values = true,
        conflicts_with = "pagesize"
    )]
    pub pagesize_opt: Option<String>,
    /// Page count.
    #[arg(
        value_name = "PAGECOUNT",
        allow_negative_numbers = true,
        required_unless_present = "pagecount_opt"
    )]
    pub pagecount: Option<String>,
    /// Page count.
    #[arg(
        long = "pagecount",
        value_name = "PAGECOUNT",
        allow_hyphen_values = true,
        conflicts_with = "pagecount"
    )]
    pub pagecount_opt: Option<String>,
    /// NUMA cell number.
    #[arg(long, allow_hyphen_values = true)]
    pub cellno: Option<String>,
    /// Instead of setting new pool size add pages to it.
    #[arg(long)]
    pub add: bool,
    /// Set on all NUMA cells.
    #[arg(long)]
    pub all: bool,
}

/// virNodeAllocPagesFlags: ADD is 0, SET 1.
const ALLOC_PAGES_SET: u32 = 1;

/// Runs `allocpages`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    if args.all && args.cellno.is_some() {
        return Err(CliError::msg(
            "Options --all and --cellno are mutually exclusive",
        ));
    }
    let start: i32 = match &args.cellno {
        Some(v) => signed(v, "cellno")?,
        None => -1,
    };
    let size_text = args.pagesize.as_deref().or(args.pagesize_opt.as_deref());
    let count_text = args.pagecount.as_deref().or(args.pagecount_opt.as_deref());
    let size = scaled_kib(
        size_text.unwrap_or_default(),
        "pagesize",
        u64::from(u32::MAX),
    )?;
    let count: u64 = unsigned(count_text.unwrap_or_default(), "pagecount")?;
    let flags = if args.add { 0 } else { ALLOC_PAGES_SET };
    if args.all {
        let caps = conn
            .capabilities()
            .await
            .context(|| "unable to get node capabilities".into())?;
        for id in caps_pages(&caps).cell_ids {
            let cell: u32 = id
                .parse()
                .map_err(|_| CliError::msg("conversion from string failed"))?;
            conn.alloc_pages(&[size], &[count], cell as i32, 1, flags)
                .await?;
        }
        return Ok(());
    }
    conn.alloc_pages(&[size], &[count], start, 1, flags).await?;
    Ok(())
}
