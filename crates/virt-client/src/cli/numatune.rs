//! `virt numatune DOMAIN [--mode MODE] [--nodeset SET] [--config|--live|--current]`: prints
//! the NUMA memory policy (`numa_mode      : strict`), or changes it (libvirt:
//! virDomainGet/SetNumaParameters).

use virt_client::Connection;
use virt_core::kit::tune::{NUMA_MODE, NUMA_MODES, NUMA_NODESET};
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::{opt_string, param_line};

/// Options of `numatune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// NUMA mode, one of strict, preferred, interleave and restrictive, or a number.
    #[arg(long, allow_hyphen_values = true)]
    pub mode: Option<String>,
    /// NUMA node selections to set.
    #[arg(long, allow_hyphen_values = true)]
    pub nodeset: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// strtol with base 0 (`0x`, `0` octal, decimal), the whole text.
fn c_int(text: &str) -> Option<i32> {
    let t = text.trim_start();
    let (neg, d) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = d.strip_prefix("0x").or_else(|| d.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if d.len() > 1 && d.starts_with('0') {
        i64::from_str_radix(&d[1..], 8).ok()?
    } else if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
        d.parse::<i64>().ok()?
    } else {
        return None;
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

/// The parameters the options set, in virsh's order (nodeset, then mode).
pub fn params(a: &Args) -> Result<Vec<TypedParam>, CliError> {
    let mut out = Vec::new();
    if let Some(n) = opt_string(&a.nodeset, "nodeset")? {
        out.push(TypedParam::new(
            NUMA_NODESET,
            TypedValue::String(n.to_string()),
        ));
    }
    if let Some(m) = opt_string(&a.mode, "mode")? {
        let v = match NUMA_MODES.iter().position(|x| *x == m) {
            Some(i) => i as i32,
            None => c_int(m).ok_or_else(|| CliError::msg(format!("Invalid mode: {m}")))?,
        };
        out.push(TypedParam::new(NUMA_MODE, TypedValue::Int(v)));
    }
    Ok(out)
}

/// Runs `numatune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let set = params(args)?;
    if set.is_empty() {
        let ps = conn
            .get_numa_parameters(&target.lookup, flags | TypedParamFlag::StringOkay as u32)
            .await
            .context(|| "Unable to get numa parameters".to_string())?;
        for p in &ps {
            match (&p.value, p.field.as_str()) {
                (TypedValue::Int(m), NUMA_MODE) => out.line(&format!(
                    "{:<15}: {}",
                    p.field,
                    NUMA_MODES.get(*m as usize).copied().unwrap_or("(null)")
                )),
                _ => out.line(&param_line(p)),
            }
        }
        return Ok(());
    }
    conn.set_numa_parameters(&target.lookup, &set, flags)
        .await
        .context(|| "Unable to change numa parameters".to_string())
}
