//! What the tuning, vCPU and IOThread commands (issue 15, group "tune") share: virsh's
//! numeric option parsers and their messages, `Failed to get option` for empty strings, the
//! typed-parameter lines (`%-15s: %s`), virshParseCPUList and cpumap formatting.

use virt_client::{ClientError, Connection};
use virt_core::kit::tune::{format_bitmap, from_cpumap, parse_bitmap, to_cpumap};
use virt_core::types::TypedParam;

use super::report::CliError;
use super::size::{parse_scaled, SizeError};

/// virsh's message for a numeric option that does not parse.
pub fn numeric_error(text: &str, opt: &str) -> CliError {
    CliError::msg(format!(
        "Numeric value '{text}' for <{opt}> option is malformed or out of range"
    ))
}

/// strtol-style digits after optional leading blanks and a sign; nothing may follow.
fn integer(text: &str) -> Option<i128> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, d) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) || d.len() > 30 {
        return None;
    }
    let v: i128 = d.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// vshCommandOptInt (virStrToLong_i).
pub fn opt_int(text: &str, opt: &str) -> Result<i32, CliError> {
    integer(text)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| numeric_error(text, opt))
}

/// vshCommandOptUInt (virStrToLong_uip: no negative values).
pub fn opt_uint(text: &str, opt: &str) -> Result<u32, CliError> {
    integer(text)
        .filter(|v| *v >= 0 && !text.trim_start().starts_with('-'))
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| numeric_error(text, opt))
}

/// vshCommandOptULongLong (virStrToLong_ullp: no negative values).
pub fn opt_ullong(text: &str, opt: &str) -> Result<u64, CliError> {
    integer(text)
        .filter(|v| *v >= 0 && !text.trim_start().starts_with('-'))
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| numeric_error(text, opt))
}

/// vshCommandOptScaledInt with the default scale `scale`.
pub fn opt_scaled(text: &str, opt: &str, scale: u64) -> Result<u64, CliError> {
    let malformed =
        || format!("Scaled numeric value '{text}' for <{opt}> option is malformed or out of range");
    match parse_scaled(text, scale) {
        Ok(v) => Ok(v),
        Err(SizeError::Malformed) => Err(CliError::msg(malformed())),
        Err(SizeError::UnknownSuffix(s)) => Err(CliError::Call {
            context: Some(malformed()),
            source: Box::new(ClientError::Virt(virt_core::VirtError::new(
                virt_core::ErrorCode::InvalidArg,
                virt_core::ErrorDomain::None,
                format!("unknown suffix '{s}'"),
            ))),
        }),
    }
}

/// vshCommandOptStringReq on a string option: an empty value is an error.
pub fn opt_string<'a>(value: &'a Option<String>, opt: &str) -> Result<Option<&'a str>, CliError> {
    match value.as_deref() {
        Some("") => Err(CliError::msg(format!(
            "Failed to get option '{opt}': Option argument is empty"
        ))),
        v => Ok(v),
    }
}

/// `error` followed by `then` (virsh's second line for the same failure); libvirt's own
/// message, if any, stays last as virsh prints it.
pub fn then(error: CliError, then: &str) -> CliError {
    match error {
        CliError::Call {
            context: Some(c),
            source,
        } => CliError::Lines(vec![c, then.to_string(), source.to_string()]),
        e => {
            let mut lines = e.lines();
            lines.push(then.to_string());
            CliError::Lines(lines)
        }
    }
}

/// virsh's line for one typed parameter: `%-15s: value`.
pub fn param_line(p: &TypedParam) -> String {
    format!("{:<15}: {}", p.field, p.value.virsh_text())
}

/// Whether a failure is libvirt's API-layer refusal of LIVE with CONFIG (reported by virsh
/// on its first, counting call).
pub fn is_exclusive_flags(e: &ClientError) -> bool {
    e.to_string().starts_with("Flags 'VIR_DOMAIN_AFFECT_LIVE'")
}

/// How many host CPUs virsh shows (virshNodeGetCPUCount: the node's CPU map).
pub async fn node_cpu_count(conn: &Connection) -> Result<u32, CliError> {
    Ok(conn.cpu_map(0).await?.len() as u32)
}

/// virshParseCPUList: `r...` is every CPU; otherwise a bitmap of at least one CPU below
/// `maxcpu`. The cpumap is VIR_CPU_MAPLEN(maxcpu) bytes.
pub fn parse_cpulist(text: &str, maxcpu: u32) -> Result<Vec<u8>, CliError> {
    let len = maxcpu.div_ceil(8) as usize;
    if text.starts_with('r') {
        return Ok(to_cpumap(&(0..maxcpu).collect(), len));
    }
    let invalid = || format!("Invalid cpulist '{text}'");
    let set = match parse_bitmap(text, 1024) {
        Ok(s) => s,
        Err(e) => {
            return Err(CliError::Call {
                context: Some(invalid()),
                source: Box::new(ClientError::Virt(e)),
            })
        }
    };
    let Some(last) = set.iter().next_back().copied() else {
        return Err(CliError::msg(invalid()));
    };
    if last >= maxcpu {
        return Err(CliError::msg(format!(
            "CPU {last} in cpulist '{text}' exceed the maxcpu {maxcpu}"
        )));
    }
    Ok(to_cpumap(&set, len))
}

/// virBitmapDataFormat of the first `maplen` bytes of a cpumap.
pub fn cpumap_text(map: &[u8], maplen: usize) -> String {
    format_bitmap(&from_cpumap(&map[..map.len().min(maplen)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_virsh() {
        assert_eq!(opt_int(" 5", "weight").ok(), Some(5));
        assert!(opt_int("5x", "weight").is_err());
        assert!(opt_uint("-1", "id").is_err());
        assert_eq!(opt_ullong("100", "poll-max-ns").ok(), Some(100));
        assert_eq!(
            opt_uint("4294967296", "poll-grow")
                .expect_err("big")
                .lines(),
            vec!["Numeric value '4294967296' for <poll-grow> option is malformed or out of range"]
        );
    }

    #[test]
    fn cpulists_as_virsh() {
        assert_eq!(parse_cpulist("1-3", 8).ok(), Some(vec![0b1110]));
        assert_eq!(parse_cpulist("r", 8).ok(), Some(vec![0xff]));
        assert_eq!(
            parse_cpulist("9", 8).expect_err("big").lines(),
            vec!["CPU 9 in cpulist '9' exceed the maxcpu 8"]
        );
        assert_eq!(
            parse_cpulist("^1", 8).expect_err("empty").lines(),
            vec!["Invalid cpulist '^1'"]
        );
        assert_eq!(
            parse_cpulist("abc", 8).expect_err("bad").lines(),
            vec![
                "Invalid cpulist 'abc'",
                "invalid argument: Failed to parse bitmap 'abc'"
            ]
        );
        assert_eq!(cpumap_text(&[0xff, 0xff], 1), "0-7");
    }
}
