//! `virt blockresize DOMAIN PATH SIZE`: resizes a disk (SIZE scaled, KiB by default).

use virt_client::{ClientError, Connection};
use virt_core::kit::flags::block;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::blockjob::PathArg;
use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;
use super::size::{parse_scaled, SizeError};

/// Options of `blockresize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Fully-qualified path of block device.
    #[command(flatten)]
    pub path: PathArg,
    /// New size of the block device, as scaled integer (default KiB).
    #[arg(
        value_name = "SIZE",
        required_unless_present = "size_opt",
        allow_hyphen_values = true
    )]
    pub size: Option<String>,
    /// New size of the block device, as scaled integer (default KiB).
    #[arg(long = "size", value_name = "SIZE", conflicts_with = "size")]
    pub size_opt: Option<String>,
}

/// Runs `blockresize`: KiB when the size is a whole number of KiB, else bytes (BYTES).
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let text = args
        .size
        .as_deref()
        .or(args.size_opt.as_deref())
        .expect("clap requires one of the two");
    let malformed =
        || format!("Scaled numeric value '{text}' for <size> option is malformed or out of range");
    let bytes = match parse_scaled(text, 1024) {
        Ok(b) => b,
        Err(SizeError::Malformed) => return Err(CliError::msg(malformed())),
        Err(SizeError::UnknownSuffix(s)) => {
            return Err(CliError::Call {
                context: Some(malformed()),
                source: Box::new(ClientError::Virt(VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::None,
                    format!("unknown suffix '{s}'"),
                ))),
            })
        }
    };
    let (size, flags) = if bytes % 1024 == 0 {
        (bytes / 1024, 0)
    } else {
        (bytes, block::RESIZE_BYTES)
    };
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let path = args.path.get();
    conn.block_resize(&target.lookup, path, size, flags)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("Failed to resize block device '{path}'")),
            source: Box::new(e),
        })?;
    if !out.quiet() {
        out.text(&format!("Block device '{path}' is resized"));
    }
    Ok(())
}
