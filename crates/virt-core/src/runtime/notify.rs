//! sd_notify: telling systemd (or any supervisor speaking its protocol) how the daemon is doing.
//!
//! The protocol (sd_notify(3)): `$NOTIFY_SOCKET` names an `AF_UNIX` datagram socket, a path or,
//! with a leading `@`, an abstract name; each update is one datagram of newline-separated
//! `KEY=VALUE` lines. The runtime sends `READY=1` with `STATUS=…` once its listeners are up,
//! `STOPPING=1` when shutdown starts and, when systemd set `WATCHDOG_USEC` (and `WATCHDOG_PID`
//! is us), `WATCHDOG=1` every half period.
//!
//! The sender is written here rather than taken from the sd-notify crate, whose `notify` does
//! not handle abstract socket names and re-reads the environment on every call; the crate's
//! `watchdog_enabled` is used for the watchdog variables. `NOTIFY_SOCKET` is read once and
//! unset, so guests and helpers the daemon spawns cannot speak for it.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A handle on the supervisor's notification socket; does nothing when there is none.
#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<String>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and unsets it.
    pub fn from_env() -> Notifier {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        if target.is_some() {
            std::env::remove_var("NOTIFY_SOCKET");
        }
        Notifier { target }
    }

    /// A notifier sending to `target` (a path, or `@name` for an abstract socket).
    pub fn to(target: impl Into<String>) -> Notifier {
        Notifier {
            target: Some(target.into()),
        }
    }

    /// Whether there is a socket to notify.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one datagram made of `lines` (`KEY=VALUE` each). A no-op without a socket.
    pub fn send(&self, lines: &[&str]) -> io::Result<()> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let addr = match target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(target)?,
        };
        let mut msg = lines.join("\n");
        msg.push('\n');
        let sock = UnixDatagram::unbound()?;
        sock.connect_addr(&addr)?;
        let sent = sock.send(msg.as_bytes())?;
        if sent != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to the notify socket",
            ));
        }
        Ok(())
    }

    /// Sends and logs a failure instead of returning it: a supervisor that went away must not
    /// stop the daemon.
    pub fn send_logged(&self, lines: &[&str]) {
        if let Err(e) = self.send(lines) {
            tracing::warn!(error = %e, ?lines, "cannot notify the service manager");
        }
    }
}

/// The watchdog period systemd asked for (`WATCHDOG_USEC`, if `WATCHDOG_PID` is us); unsets
/// both variables.
pub fn watchdog_from_env() -> Option<Duration> {
    let mut usec = 0;
    (sd_notify::watchdog_enabled(true, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

/// Sends `WATCHDOG=1` every half `period`, forever; spawn it and abort the task to stop.
pub async fn watchdog_loop(notifier: std::sync::Arc<Notifier>, period: Duration) {
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tick.tick().await;
        notifier.send_logged(&["WATCHDOG=1"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn sends_newline_separated_lines_to_a_path_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier::to(path.to_string_lossy());
        n.send(&["READY=1", "STATUS=serving"]).expect("send");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=serving\n");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("virt-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let sock = UnixDatagram::bind_addr(&addr).expect("bind");
        Notifier::to(format!("@{name}"))
            .send(&["STOPPING=1"])
            .expect("send");
        assert_eq!(recv(&sock), "STOPPING=1\n");
    }

    #[test]
    fn without_socket_sending_is_a_no_op_and_a_missing_socket_is_an_error() {
        assert!(!Notifier::default().enabled());
        Notifier::default().send(&["READY=1"]).expect("no-op");
        let dir = tempfile::tempdir().expect("tempdir");
        let n = Notifier::to(dir.path().join("absent").to_string_lossy());
        assert!(n.send(&["READY=1"]).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn watchdog_pings_every_half_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).expect("bind");
        let n = std::sync::Arc::new(Notifier::to(path.to_string_lossy()));
        let task = tokio::spawn(watchdog_loop(n, Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_secs(11)).await;
        task.abort();
        sock.set_nonblocking(true).expect("nonblocking");
        let mut pings = 0;
        let mut buf = [0u8; 64];
        while let Ok(len) = sock.recv(&mut buf) {
            assert_eq!(&buf[..len], b"WATCHDOG=1\n");
            pings += 1;
        }
        // at t=0, 5 and 10 s
        assert_eq!(pings, 3);
    }
}
