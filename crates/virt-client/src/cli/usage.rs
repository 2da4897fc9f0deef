//! Usage errors in virsh's words.
//!
//! clap parses the command line; when it refuses one, this module says why as virsh's own
//! option parser does (`vshCommandParse`, `vshCommandCheckOpts`), so scripts that match
//! virsh's messages keep working:
//!
//! | clap                           | virsh                                             |
//! |--------------------------------|---------------------------------------------------|
//! | unknown subcommand             | `unknown command: 'foo'`                          |
//! | unknown `--opt`                | `command 'CMD' doesn't support option --opt`      |
//! | extra positional word          | `unexpected data 'word'`                          |
//! | missing required argument      | `command 'CMD' requires <name> option`, one a line |
//! | an option given twice          | `option --name already seen`                      |
//! | option without its value       | `expected syntax: --name <string>`                |
//!
//! virsh writes `--name` instead of `<name>` for a missing argument that is a number
//! (`VSH_OT_INT`); [`NUMERIC`] lists those required numbers. Other clap errors (mutually
//! exclusive options, help) keep clap's text. Usage errors exit with 1 and, unlike a
//! failed command, print no blank line after them (virsh's).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Required positional arguments that virsh declares as numbers (`requires --name option`).
pub const NUMERIC: &[(&str, &str)] = &[
    ("setmem", "size"),
    ("setmaxmem", "size"),
    ("setvcpus", "count"),
    ("migrate-setmaxdowntime", "downtime"),
    ("migrate-setspeed", "bandwidth"),
    ("domblkthreshold", "threshold"),
];

/// The option name in a clap argument rendering: `<DOMAIN>` → `domain`, `--size <SIZE>` →
/// `size`, `--reason` → `reason`.
fn arg_name(rendered: &str) -> String {
    let r = rendered.trim();
    if let Some(long) = r.strip_prefix("--") {
        return long.split([' ', '=']).next().unwrap_or(long).to_string();
    }
    r.trim_start_matches(['<', '['])
        .split(['>', ']'])
        .next()
        .unwrap_or(r)
        .trim_end_matches("...")
        .to_ascii_lowercase()
}

fn strings(v: Option<&ContextValue>) -> Vec<String> {
    match v {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// virsh's lines (without `error: `) for a clap usage error in `command` (the subcommand's
/// name, when known), or None when clap's own text should stand (help, version, others).
pub fn virsh_lines(e: &clap::Error, command: Option<&str>) -> Option<Vec<String>> {
    let invalid = strings(e.get(ContextKind::InvalidArg));
    let cmd = command.unwrap_or("");
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let word = strings(e.get(ContextKind::InvalidSubcommand));
            Some(vec![format!("unknown command: '{}'", word.first()?)])
        }
        ErrorKind::UnknownArgument => {
            let word = invalid.first()?;
            if word.starts_with('-') && command.is_some() {
                let opt = word.split('=').next().unwrap_or(word);
                Some(vec![format!(
                    "command '{cmd}' doesn't support option {opt}"
                )])
            } else {
                Some(vec![format!("unexpected data '{word}'")])
            }
        }
        ErrorKind::MissingRequiredArgument if command.is_some() => Some(
            invalid
                .iter()
                .map(|a| {
                    let name = arg_name(a);
                    if NUMERIC.contains(&(cmd, name.as_str())) {
                        format!("command '{cmd}' requires --{name} option")
                    } else {
                        format!("command '{cmd}' requires <{name}> option")
                    }
                })
                .collect(),
        ),
        ErrorKind::ArgumentConflict => {
            let prior = strings(e.get(ContextKind::PriorArg));
            let a = arg_name(invalid.first()?);
            match prior.first().map(|p| arg_name(p)) {
                // The same option twice, or an option and its positional form.
                None => Some(vec![format!("option --{a} already seen")]),
                Some(b) if b == a => Some(vec![format!("option --{a} already seen")]),
                _ => None,
            }
        }
        ErrorKind::InvalidValue => {
            let a = invalid.first()?;
            let value = strings(e.get(ContextKind::InvalidValue));
            // Only "a value is required ... but none was supplied".
            if a.starts_with("--") && value.iter().all(|v| v.is_empty()) {
                Some(vec![format!("expected syntax: --{} <string>", arg_name(a))])
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_out_of_renderings() {
        assert_eq!(arg_name("<DOMAIN>"), "domain");
        assert_eq!(arg_name("<PASS-FDS>"), "pass-fds");
        assert_eq!(arg_name("--size <SIZE>"), "size");
        assert_eq!(arg_name("--reason"), "reason");
        assert_eq!(arg_name("<CMD>..."), "cmd");
        assert_eq!(arg_name("[DOMAIN]"), "domain");
    }
}
