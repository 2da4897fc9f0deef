//! Scaled sizes as virsh reads them (`vshCommandOptScaledInt`, libvirt's `virScaleInteger`):
//! a decimal number and an optional unit. No unit means the option's default scale (KiB for
//! `setmem`). `b`/`byte`/`bytes` are bytes; `k m g t p e` alone or with `iB` are powers of
//! 1024; with `B` (`kB`, `MB`, ...) powers of 1000. Case does not matter.

use virt_client::ClientError;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use super::report::CliError;

/// Why a scaled value was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SizeError {
    /// Not a number, negative, or too large.
    Malformed,
    /// The unit is not one libvirt knows.
    UnknownSuffix(String),
}

/// Parses `text` into bytes; a bare number is multiplied by `default_scale`.
pub fn parse_scaled(text: &str, default_scale: u64) -> Result<u64, SizeError> {
    // strtoull's leniency, which virsh inherits: leading blanks and a plus sign.
    let text = text.trim_start();
    let text = text.strip_prefix('+').unwrap_or(text);
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    let value: u64 = number.parse().map_err(|_| SizeError::Malformed)?;
    let scale = if suffix.is_empty() {
        default_scale
    } else {
        suffix_scale(suffix).ok_or_else(|| SizeError::UnknownSuffix(suffix.to_string()))?
    };
    value.checked_mul(scale).ok_or(SizeError::Malformed)
}

/// The bytes one unit of `suffix` is (`k` = 1024, `kB` = 1000, `b` = 1), if libvirt knows it.
pub fn suffix_scale(suffix: &str) -> Option<u64> {
    let lower = suffix.to_ascii_lowercase();
    if matches!(lower.as_str(), "b" | "byte" | "bytes") {
        return Some(1);
    }
    let mut chars = lower.chars();
    let unit = chars.next()?;
    let base: u64 = match chars.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    let power = "kmgtpe".find(unit)? as u32 + 1;
    base.checked_pow(power)
}

/// `text` of option `<option>` as KiB, rounded up from bytes, as `virsh setmem` computes it.
pub fn kib_option(text: &str, option: &str) -> Result<u64, CliError> {
    let malformed = || {
        format!("Scaled numeric value '{text}' for <{option}> option is malformed or out of range")
    };
    match parse_scaled(text, 1024) {
        Ok(bytes) => Ok(bytes.div_ceil(1024)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_use_the_default_scale() {
        assert_eq!(parse_scaled("100", 1024), Ok(102_400));
        assert_eq!(kib_option("100", "size").expect("valid"), 100);
        assert_eq!(kib_option(" +5", "size").expect("valid"), 5);
    }

    #[test]
    fn binary_and_decimal_units() {
        assert_eq!(parse_scaled("1G", 1024), Ok(1 << 30));
        assert_eq!(parse_scaled("1GiB", 1024), Ok(1 << 30));
        assert_eq!(parse_scaled("1gib", 1024), Ok(1 << 30));
        assert_eq!(parse_scaled("1GB", 1024), Ok(1_000_000_000));
        assert_eq!(parse_scaled("2M", 1024), Ok(2 << 20));
        assert_eq!(parse_scaled("2MiB", 1024), Ok(2 << 20));
        assert_eq!(parse_scaled("3k", 1024), Ok(3072));
        assert_eq!(parse_scaled("3KiB", 1024), Ok(3072));
        assert_eq!(parse_scaled("3kB", 1024), Ok(3000));
        assert_eq!(parse_scaled("512b", 1024), Ok(512));
        assert_eq!(parse_scaled("512bytes", 1024), Ok(512));
        assert_eq!(parse_scaled("1T", 1024), Ok(1 << 40));
        assert_eq!(parse_scaled("1E", 1024), Ok(1 << 60));
    }

    #[test]
    fn bytes_round_up_to_whole_kib() {
        assert_eq!(kib_option("1025b", "size").expect("valid"), 2);
        assert_eq!(kib_option("1G", "size").expect("valid"), 1_048_576);
    }

    #[test]
    fn malformed_values_say_so_like_virsh() {
        for bad in ["abc", "-5", ""] {
            let err = kib_option(bad, "size").expect_err("malformed");
            assert_eq!(
                err.lines(),
                vec![format!(
                    "Scaled numeric value '{bad}' for <size> option is malformed or out of range"
                )]
            );
        }
        assert_eq!(parse_scaled("16E", 1024), Err(SizeError::Malformed));
    }

    #[test]
    fn unknown_suffix_adds_libvirts_line() {
        let err = kib_option("1x", "size").expect_err("unknown suffix");
        assert_eq!(
            err.lines(),
            vec![
                "Scaled numeric value '1x' for <size> option is malformed or out of range"
                    .to_string(),
                "invalid argument: unknown suffix 'x'".to_string(),
            ]
        );
    }
}
