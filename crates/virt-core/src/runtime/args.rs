//! The command-line options every daemon shares, to flatten into its own clap parser.

use std::path::PathBuf;
use std::time::Duration;

use crate::paths::Mode;

/// Options common to every daemon: `--root`, `--timeout`, `--system` / `--session`,
/// `--verbose`. Flatten into a daemon's parser with `#[command(flatten)] daemon: DaemonArgs`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    /// Move the whole tree (etc/virt, var/lib/virt, run/virt) under DIR, in system layout.
    #[arg(long, env = "VIRT_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Exit after SECS seconds with no client connection and nothing running (0: never).
    #[arg(short = 't', long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Run as the system instance even when not root.
    #[arg(long, conflicts_with = "session")]
    pub system: bool,
    /// Run as the per-user session instance even as root.
    #[arg(long)]
    pub session: bool,
    /// Log at debug level unless RUST_LOG says otherwise.
    #[arg(short, long)]
    pub verbose: bool,
    /// After answering on a UNIX socket, poll this many microseconds for the client's next
    /// call before sleeping (0: never); default 50, or VIRT_BUSY_POLL_US.
    #[arg(long, value_name = "MICROSECONDS")]
    pub busy_poll_us: Option<u64>,
    /// Serve Prometheus/OpenMetrics text at GET /metrics on ADDR: a loopback HOST:PORT
    /// (127.0.0.1:9177, [::1]:9177, localhost:9177) or unix:/path[,mode=0600].
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<super::metrics::MetricsListen>,
}

impl DaemonArgs {
    /// The mode asked for: `--system` / `--session`, else by effective uid.
    pub fn mode(&self) -> Mode {
        if self.system {
            Mode::System
        } else if self.session {
            Mode::Session
        } else {
            Mode::current()
        }
    }

    /// The busy-poll budget: `--busy-poll-us`, else `VIRT_BUSY_POLL_US`, else the default.
    pub fn busy_poll(&self) -> Duration {
        self.busy_poll_us
            .map_or_else(crate::busy_poll::budget_from_env, Duration::from_micros)
    }

    /// The idle timeout: `None` when absent or 0.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.timeout.filter(|s| *s > 0).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        daemon: DaemonArgs,
    }

    fn parse(args: &[&str]) -> Result<DaemonArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("virtqemud").chain(args.iter().copied()))
            .map(|c| c.daemon)
    }

    #[test]
    fn daemon_args_parse_root_timeout_and_mode() {
        let a = parse(&["--root", "/tmp/x", "--timeout", "120", "--session", "-v"])
            .expect("valid args");
        assert_eq!(a.root, Some(PathBuf::from("/tmp/x")));
        assert_eq!(a.idle_timeout(), Some(Duration::from_secs(120)));
        assert_eq!(a.mode(), Mode::Session);
        assert!(a.verbose);
        assert_eq!(parse(&["--system"]).expect("valid").mode(), Mode::System);
    }

    #[test]
    fn zero_or_absent_timeout_means_never() {
        assert_eq!(parse(&["-t", "0"]).expect("valid").idle_timeout(), None);
        assert_eq!(DaemonArgs::default().idle_timeout(), None);
    }

    #[test]
    fn busy_poll_takes_microseconds_and_zero_turns_it_off() {
        let a = parse(&["--busy-poll-us", "120"]).expect("valid");
        assert_eq!(a.busy_poll(), Duration::from_micros(120));
        let off = parse(&["--busy-poll-us", "0"]).expect("valid");
        assert_eq!(off.busy_poll(), Duration::ZERO);
        assert!(parse(&["--busy-poll-us", "soon"]).is_err());
    }

    #[test]
    fn metrics_listen_takes_loopback_or_unix_and_refuses_the_network() {
        let a = parse(&["--metrics-listen", "127.0.0.1:9177"]).expect("valid");
        assert_eq!(
            a.metrics_listen.map(|m| m.to_string()),
            Some("127.0.0.1:9177".to_string())
        );
        let u = parse(&["--metrics-listen", "unix:/run/m.sock"]).expect("valid");
        assert_eq!(
            u.metrics_listen.map(|m| m.to_string()),
            Some("unix:/run/m.sock".to_string())
        );
        let err = parse(&["--metrics-listen", "0.0.0.0:9177"])
            .expect_err("not loopback")
            .to_string();
        assert!(err.contains("not a loopback address"), "{err}");
    }

    #[test]
    fn system_and_session_conflict() {
        assert!(parse(&["--system", "--session"]).is_err());
    }
}
