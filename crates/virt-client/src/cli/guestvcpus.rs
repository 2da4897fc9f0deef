//! `virt guestvcpus DOMAIN [CPULIST] [--enable|--disable]`: the guest's view of its vCPUs,
//! or onlines/offlines those listed (libvirt: virDomainGet/SetGuestVcpus, guest agent).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;
use super::tune_common::{opt_string, param_line};

/// Options of `guestvcpus`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// List of cpus to enable or disable.
    #[arg(value_name = "CPULIST")]
    pub cpulist: Option<String>,
    /// List of cpus to enable or disable.
    #[arg(long = "cpulist", value_name = "CPULIST", conflicts_with = "cpulist")]
    pub cpulist_opt: Option<String>,
    /// Enable cpus specified by cpulist.
    #[arg(long)]
    pub enable: bool,
    /// Disable cpus specified by cpulist.
    #[arg(long)]
    pub disable: bool,
}

/// Runs `guestvcpus`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.enable && args.disable {
        return Err(exclusive("enable", "disable"));
    }
    let cl = if args.cpulist.is_some() {
        &args.cpulist
    } else {
        &args.cpulist_opt
    };
    for (set, name) in [(args.enable, "enable"), (args.disable, "disable")] {
        if set && cl.is_none() {
            return Err(CliError::msg(format!(
                "Option --cpulist is required by option --{name}"
            )));
        }
    }
    let cpulist = opt_string(cl, "cpulist")?;
    if cpulist.is_some() && !(args.enable || args.disable) {
        return Err(CliError::msg(
            "One of options --enable or --disable is required by option --cpulist",
        ));
    }
    let target = resolve(conn, args.domain.get(), ANY).await?;
    if let Some(list) = cpulist {
        conn.set_guest_vcpus(&target.lookup, list, args.enable, 0)
            .await?;
        return Ok(());
    }
    for p in conn.get_guest_vcpus(&target.lookup, 0).await? {
        out.line(&param_line(&p));
    }
    Ok(())
}
