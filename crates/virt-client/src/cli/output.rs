//! Where commands write: standard output, with virsh's quiet mode. `line` is virsh's
//! `vshPrint` (always shown), `extra` its `vshPrintExtra` (dropped by `-q`).

use std::io::Write;

/// A command's standard output.
pub struct Output {
    w: Box<dyn Write + Send>,
    quiet: bool,
    no_closing: bool,
}

impl Output {
    /// Standard output of this process.
    pub fn stdout(quiet: bool) -> Output {
        Output::new(Box::new(std::io::stdout()), quiet)
    }

    /// Output into `w`.
    pub fn new(w: Box<dyn Write + Send>, quiet: bool) -> Output {
        Output {
            w,
            quiet,
            no_closing: false,
        }
    }

    /// Whether `-q` was given.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Writes `text` as is.
    pub fn text(&mut self, text: &str) {
        // A closed stdout (e.g. `virt list | head -0`) is not an error virsh reports either.
        let _ = self.w.write_all(text.as_bytes());
    }

    /// Writes `text` and a newline.
    pub fn line(&mut self, text: &str) {
        self.text(text);
        self.text("\n");
    }

    /// Writes `text` and a newline unless quiet.
    pub fn extra(&mut self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// Writes raw bytes and flushes (console output).
    pub fn bytes(&mut self, data: &[u8]) {
        let _ = self.w.write_all(data);
        let _ = self.w.flush();
    }

    /// Marks the running command as one whose success virsh does not follow with its closing
    /// blank line (`desc`, `managedsave-remove`, whose own message ends the output).
    pub fn no_closing_line(&mut self) {
        self.no_closing = true;
    }

    /// Whether the closing blank line follows the command that just ran; resets the mark.
    pub fn take_closing_line(&mut self) -> bool {
        !std::mem::take(&mut self.no_closing)
    }

    /// Flushes.
    pub fn flush(&mut self) {
        let _ = self.w.flush();
    }
}

#[cfg(test)]
pub mod testing {
    //! An [`Output`] whose text a test can read back.

    use super::Output;
    use std::sync::{Arc, Mutex};

    /// A shared buffer.
    #[derive(Clone, Default)]
    pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        /// What was written, as text.
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("buffer lock").clone()).expect("utf-8 output")
        }
    }

    /// An output into a fresh buffer, and the buffer.
    pub fn capture(quiet: bool) -> (Output, Buf) {
        let buf = Buf::default();
        (Output::new(Box::new(buf.clone()), quiet), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::capture;

    #[test]
    fn quiet_drops_extra_lines_only() {
        let (mut out, buf) = capture(true);
        out.extra("Domain 'x' started");
        out.line("running");
        assert_eq!(buf.text(), "running\n");
        let (mut out, buf) = capture(false);
        out.extra("Domain 'x' started");
        assert_eq!(buf.text(), "Domain 'x' started\n");
    }
}
