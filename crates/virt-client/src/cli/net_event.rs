//! `virt net-event [--network N] {--event lifecycle | --list} [--loop] [--timeout S]
//! [--timestamp]`: network lifecycle events as virsh prints them.

use std::time::{Duration, SystemTime};

use virt_client::{ClientError, Connection};
use virt_core::proto::{NetworkEventType, StreamNetworkEventsRequest};

use super::event_text::timestamp;
use super::net_common::{by_uuid, resolve};
use super::output::Output;
use super::report::CliError;

/// Options of `net-event`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Filter by network name or uuid.
    #[arg(long)]
    pub network: Option<String>,
    /// Which event type to wait for.
    #[arg(long)]
    pub event: Option<String>,
    /// Loop until timeout or interrupt, rather than one-shot.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Timeout seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// List valid event types.
    #[arg(long)]
    pub list: bool,
    /// Show timestamp for each printed event.
    #[arg(long)]
    pub timestamp: bool,
}

/// virsh's word for an event type.
pub fn event_word(t: i32) -> &'static str {
    match NetworkEventType::try_from(t) {
        Ok(NetworkEventType::Defined) => "Defined",
        Ok(NetworkEventType::Undefined) => "Undefined",
        Ok(NetworkEventType::Started) => "Started",
        Ok(NetworkEventType::Stopped) => "Stopped",
        _ => "unknown",
    }
}

/// Runs `net-event`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    if a.list {
        out.line("lifecycle");
        return Ok(());
    }
    match a.event.as_deref() {
        None => return Err(CliError::msg("either --list or --event <type> is required")),
        Some("lifecycle") => {}
        Some(other) => return Err(CliError::msg(format!("unknown event type {other}"))),
    }
    let filter = match &a.network {
        Some(n) => Some(by_uuid(&resolve(conn, n).await?)),
        None => None,
    };
    let req = StreamNetworkEventsRequest {
        from_sequence: None,
        network: filter,
    };
    let mut stream = conn
        .network_client()
        .stream_network_events(req)
        .await
        .map_err(ClientError::from)?
        .into_inner();
    let deadline = a
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut count = 0u64;
    let end = loop {
        tokio::select! {
            msg = stream.message() => match msg.map_err(ClientError::from)? {
                Some(ev) => {
                    let name = ev.network.map(|n| n.name).unwrap_or_default();
                    if a.timestamp {
                        out.text(&timestamp(SystemTime::now()));
                    }
                    out.line(&format!("event 'lifecycle' for network {name}: {}", event_word(ev.r#type)));
                    out.flush();
                    count += 1;
                    if !a.looping {
                        break "";
                    }
                }
                None => break "",
            },
            _ = super::event::until(deadline) => break "event loop timed out",
            _ = tokio::signal::ctrl_c() => break "event loop interrupted",
        }
    };
    if !end.is_empty() {
        out.line(end);
    }
    out.line(&format!("events received: {count}"));
    if count == 0 {
        return Err(CliError::Silent);
    }
    Ok(())
}
