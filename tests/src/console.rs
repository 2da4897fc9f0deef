//! A real guest's serial console (its pty), read in the background: what the guest printed
//! so far, waiting for a word, and typing lines into the test guest's shell.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The guest's serial console: what it printed so far, and a way to type.
pub struct Console {
    pty: std::fs::File,
    seen: mpsc::Receiver<String>,
    /// Everything read so far.
    pub text: String,
}

impl Console {
    /// Opens the pty at `path` and starts reading it.
    pub fn open(path: &str) -> Console {
        let pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open the pty {path}: {e}"));
        let mut reader = pty.try_clone().expect("clone the pty");
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Console {
            pty,
            seen,
            text: String::new(),
        }
    }

    /// Reads until `want` shows in the text since offset `from`, or panics after `limit`.
    pub fn until(&mut self, from: usize, limit: Duration, want: &str) {
        let end = Instant::now() + limit;
        loop {
            if self.text[from.min(self.text.len())..].contains(want) {
                return;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(s) => self.text.push_str(&s),
                Err(_) => panic!(
                    "{want}: not on the console within {limit:?}:\n{}",
                    self.text
                ),
            }
        }
    }

    /// Types `line` into the guest's shell; answers the console offset before it.
    pub fn type_line(&mut self, line: &str) -> usize {
        while let Ok(s) = self.seen.try_recv() {
            self.text.push_str(&s);
        }
        let at = self.text.len();
        self.pty
            .write_all(format!("{line}\r").as_bytes())
            .expect("type");
        at
    }

    /// Runs `cmd` in the guest's shell and waits until it has finished: the shell echoes a
    /// word typed split (`DO""NE-n`), so only the command's completion prints it whole.
    pub fn run(&mut self, cmd: &str, n: u32, limit: Duration) {
        let at = self.type_line(&format!("{cmd}; echo DO\"\"NE-{n}"));
        self.until(at, limit, &format!("DONE-{n}"));
    }

    /// Prints the contents of the file `/m` between double angle brackets (typed split, so
    /// only the output spells it whole) and waits for `<<want>>`.
    pub fn expect_marker(&mut self, want: &str) {
        let at = self.type_line("echo \"<\"\"<$(cat /m)>\"\">\"");
        self.until(at, Duration::from_secs(60), &format!("<<{want}>>"));
    }
}
