//! `virt qemu-monitor-command DOMAIN [--hmp] [--pretty] [--return-value] [--pass-fds N,M]
//! CMD...`: passes a command to the domain's QEMU monitor and prints QEMU's reply, as virsh
//! 9.0 does.
//!
//! The words of CMD are joined with spaces. Without `--hmp`, a command that is a JSON object
//! goes as it is; otherwise the first word is the QMP command name and the rest its
//! arguments: a JSON object, or `key:value` members joined with commas and wrapped in braces
//! (`block_resize '"device":"d"' '"size":1'`); text that does not make an object fails as
//! virsh fails, with libvirt's (yajl's) parse error. `--pretty` re-indents the reply,
//! `--return-value` prints only its `return` member.
//!
//! `--pass-fds`: gRPC cannot carry file descriptors, so after virsh's checks of the list the
//! command refuses, naming the option (virsh would call virDomainQemuMonitorCommandWithFiles).

use virt_client::Connection;
use virt_core::jsontext;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `qemu-monitor-command`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Command is in human monitor protocol.
    #[arg(long)]
    pub hmp: bool,
    /// Pretty-print any qemu monitor protocol output.
    #[arg(long)]
    pub pretty: bool,
    /// Extract the value of the 'return' key from the returned string.
    #[arg(long)]
    pub return_value: bool,
    /// Pass file descriptors N,M,... along with the command.
    #[arg(long)]
    pub pass_fds: Option<String>,
    /// Command.
    #[arg(
        value_name = "CMD",
        allow_hyphen_values = true,
        trailing_var_arg = true,
        required = false,
        num_args = 0..
    )]
    pub cmd: Vec<String>,
}

/// virsh's "Options --a and --b are mutually exclusive".
fn exclusive(a: (&str, bool), b: (&str, bool)) -> Result<(), CliError> {
    if a.1 && b.1 {
        return Err(CliError::msg(format!(
            "Options --{} and --{} are mutually exclusive",
            a.0, b.0
        )));
    }
    Ok(())
}

/// The QMP text virsh sends for the words `cmd` (no `--hmp`).
pub fn qmp_wrap(cmd: &[String]) -> Result<String, CliError> {
    let full = cmd.join(" ");
    if jsontext::is_object(&full) {
        return Ok(full);
    }
    let name = serde_json_string(&cmd[0]);
    if cmd.len() == 1 {
        return Ok(format!("{{\"execute\":{name}}}"));
    }
    let spaced = cmd[1..].join(" ");
    let args = if jsontext::is_object(&spaced) {
        spaced.clone()
    } else {
        let wrapped = format!("{{{}}}", cmd[1..].join(","));
        if !jsontext::is_object(&wrapped) {
            return Err(CliError::Lines(vec![
                format!("failed to wrap arguments '{spaced}' into a QMP command wrapper"),
                format!(
                    "internal error: cannot parse json {wrapped}: {}",
                    yajl_error(&wrapped)
                ),
            ]));
        }
        wrapped
    };
    let text = format!("{{\"execute\":{name},\"arguments\":{args}}}");
    Ok(jsontext::compact(&text).unwrap_or(text))
}

/// `s` as a JSON string.
fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A token of yajl's lexer, with the offset just past it.
#[derive(Debug, PartialEq)]
enum Tok {
    Open(u8),
    Close(u8),
    Comma,
    Colon,
    Str,
    Value,
    Eof,
}

/// yajl's lexer over `s` from `i`: the token and the offset past it, or a lexical error text
/// and the offset where yajl stops.
fn lex(s: &[u8], mut i: usize) -> Result<(Tok, usize), (&'static str, usize)> {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\x0b') {
        i += 1;
    }
    let Some(&c) = s.get(i) else {
        return Ok((Tok::Eof, i));
    };
    i += 1;
    match c {
        b'{' | b'[' => Ok((Tok::Open(c), i)),
        b'}' | b']' => Ok((Tok::Close(c), i)),
        b',' => Ok((Tok::Comma, i)),
        b':' => Ok((Tok::Colon, i)),
        b'"' => {
            while i < s.len() {
                match s[i] {
                    b'"' => return Ok((Tok::Str, i + 1)),
                    b'\\' => i += 2,
                    c if c < 0x20 => return Err(("invalid character inside string.", i + 1)),
                    _ => i += 1,
                }
            }
            Ok((Tok::Eof, s.len()))
        }
        b't' | b'f' | b'n' => {
            let want: &[u8] = match c {
                b't' => b"rue",
                b'f' => b"alse",
                _ => b"ull",
            };
            for w in want {
                match s.get(i) {
                    None => return Ok((Tok::Eof, i)),
                    Some(x) if x == w => i += 1,
                    Some(_) => return Err(("invalid string in json text.", i)),
                }
            }
            Ok((Tok::Value, i))
        }
        b'-' | b'0'..=b'9' => {
            let digits = |i: &mut usize| {
                let start = *i;
                while s.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
                *i > start
            };
            if c == b'-' && !digits(&mut i) {
                return Err((
                    "malformed number, a digit is required after the minus sign.",
                    i,
                ));
            }
            if c != b'-' {
                digits(&mut i);
            }
            if s.get(i) == Some(&b'.') {
                i += 1;
                if !digits(&mut i) {
                    return Err((
                        "malformed number, a digit is required after the decimal point.",
                        i,
                    ));
                }
            }
            if matches!(s.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(s.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                if !digits(&mut i) {
                    return Err((
                        "malformed number, a digit is required after the exponent.",
                        i,
                    ));
                }
            }
            Ok((Tok::Value, i))
        }
        _ => Err(("invalid char in json text.", i)),
    }
}

/// yajl's verbose error for JSON text `text` that is not one object: the message, then the
/// text around the offset and the arrow under it (libvirt prints what yajl renders).
pub fn yajl_error(text: &str) -> String {
    let (what, offset) = yajl_check(text.as_bytes());
    let s = text.as_bytes();
    let spaces = if offset < 30 { 40 - offset } else { 10 };
    let start = offset.saturating_sub(30);
    let end = (offset + 30).min(s.len());
    let around: String = String::from_utf8_lossy(&s[start.min(end)..end])
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!(
        "{what}\n{}{around}\n{}(right here) ------^\n",
        " ".repeat(spaces),
        " ".repeat(21)
    )
}

/// The first error yajl's parser meets in `s`, and its offset.
fn yajl_check(s: &[u8]) -> (String, usize) {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Start,
        Done,
        MapStart,
        MapNeedKey,
        MapSep,
        MapNeedVal,
        MapGotVal,
        ArrStart,
        ArrNeedVal,
        ArrGotVal,
    }
    let parse = |m: &str| format!("parse error: {m}");
    let mut stack: Vec<St> = vec![St::Start];
    let mut i = 0;
    loop {
        let (tok, next) = match lex(s, i) {
            Ok(t) => t,
            Err((m, at)) => return (format!("lexical error: {m}"), at),
        };
        i = next;
        let st = *stack.last().unwrap_or(&St::Done);
        if tok == Tok::Eof {
            return (parse("premature EOF"), i);
        }
        let value_start = |stack: &mut Vec<St>, after: St| -> Result<(), &'static str> {
            match tok {
                Tok::Open(b'{') => {
                    *stack.last_mut().expect("state") = after;
                    stack.push(St::MapStart);
                }
                Tok::Open(_) => {
                    *stack.last_mut().expect("state") = after;
                    stack.push(St::ArrStart);
                }
                Tok::Str | Tok::Value => *stack.last_mut().expect("state") = after,
                _ => return Err("unallowed token at this point in JSON text"),
            }
            Ok(())
        };
        let pop = |stack: &mut Vec<St>| {
            stack.pop();
        };
        let r: Result<(), &str> = match st {
            St::Start => value_start(&mut stack, St::Done),
            St::Done => return (parse("trailing garbage"), i),
            St::MapStart | St::MapNeedKey => match tok {
                Tok::Str => {
                    *stack.last_mut().expect("state") = St::MapSep;
                    Ok(())
                }
                Tok::Close(b'}') if st == St::MapStart => {
                    pop(&mut stack);
                    Ok(())
                }
                _ => Err("invalid object key (must be a string)"),
            },
            St::MapSep => match tok {
                Tok::Colon => {
                    *stack.last_mut().expect("state") = St::MapNeedVal;
                    Ok(())
                }
                _ => Err("object key and value must be separated by a colon (':')"),
            },
            St::MapNeedVal => value_start(&mut stack, St::MapGotVal),
            St::MapGotVal => match tok {
                Tok::Comma => {
                    *stack.last_mut().expect("state") = St::MapNeedKey;
                    Ok(())
                }
                Tok::Close(b'}') => {
                    pop(&mut stack);
                    Ok(())
                }
                _ => Err("after key and value, inside map, I expect ',' or '}'"),
            },
            St::ArrStart | St::ArrNeedVal => match tok {
                Tok::Close(b']') if st == St::ArrStart => {
                    pop(&mut stack);
                    Ok(())
                }
                _ => value_start(&mut stack, St::ArrGotVal),
            },
            St::ArrGotVal => match tok {
                Tok::Comma => {
                    *stack.last_mut().expect("state") = St::ArrNeedVal;
                    Ok(())
                }
                Tok::Close(b']') => {
                    pop(&mut stack);
                    Ok(())
                }
                _ => Err("after array element, I expect ',' or ']'"),
            },
        };
        if let Err(m) = r {
            return (parse(m), i);
        }
        if stack.is_empty() {
            stack.push(St::Done);
        }
    }
}

/// virsh's check of the `--pass-fds` list: comma-separated numbers (empty entries skipped).
fn fd_list(list: &str) -> Result<Vec<i32>, CliError> {
    let mut fds = Vec::new();
    for item in list.split(',').filter(|s| !s.is_empty()) {
        let n = item
            .trim_start()
            .parse::<i32>()
            .map_err(|_| CliError::msg(format!("Unable to parse FD number '{item}'")))?;
        fds.push(n);
    }
    Ok(fds)
}

/// Runs `qemu-monitor-command`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    if a.cmd.is_empty() {
        return Err(CliError::msg(
            "command 'qemu-monitor-command' requires <cmd> option",
        ));
    }
    exclusive(("hmp", a.hmp), ("pretty", a.pretty))?;
    exclusive(("hmp", a.hmp), ("return-value", a.return_value))?;
    let target = resolve(conn, a.domain.get(), ANY).await?;
    let (command, flags) = if a.hmp {
        (a.cmd.join(" "), 1)
    } else {
        (qmp_wrap(&a.cmd)?, 0)
    };
    if let Some(list) = &a.pass_fds {
        if !fd_list(list)?.is_empty() {
            return Err(CliError::msg(
                "Option --pass-fds is not supported: file descriptors cannot be passed over a virt connection",
            ));
        }
    }
    let result = conn
        .qemu_monitor_command(&target.lookup, &command, flags)
        .await?;
    if !(a.pretty || a.return_value) {
        out.line(&result);
        return Ok(());
    }
    let shown = if a.return_value {
        match jsontext::member(&result, "return", a.pretty) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(CliError::msg("'return' member missing")),
            Err(_) => return Err(CliError::msg("failed to parse JSON returned by qemu")),
        }
    } else {
        jsontext::pretty(&result)
            .map_err(|_| CliError::msg("failed to parse JSON returned by qemu"))?
    };
    out.line(shown.trim());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn wrap_err(v: &[&str]) -> Vec<String> {
        match qmp_wrap(&words(v)) {
            Err(CliError::Lines(l)) => l,
            other => panic!("expected a wrap error, got {other:?}"),
        }
    }

    #[test]
    fn commands_are_passed_or_wrapped_as_virsh_does() {
        assert_eq!(
            qmp_wrap(&words(&["{\"execute\":", "\"query-status\"}"])).expect("a value"),
            "{\"execute\": \"query-status\"}"
        );
        assert_eq!(
            qmp_wrap(&words(&["query-status"])).expect("a value"),
            "{\"execute\":\"query-status\"}"
        );
        assert_eq!(
            qmp_wrap(&words(&["block_resize", "\"device\":\"d\"", "\"size\": 1"]))
                .expect("a value"),
            "{\"execute\":\"block_resize\",\"arguments\":{\"device\":\"d\",\"size\":1}}"
        );
        assert_eq!(
            qmp_wrap(&words(&["x", "{\"a\":", "1}"])).expect("a value"),
            "{\"execute\":\"x\",\"arguments\":{\"a\":1}}"
        );
    }

    #[test]
    fn wrap_failures_carry_yajls_error_as_virsh_prints_it() {
        let arrow = format!("{}(right here) ------^\n", " ".repeat(21));
        assert_eq!(
            wrap_err(&["info", "status"]),
            vec![
                "failed to wrap arguments 'status' into a QMP command wrapper".to_string(),
                format!(
                    "internal error: cannot parse json {{status}}: lexical error: invalid char in json text.\n{}{{status}}\n{arrow}",
                    " ".repeat(38)
                ),
            ]
        );
        let cases: &[(&[&str], &str, usize)] = &[
            (
                &["x", "1"],
                "parse error: invalid object key (must be a string)",
                38,
            ),
            (
                &["x", "true"],
                "parse error: invalid object key (must be a string)",
                35,
            ),
            (
                &["x", "{"],
                "parse error: invalid object key (must be a string)",
                38,
            ),
            (
                &["x", "\"a\""],
                "parse error: object key and value must be separated by a colon (':')",
                35,
            ),
            (
                &["x", "\"a\":1", "\"b\""],
                "parse error: object key and value must be separated by a colon (':')",
                29,
            ),
            (
                &["x", "\"a\":"],
                "parse error: unallowed token at this point in JSON text",
                34,
            ),
            (
                &["x", "a", "\"b\""],
                "lexical error: invalid char in json text.",
                38,
            ),
        ];
        for (args, what, spaces) in cases {
            let l = wrap_err(args);
            let text = format!("{{{}}}", args[1..].join(","));
            assert_eq!(
                l[1],
                format!(
                    "internal error: cannot parse json {text}: {what}\n{}{text}\n{arrow}",
                    " ".repeat(*spaces)
                ),
                "{args:?}"
            );
        }
        let long = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
        let l = wrap_err(&["x", long]);
        assert!(l[1].contains(&format!("\n{}{{{}\n", " ".repeat(38), &long[..31])));
    }

    #[test]
    fn fd_lists_are_checked_as_virsh_does() {
        assert_eq!(fd_list("1,2").expect("a value"), vec![1, 2]);
        assert_eq!(fd_list(" 1").expect("a value"), vec![1]);
        assert!(fd_list("").expect("a value").is_empty());
        assert_eq!(
            fd_list("a").expect_err("an error").lines(),
            vec!["Unable to parse FD number 'a'".to_string()]
        );
    }
}
