//! `virt blockcommit DOMAIN PATH [--bandwidth N] [--base B] [--shallow] [--top T] [--active]
//! [--delete] [--wait] [--verbose] [--timeout S] [--pivot] [--keep-overlay] [--async]
//! [--keep-relative] [--bytes]`: commits a disk's chain down into its base.

use virt_client::Connection;
use virt_core::kit::flags::block;

use super::blockjob::{bandwidth, finish, timeout, wait, Ended, PathArg};
use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;

/// Options of `blockcommit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Fully-qualified path of disk.
    #[command(flatten)]
    pub path: PathArg,
    /// Bandwidth limit in MiB/s.
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub bandwidth: Option<String>,
    /// Path of base file to commit into (default bottom of chain).
    #[arg(long, value_name = "STRING")]
    pub base: Option<String>,
    /// Use backing file of top as base.
    #[arg(long)]
    pub shallow: bool,
    /// Path of top file to commit from (default top of chain).
    #[arg(long, value_name = "STRING")]
    pub top: Option<String>,
    /// Trigger two-stage active commit of top file.
    #[arg(long)]
    pub active: bool,
    /// Delete files that were successfully committed.
    #[arg(long)]
    pub delete: bool,
    /// Wait for job to complete (with --active, wait for job to sync).
    #[arg(long)]
    pub wait: bool,
    /// With --wait, display the progress.
    #[arg(long)]
    pub verbose: bool,
    /// Implies --wait, abort if copy exceeds timeout (in seconds).
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Implies --active --wait, pivot when commit is synced.
    #[arg(long)]
    pub pivot: bool,
    /// Implies --active --wait, quit when commit is synced.
    #[arg(long = "keep-overlay")]
    pub keep_overlay: bool,
    /// With --wait, don't wait for cancel to finish.
    #[arg(long = "async")]
    pub async_: bool,
    /// Keep the backing chain relatively referenced.
    #[arg(long = "keep-relative")]
    pub keep_relative: bool,
    /// The bandwidth limit is in bytes/s rather than MiB/s.
    #[arg(long)]
    pub bytes: bool,
}

/// Runs `blockcommit`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.pivot && args.keep_overlay {
        return Err(exclusive("pivot", "keep-overlay"));
    }
    let active = args.active || args.pivot || args.keep_overlay;
    let bw = bandwidth(args.bandwidth.as_deref(), args.bytes)?;
    let mut flags = 0;
    for (on, f) in [
        (args.bytes, block::commit::BANDWIDTH_BYTES),
        (args.shallow, block::commit::SHALLOW),
        (args.delete, block::commit::DELETE),
        (active, block::commit::ACTIVE),
        (args.keep_relative, block::commit::RELATIVE),
    ] {
        if on {
            flags |= f;
        }
    }
    let limit = timeout(args.timeout.as_deref())?;
    let blocking = args.wait || args.pivot || args.keep_overlay || limit.is_some();
    if !blocking {
        if args.verbose {
            return Err(CliError::msg(
                "--verbose requires at least one of --timeout, --wait, --pivot, or --keep-overlay",
            ));
        }
        if args.async_ {
            return Err(CliError::msg(
                "--async requires at least one of --timeout, --wait, --pivot, or --keep-overlay",
            ));
        }
    }
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let dom = &target.lookup;
    let path = args.path.get();
    conn.block_commit(
        dom,
        path,
        args.base.as_deref().unwrap_or(""),
        args.top.as_deref().unwrap_or(""),
        bw,
        flags,
    )
    .await?;
    if !blocking {
        out.text(if active {
            "Active Block Commit started"
        } else {
            "Block Commit started"
        });
        return Ok(());
    }
    let ended = wait(
        conn,
        dom,
        path,
        "Block commit",
        args.verbose,
        limit,
        args.async_,
    )
    .await?;
    if ended == Ended::Canceled {
        out.text("\nCommit aborted");
        return Err(CliError::Silent);
    }
    if !active {
        out.text("\nCommit complete");
    } else if args.pivot {
        finish(conn, dom, path, true, args.async_, "pivot").await?;
        out.text("\nSuccessfully pivoted");
    } else if args.keep_overlay {
        finish(conn, dom, path, false, args.async_, "finish").await?;
        out.text("\nCommit complete, overlay image kept");
    } else {
        out.text("\nNow in synchronized phase");
    }
    Ok(())
}
