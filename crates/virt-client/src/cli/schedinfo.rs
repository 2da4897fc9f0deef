//! `virt schedinfo DOMAIN [--weight N] [--cap N] [--current|--config|--live] [[--set] F=V]...`:
//! prints the scheduler (`Scheduler      : posix`) and its parameters, after changing those
//! given. As virsh: without any of `--current --config --live` the legacy calls are used
//! (virDomainGetSchedulerParameters, without STRING_OKAY), else the Flags ones; each value
//! is parsed by the type the driver reports for its field (virTypedParamsAddFromString).

use virt_client::{ClientError, Connection};
use virt_core::types::{TypedParam, TypedValue};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;

/// Options of `schedinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Weight for XEN_CREDIT.
    #[arg(long, allow_hyphen_values = true)]
    pub weight: Option<String>,
    /// Cap for XEN_CREDIT.
    #[arg(long, allow_hyphen_values = true)]
    pub cap: Option<String>,
    /// Where the change applies (and which definition is read).
    #[command(flatten)]
    pub impact: Impact,
    /// parameter=value.
    #[arg(long = "set", value_name = "FIELD=VALUE", allow_hyphen_values = true)]
    pub set: Vec<String>,
    /// parameter=value (as `--set`).
    #[arg(value_name = "FIELD=VALUE", allow_hyphen_values = true)]
    pub set_positional: Vec<String>,
}

fn invalid_value(field: &str, expected: &str) -> CliError {
    CliError::from(ClientError::Virt(VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::None,
        format!("Invalid value for field '{field}': expected {expected}"),
    )))
}

/// strtol's view of `s`: optional blanks and sign, then decimal digits to the end.
fn integer(s: &str) -> Option<i128> {
    let t = s.trim_start();
    let (neg, d) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i128 = d.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// `value` as a parameter of the type `like` has (libvirt virTypedParameterAssignFromStr).
pub fn value_like(field: &str, like: &TypedValue, value: &str) -> Result<TypedValue, CliError> {
    Ok(match like {
        TypedValue::Int(_) => TypedValue::Int(
            integer(value)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| invalid_value(field, "int"))?,
        ),
        // strtoul: "-N" wraps, down to -UINT_MAX (virStrToLong_ui).
        TypedValue::UInt(_) => TypedValue::UInt(
            integer(value)
                .and_then(|v| match v {
                    0..=0xFFFF_FFFF => Some(v as u32),
                    v if v < 0 && -v <= 0xFFFF_FFFF => Some((v + (1i128 << 32)) as u32),
                    _ => None,
                })
                .ok_or_else(|| invalid_value(field, "unsigned int"))?,
        ),
        TypedValue::LLong(_) => TypedValue::LLong(
            integer(value)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| invalid_value(field, "long long"))?,
        ),
        // strtoull: "-N" wraps.
        TypedValue::ULLong(_) => TypedValue::ULLong(
            integer(value)
                .and_then(|v| match v {
                    0..=0xFFFF_FFFF_FFFF_FFFF => Some(v as u64),
                    v if v < 0 && -v <= 0xFFFF_FFFF_FFFF_FFFF => Some((v + (1i128 << 64)) as u64),
                    _ => None,
                })
                .ok_or_else(|| invalid_value(field, "unsigned long long"))?,
        ),
        TypedValue::Double(_) => TypedValue::Double(
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid_value(field, "double"))?,
        ),
        TypedValue::Bool(_) => {
            TypedValue::Bool(if value.eq_ignore_ascii_case("yes") || value == "1" {
                true
            } else if value.eq_ignore_ascii_case("no") || value == "0" {
                false
            } else {
                return Err(invalid_value(field, "boolean"));
            })
        }
        TypedValue::String(_) => TypedValue::String(value.to_string()),
    })
}

/// The changes the options ask for, typed by the driver's parameters `current`, in virsh's
/// order: every `--set`, then `--cap`, then `--weight`.
pub fn updates(a: &Args, current: &[TypedParam]) -> Result<Vec<TypedParam>, CliError> {
    let one = |field: &str, value: &str| -> Result<TypedParam, CliError> {
        let like = current
            .iter()
            .find(|p| p.field == field)
            .ok_or_else(|| CliError::msg(format!("invalid scheduler option: {field}")))?;
        Ok(TypedParam::new(
            field,
            value_like(field, &like.value, value)?,
        ))
    };
    let mut out = Vec::new();
    for s in a.set.iter().chain(&a.set_positional) {
        let (field, value) = s
            .split_once('=')
            .ok_or_else(|| CliError::msg("Invalid syntax for --set, expecting name=value"))?;
        out.push(one(field, value)?);
    }
    if let Some(v) = &a.cap {
        out.push(one("cap", v)?);
    }
    if let Some(v) = &a.weight {
        out.push(one("weight", v)?);
    }
    Ok(out)
}

/// Runs `schedinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let given = args.impact.flags()?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let nparams = match conn.get_scheduler_type(&target.lookup).await {
        Ok((name, n)) => {
            out.line(&format!("{:<15}: {name}", "Scheduler"));
            n
        }
        Err(e) => {
            out.line(&format!("{:<15}: Unknown", "Scheduler"));
            return Err(e.into());
        }
    };
    if nparams == 0 {
        return Ok(());
    }
    let (live, config) = (args.impact.live, args.impact.config);
    // Both live and config cannot be read at once: virsh reads the current definition then.
    let read_flags = given.map(|f| if live && config { 0 } else { f });
    let mut params = conn
        .get_scheduler_parameters(&target.lookup, read_flags)
        .await?;
    let changes = updates(args, &params)?;
    if !changes.is_empty() {
        conn.set_scheduler_parameters(&target.lookup, &changes, given.unwrap_or(0))
            .await?;
        params = conn
            .get_scheduler_parameters(&target.lookup, read_flags)
            .await?;
    } else if live && config {
        return Err(CliError::msg("cannot query both live and config at once"));
    }
    for p in &params {
        out.line(&format!("{:<15}: {}", p.field, p.value.virsh_text()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_by_the_fields_type() {
        let u = TypedValue::UInt(0);
        assert_eq!(
            value_like("weight", &u, "20").ok(),
            Some(TypedValue::UInt(20))
        );
        assert_eq!(
            value_like("weight", &u, "-1").ok(),
            Some(TypedValue::UInt(u32::MAX))
        );
        assert_eq!(
            value_like("weight", &u, "4294967296")
                .expect_err("too big")
                .lines(),
            vec!["invalid argument: Invalid value for field 'weight': expected unsigned int"]
        );
        let ll = TypedValue::LLong(0);
        assert_eq!(
            value_like("vcpu_quota", &ll, "-1").ok(),
            Some(TypedValue::LLong(-1))
        );
        let ull = TypedValue::ULLong(0);
        assert_eq!(
            value_like("cpu_shares", &ull, "abc").expect_err("bad").lines(),
            vec!["invalid argument: Invalid value for field 'cpu_shares': expected unsigned long long"]
        );
    }
}
