//! `virt blockcopy DOMAIN PATH [DEST] [--bandwidth N] [--shallow] [--reuse-external]
//! [--blockdev] [--wait] [--verbose] [--timeout S] [--pivot | --finish] [--async] [--xml F]
//! [--format F] [--granularity N] [--buf-size N] [--bytes] [--transient-job]
//! [--synchronous-writes] [--print-xml]`: copies a disk to a new destination, mirroring
//! writes until it is pivoted to or finished.

use virt_client::Connection;
use virt_core::kit::flags::block;
use virt_core::types::{TypedParam, TypedValue};

use super::blockjob::{bandwidth, finish, timeout, wait, Ended, PathArg};
use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;

/// Options of `blockcopy`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Fully-qualified path of source disk.
    #[command(flatten)]
    pub path: PathArg,
    /// Path of the copy to create.
    #[arg(value_name = "DEST")]
    pub dest: Option<String>,
    /// Path of the copy to create.
    #[arg(long = "dest", value_name = "STRING", conflicts_with = "dest")]
    pub dest_opt: Option<String>,
    /// Bandwidth limit in MiB/s.
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub bandwidth: Option<String>,
    /// Make the copy share a backing chain.
    #[arg(long)]
    pub shallow: bool,
    /// Reuse existing destination.
    #[arg(long = "reuse-external")]
    pub reuse_external: bool,
    /// Copy destination is block device instead of regular file.
    #[arg(long)]
    pub blockdev: bool,
    /// Wait for job to reach mirroring phase.
    #[arg(long)]
    pub wait: bool,
    /// With --wait, display the progress.
    #[arg(long)]
    pub verbose: bool,
    /// Implies --wait, abort if copy exceeds timeout (in seconds).
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Implies --wait, pivot when mirroring starts.
    #[arg(long)]
    pub pivot: bool,
    /// Implies --wait, quit when mirroring starts.
    #[arg(long)]
    pub finish: bool,
    /// With --wait, don't wait for cancel to finish.
    #[arg(long = "async")]
    pub async_: bool,
    /// Filename containing XML description of the copy destination.
    #[arg(long, value_name = "STRING")]
    pub xml: Option<String>,
    /// Format of the destination file.
    #[arg(long, value_name = "STRING")]
    pub format: Option<String>,
    /// Power-of-two granularity to use during the copy.
    #[arg(long, value_name = "NUMBER", allow_hyphen_values = true)]
    pub granularity: Option<String>,
    /// Maximum amount of in-flight data during the copy.
    #[arg(long = "buf-size", value_name = "NUMBER", allow_hyphen_values = true)]
    pub buf_size: Option<String>,
    /// The bandwidth limit is in bytes/s rather than MiB/s.
    #[arg(long)]
    pub bytes: bool,
    /// The copy job is not persisted if VM is turned off.
    #[arg(long = "transient-job")]
    pub transient_job: bool,
    /// The copy job forces guest writes to be synchronously written to the destination.
    #[arg(long = "synchronous-writes")]
    pub synchronous_writes: bool,
    /// Print the XML used to start the copy job instead of starting the job.
    #[arg(long = "print-xml")]
    pub print_xml: bool,
    /// `--raw` is virsh's alias of `--format raw`.
    #[arg(long, hide = true)]
    pub raw: bool,
}

fn numeric(name: &str, text: &str) -> CliError {
    CliError::msg(format!(
        "Numeric value '{text}' for <{name}> option is malformed or out of range"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// Runs `blockcopy`: virDomainBlockRebase with COPY for a plain copy to a file, else
/// virDomainBlockCopy with the destination's `<disk>` XML.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let dest = args.dest.as_deref().or(args.dest_opt.as_deref());
    let format = if args.raw {
        Some("raw")
    } else {
        args.format.as_deref()
    };
    let bw = bandwidth(args.bandwidth.as_deref(), args.bytes)?;
    let granularity: u32 = match args.granularity.as_deref() {
        None => 0,
        Some(t) => t
            .trim_start()
            .parse()
            .map_err(|_| numeric("granularity", t))?,
    };
    let buf_size: u64 = match args.buf_size.as_deref() {
        None => 0,
        Some(t) => t.trim_start().parse().map_err(|_| numeric("buf-size", t))?,
    };
    let mut flags = 0;
    for (on, f) in [
        (args.shallow, block::rebase::SHALLOW),
        (args.reuse_external, block::rebase::REUSE_EXT),
        (args.transient_job, block::copy::TRANSIENT_JOB),
        (args.synchronous_writes, block::copy::SYNCHRONOUS_WRITES),
    ] {
        if on {
            flags |= f;
        }
    }
    let limit = timeout(args.timeout.as_deref())?;
    let blocking = args.wait || args.finish || args.pivot || limit.is_some();
    if dest.is_some() && args.xml.is_some() {
        return Err(exclusive("dest", "xml"));
    }
    if format.is_some() && args.xml.is_some() {
        return Err(exclusive("format", "xml"));
    }
    if args.blockdev && args.xml.is_some() {
        return Err(exclusive("blockdev", "xml"));
    }
    if args.pivot && args.finish {
        return Err(exclusive("pivot", "finish"));
    }
    if dest.is_none() && args.xml.is_none() {
        return Err(CliError::msg("need either --dest or --xml"));
    }
    if !blocking {
        if args.verbose {
            return Err(CliError::msg(
                "--verbose requires at least one of --timeout, --wait, --pivot, or --finish",
            ));
        }
        if args.async_ {
            return Err(CliError::msg(
                "--async requires at least one of --timeout, --wait, --pivot, or --finish",
            ));
        }
    }
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let dom = &target.lookup;
    let path = args.path.get();
    let xml = match &args.xml {
        Some(file) => Some(super::define::read_file(file)?),
        None => None,
    };
    let new_api = granularity != 0
        || buf_size != 0
        || format.is_some_and(|f| f != "raw")
        || xml.is_some()
        || args.transient_job
        || args.synchronous_writes
        || args.print_xml;
    if new_api {
        let mut params = Vec::new();
        if bw != 0 {
            let bytes = if args.bytes {
                bw
            } else {
                let limit = u64::MAX >> 20;
                if bw > limit {
                    return Err(CliError::msg(format!(
                        "bandwidth must be less than {limit}"
                    )));
                }
                bw << 20
            };
            params.push(TypedParam::new("bandwidth", TypedValue::ULLong(bytes)));
        }
        if granularity != 0 {
            params.push(TypedParam::new(
                "granularity",
                TypedValue::UInt(granularity),
            ));
        }
        if buf_size != 0 {
            params.push(TypedParam::new("buf-size", TypedValue::ULLong(buf_size)));
        }
        let xml = xml.unwrap_or_else(|| {
            let (kind, attr) = if args.blockdev {
                ("block", "dev")
            } else {
                ("file", "file")
            };
            let mut x = format!(
                "<disk type='{kind}'>\n  <source {attr}='{}'/>\n",
                escape(dest.unwrap_or_default())
            );
            if let Some(f) = format {
                x += &format!("  <driver type='{}'/>\n", escape(f));
            }
            x + "</disk>\n"
        });
        if args.print_xml {
            out.text(&xml);
            return Ok(());
        }
        conn.block_copy(dom, path, &xml, &params, flags).await?;
    } else {
        let mut flags = flags | block::rebase::COPY;
        if args.blockdev {
            flags |= block::rebase::COPY_DEV;
        }
        if format == Some("raw") {
            flags |= block::rebase::COPY_RAW;
        }
        if args.bytes {
            flags |= block::rebase::BANDWIDTH_BYTES;
        }
        conn.block_rebase(dom, path, dest.unwrap_or_default(), bw, flags)
            .await?;
    }
    if !blocking {
        out.text("Block Copy started");
        return Ok(());
    }
    let ended = wait(
        conn,
        dom,
        path,
        "Block Copy",
        args.verbose,
        limit,
        args.async_,
    )
    .await?;
    if ended == Ended::Canceled {
        out.text("\nCopy aborted");
        return Err(CliError::Silent);
    }
    if args.pivot {
        finish(conn, dom, path, true, args.async_, "pivot").await?;
        out.text("\nSuccessfully pivoted");
    } else if args.finish {
        finish(conn, dom, path, false, args.async_, "finish").await?;
        out.text("\nSuccessfully copied");
    } else {
        out.text("\nNow in mirroring phase");
    }
    Ok(())
}
