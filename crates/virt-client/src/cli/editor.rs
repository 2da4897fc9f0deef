//! virsh's editor loop for the `*-edit` commands of the Domain Management group: the text in a
//! temporary file, `$VISUAL` / `$EDITOR` (default `vi`) run through `sh -c` as virsh's
//! vshEditFile does, and virsh's "Failed. Try again? [y,n,i,f,?]:" prompt when the edited
//! text is refused.

use std::io::{BufRead, IsTerminal, Write};

use super::report::CliError;

/// The editor command virsh runs: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor() -> String {
    std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string())
}

/// A temporary file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the editor on `text` in a temporary file and returns the edited text.
pub fn edit(text: &str) -> Result<String, CliError> {
    let path = std::env::temp_dir().join(format!(
        "virsh{}-{}.xml",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    let file = TempFile(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file.0)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| CliError::msg(format!("failed to write temporary file: {e}")))?;
    let ed = editor();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{ed} \"$1\""))
        .arg("sh")
        .arg(file.0.as_path())
        .status()
        .map_err(|e| CliError::msg(format!("cannot run editor {ed}: {e}")))?;
    if !status.success() {
        return Err(CliError::Lines(vec![
            "Failed.".to_string(),
            format!(
                "internal error: Child process ({ed} {}) unexpected exit status {}",
                file.0.as_path().display(),
                status.code().unwrap_or(-1)
            ),
        ]));
    }
    std::fs::read_to_string(file.0.as_path())
        .map_err(|e| CliError::msg(format!("failed to read temporary file: {e}")))
}

/// The answer to virsh's re-edit prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reedit {
    /// `y`: edit the text again.
    Again,
    /// `n`: give up.
    Stop,
    /// `i`: turn off validation and try once more.
    Relax,
    /// `f`: try the same text once more.
    Force,
}

/// After a refused edit: virsh's prompt on a terminal (the error first); without one, the
/// command ends with the error, as there is nobody to ask.
pub fn ask_reedit(err: &CliError) -> Option<Reedit> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    super::report::print_error(&mut std::io::stderr(), err);
    let stdin = std::io::stdin();
    loop {
        print!("Failed. Try again? [y,n,i,f,?]: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return Some(Reedit::Stop);
        }
        match line.trim() {
            "y" => return Some(Reedit::Again),
            "n" => return Some(Reedit::Stop),
            "i" => return Some(Reedit::Relax),
            "f" => return Some(Reedit::Force),
            _ => {
                println!("y - yes, start editor again");
                println!("n - no, throw away my changes");
                println!("i - turn off validation and try to redefine again");
                println!("f - force, try to redefine again");
                println!("? - print this help");
            }
        }
    }
}
