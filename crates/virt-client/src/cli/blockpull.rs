//! `virt blockpull DOMAIN PATH [--bandwidth N] [--base B] [--wait [--verbose] [--timeout S]
//! [--async]] [--keep-relative] [--bytes]`: populates a disk from its backing chain.

use virt_client::Connection;
use virt_core::kit::flags::block;

use super::blockjob::{bandwidth, timeout, wait, Ended, PathArg};
use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `blockpull`.
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
    /// Path of backing file in chain for a partial pull.
    #[arg(long, value_name = "STRING")]
    pub base: Option<String>,
    /// Wait for job to finish.
    #[arg(long)]
    pub wait: bool,
    /// With --wait, display the progress.
    #[arg(long)]
    pub verbose: bool,
    /// With --wait, abort if pull exceeds timeout (in seconds).
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub timeout: Option<String>,
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

/// Runs `blockpull` (virDomainBlockPull, or virDomainBlockRebase with a base or flags).
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.verbose && !args.wait {
        return Err(CliError::msg(
            "Option --wait is required by option --verbose",
        ));
    }
    if args.async_ && !args.wait {
        return Err(CliError::msg("Option --wait is required by option --async"));
    }
    let bw = bandwidth(args.bandwidth.as_deref(), args.bytes)?;
    let limit = timeout(args.timeout.as_deref())?;
    let mut flags = 0;
    if args.keep_relative {
        flags |= block::rebase::RELATIVE;
    }
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let dom = &target.lookup;
    let path = args.path.get();
    if args.base.is_some() || flags != 0 {
        if args.bytes {
            flags |= block::rebase::BANDWIDTH_BYTES;
        }
        conn.block_rebase(dom, path, args.base.as_deref().unwrap_or(""), bw, flags)
            .await?;
    } else {
        if args.bytes {
            flags |= block::pull::BANDWIDTH_BYTES;
        }
        conn.block_pull(dom, path, bw, flags).await?;
    }
    if !args.wait {
        out.text("Block Pull started");
        return Ok(());
    }
    match wait(
        conn,
        dom,
        path,
        "Block Pull",
        args.verbose,
        limit,
        args.async_,
    )
    .await?
    {
        Ended::Canceled => {
            out.text("\nPull aborted");
            Err(CliError::Silent)
        }
        Ended::Completed | Ended::Ready => {
            out.text("\nPull complete");
            Ok(())
        }
    }
}
