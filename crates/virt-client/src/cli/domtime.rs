//! `virt domtime DOMAIN [--now] [--pretty] [--sync] [--time N]`: reads or sets the guest's
//! clock. Reading prints `Time: N` (or `Time: YYYY-MM-DD HH:MM:SS`, UTC) without a newline of
//! its own, as virsh does: the command's closing newline ends the line.

use virt_client::Connection;
use virt_core::proto::SetDomainTimeFlag;

use super::dom::{resolve, DomArg, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;

/// Options of `domtime`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Set to the time of the host running virt.
    #[arg(long)]
    pub now: bool,
    /// Print domain's time in human readable form.
    #[arg(long)]
    pub pretty: bool,
    /// Instead of setting given time, synchronize from domain's RTC.
    #[arg(long)]
    pub sync: bool,
    /// Time to set (seconds since the epoch).
    #[arg(long, allow_hyphen_values = true)]
    pub time: Option<String>,
}

/// virsh's checks of option pairs, made before the domain is looked up.
fn check_exclusive(a: &Args) -> Result<(), CliError> {
    let time = a.time.is_some();
    for (x, y, both) in [
        ("time", "now", time && a.now),
        ("time", "sync", time && a.sync),
        ("now", "sync", a.now && a.sync),
    ] {
        if both {
            return Err(exclusive(x, y));
        }
    }
    Ok(())
}

/// What the options ask: `Some((seconds, flags))` to set, `None` to read.
pub fn request(a: &Args, now: i64) -> Result<Option<(i64, u32)>, CliError> {
    check_exclusive(a)?;
    if let Some(t) = &a.time {
        let secs = t.parse::<i64>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{t}' for <time> option is malformed or out of range"
            ))
        })?;
        return Ok(Some((secs, 0)));
    }
    if a.now {
        return Ok(Some((now, 0)));
    }
    if a.sync {
        return Ok(Some((0, SetDomainTimeFlag::Sync as u32)));
    }
    Ok(None)
}

/// `Time: N`, or with `pretty` the UTC date and time.
pub fn render(seconds: i64, pretty: bool) -> String {
    if !pretty {
        return format!("Time: {seconds}");
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = virt_core::timefmt::civil_from_days(days);
    format!(
        "Time: {y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn host_now() -> Result<i64, CliError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .map_err(|_| CliError::msg("Unable to get current time"))
}

/// Runs `domtime`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    check_exclusive(args)?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    match request(args, if args.now { host_now()? } else { 0 })? {
        Some((seconds, flags)) => {
            conn.set_domain_time(&target.lookup, seconds, 0, flags)
                .await?;
        }
        None => {
            let (seconds, _) = conn.domain_time(&target.lookup, 0).await?;
            out.text(&render(seconds, args.pretty));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn args(v: &[&str]) -> Args {
        T::try_parse_from(std::iter::once("domtime").chain(v.iter().copied()))
            .expect("parses")
            .a
    }

    #[test]
    fn pretty_time_is_utc_as_virsh_prints_it() {
        assert_eq!(render(627_319_920, true), "Time: 1989-11-17 15:32:00");
        assert_eq!(render(0, true), "Time: 1970-01-01 00:00:00");
        assert_eq!(render(-1, true), "Time: 1969-12-31 23:59:59");
        assert_eq!(render(951_782_400, true), "Time: 2000-02-29 00:00:00");
        assert_eq!(render(5, false), "Time: 5");
    }

    #[test]
    fn options_map_to_set_time_calls_with_virshs_errors() {
        assert_eq!(request(&args(&["d"]), 9).expect("read"), None);
        assert_eq!(
            request(&args(&["d", "--time", "-5"]), 9).expect("set"),
            Some((-5, 0))
        );
        assert_eq!(
            request(&args(&["d", "--now"]), 9).expect("now"),
            Some((9, 0))
        );
        assert_eq!(
            request(&args(&["d", "--sync"]), 9).expect("sync"),
            Some((0, 1))
        );
        let e = request(&args(&["d", "--now", "--time", "1"]), 9).expect_err("both");
        assert_eq!(
            e.lines(),
            vec!["Options --time and --now are mutually exclusive"]
        );
        let e = request(&args(&["d", "--time", "x"]), 9).expect_err("bad");
        assert_eq!(
            e.lines(),
            vec!["Numeric value 'x' for <time> option is malformed or out of range"]
        );
    }
}
