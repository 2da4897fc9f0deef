//! The one place where the CLI turns failures into text and an exit status.
//!
//! virsh prints an error as one or two `error: ` lines on standard error: what it was doing
//! (`Failed to destroy domain 'web1'`), when the command says so, then libvirt's message
//! (`Requested operation is not valid: domain is not running`). A domain argument that matches
//! nothing prints only `failed to get domain 'NAME'`. The exit status is 1 for every error and
//! 0 on success, as virsh's; [`exit_status`] is where a finer mapping by [`ErrorCode`] would go.

use std::io::Write;

use virt_client::ClientError;
use virt_core::ErrorCode;

/// How a command failed.
#[derive(Debug)]
pub enum CliError {
    /// A library call failed; `context` is virsh's line about what it was doing, if any.
    Call {
        /// What the command was doing.
        context: Option<String>,
        /// The failure.
        source: Box<ClientError>,
    },
    /// The domain argument `arg` could not be resolved.
    Lookup {
        /// The argument as given.
        arg: String,
        /// The failure.
        source: Box<ClientError>,
    },
    /// A failure the CLI detects itself (bad option value, wrong state pre-check).
    Message(String),
    /// A failure already worded as several lines (a validation's violations, one a line).
    Lines(Vec<String>),
    /// Opening the connection failed.
    Connect(Box<ClientError>),
    /// The command failed and has already said why on standard output (`event` that
    /// received nothing).
    Silent,
}

impl CliError {
    /// A CLI-side failure saying `msg`.
    pub fn msg(msg: impl Into<String>) -> CliError {
        CliError::Message(msg.into())
    }

    /// The lines printed, each without its `error: ` prefix.
    pub fn lines(&self) -> Vec<String> {
        match self {
            CliError::Call { context, source } => context
                .iter()
                .cloned()
                .chain([source.to_string()])
                .collect(),
            CliError::Lookup { arg, source } => {
                let mut lines = vec![format!("failed to get domain '{arg}'")];
                // virsh tries ID, UUID and name and drops the lookup errors; only a failure
                // of another kind (connection lost, permission) is worth showing.
                if source.code() != ErrorCode::NoDomain {
                    lines.push(source.to_string());
                }
                lines
            }
            CliError::Message(m) => vec![m.clone()],
            CliError::Lines(lines) => lines.clone(),
            CliError::Silent => Vec::new(),
            CliError::Connect(source) => vec![
                "failed to connect to the hypervisor".to_string(),
                source.to_string(),
            ],
        }
    }
}

impl From<ClientError> for CliError {
    fn from(source: ClientError) -> CliError {
        CliError::Call {
            context: None,
            source: Box::new(source),
        }
    }
}

/// Adds virsh's context line to a failed call.
pub trait Context<T> {
    /// On error, says what the command was doing.
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T> Context<T> for Result<T, ClientError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|source| CliError::Call {
            context: Some(what()),
            source: Box::new(source),
        })
    }
}

/// The C library's text for an OS error (`strerror`), as virsh prints it after a path:
/// Rust's rendering without its ` (os error N)` suffix.
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_string(),
        _ => text,
    }
}

/// Prints `err` as virsh does.
pub fn print_error(w: &mut dyn Write, err: &CliError) {
    for line in err.lines() {
        let _ = writeln!(w, "error: {line}");
    }
    let _ = w.flush();
}

/// The process exit status of a command's result: 0 on success, 1 on any error (virsh's).
pub fn exit_status(result: &Result<(), CliError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::{ErrorDomain, VirtError};

    fn printed(err: &CliError) -> String {
        let mut buf = Vec::new();
        print_error(&mut buf, err);
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn call_errors_print_context_then_libvirt_message() {
        let err: Result<(), ClientError> = Err(VirtError::read_only("virDomainDestroy").into());
        let err = err
            .context(|| "Failed to destroy domain 'test'".into())
            .expect_err("an error");
        assert_eq!(
            printed(&err),
            "error: Failed to destroy domain 'test'\n\
             error: operation forbidden: read only access prevents virDomainDestroy\n"
        );
        assert_eq!(exit_status(&Err(err)), 1);
        assert_eq!(exit_status(&Ok(())), 0);
    }

    #[test]
    fn unknown_domain_prints_only_the_lookup_line() {
        let source = ClientError::from(VirtError::new(
            ErrorCode::NoDomain,
            ErrorDomain::Test,
            "no domain with matching name 'nope'",
        ));
        let err = CliError::Lookup {
            arg: "nope".into(),
            source: Box::new(source),
        };
        assert_eq!(printed(&err), "error: failed to get domain 'nope'\n");
    }

    #[test]
    fn lookup_failing_otherwise_shows_the_cause() {
        let source = ClientError::from(VirtError::internal(ErrorDomain::Rpc, "boom"));
        let err = CliError::Lookup {
            arg: "x".into(),
            source: Box::new(source),
        };
        assert_eq!(
            printed(&err),
            "error: failed to get domain 'x'\nerror: internal error: boom\n"
        );
    }

    #[test]
    fn connect_failure_says_so_first() {
        let err = CliError::Connect(Box::new(ClientError::Connect {
            path: "/run/virt/virt-proxy-sock".into(),
            source: std::io::Error::from_raw_os_error(2),
        }));
        assert_eq!(
            printed(&err),
            "error: failed to connect to the hypervisor\n\
             error: failed to connect to the daemon socket '/run/virt/virt-proxy-sock': No such file or directory\n"
        );
    }

    #[test]
    fn silent_failures_print_nothing_but_still_fail() {
        assert_eq!(printed(&CliError::Silent), "");
        assert_eq!(exit_status(&Err(CliError::Silent)), 1);
    }

    #[test]
    fn cli_side_messages_are_one_line() {
        assert_eq!(
            printed(&CliError::msg("Domain is already active")),
            "error: Domain is already active\n"
        );
    }
}
