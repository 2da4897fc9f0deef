//! `virt blkdeviotune DOMAIN DEVICE [--total-bytes-sec N] ... [--group-name NAME]
//! [--config|--live|--current]`: prints a disk's I/O throttle, or changes the limits given
//! (libvirt: virDomainGet/SetBlockIoTune). The byte rates are scaled integers (default bytes);
//! every option also has virsh's underscore alias (`--total_bytes_sec`).

use virt_client::Connection;
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::{
    is_exclusive_flags, opt_scaled, opt_string, opt_ullong, param_line, then,
};

macro_rules! limits {
    ($($field:ident, $long:literal, $alias:literal, $doc:literal;)*) => {
        /// Options of `blkdeviotune`.
        #[derive(clap::Args, Debug)]
        pub struct Args {
            /// The domain.
            #[command(flatten)]
            pub domain: DomArg,
            /// Block device.
            #[arg(value_name = "DEVICE", required_unless_present = "device_opt")]
            pub device: Option<String>,
            /// Block device.
            #[arg(long = "device", value_name = "DEVICE", conflicts_with = "device")]
            pub device_opt: Option<String>,
            $(
                #[doc = $doc]
                #[arg(long = $long, alias = $alias, allow_hyphen_values = true)]
                pub $field: Option<String>,
            )*
            /// Group name to share I/O quota between multiple drives.
            #[arg(long = "group-name", alias = "group_name", allow_hyphen_values = true)]
            pub group_name: Option<String>,
            /// Where the change applies.
            #[command(flatten)]
            pub impact: Impact,
        }
    };
}

limits! {
    total_bytes_sec, "total-bytes-sec", "total_bytes_sec", "Total throughput limit, as scaled integer (default bytes).";
    read_bytes_sec, "read-bytes-sec", "read_bytes_sec", "Read throughput limit, as scaled integer (default bytes).";
    write_bytes_sec, "write-bytes-sec", "write_bytes_sec", "Write throughput limit, as scaled integer (default bytes).";
    total_iops_sec, "total-iops-sec", "total_iops_sec", "Total I/O operations limit per second.";
    read_iops_sec, "read-iops-sec", "read_iops_sec", "Read I/O operations limit per second.";
    write_iops_sec, "write-iops-sec", "write_iops_sec", "Write I/O operations limit per second.";
    total_bytes_sec_max, "total-bytes-sec-max", "total_bytes_sec_max", "Total max, as scaled integer (default bytes).";
    read_bytes_sec_max, "read-bytes-sec-max", "read_bytes_sec_max", "Read max, as scaled integer (default bytes).";
    write_bytes_sec_max, "write-bytes-sec-max", "write_bytes_sec_max", "Write max, as scaled integer (default bytes).";
    total_iops_sec_max, "total-iops-sec-max", "total_iops_sec_max", "Total I/O operations max.";
    read_iops_sec_max, "read-iops-sec-max", "read_iops_sec_max", "Read I/O operations max.";
    write_iops_sec_max, "write-iops-sec-max", "write_iops_sec_max", "Write I/O operations max.";
    size_iops_sec, "size-iops-sec", "size_iops_sec", "I/O size in bytes.";
    total_bytes_sec_max_length, "total-bytes-sec-max-length", "total_bytes_sec_max_length", "Duration in seconds to allow total max bytes.";
    read_bytes_sec_max_length, "read-bytes-sec-max-length", "read_bytes_sec_max_length", "Duration in seconds to allow read max bytes.";
    write_bytes_sec_max_length, "write-bytes-sec-max-length", "write_bytes_sec_max_length", "Duration in seconds to allow write max bytes.";
    total_iops_sec_max_length, "total-iops-sec-max-length", "total_iops_sec_max_length", "Duration in seconds to allow total I/O operations max.";
    read_iops_sec_max_length, "read-iops-sec-max-length", "read_iops_sec_max_length", "Duration in seconds to allow read I/O operations max.";
    write_iops_sec_max_length, "write-iops-sec-max-length", "write_iops_sec_max_length", "Duration in seconds to allow write I/O operations max.";
}

/// The parameters the options set, in virsh's order: the scaled byte rates, the plain
/// counts, then the group name.
pub fn params(a: &Args) -> Result<Vec<TypedParam>, CliError> {
    const PARSE: &str = "Unable to parse integer parameter";
    let mut out = Vec::new();
    let scaled = [
        (&a.total_bytes_sec, "total-bytes-sec"),
        (&a.read_bytes_sec, "read-bytes-sec"),
        (&a.write_bytes_sec, "write-bytes-sec"),
        (&a.total_bytes_sec_max, "total-bytes-sec-max"),
        (&a.read_bytes_sec_max, "read-bytes-sec-max"),
        (&a.write_bytes_sec_max, "write-bytes-sec-max"),
    ];
    for (opt, name) in scaled {
        if let Some(t) = opt {
            let v = opt_scaled(t, name, 1).map_err(|e| then(e, PARSE))?;
            out.push(TypedParam::new(
                name.replace('-', "_"),
                TypedValue::ULLong(v),
            ));
        }
    }
    let plain = [
        (&a.total_iops_sec, "total-iops-sec"),
        (&a.read_iops_sec, "read-iops-sec"),
        (&a.write_iops_sec, "write-iops-sec"),
        (&a.total_iops_sec_max, "total-iops-sec-max"),
        (&a.read_iops_sec_max, "read-iops-sec-max"),
        (&a.write_iops_sec_max, "write-iops-sec-max"),
        (&a.size_iops_sec, "size-iops-sec"),
        (&a.total_bytes_sec_max_length, "total-bytes-sec-max-length"),
        (&a.read_bytes_sec_max_length, "read-bytes-sec-max-length"),
        (&a.write_bytes_sec_max_length, "write-bytes-sec-max-length"),
        (&a.total_iops_sec_max_length, "total-iops-sec-max-length"),
        (&a.read_iops_sec_max_length, "read-iops-sec-max-length"),
        (&a.write_iops_sec_max_length, "write-iops-sec-max-length"),
    ];
    for (opt, name) in plain {
        if let Some(t) = opt {
            let v = opt_ullong(t, name).map_err(|e| then(e, PARSE))?;
            out.push(TypedParam::new(
                name.replace('-', "_"),
                TypedValue::ULLong(v),
            ));
        }
    }
    let group = opt_string(&a.group_name, "group-name")
        .map_err(|e| then(e, "Unable to parse group-name parameter"))?;
    if let Some(g) = group {
        out.push(TypedParam::new(
            "group_name",
            TypedValue::String(g.to_string()),
        ));
    }
    Ok(out)
}

/// Runs `blkdeviotune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let device = args
        .device
        .as_deref()
        .or(args.device_opt.as_deref())
        .unwrap_or_default();
    let set = params(args)?;
    if set.is_empty() {
        let ps = match conn
            .get_block_io_tune(
                &target.lookup,
                device,
                flags | TypedParamFlag::StringOkay as u32,
            )
            .await
        {
            Ok(ps) => ps,
            Err(e) => {
                let first = is_exclusive_flags(&e);
                return Err(e).context(|| {
                    if first {
                        "Unable to get number of block I/O throttle parameters"
                    } else {
                        "Unable to get block I/O throttle parameters"
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
    conn.set_block_io_tune(&target.lookup, device, &set, flags)
        .await
        .context(|| "Unable to change block I/O throttle".to_string())
}
