//! `virt qemu-monitor-event [DOMAIN] [--event NAME] [--pretty] [--loop] [--timeout SECS]
//! [--regex] [--no-case] [--timestamp]`: waits for QMP events of the daemon's guests and
//! prints them as virsh 9.0 does: `event NAME at SECS.USECS for domain 'DOM': DATA` (with
//! `--timestamp`: `TIME: event NAME for domain 'DOM': DATA`, the time being when it is printed),
//! `<null>` for an event without data, `--pretty` data indented. Without `--loop` the first
//! event ends the wait; `--timeout` and Ctrl-C end it too; then `events received: N` (none
//! received is a failure, without a message, as in virsh).

use std::time::{Duration, SystemTime};

use virt_client::Connection;

use super::dom::{resolve, ANY};
use super::event::until;
use super::event_text::timestamp;
use super::output::Output;
use super::report::CliError;

/// Options of `qemu-monitor-event`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Filter by domain name, id or uuid.
    #[arg(value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Filter by domain name, id or uuid.
    #[arg(long = "domain", value_name = "DOMAIN", conflicts_with = "domain")]
    pub domain_opt: Option<String>,
    /// Filter by event name.
    #[arg(long)]
    pub event: Option<String>,
    /// Pretty-print any JSON output.
    #[arg(long)]
    pub pretty: bool,
    /// Loop until timeout or interrupt, rather than one-shot.
    #[arg(long = "loop")]
    pub loop_: bool,
    /// Timeout seconds.
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Treat event as a regex rather than literal filter.
    #[arg(long)]
    pub regex: bool,
    /// Treat event case-insensitively.
    #[arg(long)]
    pub no_case: bool,
    /// Show timestamp for each printed event.
    #[arg(long)]
    pub timestamp: bool,
}

/// virsh's `--timeout` rule (vshCommandOptTimeoutToMs): a positive int whose milliseconds fit.
fn timeout(t: &Option<String>) -> Result<Option<u64>, CliError> {
    let Some(t) = t else { return Ok(None) };
    match t.parse::<i32>() {
        Ok(n) if (1..=i32::MAX / 1000).contains(&n) => Ok(Some(n as u64)),
        _ => Err(CliError::msg(format!(
            "Numeric value '{t}' for <timeout> option is malformed or out of range"
        ))),
    }
}

/// One event's line as virsh prints it (`now` for `--timestamp`).
pub fn render(
    ev: &virt_core::proto::QemuMonitorEvent,
    pretty: bool,
    stamp: Option<SystemTime>,
) -> String {
    let dom = ev.domain.as_ref().map(|d| d.name.as_str()).unwrap_or("");
    let details = match &ev.details {
        None => "<null>".to_string(),
        Some(d) if pretty => virt_core::jsontext::pretty(d)
            .map(|p| format!("{p}\n"))
            .unwrap_or_else(|_| d.clone()),
        Some(d) => d.clone(),
    };
    match stamp {
        Some(t) => format!(
            "{}event {} for domain '{dom}': {details}\n",
            timestamp(t),
            ev.event
        ),
        None => format!(
            "event {} at {}.{:06} for domain '{dom}': {details}\n",
            ev.event, ev.seconds, ev.micros
        ),
    }
}

/// Runs `qemu-monitor-event`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let mut flags = 0;
    if a.regex {
        flags |= 1;
    }
    if a.no_case {
        flags |= 2;
    }
    let secs = timeout(&a.timeout)?;
    let lookup = match a.domain.as_deref().or(a.domain_opt.as_deref()) {
        Some(d) => Some(resolve(conn, d, ANY).await?.lookup),
        None => None,
    };
    let deadline = secs.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut stream = conn
        .stream_qemu_monitor_events(lookup.as_ref(), a.event.as_deref().unwrap_or(""), flags)
        .await?;
    let mut count = 0u64;
    let mut interrupted = false;
    let mut timed_out = false;
    loop {
        tokio::select! {
            msg = stream.message() => match msg.map_err(virt_client::ClientError::from)? {
                Some(m) => {
                    let Some(ev) = m.event else { continue };
                    let stamp = a.timestamp.then(SystemTime::now);
                    out.text(&render(&ev, a.pretty, stamp));
                    out.flush();
                    count += 1;
                    if !a.loop_ {
                        break;
                    }
                }
                None => break,
            },
            _ = until(deadline) => { timed_out = true; break; }
            _ = tokio::signal::ctrl_c() => { interrupted = true; break; }
        }
    }
    if interrupted {
        out.line("event loop interrupted");
    } else if timed_out {
        out.line("event loop timed out");
    }
    out.line(&format!("events received: {count}"));
    if count == 0 {
        return Err(CliError::Silent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::{Domain, QemuMonitorEvent};

    fn ev(details: Option<&str>) -> QemuMonitorEvent {
        QemuMonitorEvent {
            domain: Some(Domain {
                name: "vm".into(),
                uuid: String::new(),
                id: Some(1),
            }),
            event: "STOP".into(),
            seconds: 1700000000,
            micros: 42,
            details: details.map(str::to_string),
        }
    }

    #[test]
    fn events_print_as_virsh_prints_them() {
        assert_eq!(
            render(&ev(None), false, None),
            "event STOP at 1700000000.000042 for domain 'vm': <null>\n"
        );
        assert_eq!(
            render(&ev(Some(r#"{"a":1}"#)), false, None),
            "event STOP at 1700000000.000042 for domain 'vm': {\"a\":1}\n"
        );
        assert_eq!(
            render(&ev(Some(r#"{"a":1}"#)), true, None),
            "event STOP at 1700000000.000042 for domain 'vm': {\n  \"a\": 1\n}\n\n"
        );
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            render(&ev(None), false, Some(t)),
            "2023-11-14 22:13:20.123+0000: event STOP for domain 'vm': <null>\n"
        );
    }

    #[test]
    fn timeouts_follow_virsh_rules() {
        assert_eq!(timeout(&None).expect("a value"), None);
        assert_eq!(timeout(&Some("5".into())).expect("a value"), Some(5));
        for bad in ["0", "-1", "x", "2147484"] {
            assert!(timeout(&Some(bad.into())).is_err(), "{bad}");
        }
    }
}
