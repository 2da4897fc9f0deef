//! libvirt's public-API rules of the guest agent calls, checked once for every driver before
//! the driver runs (libvirt checks them in libvirt-domain.c, above every driver).

use super::modify::exclusive;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::VirtError;

/// virDomainAuthorizedSSHKeysSet's APPEND flag.
pub const SSH_KEYS_APPEND: u32 = 1;
/// virDomainAuthorizedSSHKeysSet's REMOVE flag.
pub const SSH_KEYS_REMOVE: u32 = 2;

/// virDomainAuthorizedSSHKeysSet's argument rules: APPEND and REMOVE exclude each other, and
/// either needs keys (replacing with none empties the user's keys).
pub fn check_ssh_keys_set(keys: &[String], flags: u32) -> DriverResult<()> {
    if flags & (SSH_KEYS_APPEND | SSH_KEYS_REMOVE) != 0 && keys.is_empty() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "keys in virDomainAuthorizedSSHKeysSet must not be NULL",
        ));
    }
    exclusive(
        flags,
        SSH_KEYS_APPEND,
        "VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND",
        SSH_KEYS_REMOVE,
        "VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_remove_need_keys_and_exclude_each_other() {
        let k = vec!["ssh-ed25519 AAAA a@b".to_string()];
        assert!(check_ssh_keys_set(&[], 0).is_ok());
        assert!(check_ssh_keys_set(&k, SSH_KEYS_APPEND).is_ok());
        let e = check_ssh_keys_set(&[], SSH_KEYS_REMOVE).expect_err("no keys");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e
            .message()
            .contains("keys in virDomainAuthorizedSSHKeysSet"));
        let e = check_ssh_keys_set(&k, SSH_KEYS_APPEND | SSH_KEYS_REMOVE).expect_err("both");
        assert!(
            e.message().contains("mutually exclusive"),
            "{}",
            e.message()
        );
    }
}
