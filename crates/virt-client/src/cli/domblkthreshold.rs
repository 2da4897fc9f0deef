//! `virt domblkthreshold DOMAIN DEV THRESHOLD`: sets a disk's write threshold (bytes, or a
//! scaled size) for the block-threshold event.

use virt_client::{ClientError, Connection};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;
use super::size::{parse_scaled, SizeError};

/// Options of `domblkthreshold`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Device to set threshold for.
    #[arg(value_name = "DEV", required_unless_present = "dev_opt")]
    pub dev: Option<String>,
    /// Device to set threshold for.
    #[arg(long = "dev", value_name = "DEV", conflicts_with = "dev")]
    pub dev_opt: Option<String>,
    /// Threshold as a scaled number (by default bytes).
    #[arg(
        value_name = "THRESHOLD",
        required_unless_present = "threshold_opt",
        allow_negative_numbers = true
    )]
    pub threshold: Option<String>,
    /// Threshold as a scaled number (by default bytes).
    #[arg(
        long = "threshold",
        value_name = "THRESHOLD",
        conflicts_with = "threshold"
    )]
    pub threshold_opt: Option<String>,
}

/// The threshold in bytes, or virsh's error for the option's text.
pub fn threshold(text: &str) -> Result<u64, CliError> {
    let malformed = || {
        format!("Scaled numeric value '{text}' for <threshold> option is malformed or out of range")
    };
    match parse_scaled(text, 1) {
        Ok(bytes) => Ok(bytes),
        Err(SizeError::Malformed) => Err(CliError::msg(malformed())),
        Err(SizeError::UnknownSuffix(s)) => Err(CliError::Call {
            context: Some(malformed()),
            source: Box::new(ClientError::Virt(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::None,
                format!("unknown suffix '{s}'"),
            ))),
        }),
    }
}

/// Runs `domblkthreshold`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let dev = args
        .dev
        .as_deref()
        .or(args.dev_opt.as_deref())
        .expect("clap requires one of the two");
    let text = args
        .threshold
        .as_deref()
        .or(args.threshold_opt.as_deref())
        .expect("clap requires one of the two");
    let bytes = threshold(text)?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    conn.set_block_threshold(&target.lookup, dev, bytes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_scale_from_bytes() {
        assert_eq!(threshold("100").ok(), Some(100));
        assert_eq!(threshold("1G").ok(), Some(1 << 30));
        assert_eq!(threshold("2kB").ok(), Some(2000));
        assert!(threshold("-1").is_err());
        assert!(threshold("abc").is_err());
        assert!(threshold("1x").is_err());
    }
}
