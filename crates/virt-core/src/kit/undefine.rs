//! virDomainUndefineFlags' flag rules, as libvirt's drivers apply them before looking at the
//! domain.

use super::flags::undefine::{ALL, KEEP_NVRAM, KEEP_TPM, NVRAM, TPM};
use crate::driver::DriverResult;
use crate::error::ErrorDomain;
use crate::VirtError;

/// Unknown bits are INVALID_ARG naming `function`; asking to both delete and keep the NVRAM
/// (or the TPM state) is OPERATION_INVALID "cannot both keep and delete nvram" (libvirt 9.0's
/// QEMU driver's words and code, observed; its API layer does not check the pair).
pub fn check_flags(flags: u32, domain: ErrorDomain, function: &str) -> DriverResult<()> {
    VirtError::check_flags(flags, ALL, domain, function)?;
    for (delete, keep, what) in [(NVRAM, KEEP_NVRAM, "nvram"), (TPM, KEEP_TPM, "TPM")] {
        if flags & delete != 0 && flags & keep != 0 {
            return Err(VirtError::operation_invalid(format!(
                "cannot both keep and delete {what}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn unknown_bits_and_keep_with_delete_are_refused() {
        assert!(check_flags(NVRAM | TPM, ErrorDomain::Test, "f").is_ok());
        let e = check_flags(0x80, ErrorDomain::Test, "f").expect_err("unknown bit");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        let e = check_flags(NVRAM | KEEP_NVRAM, ErrorDomain::Test, "f").expect_err("pair");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert_eq!(e.detail, "cannot both keep and delete nvram");
        let e = check_flags(TPM | KEEP_TPM, ErrorDomain::Test, "f").expect_err("pair");
        assert_eq!(e.detail, "cannot both keep and delete TPM");
    }
}
