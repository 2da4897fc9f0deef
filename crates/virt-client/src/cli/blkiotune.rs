//! `virt blkiotune DOMAIN [--weight N] [--device-weights S] [--device-read-iops-sec S]
//! [--device-write-iops-sec S] [--device-read-bytes-sec S] [--device-write-bytes-sec S]
//! [--config|--live|--current]`: prints the block I/O tunables, or changes those given
//! (libvirt: virDomainGet/SetBlkioParameters).

use virt_client::Connection;
use virt_core::kit::tune::{
    BLKIO_DEVICE_READ_BPS, BLKIO_DEVICE_READ_IOPS, BLKIO_DEVICE_WEIGHT, BLKIO_DEVICE_WRITE_BPS,
    BLKIO_DEVICE_WRITE_IOPS, BLKIO_WEIGHT,
};
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::{is_exclusive_flags, opt_int, param_line};

/// Options of `blkiotune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IO Weight.
    #[arg(long, allow_hyphen_values = true)]
    pub weight: Option<String>,
    /// Per-device IO Weights, in the form of /path/to/device,weight,...
    #[arg(long, allow_hyphen_values = true)]
    pub device_weights: Option<String>,
    /// Per-device read I/O limit per second, in the form of /path/to/device,read_iops_sec,...
    #[arg(long, allow_hyphen_values = true)]
    pub device_read_iops_sec: Option<String>,
    /// Per-device write I/O limit per second, in the form of /path/to/device,write_iops_sec,...
    #[arg(long, allow_hyphen_values = true)]
    pub device_write_iops_sec: Option<String>,
    /// Per-device bytes read per second, in the form of /path/to/device,read_bytes_sec,...
    #[arg(long, allow_hyphen_values = true)]
    pub device_read_bytes_sec: Option<String>,
    /// Per-device bytes wrote per second, in the form of /path/to/device,write_bytes_sec,...
    #[arg(long, allow_hyphen_values = true)]
    pub device_write_bytes_sec: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// The parameters the options set, in virsh's order.
pub fn params(a: &Args) -> Result<Vec<TypedParam>, CliError> {
    let mut out = Vec::new();
    if let Some(w) = &a.weight {
        let w = opt_int(w, "weight")?;
        if w <= 0 {
            return Err(CliError::msg(format!(
                "Invalid value of {w} for I/O weight"
            )));
        }
        out.push(TypedParam::new(BLKIO_WEIGHT, TypedValue::UInt(w as u32)));
    }
    for (opt, field) in [
        (&a.device_weights, BLKIO_DEVICE_WEIGHT),
        (&a.device_read_iops_sec, BLKIO_DEVICE_READ_IOPS),
        (&a.device_write_iops_sec, BLKIO_DEVICE_WRITE_IOPS),
        (&a.device_read_bytes_sec, BLKIO_DEVICE_READ_BPS),
        (&a.device_write_bytes_sec, BLKIO_DEVICE_WRITE_BPS),
    ] {
        match opt.as_deref() {
            Some("") => return Err(CliError::msg("Unable to parse string parameter")),
            Some(s) => out.push(TypedParam::new(field, TypedValue::String(s.to_string()))),
            None => {}
        }
    }
    Ok(out)
}

/// Runs `blkiotune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let set = params(args)?;
    if set.is_empty() {
        let ps = match conn
            .get_blkio_parameters(&target.lookup, flags | TypedParamFlag::StringOkay as u32)
            .await
        {
            Ok(ps) => ps,
            Err(e) => {
                let first = is_exclusive_flags(&e);
                return Err(e).context(|| {
                    if first {
                        "Unable to get number of blkio parameters"
                    } else {
                        "Unable to get blkio parameters"
                    }
                    .to_string()
                });
            }
        };
        for p in &ps {
            out.line(&param_line(p));
        }
        return Ok(());
    }
    conn.set_blkio_parameters(&target.lookup, &set, flags)
        .await
        .context(|| "Unable to change blkio parameters".to_string())
}
