//! `virt perf DOMAIN [--enable LIST] [--disable LIST] [--config|--live|--current]`: prints
//! every perf event as `enabled`/`disabled`, or changes those listed and prints them
//! (libvirt: virDomainGet/SetPerfEvents).

use virt_client::Connection;
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::opt_string;

/// Options of `perf`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Perf events to enable, comma separated.
    #[arg(long, allow_hyphen_values = true)]
    pub enable: Option<String>,
    /// Perf events to disable, comma separated.
    #[arg(long, allow_hyphen_values = true)]
    pub disable: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

fn status_lines(ps: &[TypedParam], out: &mut Output) {
    for p in ps {
        let on = matches!(p.value, TypedValue::Bool(true));
        out.extra(&format!(
            "{:<15}: {}",
            p.field,
            if on { "enabled" } else { "disabled" }
        ));
    }
}

/// Runs `perf`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let enable = opt_string(&args.enable, "enable")?;
    let disable = opt_string(&args.disable, "disable")?;
    let mut set = Vec::new();
    for (list, on) in [(enable, true), (disable, false)] {
        if let Some(list) = list {
            for name in list.split(',').filter(|n| !n.is_empty()) {
                set.push(TypedParam::new(name, TypedValue::Bool(on)));
            }
        }
    }
    if set.is_empty() {
        let ps = conn
            .get_perf_events(&target.lookup, flags | TypedParamFlag::StringOkay as u32)
            .await
            .context(|| "Unable to get perf events".to_string())?;
        status_lines(&ps, out);
        return Ok(());
    }
    conn.set_perf_events(&target.lookup, &set, flags)
        .await
        .context(|| "Unable to enable/disable perf events".to_string())?;
    status_lines(&set, out);
    Ok(())
}
