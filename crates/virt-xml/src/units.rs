//! Scaled integers (`<memory unit='GiB'>4</memory>`): libvirt's unit words, its overflow limit
//! and its rounding up to whole KiB.

use crate::XmlError;

/// Largest byte count accepted (libvirt keeps sizes in a signed 64-bit integer).
const MAX_BYTES: u64 = i64::MAX as u64;

/// Bytes per unit for `unit`, matched case-insensitively as libvirt does: `b`/`byte`/`bytes`,
/// a one-letter prefix or prefix+`iB` (binary, 1024^n), prefix+`B` (decimal, 1000^n).
/// `None` for an unknown unit.
pub fn unit_scale(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    if matches!(u.as_str(), "b" | "byte" | "bytes") {
        return Some(1);
    }
    let mut chars = u.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: u64 = match chars.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// Parses the text `value` with `unit` (KiB when absent or empty) into KiB, rounding up.
/// `path` is the element's XPath for errors.
pub fn parse_kib(path: &str, value: &str, unit: Option<&str>) -> Result<u64, XmlError> {
    parse_kib_at(path, &format!("{path}/@unit"), value, unit)
}

/// As [`parse_kib`], for a value and unit in attributes: `path` is the value's XPath,
/// `unit_path` the unit's (`<page size= unit=>`, `<source usage= units=>`).
pub fn parse_kib_at(
    path: &str,
    unit_path: &str,
    value: &str,
    unit: Option<&str>,
) -> Result<u64, XmlError> {
    let unit = unit.unwrap_or("");
    let scale = if unit.is_empty() {
        1024
    } else {
        unit_scale(unit).ok_or_else(|| XmlError::UnknownUnit {
            path: unit_path.to_string(),
            unit: unit.to_string(),
        })?
    };
    let trimmed = value.trim();
    let n = crate::strict::parse_u64(trimmed).ok_or_else(|| XmlError::InvalidValue {
        path: path.to_string(),
        value: value.to_string(),
        reason: "expected a non-negative integer".into(),
    })?;
    let bytes = n
        .checked_mul(scale)
        .filter(|b| *b <= MAX_BYTES)
        .ok_or_else(|| XmlError::Overflow {
            path: path.to_string(),
            value: trimmed.to_string(),
            unit: if unit.is_empty() {
                "KiB".into()
            } else {
                unit.to_string()
            },
        })?;
    Ok(bytes.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_normalise_to_kib_rounding_up() {
        let kib = |v: &str, u: Option<&str>| parse_kib("/domain/memory", v, u).expect("valid");
        assert_eq!(kib("1024", None), 1024);
        assert_eq!(kib("1024", Some("")), 1024);
        assert_eq!(kib("1", Some("b")), 1);
        assert_eq!(kib("2048", Some("bytes")), 2);
        assert_eq!(kib("1", Some("KB")), 1);
        assert_eq!(kib("1", Some("k")), 1);
        assert_eq!(kib("1", Some("KiB")), 1);
        assert_eq!(kib("1", Some("MB")), 977);
        assert_eq!(kib("500", Some("MB")), 488_282);
        assert_eq!(kib("1", Some("M")), 1024);
        assert_eq!(kib("1", Some("mIB")), 1024);
        assert_eq!(kib("2", Some("GiB")), 2 * 1024 * 1024);
        assert_eq!(kib("1", Some("GB")), 976_563);
        assert_eq!(kib("1", Some("T")), 1024 * 1024 * 1024);
        assert_eq!(kib("1", Some("TB")), 976_562_500);
        assert_eq!(kib("1", Some("P")), 1u64 << 40);
        assert_eq!(kib("1", Some("PB")), 976_562_500_000);
        assert_eq!(kib("1", Some("E")), 1u64 << 50);
        assert_eq!(kib(" 8 ", Some("k")), 8);
    }

    #[test]
    fn bad_units_values_and_overflow_are_refused() {
        let e = parse_kib("/domain/memory", "1", Some("Z")).expect_err("unknown");
        assert_eq!(e.code(), virt_core::ErrorCode::InvalidArg);
        assert_eq!(e.to_string(), "unknown suffix 'Z' for /domain/memory/@unit");
        assert!(parse_kib("/m", "1", Some("kibb")).is_err());
        assert!(parse_kib("/m", "-5", None).is_err());
        assert!(parse_kib("/m", "1.5", None).is_err());
        let e = parse_kib("/m", "8", Some("EiB")).expect_err("too large");
        assert_eq!(e.code(), virt_core::ErrorCode::Overflow);
        assert!(parse_kib("/m", "7", Some("EiB")).is_ok());
    }
}
