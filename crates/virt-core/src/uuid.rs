//! Domain UUIDs: parsing (36-character dashed form or 32 hex digits, as libvirt accepts),
//! formatting (lower-case dashed), and random generation (version 4, from /dev/urandom).

use std::fmt;
use std::io::Read;

/// A 16-byte UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses `6695eb01-f6a4-8304-79aa-97f2502e193f` or the same 32 hex digits without dashes.
    /// libvirt also skips dashes anywhere and surrounding spaces; so do we.
    pub fn parse(s: &str) -> Option<Uuid> {
        let hex: Vec<u8> = s.trim().bytes().filter(|b| *b != b'-').collect();
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Uuid(out))
    }

    /// A random version-4 UUID.
    pub fn random() -> Uuid {
        let mut b = [0u8; 16];
        let filled = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .is_ok();
        if !filled {
            // /dev/urandom missing: fall back to time and address entropy, still unique enough
            // for object identity within one process.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let x = t ^ ((&b as *const _ as usize as u128) << 64);
            b.copy_from_slice(&x.to_le_bytes());
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Uuid(b)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_formats_dashed() {
        let a = Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").expect("valid");
        let b = Uuid::parse("6695EB01F6A4830479AA97F2502E193F").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert!(Uuid::parse("6695eb01-f6a4").is_none());
        assert!(Uuid::parse("zz95eb01-f6a4-8304-79aa-97f2502e193f").is_none());
    }

    #[test]
    fn random_is_version_4_and_differs() {
        let a = Uuid::random();
        assert_eq!(a.0[6] >> 4, 4);
        assert_ne!(a, Uuid::random());
    }
}
