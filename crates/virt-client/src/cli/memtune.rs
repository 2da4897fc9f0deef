//! `virt memtune DOMAIN [--hard-limit N] [--soft-limit N] [--swap-hard-limit N]
//! [--min-guarantee N] [--config] [--live] [--current]`: prints the memory tunables
//! (`hard_limit      : unlimited`), or changes those given. Sizes are scaled integers in KiB by
//! default; a negative one means unlimited (virsh's virshMemtuneGetSize).

use virt_client::{ClientError, Connection};
use virt_core::kit::typed_params::{
    MEMORY_HARD_LIMIT, MEMORY_MIN_GUARANTEE, MEMORY_SOFT_LIMIT, MEMORY_SWAP_HARD_LIMIT,
    MEMORY_UNLIMITED,
};
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::size::suffix_scale;

/// Options of `memtune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Max memory, as scaled integer (default KiB).
    #[arg(long, allow_hyphen_values = true)]
    pub hard_limit: Option<String>,
    /// Memory during contention, as scaled integer (default KiB).
    #[arg(long, allow_hyphen_values = true)]
    pub soft_limit: Option<String>,
    /// Max memory plus swap, as scaled integer (default KiB).
    #[arg(long, allow_hyphen_values = true)]
    pub swap_hard_limit: Option<String>,
    /// Min guaranteed memory, as scaled integer (default KiB).
    #[arg(long, allow_hyphen_values = true)]
    pub min_guarantee: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// One size option as virsh's virshMemtuneGetSize reads it: KiB, rounded up from the scaled
/// bytes; negative is unlimited. Errors as virsh's: "Unable to parse integer parameter NAME",
/// followed by libvirt's reason when it has one (unknown suffix, overflow).
pub fn size_kib(text: &str, name: &str) -> Result<u64, CliError> {
    let fail = || format!("Unable to parse integer parameter {name}");
    let virt = |code, detail: String| CliError::Call {
        context: Some(fail()),
        source: Box::new(ClientError::Virt(VirtError::new(
            code,
            ErrorDomain::None,
            detail,
        ))),
    };
    // strtoll: leading blanks, a sign, digits; the rest is the unit.
    let t = text.trim_start();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, suffix) = body.split_at(end);
    if digits.is_empty() {
        return Err(CliError::msg(fail()));
    }
    let value: i64 = match digits.parse::<i64>() {
        Ok(v) => v,
        // strtoll's ERANGE.
        Err(_) => return Err(CliError::msg(fail())),
    };
    if neg && value > 0 {
        return Ok(MEMORY_UNLIMITED);
    }
    let value = value as u64;
    let scale = if suffix.is_empty() {
        1024
    } else {
        match suffix_scale(suffix) {
            Some(s) => s,
            None => {
                return Err(virt(
                    ErrorCode::InvalidArg,
                    format!("unknown suffix '{suffix}'"),
                ))
            }
        }
    };
    // virScaleInteger with the limit LLONG_MAX.
    if value > i64::MAX as u64 / scale {
        return Err(virt(
            ErrorCode::Overflow,
            format!("value too large: {value}"),
        ));
    }
    Ok((value * scale).div_ceil(1024))
}

/// The parameters the options set, in virsh's order.
pub fn params(a: &Args) -> Result<Vec<TypedParam>, CliError> {
    let mut out = Vec::new();
    for (opt, name, field) in [
        (&a.hard_limit, "hard-limit", MEMORY_HARD_LIMIT),
        (&a.soft_limit, "soft-limit", MEMORY_SOFT_LIMIT),
        (
            &a.swap_hard_limit,
            "swap-hard-limit",
            MEMORY_SWAP_HARD_LIMIT,
        ),
        (&a.min_guarantee, "min-guarantee", MEMORY_MIN_GUARANTEE),
    ] {
        if let Some(text) = opt {
            out.push(TypedParam::new(
                field,
                TypedValue::ULLong(size_kib(text, name)?),
            ));
        }
    }
    Ok(out)
}

/// virsh's line for one parameter: `%-15s: value`, `unlimited` for the unlimited ULLONG.
pub fn render(p: &TypedParam) -> String {
    let value = match p.value {
        TypedValue::ULLong(MEMORY_UNLIMITED) => "unlimited".to_string(),
        ref v => v.virsh_text(),
    };
    format!("{:<15}: {value}", p.field)
}

/// Runs `memtune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let set = params(args)?;
    if set.is_empty() {
        // virsh asks for the count first, then the values: a refused flag fails the first
        // call, anything else (libvirt's test driver answers the count without looking at
        // the domain) the second.
        let ps = match conn
            .get_memory_parameters(&target.lookup, flags | TypedParamFlag::StringOkay as u32)
            .await
        {
            Ok(ps) => ps,
            Err(e) => {
                let first = e.code() == ErrorCode::InvalidArg;
                return Err(e).context(|| {
                    if first {
                        "Unable to get number of memory parameters"
                    } else {
                        "Unable to get memory parameters"
                    }
                    .to_string()
                });
            }
        };
        for p in &ps {
            out.line(&render(p));
        }
        return Ok(());
    }
    conn.set_memory_parameters(&target.lookup, &set, flags)
        .await
        .context(|| "Unable to change memory parameters".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_scale_round_up_and_negative_is_unlimited() {
        assert_eq!(size_kib("100", "hard-limit").ok(), Some(100));
        assert_eq!(size_kib("1G", "hard-limit").ok(), Some(1_048_576));
        assert_eq!(size_kib("1000b", "hard-limit").ok(), Some(1));
        assert_eq!(size_kib("-1", "hard-limit").ok(), Some(MEMORY_UNLIMITED));
        assert_eq!(
            size_kib("9007199254740991", "hard-limit").ok(),
            Some(MEMORY_UNLIMITED)
        );
        assert_eq!(
            size_kib("abc", "hard-limit").expect_err("bad").lines(),
            vec!["Unable to parse integer parameter hard-limit"]
        );
        assert_eq!(
            size_kib("1X", "soft-limit").expect_err("bad").lines(),
            vec![
                "Unable to parse integer parameter soft-limit",
                "invalid argument: unknown suffix 'X'"
            ]
        );
        assert_eq!(
            size_kib("9007199254740992", "hard-limit")
                .expect_err("big")
                .lines(),
            vec![
                "Unable to parse integer parameter hard-limit",
                "numerical overflow: value too large: 9007199254740992"
            ]
        );
    }

    #[test]
    fn unlimited_renders_as_virsh_does() {
        let p = TypedParam::new("swap_hard_limit", TypedValue::ULLong(MEMORY_UNLIMITED));
        assert_eq!(render(&p), "swap_hard_limit: unlimited");
        let p = TypedParam::new("hard_limit", TypedValue::ULLong(100));
        assert_eq!(render(&p), "hard_limit     : 100");
    }
}
