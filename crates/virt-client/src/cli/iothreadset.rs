//! `virt iothreadset DOMAIN ID [--poll-max-ns N] [--poll-grow N] [--poll-shrink N]
//! [--thread-pool-min N] [--thread-pool-max N] [--config|--live|--current]`: changes an
//! IOThread's parameters (libvirt: virDomainSetIOThreadParams).

use virt_client::Connection;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::CliError;
use super::tune_common::{opt_int, opt_uint, opt_ullong};

/// Options of `iothreadset`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// IOThread ID number.
    #[arg(
        value_name = "ID",
        allow_hyphen_values = true,
        required_unless_present = "id_opt"
    )]
    pub id: Option<String>,
    /// IOThread ID number.
    #[arg(
        long = "id",
        value_name = "ID",
        conflicts_with = "id",
        allow_hyphen_values = true
    )]
    pub id_opt: Option<String>,
    /// Set the maximum IOThread polling time in ns.
    #[arg(long, allow_hyphen_values = true)]
    pub poll_max_ns: Option<String>,
    /// Set the value to increase the IOThread polling time.
    #[arg(long, allow_hyphen_values = true)]
    pub poll_grow: Option<String>,
    /// Set the value for reduction of the IOThread polling time.
    #[arg(long, allow_hyphen_values = true)]
    pub poll_shrink: Option<String>,
    /// Lower boundary for worker thread pool.
    #[arg(long, allow_hyphen_values = true)]
    pub thread_pool_min: Option<String>,
    /// Upper boundary for worker thread pool.
    #[arg(long, allow_hyphen_values = true)]
    pub thread_pool_max: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// Runs `iothreadset`.
pub async fn run(conn: &Connection, args: &Args, _out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let id_text = args
        .id
        .as_deref()
        .or(args.id_opt.as_deref())
        .unwrap_or_default();
    let id = opt_uint(id_text, "id")?;
    let mut ps = Vec::new();
    if let Some(t) = &args.poll_max_ns {
        ps.push(TypedParam::new(
            "poll_max_ns",
            TypedValue::ULLong(opt_ullong(t, "poll-max-ns")?),
        ));
    }
    if let Some(t) = &args.poll_grow {
        ps.push(TypedParam::new(
            "poll_grow",
            TypedValue::UInt(opt_uint(t, "poll-grow")?),
        ));
    }
    if let Some(t) = &args.poll_shrink {
        ps.push(TypedParam::new(
            "poll_shrink",
            TypedValue::UInt(opt_uint(t, "poll-shrink")?),
        ));
    }
    if let Some(t) = &args.thread_pool_min {
        ps.push(TypedParam::new(
            "thread_pool_min",
            TypedValue::Int(opt_int(t, "thread-pool-min")?),
        ));
    }
    if let Some(t) = &args.thread_pool_max {
        ps.push(TypedParam::new(
            "thread_pool_max",
            TypedValue::Int(opt_int(t, "thread-pool-max")?),
        ));
    }
    if ps.is_empty() {
        return Err(CliError::msg("Not enough arguments passed, nothing to set"));
    }
    conn.set_iothread_params(&target.lookup, id, &ps, flags)
        .await?;
    Ok(())
}
