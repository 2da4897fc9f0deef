//! `virt guestinfo DOMAIN [--user] [--os] [--timezone] [--hostname] [--filesystem] [--disk]
//! [--interface]`: what the guest agent reports, one `field : value` line per typed parameter.

use virt_client::Connection;
use virt_core::proto::GuestInfoType as T;
use virt_core::types::TypedParam;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `guestinfo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Report active users.
    #[arg(long)]
    pub user: bool,
    /// Report operating system information.
    #[arg(long)]
    pub os: bool,
    /// Report timezone information.
    #[arg(long)]
    pub timezone: bool,
    /// Report hostname.
    #[arg(long)]
    pub hostname: bool,
    /// Report filesystem information.
    #[arg(long)]
    pub filesystem: bool,
    /// Report disk information.
    #[arg(long)]
    pub disk: bool,
    /// Report interface information.
    #[arg(long)]
    pub interface: bool,
}

/// The GuestInfoType bits the options select (0, every type, when none is given).
pub fn types(a: &Args) -> u32 {
    [
        (a.user, T::Users),
        (a.os, T::Os),
        (a.timezone, T::Timezone),
        (a.hostname, T::Hostname),
        (a.filesystem, T::Filesystem),
        (a.disk, T::Disks),
        (a.interface, T::Interfaces),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, t)| acc | *t as u32)
}

/// virsh's lines: the field padded to 20 columns, `: `, the value.
pub fn render(params: &[TypedParam]) -> String {
    params
        .iter()
        .map(|p| format!("{:<20}: {}\n", p.field, p.value.virsh_text()))
        .collect()
}

/// Runs `guestinfo`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let params = conn.guest_info(&target.lookup, types(args), 0).await?;
    out.text(&render(&params));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::types::TypedValue;

    #[test]
    fn params_print_as_virsh_lines() {
        let params = [
            TypedParam::new("user.count", TypedValue::UInt(0)),
            TypedParam::new("hostname", TypedValue::String("vm".into())),
            TypedParam::new("disk.0.partition", TypedValue::Bool(false)),
            TypedParam::new("timezone.offset", TypedValue::Int(-3600)),
        ];
        assert_eq!(
            render(&params),
            "user.count          : 0\n\
             hostname            : vm\n\
             disk.0.partition    : no\n\
             timezone.offset     : -3600\n"
        );
    }
}
