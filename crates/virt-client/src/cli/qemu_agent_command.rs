//! `virt qemu-agent-command DOMAIN [--timeout N | --async | --block] [--pretty] CMD...`: runs a
//! raw guest agent command and prints the reply (`--pretty`: indented as libvirt 9.0 does).

use virt_client::Connection;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `qemu-agent-command`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Timeout seconds. must be positive.
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Execute command without waiting for timeout.
    #[arg(long = "async")]
    pub r#async: bool,
    /// Execute command without timeout.
    #[arg(long)]
    pub block: bool,
    /// Pretty-print the output.
    #[arg(long)]
    pub pretty: bool,
    /// The command, in one or more words (joined by spaces).
    #[arg(value_name = "CMD", required_unless_present = "cmd_opt")]
    pub cmd: Vec<String>,
    /// The command.
    #[arg(long = "cmd", value_name = "CMD")]
    pub cmd_opt: Vec<String>,
}

/// libvirt's timeout for the options (-1 default, 0 `--async`, -2 `--block`), with virsh's
/// checks and words.
pub fn timeout(a: &Args) -> Result<i32, CliError> {
    let mut chosen = 0;
    let mut timeout = -1;
    if let Some(t) = &a.timeout {
        timeout = t.parse::<i32>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{t}' for <timeout> option is malformed or out of range"
            ))
        })?;
        if timeout < 1 {
            return Err(CliError::msg("timeout must be positive"));
        }
        chosen += 1;
    }
    if a.r#async {
        timeout = 0;
        chosen += 1;
    }
    if a.block {
        timeout = -2;
        chosen += 1;
    }
    if chosen > 1 {
        return Err(CliError::msg(
            "timeout, async and block options are exclusive",
        ));
    }
    Ok(timeout)
}

/// The command text: every word, space separated.
pub fn command(a: &Args) -> String {
    a.cmd_opt
        .iter()
        .chain(&a.cmd)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `qemu-agent-command`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let timeout = timeout(args)?;
    let result = conn
        .qemu_agent_command(&target.lookup, &command(args), timeout, 0)
        .await?;
    // virsh prints the reply as it came when it does not reformat, and the reformatted text
    // with yajl's final newline (so a blank line follows it).
    let text = if args.pretty {
        virt_core::jsontext::pretty(&result)
            .map(|p| format!("{p}\n"))
            .unwrap_or(result)
    } else {
        result
    };
    out.line(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn args(v: &[&str]) -> Result<Args, clap::Error> {
        T::try_parse_from(std::iter::once("qemu-agent-command").chain(v.iter().copied()))
            .map(|t| t.a)
    }

    #[test]
    fn timeouts_follow_virsh_rules() {
        let t = |v: &[&str]| timeout(&args(v).expect("parses"));
        assert_eq!(t(&["d", "{}"]).expect("default"), -1);
        assert_eq!(t(&["d", "--timeout", "7", "{}"]).expect("7"), 7);
        assert_eq!(t(&["d", "--async", "{}"]).expect("async"), 0);
        assert_eq!(t(&["d", "--block", "{}"]).expect("block"), -2);
        let lines = |r: Result<i32, CliError>| r.expect_err("refused").lines();
        assert_eq!(
            lines(t(&["d", "--timeout", "0", "{}"])),
            vec!["timeout must be positive"]
        );
        assert_eq!(
            lines(t(&["d", "--timeout", "5", "--async", "{}"])),
            vec!["timeout, async and block options are exclusive"]
        );
        assert_eq!(
            lines(t(&["d", "--timeout", "x", "{}"])),
            vec!["Numeric value 'x' for <timeout> option is malformed or out of range"]
        );
    }

    #[test]
    fn command_words_are_joined_and_required() {
        let a = args(&["d", "{\"execute\":", "\"guest-ping\"}"]).expect("parses");
        assert_eq!(command(&a), "{\"execute\": \"guest-ping\"}");
        assert!(args(&["d"]).is_err());
    }
}
