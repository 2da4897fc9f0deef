//! `virt event [--domain D] {--event NAME | --all} [--loop] [--timeout S] [--timestamp]`,
//! `virt event --list`: waits for domain events and prints them as virsh does.

use std::time::Duration;

use virt_client::{Connection, EventItem};
use virt_core::proto::DomainEventId;

use super::dom::{resolve, ANY};
use super::event_text::{event_time, render, timestamp, EVENT_NAMES};
use super::output::Output;
use super::report::CliError;

/// Options of `event`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Filter by domain name, id or uuid.
    #[arg(long)]
    pub domain: Option<String>,
    /// Which event type to wait for.
    #[arg(long)]
    pub event: Option<String>,
    /// Wait for all events instead of just one type.
    #[arg(long)]
    pub all: bool,
    /// Loop until timeout or interrupt, rather than one-shot.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Timeout in seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// List valid event types.
    #[arg(long)]
    pub list: bool,
    /// Show timestamp for each printed event.
    #[arg(long)]
    pub timestamp: bool,
}

/// How the wait ended.
enum End {
    Done,
    TimedOut,
    Interrupted,
}

/// The proto event ID of a virsh event name.
pub fn event_id(name: &str) -> Option<DomainEventId> {
    let index = EVENT_NAMES.iter().position(|n| *n == name)?;
    DomainEventId::try_from(i32::try_from(index).ok()? + 1).ok()
}

/// Runs `event`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    if args.list {
        for name in EVENT_NAMES {
            out.line(name);
        }
        return Ok(());
    }
    let ids = match (&args.event, args.all) {
        (Some(_), true) => {
            return Err(CliError::msg(
                "Options --all and --event are mutually exclusive",
            ))
        }
        (None, false) => {
            return Err(CliError::msg(
                "one of --list, --all, or --event <type> is required",
            ))
        }
        (None, true) => Vec::new(),
        (Some(name), false) => match event_id(name) {
            Some(id) => vec![id],
            None => return Err(CliError::msg(format!("unknown event type {name}"))),
        },
    };
    let lookup = match &args.domain {
        Some(d) => Some(resolve(conn, d, ANY).await?.lookup),
        None => None,
    };
    let mut stream = conn.stream_events(None, lookup.as_ref(), &ids).await?;
    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut count = 0u64;
    let end = loop {
        tokio::select! {
            item = stream.next() => match item? {
                Some(EventItem::Event(ev)) => {
                    if args.timestamp {
                        out.text(&timestamp(event_time(&ev)));
                    }
                    out.text(&render(&ev));
                    out.flush();
                    count += 1;
                    if !args.looping {
                        break End::Done;
                    }
                }
                Some(EventItem::Gap { .. }) => continue,
                None => break End::Done,
            },
            _ = until(deadline) => break End::TimedOut,
            _ = tokio::signal::ctrl_c() => break End::Interrupted,
        }
    };
    match end {
        End::TimedOut => out.line("event loop timed out"),
        End::Interrupted => out.line("event loop interrupted"),
        End::Done => {}
    }
    out.line(&format!("events received: {count}"));
    // virsh counts a wait that received nothing as a failure.
    if count == 0 {
        return Err(CliError::Silent);
    }
    Ok(())
}

/// Waits until `deadline` (`--timeout`), forever when there is none: the event loops'
/// timer (`event`, `net-event`).
pub(super) async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_proto_ids() {
        assert_eq!(event_id("lifecycle"), Some(DomainEventId::Lifecycle));
        assert_eq!(event_id("reboot"), Some(DomainEventId::Reboot));
        assert_eq!(
            event_id("memory-device-size-change"),
            Some(DomainEventId::MemoryDeviceSizeChange)
        );
        assert_eq!(event_id("bogus"), None);
    }
}
