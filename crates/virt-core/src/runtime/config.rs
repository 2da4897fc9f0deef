//! The daemon config file, `CONFIG_DIR/NAME.conf` (`/etc/virt/virtqemud.conf`; under `--root`
//! it moves with the tree), in libvirt's daemon-config syntax, and the parser of that syntax,
//! which virt-proxy's own keys share.
//!
//! Syntax (libvirt's `virtqemud.conf`, `libvirtd.conf`): `key = value` lines, `#` comments
//! (outside quotes), values that are a quoted string (`"..."`), an integer, or a list of quoted
//! strings in brackets, which may span lines (`[ "a", "b" ]`).
//!
//! Keys the runtime reads (every daemon):
//!
//! | key | value | default |
//! |---|---|---|
//! | `auth_unix_rw` | `"none"` or `"polkit"`: the read-write socket asks polkit for `org.libvirt.unix.manage` ([`super::polkit`]) | `"none"` |
//! | `auth_unix_ro` | `"none"` or `"polkit"`: the read-only socket asks for `org.libvirt.unix.monitor` | `"none"` |
//! | `unix_sock_group` | group (name or number) owning the sockets the daemon binds | the daemon's group |
//! | `unix_sock_rw_perms` | octal mode of the read-write socket, as a string (`"0770"`) | `"0600"`; `"0666"` with `auth_unix_rw = "polkit"` |
//! | `unix_sock_ro_perms` | octal mode of the read-only socket | `"0666"` |
//! | `metrics_listen` | where the metrics endpoint listens, as `--metrics-listen` (which wins when both are given) | none |
//!
//! Values have the types libvirt's own parser gives the same keys, so a libvirt file's lines can
//! be copied over. A missing file means defaults. A malformed line or a bad value stops the
//! daemon with `FILE:LINE: what is wrong`. A key libvirt knows that we do not implement
//! (`max_clients`, `log_outputs`, `auth_tcp`, ...) and a key nobody knows are logged as warnings
//! naming them: a libvirt user's existing file must not stop the daemon, but a typo is not
//! silent either. `auth_unix_rw = "sasl"` is an error rather than a warning: falling back to no
//! authentication would open a socket the admin meant to protect.
//!
//! The group and perms apply to sockets the daemon binds itself; sockets systemd passes carry
//! the modes of the `.socket` units (`SocketMode=`, `SocketGroup=`), see deploy/README.md.

use std::path::{Path, PathBuf};

/// One parsed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A quoted string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A list of quoted strings.
    List(Vec<String>),
}

/// One `key = value` entry and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

/// Errors reading a config file. Each names the file (and the line).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is malformed or a value is bad.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// How a UNIX socket authenticates its clients (`auth_unix_rw`, `auth_unix_ro`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnixAuth {
    /// Anyone who can open the socket is served (the socket's mode is the gate).
    #[default]
    None,
    /// Each connection is authorized once by polkit.
    Polkit,
}

/// The daemon's settings from `NAME.conf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The file read (`None`: defaults, no file).
    pub path: Option<PathBuf>,
    /// `auth_unix_rw`.
    pub auth_unix_rw: UnixAuth,
    /// `auth_unix_ro`.
    pub auth_unix_ro: UnixAuth,
    /// `unix_sock_group`, resolved to a gid.
    pub unix_sock_group: Option<u32>,
    /// `unix_sock_rw_perms`.
    pub unix_sock_rw_perms: Option<u32>,
    /// `unix_sock_ro_perms`.
    pub unix_sock_ro_perms: Option<u32>,
    /// `metrics_listen`, parsed as `--metrics-listen` is.
    pub metrics_listen: Option<super::metrics::MetricsListen>,
    /// The warnings the file gave (keys not implemented, unknown keys), each `FILE:LINE: ...`;
    /// [`DaemonConfig::load`] also logs them.
    pub warnings: Vec<String>,
}

/// The runtime's own keys (every daemon's config may hold them).
pub const RUNTIME_KEYS: &[&str] = &[
    "auth_unix_rw",
    "auth_unix_ro",
    "unix_sock_group",
    "unix_sock_rw_perms",
    "unix_sock_ro_perms",
    "metrics_listen",
];

/// Keys of libvirt's daemon config files (libvirtd.conf, virtqemud.conf, virtproxyd.conf and
/// the other per-driver daemons') that the runtime does not implement: warned about, not
/// refused.
pub const LIBVIRT_KEYS: &[&str] = &[
    "listen_tls",
    "listen_tcp",
    "tls_port",
    "tcp_port",
    "listen_addr",
    "mdns_adv",
    "mdns_name",
    "unix_sock_admin_perms",
    "unix_sock_dir",
    "auth_tcp",
    "auth_tls",
    "tcp_min_ssf",
    "access_drivers",
    "key_file",
    "cert_file",
    "ca_file",
    "crl_file",
    "tls_no_sanity_certificate",
    "tls_no_verify_certificate",
    "tls_allowed_dn_list",
    "tls_priority",
    "sasl_allowed_username_list",
    "max_clients",
    "max_queued_clients",
    "max_anonymous_clients",
    "min_workers",
    "max_workers",
    "prio_workers",
    "max_client_requests",
    "admin_min_workers",
    "admin_max_workers",
    "admin_max_clients",
    "admin_max_queued_clients",
    "admin_max_client_requests",
    "log_level",
    "log_filters",
    "log_outputs",
    "audit_level",
    "audit_logging",
    "host_uuid",
    "host_uuid_source",
    "keepalive_interval",
    "keepalive_count",
    "keepalive_required",
    "admin_keepalive_interval",
    "admin_keepalive_count",
    "admin_keepalive_required",
    "ovs_timeout",
];

impl DaemonConfig {
    /// The config file of daemon `name` under `config_dir`: `CONFIG_DIR/NAME.conf`.
    pub fn file(config_dir: &Path, name: &str) -> PathBuf {
        config_dir.join(format!("{name}.conf"))
    }

    /// Reads `path`; a missing file gives the defaults. `own` says which other keys the daemon
    /// itself reads from the same file (virt-proxy's sockets and listeners): those are neither
    /// warned about nor refused. Warnings are logged.
    pub fn load(path: &Path, own: &dyn Fn(&str) -> bool) -> Result<DaemonConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DaemonConfig::default())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let cfg = DaemonConfig::parse(path, &text, own)?;
        for w in &cfg.warnings {
            tracing::warn!("{w}");
        }
        Ok(cfg)
    }

    /// Parses the text of the file at `path` (named in errors and warnings).
    pub fn parse(
        path: &Path,
        text: &str,
        own: &dyn Fn(&str) -> bool,
    ) -> Result<DaemonConfig, ConfigError> {
        let mut cfg = DaemonConfig {
            path: Some(path.to_path_buf()),
            ..DaemonConfig::default()
        };
        let syntax = |line: usize, message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let entries = parse_entries(text).map_err(|(line, m)| syntax(line, m))?;
        for Entry { line, key, value } in entries {
            if RUNTIME_KEYS.contains(&key.as_str()) {
                cfg.set(&key, value).map_err(|m| syntax(line, m))?;
            } else if own(&key) {
                // the daemon's own key, read by the daemon
            } else if LIBVIRT_KEYS.contains(&key.as_str()) {
                cfg.warnings.push(format!(
                    "{}:{line}: {key} is a libvirt setting this daemon does not implement; ignored",
                    path.display()
                ));
            } else {
                cfg.warnings.push(format!(
                    "{}:{line}: unknown key {key}; ignored",
                    path.display()
                ));
            }
        }
        Ok(cfg)
    }

    fn set(&mut self, key: &str, value: Value) -> Result<(), String> {
        let string = |v: Value| match v {
            Value::Str(s) => Ok(s),
            _ => Err(format!("{key} needs a quoted string")),
        };
        match key {
            "auth_unix_rw" => self.auth_unix_rw = auth(key, &string(value)?)?,
            "auth_unix_ro" => self.auth_unix_ro = auth(key, &string(value)?)?,
            "unix_sock_group" => self.unix_sock_group = Some(group(key, &string(value)?)?),
            "unix_sock_rw_perms" => self.unix_sock_rw_perms = Some(perms(key, &string(value)?)?),
            "unix_sock_ro_perms" => self.unix_sock_ro_perms = Some(perms(key, &string(value)?)?),
            "metrics_listen" => {
                let s = string(value)?;
                if s.trim().is_empty() {
                    return Err(format!("{key} is empty"));
                }
                self.metrics_listen = Some(s.parse().map_err(|e| format!("{key}: {e}"))?);
            }
            _ => return Err(format!("unknown key {key}")),
        }
        Ok(())
    }

    /// The mode of the read-write socket the daemon binds: `unix_sock_rw_perms`, else 0666
    /// when polkit is the gate (as libvirt), else 0600.
    pub fn rw_mode(&self) -> u32 {
        self.unix_sock_rw_perms.unwrap_or(match self.auth_unix_rw {
            UnixAuth::Polkit => 0o666,
            UnixAuth::None => super::listener::RW_MODE,
        })
    }

    /// The mode of the read-only socket the daemon binds: `unix_sock_ro_perms`, else 0666.
    pub fn ro_mode(&self) -> u32 {
        self.unix_sock_ro_perms.unwrap_or(super::listener::RO_MODE)
    }
}

fn auth(key: &str, s: &str) -> Result<UnixAuth, String> {
    match s {
        "none" => Ok(UnixAuth::None),
        "polkit" => Ok(UnixAuth::Polkit),
        "sasl" => Err(format!(
            "{key} = \"sasl\" is not supported (use \"polkit\" or \"none\")"
        )),
        other => Err(format!(
            "{key} = \"{other}\" is not an authentication scheme (\"none\" or \"polkit\")"
        )),
    }
}

fn perms(key: &str, s: &str) -> Result<u32, String> {
    let digits = s.trim();
    let mode = (!digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        .then(|| u32::from_str_radix(digits, 8).ok())
        .flatten()
        .filter(|m| *m <= 0o777);
    mode.ok_or_else(|| format!("{key} = \"{s}\" is not an octal mode between 0000 and 0777"))
}

fn group(key: &str, s: &str) -> Result<u32, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("{key} = \"{s}\" is not a group id"));
    }
    match nix::unistd::Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("{key}: no group named '{s}'")),
        // glibc's lookup may fail with the errno of an NSS module it tried (ECONNREFUSED from
        // a name service that is not running) where the group simply does not exist.
        Err(e) => Err(format!("{key}: no group named '{s}' (lookup: {e})")),
    }
}

/// The entries of a file in libvirt's daemon-config syntax, or the 1-based line of the first
/// error and what is wrong. A list may span lines.
pub fn parse_entries(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((idx, raw)) = lines.next() {
        let line = idx + 1;
        let err = |message: &str| (line, message.to_string());
        let content = strip_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        let (key, value) = content
            .split_once('=')
            .ok_or_else(|| err("expected key = value"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err("malformed key"));
        }
        let mut value = value.trim().to_string();
        if value.starts_with('[') {
            while !value.ends_with(']') {
                let Some((_, more)) = lines.next() else {
                    return Err(err("unterminated list"));
                };
                value.push(' ');
                value.push_str(strip_comment(more).trim());
            }
        }
        let parsed = parse_value(&value).map_err(|m| err(&m))?;
        out.push(Entry {
            line,
            key: key.to_string(),
            value: parsed,
        });
    }
    Ok(out)
}

/// The line without a `#` comment outside quotes.
pub fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_value(v: &str) -> Result<Value, String> {
    if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let items = split_outside_quotes(inner)
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| unquote(s).ok_or_else(|| format!("list item {s} is not a quoted string")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::List(items));
    }
    if let Some(s) = unquote(v) {
        return Ok(Value::Str(s));
    }
    v.parse::<i64>()
        .map(Value::Int)
        .map_err(|_| format!("value {v} is neither a quoted string, an integer nor a list"))
}

/// `s` cut at the commas that are not inside quotes.
fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/virt/virtqemud.conf";

    fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::parse(Path::new(FILE), text, &|_| false)
    }

    fn err(text: &str) -> String {
        parse(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn every_key_is_read() {
        let cfg = parse(
            r#"
# libvirt's spelling, comments and all
auth_unix_rw = "polkit"   # the gate
auth_unix_ro = "polkit"
unix_sock_group = "0"
unix_sock_rw_perms = "0770"
unix_sock_ro_perms = "0777"
metrics_listen = "127.0.0.1:9177"
"#,
        )
        .expect("valid");
        assert_eq!(cfg.auth_unix_rw, UnixAuth::Polkit);
        assert_eq!(cfg.auth_unix_ro, UnixAuth::Polkit);
        assert_eq!(cfg.unix_sock_group, Some(0));
        assert_eq!(cfg.unix_sock_rw_perms, Some(0o770));
        assert_eq!(cfg.unix_sock_ro_perms, Some(0o777));
        assert_eq!(cfg.rw_mode(), 0o770);
        assert_eq!(cfg.ro_mode(), 0o777);
        assert_eq!(
            cfg.metrics_listen,
            Some("127.0.0.1:9177".parse().expect("a loopback address"))
        );
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert_eq!(cfg.path.as_deref(), Some(Path::new(FILE)));
    }

    #[test]
    fn defaults_and_the_polkit_socket_mode() {
        let none = parse("").expect("empty");
        assert_eq!(none.auth_unix_rw, UnixAuth::None);
        assert_eq!(none.auth_unix_ro, UnixAuth::None);
        assert_eq!((none.rw_mode(), none.ro_mode()), (0o600, 0o666));
        assert_eq!(none.metrics_listen, None);
        let pk = parse("auth_unix_rw = \"polkit\"").expect("polkit");
        assert_eq!(pk.rw_mode(), 0o666, "polkit is the gate, as in libvirt");
        let none = parse("auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"").expect("none");
        assert_eq!(none.rw_mode(), 0o600);
    }

    #[test]
    fn group_names_resolve_and_unknown_groups_are_refused() {
        let cfg = parse("unix_sock_group = \"root\"").expect("root group");
        assert_eq!(cfg.unix_sock_group, Some(0));
        let e = err("\n\nunix_sock_group = \"no-such-group-virt\"");
        assert!(
            e.starts_with(&format!(
                "{FILE}:3: unix_sock_group: no group named 'no-such-group-virt'"
            )),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_file_line_and_key() {
        assert_eq!(
            err("auth_unix_rw = \"kerberos\""),
            format!(
                "{FILE}:1: auth_unix_rw = \"kerberos\" is not an authentication scheme (\"none\" or \"polkit\")"
            )
        );
        assert_eq!(
            err("# x\nauth_unix_ro = \"sasl\""),
            format!(
                "{FILE}:2: auth_unix_ro = \"sasl\" is not supported (use \"polkit\" or \"none\")"
            )
        );
        assert_eq!(
            err("auth_unix_rw = 1"),
            format!("{FILE}:1: auth_unix_rw needs a quoted string")
        );
        assert_eq!(
            err("unix_sock_rw_perms = \"0778\""),
            format!("{FILE}:1: unix_sock_rw_perms = \"0778\" is not an octal mode between 0000 and 0777")
        );
        assert_eq!(
            err("unix_sock_ro_perms = \"01777\""),
            format!("{FILE}:1: unix_sock_ro_perms = \"01777\" is not an octal mode between 0000 and 0777")
        );
        assert_eq!(
            err("unix_sock_rw_perms = 0770"),
            format!("{FILE}:1: unix_sock_rw_perms needs a quoted string")
        );
        assert_eq!(
            err("metrics_listen = [\"a\"]"),
            format!("{FILE}:1: metrics_listen needs a quoted string")
        );
        assert_eq!(
            err("metrics_listen = \"\""),
            format!("{FILE}:1: metrics_listen is empty")
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(
            err("auth_unix_rw = \"none\"\njust words\n"),
            format!("{FILE}:2: expected key = value")
        );
        assert_eq!(err("\n\nbad key = 1"), format!("{FILE}:3: malformed key"));
        assert_eq!(
            err("x = [\"a\",\n \"b\"\n"),
            format!("{FILE}:1: unterminated list")
        );
        assert_eq!(
            err("auth_unix_rw = polkit"),
            format!("{FILE}:1: value polkit is neither a quoted string, an integer nor a list")
        );
        assert_eq!(
            err("x = [a]"),
            format!("{FILE}:1: list item a is not a quoted string")
        );
    }

    #[test]
    fn libvirt_and_unknown_keys_warn_and_the_daemons_own_keys_pass() {
        let text = "max_clients = 5000\nlog_outputs = \"1:journald\"\nauth_unix_rww = \"polkit\"\nqemu_system_socket = \"/x\"\n";
        let cfg = parse(text).expect("warnings only");
        assert_eq!(
            cfg.warnings,
            [
                format!("{FILE}:1: max_clients is a libvirt setting this daemon does not implement; ignored"),
                format!("{FILE}:2: log_outputs is a libvirt setting this daemon does not implement; ignored"),
                format!("{FILE}:3: unknown key auth_unix_rww; ignored"),
                format!("{FILE}:4: unknown key qemu_system_socket; ignored"),
            ]
        );
        let own = DaemonConfig::parse(Path::new(FILE), text, &|k| k == "qemu_system_socket")
            .expect("own key");
        assert_eq!(own.warnings.len(), 3);
        assert!(own
            .warnings
            .iter()
            .all(|w| !w.contains("qemu_system_socket")));
    }

    #[test]
    fn lists_span_lines_with_comments() {
        let entries = parse_entries(
            "tls_allowed_dn_list = [\n  \"C=GB,CN=a\",  # one\n  \"CN=b#2\",\n]\nmax_clients = -1\n",
        )
        .expect("valid");
        assert_eq!(
            entries,
            [
                Entry {
                    line: 1,
                    key: "tls_allowed_dn_list".into(),
                    value: Value::List(vec!["C=GB,CN=a".into(), "CN=b#2".into()]),
                },
                Entry {
                    line: 5,
                    key: "max_clients".into(),
                    value: Value::Int(-1),
                },
            ]
        );
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_an_unreadable_one_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = DaemonConfig::load(&dir.path().join("nope.conf"), &|_| false).expect("defaults");
        assert_eq!(cfg, DaemonConfig::default());
        let err = DaemonConfig::load(dir.path(), &|_| false).expect_err("a directory");
        assert_eq!(
            err.to_string(),
            format!("cannot read config file {}", dir.path().display())
        );
        assert_eq!(
            DaemonConfig::file(Path::new("/etc/virt"), "virtqemud"),
            Path::new("/etc/virt/virtqemud.conf")
        );
    }
}
