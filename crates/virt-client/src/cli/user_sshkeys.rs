//! `virt get-user-sshkeys DOMAIN USER` and `virt set-user-sshkeys DOMAIN USER [--file F]
//! [--reset] [--remove]`: a guest user's authorized SSH keys, through the guest agent.
//!
//! `get-user-sshkeys` prints one key per line. `set-user-sshkeys` appends the keys of FILE (one
//! per line, blank lines skipped), replaces the user's keys with them (`--reset`, without
//! `--file`: removes every key) or removes them (`--remove`), with virsh's option rules.

use virt_client::Connection;
use virt_core::kit::guest::{SSH_KEYS_APPEND, SSH_KEYS_REMOVE};

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;
use super::unsupported::requires;

/// Options of `get-user-sshkeys`.
#[derive(clap::Args, Debug)]
pub struct GetKeysArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// User to list authorized keys for.
    #[arg(value_name = "USER", required_unless_present = "user_opt")]
    pub user: Option<String>,
    /// User to list authorized keys for.
    #[arg(long = "user", value_name = "USER", conflicts_with = "user")]
    pub user_opt: Option<String>,
}

/// Runs `get-user-sshkeys`.
pub async fn get_user_sshkeys(
    conn: &Connection,
    a: &GetKeysArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let user = a
        .user
        .as_deref()
        .or(a.user_opt.as_deref())
        .unwrap_or_default();
    let keys = conn.authorized_ssh_keys(&target.lookup, user, 0).await?;
    for key in keys {
        out.line(&key);
    }
    Ok(())
}

/// Options of `set-user-sshkeys`.
#[derive(clap::Args, Debug)]
pub struct SetKeysArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// User to set authorized keys for.
    #[arg(value_name = "USER", required_unless_present = "user_opt")]
    pub user: Option<String>,
    /// User to set authorized keys for.
    #[arg(long = "user", value_name = "USER", conflicts_with = "user")]
    pub user_opt: Option<String>,
    /// Optional file to read keys from.
    #[arg(long)]
    pub file: Option<String>,
    /// Clear out authorized keys file before adding new keys.
    #[arg(long)]
    pub reset: bool,
    /// Remove keys from the authorized keys file.
    #[arg(long)]
    pub remove: bool,
}

/// Runs `set-user-sshkeys`: virsh's option rules and key file read, then the call.
pub async fn set_user_sshkeys(
    conn: &Connection,
    a: &SetKeysArgs,
    _out: &mut Output,
) -> Result<(), CliError> {
    requires(("remove", a.remove), ("file", a.file.is_some()))?;
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let flags = if a.remove {
        SSH_KEYS_REMOVE
    } else if a.reset {
        0
    } else {
        SSH_KEYS_APPEND
    };
    if a.file.is_none() && flags == SSH_KEYS_APPEND {
        return Err(CliError::msg("Option --file is required"));
    }
    let keys = match &a.file {
        None => Vec::new(),
        Some(path) => match std::fs::read_to_string(path) {
            Err(e) => {
                return Err(CliError::msg(format!(
                    "Failed to open file '{path}': {}",
                    super::report::os_error_text(&e)
                )))
            }
            // One key per line; blank lines carry no key.
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
        },
    };
    let user = a
        .user
        .as_deref()
        .or(a.user_opt.as_deref())
        .unwrap_or_default();
    conn.set_authorized_ssh_keys(&target.lookup, user, &keys, flags)
        .await?;
    Ok(())
}
