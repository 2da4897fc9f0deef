//! `virt set-user-password DOMAIN USER PASSWORD [--encrypted]`: sets a guest user's password
//! through the guest agent (`--encrypted`: PASSWORD is a crypt(3) hash already).

use virt_client::Connection;
use virt_core::proto::SetUserPasswordFlag;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `set-user-password`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The username.
    #[arg(value_name = "user", required_unless_present = "user_opt")]
    pub user: Option<String>,
    /// The username.
    #[arg(long = "user", value_name = "user", conflicts_with = "user")]
    pub user_opt: Option<String>,
    /// The new password.
    #[arg(value_name = "password", required_unless_present = "password_opt")]
    pub password: Option<String>,
    /// The new password.
    #[arg(
        long = "password",
        value_name = "password",
        conflicts_with = "password"
    )]
    pub password_opt: Option<String>,
    /// The password is already encrypted.
    #[arg(long)]
    pub encrypted: bool,
}

/// Runs `set-user-password`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let user = args.user.as_deref().or(args.user_opt.as_deref());
    let password = args.password.as_deref().or(args.password_opt.as_deref());
    let flags = if args.encrypted {
        SetUserPasswordFlag::Encrypted as u32
    } else {
        0
    };
    conn.set_user_password(
        &target.lookup,
        user.unwrap_or_default(),
        password.unwrap_or_default(),
        flags,
    )
    .await?;
    // virsh prints this without a newline of its own: the closing line ends it.
    if !out.quiet() {
        out.text(&format!(
            "Password set successfully for {} in {}",
            user.unwrap_or_default(),
            target.domain.name
        ));
    }
    Ok(())
}
