//! `virt domiftune DOMAIN INTERFACE [--inbound AVG[,PEAK[,BURST[,FLOOR]]]]
//! [--outbound AVG[,PEAK[,BURST]]] [--config|--live|--current]`: prints an interface's
//! bandwidth, or changes it (libvirt: virDomainGet/SetInterfaceParameters).

use virt_client::Connection;
use virt_core::proto::TypedParamFlag;
use virt_core::types::{TypedParam, TypedValue};

use super::dom::{resolve, DomArg, ANY};
use super::impact::Impact;
use super::output::Output;
use super::report::{CliError, Context};
use super::tune_common::{opt_string, param_line};

/// Options of `domiftune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Interface device (MAC Address).
    #[arg(value_name = "INTERFACE", required_unless_present = "interface_opt")]
    pub interface: Option<String>,
    /// Interface device (MAC Address).
    #[arg(
        long = "interface",
        value_name = "INTERFACE",
        conflicts_with = "interface"
    )]
    pub interface_opt: Option<String>,
    /// Control domain's incoming traffics.
    #[arg(long, allow_hyphen_values = true)]
    pub inbound: Option<String>,
    /// Control domain's outgoing traffics.
    #[arg(long, allow_hyphen_values = true)]
    pub outbound: Option<String>,
    /// Where the change applies.
    #[command(flatten)]
    pub impact: Impact,
}

/// A rate `average,peak,burst,floor` (virshParseRateStr): empty fields are 0.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rate {
    /// Average.
    pub average: u64,
    /// Peak.
    pub peak: u64,
    /// Burst.
    pub burst: u64,
    /// Floor.
    pub floor: u64,
}

/// virshParseRateStr.
pub fn parse_rate(text: &str) -> Result<Rate, CliError> {
    let toks: Vec<&str> = text.split(',').collect();
    if toks.len() > 4 {
        return Err(CliError::msg(format!(
            "Rate string '{text}' has too many fields"
        )));
    }
    let mut r = Rate::default();
    for (i, (slot, name)) in [
        (&mut r.average, "average"),
        (&mut r.peak, "peak"),
        (&mut r.burst, "burst"),
        (&mut r.floor, "floor"),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(t) = toks.get(i).filter(|t| !t.is_empty()) else {
            continue;
        };
        let s = t.trim_start();
        *slot = if s.starts_with('-') || s.is_empty() {
            None
        } else {
            s.strip_prefix('+').unwrap_or(s).parse::<u64>().ok()
        }
        .ok_or_else(|| CliError::msg(format!("field '{name}' is malformed")))?;
    }
    Ok(r)
}

/// The parameters the options set, with virsh's checks.
pub fn params(a: &Args) -> Result<Vec<TypedParam>, CliError> {
    let u = |f: &str, v: u64| TypedParam::new(f, TypedValue::UInt(v as u32));
    let mut out = Vec::new();
    if let Some(text) = opt_string(&a.inbound, "inbound")? {
        let r = parse_rate(text)?;
        if r.average > u64::from(u32::MAX)
            || r.peak > u64::from(u32::MAX)
            || r.burst > u64::from(u32::MAX)
        {
            return Err(CliError::msg(format!(
                "inbound rate larger than maximum {}",
                u32::MAX
            )));
        }
        if r.average == 0 && (r.burst != 0 || r.peak != 0) && r.floor == 0 {
            return Err(CliError::msg(
                "either inbound average or floor is mandatory",
            ));
        }
        out.push(u("inbound.average", r.average));
        if r.peak != 0 {
            out.push(u("inbound.peak", r.peak));
        }
        if r.burst != 0 {
            out.push(u("inbound.burst", r.burst));
        }
        if r.floor != 0 {
            out.push(u("inbound.floor", r.floor));
        }
    }
    if let Some(text) = opt_string(&a.outbound, "outbound")? {
        let r = parse_rate(text)?;
        if r.average > u64::from(u32::MAX)
            || r.peak > u64::from(u32::MAX)
            || r.burst > u64::from(u32::MAX)
        {
            return Err(CliError::msg(format!(
                "outbound rate larger than maximum {}",
                u32::MAX
            )));
        }
        if r.average == 0 && (r.burst != 0 || r.peak != 0) {
            return Err(CliError::msg("outbound average is mandatory"));
        }
        if r.floor != 0 {
            return Err(CliError::msg("outbound floor is unsupported yet"));
        }
        out.push(u("outbound.average", r.average));
        if r.peak != 0 {
            out.push(u("outbound.peak", r.peak));
        }
        if r.burst != 0 {
            out.push(u("outbound.burst", r.burst));
        }
    }
    Ok(out)
}

/// Runs `domiftune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = args.impact.flags()?.unwrap_or(0);
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let device = args
        .interface
        .as_deref()
        .or(args.interface_opt.as_deref())
        .unwrap_or_default();
    let set = params(args)?;
    if set.is_empty() {
        let ps = conn
            .get_interface_parameters(
                &target.lookup,
                device,
                flags | TypedParamFlag::StringOkay as u32,
            )
            .await
            .context(|| "Unable to get interface parameters".to_string())?;
        for p in &ps {
            out.line(&param_line(p));
        }
        return Ok(());
    }
    conn.set_interface_parameters(&target.lookup, device, &set, flags)
        .await
        .context(|| "Unable to set interface parameters".to_string())
}
