//! `virt console DOMAIN [DEVNAME] [--force --safe]`: connects the terminal to a domain's
//! console. On a TTY the terminal goes raw and Ctrl+] (0x1d) leaves; the terminal is restored
//! however the session ends. With a pipe on stdin the input is sent until EOF, and the command
//! ends when the console stream does.

use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;

use nix::sys::termios::{self, SetArg, Termios};
use tokio::sync::mpsc;
use virt_client::Connection;
use virt_core::proto::ConsoleFlag as F;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// The byte that leaves the console: Ctrl+].
pub const ESCAPE: u8 = 0x1d;

/// Options of `console`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Character device name.
    #[arg(value_name = "DEVNAME")]
    pub devname: Option<String>,
    /// Only connect if safe console handling is supported.
    #[arg(long)]
    pub safe: bool,
    /// Force console connection (disconnect already connected sessions).
    #[arg(long)]
    pub force: bool,
}

/// Puts the terminal back as it was when dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSAFLUSH, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Splits a chunk of input at the escape byte: the bytes to send, and whether to leave.
pub fn split_escape(chunk: &[u8]) -> (&[u8], bool) {
    match chunk.iter().position(|b| *b == ESCAPE) {
        Some(i) => (&chunk[..i], true),
        None => (chunk, false),
    }
}

/// Reads stdin on a plain thread (a blocking read cannot be cancelled; the process exits
/// without waiting for it). An empty chunk means EOF.
fn spawn_stdin_reader() -> mpsc::UnboundedReceiver<Vec<u8>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        loop {
            let n = stdin.read(&mut buf).unwrap_or(0);
            if tx.send(buf[..n].to_vec()).is_err() || n == 0 {
                break;
            }
        }
    });
    rx
}

/// Runs `console`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    if target.domain.id.is_none() {
        return Err(CliError::msg("The domain is not running"));
    }
    let mut flags = 0;
    if args.force {
        flags |= F::Force as u32;
    }
    if args.safe {
        flags |= F::Safe as u32;
    }
    out.extra(&format!("Connected to domain '{}'", target.domain.name));
    out.extra("Escape character is ^] (Ctrl + ])");
    out.flush();
    let console = conn
        .open_console(&target.lookup, args.devname.as_deref(), flags)
        .await?;
    let _raw = std::io::stdin()
        .is_terminal()
        .then(RawMode::enter)
        .flatten();
    let mut reader = console.reader;
    let mut writer = Some(console.writer);
    let mut input = spawn_stdin_reader();
    loop {
        tokio::select! {
            chunk = input.recv(), if writer.is_some() => {
                let chunk = chunk.unwrap_or_default();
                let (data, leave) = split_escape(&chunk);
                if !data.is_empty() {
                    if let Some(w) = &writer {
                        w.send(data.to_vec()).await;
                    }
                }
                if leave {
                    break;
                }
                if chunk.is_empty() {
                    // EOF: half-close our side and let the stream finish.
                    writer = None;
                }
            }
            data = reader.recv() => match data? {
                Some(bytes) => out.bytes(&bytes),
                None => break,
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_byte_ends_input_and_is_not_sent() {
        assert_eq!(split_escape(b"ls\r"), (&b"ls\r"[..], false));
        assert_eq!(split_escape(b"ab\x1dcd"), (&b"ab"[..], true));
        assert_eq!(split_escape(b"\x1d"), (&b""[..], true));
    }
}
