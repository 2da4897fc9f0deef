//! `virt send-key`, `inject-nmi` and `send-process-signal`, as virsh 9.0: key names and
//! numbers of a code set (libvirt: virDomainSendKey), an NMI (virDomainInjectNMI), and a
//! signal by number or name (virDomainSendProcessSignal).

use virt_client::Connection;
use virt_core::kit::keycodes;

use super::dev_common::{empty_error, numeric_error, parse_uint_full, strtoul};
use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `send-key`.
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The codeset of keycodes, default:linux.
    #[arg(long)]
    pub codeset: Option<String>,
    /// The time (in milliseconds) how long the keys will be held.
    #[arg(long, allow_hyphen_values = true)]
    pub holdtime: Option<String>,
    /// The key code.
    #[arg(value_name = "KEYCODE", required_unless_present = "keycode_opt", num_args = 1..)]
    pub keycode: Vec<String>,
    /// The key code.
    #[arg(long = "keycode", value_name = "KEYCODE")]
    pub keycode_opt: Vec<String>,
}

/// Options of `inject-nmi`.
#[derive(clap::Args, Debug)]
pub struct NmiArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Options of `send-process-signal`.
#[derive(clap::Args, Debug)]
pub struct SignalArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// The process ID.
    #[arg(
        value_name = "PID",
        required_unless_present = "pid_opt",
        allow_hyphen_values = true
    )]
    pub pid: Option<String>,
    /// The process ID.
    #[arg(
        long = "pid",
        value_name = "PID",
        conflicts_with = "pid",
        allow_hyphen_values = true
    )]
    pub pid_opt: Option<String>,
    /// The signal number or name.
    #[arg(
        value_name = "SIGNAME",
        required_unless_present = "signame_opt",
        allow_hyphen_values = true
    )]
    pub signame: Option<String>,
    /// The signal number or name.
    #[arg(
        long = "signame",
        value_name = "SIGNAME",
        conflicts_with = "signame",
        allow_hyphen_values = true
    )]
    pub signame_opt: Option<String>,
}

/// virsh's `virshKeyCodeGetInt`: a number (decimal, hex or octal) up to 0xffff.
fn key_number(s: &str) -> Option<u32> {
    parse_uint_full(s, 0).filter(|v| *v <= 0xffff)
}

/// The code set number and key codes virsh sends for the options.
fn keys(a: &KeyArgs) -> Result<(u32, u32, Vec<u32>), CliError> {
    let holdtime = match &a.holdtime {
        Some(h) => parse_uint_full(h, 10)
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or_else(|| numeric_error(h, "holdtime"))?,
        None => 0,
    };
    let name = match a.codeset.as_deref() {
        None => "linux",
        Some("rfb") => "qnum",
        Some(c) => c,
    };
    let set = keycodes::codeset_from_name(name)
        .ok_or_else(|| CliError::msg(format!("unknown codeset: '{name}'")))?;
    let mut codes = Vec::new();
    for k in a.keycode.iter().chain(&a.keycode_opt) {
        if codes.len() == keycodes::MAX_KEYS {
            return Err(CliError::msg("too many keycodes"));
        }
        let code = key_number(k)
            .or_else(|| keycodes::value_from_name(set, k))
            .ok_or_else(|| CliError::msg(format!("invalid keycode: '{k}'")))?;
        codes.push(code);
    }
    Ok((set, holdtime, codes))
}

/// Runs `send-key`.
pub async fn send_key(conn: &Connection, a: &KeyArgs, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let (set, holdtime, codes) = keys(a)?;
    conn.send_key(&t.lookup, set, holdtime, &codes, 0).await?;
    Ok(())
}

/// Runs `inject-nmi`.
pub async fn inject_nmi(conn: &Connection, a: &NmiArgs, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let t = resolve(conn, a.domain.get(), ANY).await?;
    conn.inject_nmi(&t.lookup, 0).await?;
    Ok(())
}

/// libvirt's virDomainProcessSignal names after their `sig` prefix, by number.
const SIGNALS: &[&str] = &[
    "nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv",
    "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "tstp", "ttin", "ttou",
    "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "poll", "pwr", "sys",
];

/// virsh's `getSignalNumber`: a decimal number, else a name (any case, `sig` or `sig_`
/// prefix optional) among libvirt's, `rt0` to `rt32` included.
fn signal_number(name: &str) -> Option<i64> {
    let lower = name.to_ascii_lowercase();
    if let Some((v, neg, "")) = strtoul(&lower, 10) {
        let v = i64::try_from(v).ok()?;
        let v = if neg { -v } else { v };
        return i32::try_from(v).ok().map(i64::from);
    }
    let p = lower
        .strip_prefix("sig_")
        .or_else(|| lower.strip_prefix("sig"))
        .unwrap_or(&lower);
    if let Some(i) = SIGNALS.iter().position(|s| *s == p) {
        return i64::try_from(i).ok();
    }
    let rt: u32 = p.strip_prefix("rt")?.parse().ok()?;
    if rt > 32 || p != format!("rt{rt}") {
        return None;
    }
    Some(32 + i64::from(rt))
}

/// Runs `send-process-signal`.
pub async fn send_process_signal(
    conn: &Connection,
    a: &SignalArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let _ = out;
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let pid_text = a
        .pid
        .as_deref()
        .or(a.pid_opt.as_deref())
        .unwrap_or_default();
    let pid = match strtoul(pid_text, 10) {
        Some((v, neg, "")) => i64::try_from(v)
            .ok()
            .map(|v| if neg { -v } else { v })
            .ok_or_else(|| numeric_error(pid_text, "pid"))?,
        _ => return Err(numeric_error(pid_text, "pid")),
    };
    let signame = a
        .signame
        .as_deref()
        .or(a.signame_opt.as_deref())
        .unwrap_or_default();
    if signame.is_empty() {
        return Err(empty_error("signame"));
    }
    let signum = signal_number(signame)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| CliError::msg(format!("malformed signal name: {signame}")))?;
    conn.send_process_signal(&t.lookup, pid, signum, 0).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_as_virsh() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("kill"), Some(9));
        assert_eq!(signal_number("sig_hup"), Some(1));
        assert_eq!(signal_number("nop"), Some(0));
        assert_eq!(signal_number("sigrt32"), Some(64));
        assert_eq!(signal_number("rt0"), Some(32));
        assert_eq!(signal_number(" 5"), Some(5));
        assert_eq!(signal_number("65"), Some(65));
        assert_eq!(signal_number("-1"), Some(-1));
        assert_eq!(signal_number("SIGRTMIN"), None);
        assert_eq!(signal_number("sig"), None);
        assert_eq!(signal_number("0x1"), None);
    }

    #[test]
    fn key_numbers() {
        assert_eq!(key_number("0x1e"), Some(0x1e));
        assert_eq!(key_number("30"), Some(30));
        assert_eq!(key_number("99999"), None);
        assert_eq!(key_number("KEY_A"), None);
    }
}
