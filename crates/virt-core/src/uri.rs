//! Connection URIs as libvirt writes them,
//! `driver[+transport]://[user@][host][:port]/[path][?param=value&...]`, and the client's
//! default-URI and alias resolution.
//!
//! A host or a `+transport` means the client reaches the daemon over a channel (TLS by default
//! when a host is given, the local UNIX socket otherwise); the daemon sees only
//! [`ConnectUri::daemon_uri`], the URI without transport, user, host, port and the parameters
//! the client consumes. Values are percent-escaped; [`ConnectUri`] holds them decoded and its
//! `Display` writes the canonical form back, escaping what needs it.
//!
//! Where we differ from libvirt on purpose: the unknown-transport message drops libvirt's
//! `remote_open: ` function-name prefix; a URI without `://` (`qemu:/system`) is rejected
//! instead of being read as a path-only URI; a `#fragment` is rejected instead of being carried.
//!
//! [`ConnectUri`]: crate::uri::ConnectUri
//! [`ConnectUri::daemon_uri`]: crate::uri::ConnectUri::daemon_uri

use std::fmt;

use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// How a client reaches the daemon: the `+transport` part of the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TLS over TCP (default when a host is given), port 16514.
    Tls,
    /// The local UNIX socket (default without a host).
    Unix,
    /// An `ssh` child process tunnelling to the remote socket, port 22.
    Ssh,
    /// In-process SSH through libssh2, port 22.
    Libssh2,
    /// In-process SSH through libssh, port 22.
    Libssh,
    /// An external command (`command=`) talking over its stdin/stdout.
    Ext,
    /// Plain, unencrypted TCP, port 16509.
    Tcp,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 7] = [
        Transport::Tls,
        Transport::Unix,
        Transport::Ssh,
        Transport::Libssh2,
        Transport::Libssh,
        Transport::Ext,
        Transport::Tcp,
    ];

    /// The name in the scheme, e.g. `ssh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Unix => "unix",
            Transport::Ssh => "ssh",
            Transport::Libssh2 => "libssh2",
            Transport::Libssh => "libssh",
            Transport::Ext => "ext",
            Transport::Tcp => "tcp",
        }
    }

    /// The transport named `name`, compared without regard to case as libvirt does.
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// The port used when the URI names none: tls 16514, tcp 16509, the SSH family 22.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Transport::Tls => Some(16514),
            Transport::Tcp => Some(16509),
            Transport::Ssh | Transport::Libssh2 | Transport::Libssh => Some(22),
            Transport::Unix | Transport::Ext => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Query parameters the client consumes and never forwards to the daemon (libvirt's remote
/// driver list; `name` replaces the forwarded URI altogether).
pub const CLIENT_PARAMS: &[&str] = &[
    "name",
    "command",
    "socket",
    "mode",
    "proxy",
    "netcat",
    "keyfile",
    "no_verify",
    "no_tty",
    "pkipath",
    "known_hosts",
    "known_hosts_verify",
    "sshauth",
    "tls_priority",
    "authfile",
    "no_sanity",
];

/// A parsed connection URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectUri {
    /// The driver, lower-case: `qemu`, `lxc`, `xen`, `test`, `remote`, ...
    pub driver: String,
    /// The transport after `+`, when one is written.
    pub transport: Option<Transport>,
    /// The user before `@`, decoded.
    pub user: Option<String>,
    /// The host, decoded, without the brackets of an IPv6 address.
    pub host: Option<String>,
    /// The port, when one is written.
    pub port: Option<u16>,
    /// The path, decoded, with its leading `/` (`/system`, `/default`; `/` for `lxc:///`; empty
    /// when the URI ends after the authority).
    pub path: String,
    /// The query parameters, decoded, in order.
    pub params: Vec<(String, String)>,
}

impl ConnectUri {
    /// Parses `s`. Grammar errors are INVALID_ARG from the URI domain ("invalid port 'abc' in URI
    /// 'qemu://h:abc/system'"), a URI without a driver is NO_CONNECT, and transport errors are
    /// INVALID_ARG from the remote domain, as libvirt's remote driver raises them.
    pub fn parse(s: &str) -> Result<ConnectUri, VirtError> {
        if let Some(c) = s.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(
                s,
                format!("invalid character '{}'", c.escape_default()),
            ));
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(match s.split_once(':') {
                Some((scheme, _)) if valid_scheme(scheme) => {
                    bad(s, format!("missing '//' after '{scheme}:'"))
                }
                _ => no_driver_name(s),
            });
        };
        let (driver, transport) = match scheme.split_once('+') {
            Some((d, t)) => (d, Some(t)),
            None => (scheme, None),
        };
        if driver.is_empty() {
            return Err(no_driver_name(s));
        }
        if !valid_scheme(scheme) {
            return Err(bad(s, format!("invalid driver name '{scheme}'")));
        }
        let transport = transport
            .map(|t| Transport::from_name(t).ok_or_else(unknown_transport))
            .transpose()?;
        if let Some((_, fragment)) = rest.split_once('#') {
            return Err(bad(s, format!("unexpected fragment '#{fragment}'")));
        }
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) =
            before_query.split_at(before_query.find('/').unwrap_or(before_query.len()));
        let (user, host, port) = parse_authority(s, authority)?;
        let uri = ConnectUri {
            driver: driver.to_ascii_lowercase(),
            transport,
            user,
            host,
            port,
            path: decode(s, path)?,
            params: parse_query(s, query)?,
        };
        uri.check_transport()?;
        Ok(uri)
    }

    /// The transport rules of libvirt's remote driver that a URI alone can break.
    fn check_transport(&self) -> Result<(), VirtError> {
        match (self.transport, &self.host) {
            (Some(Transport::Unix), Some(host)) => Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Remote,
                format!("using unix socket and remote server '{host}' is not supported."),
            )),
            (Some(Transport::Ext), _) if self.param("command").is_none() => Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Remote,
                "for 'ext' transport, command is required",
            )),
            _ => Ok(()),
        }
    }

    /// The value of the last parameter called `name` (compared without regard to case, as
    /// libvirt's remote driver compares them).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client reaches the daemon over a network channel: a host is given or a
    /// transport other than `unix` is written.
    pub fn is_remote(&self) -> bool {
        self.host.is_some() || self.transport.is_some_and(|t| t != Transport::Unix)
    }

    /// The transport written, else TLS when a host is given, else the local UNIX socket.
    pub fn effective_transport(&self) -> Transport {
        self.transport.unwrap_or(if self.host.is_some() {
            Transport::Tls
        } else {
            Transport::Unix
        })
    }

    /// The port to dial when the URI names none (see [`Transport::default_port`]).
    pub fn default_port(&self) -> Option<u16> {
        self.effective_transport().default_port()
    }

    /// The URI the daemon sees: this one without transport, user, host, port and the
    /// [`CLIENT_PARAMS`]; a `name=` parameter replaces it entirely, and the `remote` driver sends
    /// the empty URI so that the server picks its driver. libvirt: doRemoteOpen.
    pub fn daemon_uri(&self) -> String {
        if let Some(name) = self.param("name") {
            return name.to_string();
        }
        if self.driver == "remote" {
            return String::new();
        }
        let forwarded = ConnectUri {
            driver: self.driver.clone(),
            transport: None,
            user: None,
            host: None,
            port: None,
            path: if self.path.is_empty() {
                "/".to_string()
            } else {
                self.path.clone()
            },
            params: (self.params.iter())
                .filter(|(n, _)| !CLIENT_PARAMS.iter().any(|c| c.eq_ignore_ascii_case(n)))
                .cloned()
                .collect(),
        };
        forwarded.to_string()
    }

    /// Whether this is the built-in test fixture served in process, `test:///default`.
    pub fn is_test_default(&self) -> bool {
        self.is_in_process_test() && self.path == "/default"
    }

    /// Whether the test driver runs in the client's process (`test:///default`,
    /// `test:///abs/path.xml`): no transport and no host. With either it goes to a daemon.
    pub fn is_in_process_test(&self) -> bool {
        self.driver == "test" && self.transport.is_none() && self.host.is_none()
    }

    /// The state root of an embedded driver (`qemu:///embed?root=DIR`), if this is one.
    pub fn embed_root(&self) -> Option<&str> {
        (self.path == "/embed" && !self.is_remote())
            .then(|| self.param("root"))
            .flatten()
    }
}

impl std::str::FromStr for ConnectUri {
    type Err = VirtError;

    fn from_str(s: &str) -> Result<ConnectUri, VirtError> {
        ConnectUri::parse(s)
    }
}

/// Characters written as they are in a user name, besides letters, digits and `-._~`.
const USER_SAFE: &str = "!$'()*+,;=";
/// ... in a path.
const PATH_SAFE: &str = "/:@!$&'()*+,;=";
/// ... in a parameter name or value (`&`, `;`, `=` and `+` are always escaped).
const PARAM_SAFE: &str = "/:@!*'(),$";

impl fmt::Display for ConnectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.driver)?;
        if let Some(t) = self.transport {
            write!(f, "+{t}")?;
        }
        f.write_str("://")?;
        if let Some(user) = &self.user {
            write!(f, "{}@", escape(user, USER_SAFE))?;
        }
        match &self.host {
            Some(h) if h.contains(':') => write!(f, "[{}]", escape(h, ":"))?,
            Some(h) => f.write_str(&escape(h, ""))?,
            None => {}
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if !self.path.is_empty() && !self.path.starts_with('/') {
            f.write_str("/")?;
        }
        f.write_str(&escape(&self.path, PATH_SAFE))?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(
                f,
                "{sep}{}={}",
                escape(name, PARAM_SAFE),
                escape(value, PARAM_SAFE)
            )?;
        }
        Ok(())
    }
}

/// INVALID_ARG from the URI domain: "{what} in URI '{uri}'".
fn bad(uri: &str, what: impl fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::Uri,
        format!("{what} in URI '{uri}'"),
    )
}

/// NO_CONNECT: the URI names no driver, so none can serve it.
fn no_driver_name(uri: &str) -> VirtError {
    VirtError::new(
        ErrorCode::NoConnect,
        ErrorDomain::Uri,
        format!("'{uri}': the URI does not name a driver"),
    )
}

fn unknown_transport() -> VirtError {
    VirtError::new(
        ErrorCode::InvalidArg,
        ErrorDomain::Remote,
        "transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
    )
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn valid_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

type Authority = (Option<String>, Option<String>, Option<u16>);

/// `[user@][host][:port]`, with `[v6:addr]` hosts.
fn parse_authority(uri: &str, authority: &str) -> Result<Authority, VirtError> {
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(decode(uri, u)?).filter(|u| !u.is_empty()), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (addr, after) = (inner.split_once(']'))
            .ok_or_else(|| bad(uri, format!("unterminated IPv6 address '{hostport}'")))?;
        if !addr.contains(':')
            || !addr
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":.%".contains(c))
        {
            return Err(bad(uri, format!("invalid IPv6 address '[{addr}]'")));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad(uri, format!("unexpected '{p}' after host")))?,
            ),
        };
        (addr, port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~%:".contains(c))
    {
        return Err(bad(uri, format!("invalid host name '{host}'")));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            (p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
                .ok_or_else(|| bad(uri, format!("invalid port '{p}'")))?,
        ),
    };
    let host = Some(decode(uri, host)?).filter(|h| !h.is_empty());
    Ok((user, host, port))
}

/// libvirt's virURIParseParams: `&`- or `;`-separated, empty sections skipped, `name` alone has
/// the empty value, `=value` without a name is ignored.
fn parse_query(uri: &str, query: &str) -> Result<Vec<(String, String)>, VirtError> {
    let mut params = Vec::new();
    for section in query.split(['&', ';']).filter(|s| !s.is_empty()) {
        let (name, value) = section.split_once('=').unwrap_or((section, ""));
        if !name.is_empty() {
            params.push((decode(uri, name)?, decode(uri, value)?));
        }
    }
    Ok(params)
}

/// Decodes `%XX` escapes in `text`, a part of `uri`; the result must be UTF-8.
fn decode(uri: &str, text: &str) -> Result<String, VirtError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let Some(hex) = hex else {
            let shown: String = text[i..].chars().take(3).collect();
            return Err(bad(uri, format!("invalid percent-escape '{shown}'")));
        };
        let hex = std::str::from_utf8(hex).expect("hex digits are ASCII");
        out.push(u8::from_str_radix(hex, 16).expect("two hex digits fit a byte"));
        i += 3;
    }
    String::from_utf8(out).map_err(|_| {
        bad(
            uri,
            format!("percent-escapes in '{text}' that are not UTF-8"),
        )
    })
}

/// Percent-escapes every byte of `text` but letters, digits, `-._~` and the characters of `safe`.
fn escape(text: &str, safe: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-._~".contains(c) || safe.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

mod config;
pub mod probe;
pub use config::{client_config_path, resolve_default_uri, UriResolver};

#[cfg(test)]
mod tests {
    use super::*;

    /// `qemu:///system`, the baseline each case overrides.
    fn base() -> ConnectUri {
        ConnectUri {
            driver: "qemu".into(),
            transport: None,
            user: None,
            host: None,
            port: None,
            path: "/system".into(),
            params: Vec::new(),
        }
    }

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// (input, parsed, canonical text)
    fn valid_cases() -> Vec<(&'static str, ConnectUri, &'static str)> {
        let b = base;
        let on = |driver: &str, path: &str| ConnectUri {
            driver: driver.into(),
            path: path.into(),
            ..b()
        };
        vec![
            ("qemu:///system", b(), "qemu:///system"),
            (
                "qemu:///session",
                ConnectUri {
                    path: "/session".into(),
                    ..b()
                },
                "qemu:///session",
            ),
            ("lxc:///", on("lxc", "/"), "lxc:///"),
            ("xen:///system", on("xen", "/system"), "xen:///system"),
            ("test:///default", on("test", "/default"), "test:///default"),
            (
                "test:///abs/path.xml",
                on("test", "/abs/path.xml"),
                "test:///abs/path.xml",
            ),
            (
                "test:///my%20dir/f.xml",
                on("test", "/my dir/f.xml"),
                "test:///my%20dir/f.xml",
            ),
            ("remote:///", on("remote", "/"), "remote:///"),
            (
                "qemu+unix:///system?socket=/run/x",
                ConnectUri {
                    transport: Some(Transport::Unix),
                    params: params(&[("socket", "/run/x")]),
                    ..b()
                },
                "qemu+unix:///system?socket=/run/x",
            ),
            (
                "qemu+tls://host/system",
                ConnectUri {
                    transport: Some(Transport::Tls),
                    host: Some("host".into()),
                    ..b()
                },
                "qemu+tls://host/system",
            ),
            (
                "qemu://h/system",
                ConnectUri {
                    host: Some("h".into()),
                    ..b()
                },
                "qemu://h/system",
            ),
            (
                "qemu+ssh://user@host:2222/system?keyfile=/k&no_tty=1",
                ConnectUri {
                    transport: Some(Transport::Ssh),
                    user: Some("user".into()),
                    host: Some("host".into()),
                    port: Some(2222),
                    params: params(&[("keyfile", "/k"), ("no_tty", "1")]),
                    ..b()
                },
                "qemu+ssh://user@host:2222/system?keyfile=/k&no_tty=1",
            ),
            (
                "qemu:///embed?root=/tmp/x",
                ConnectUri {
                    path: "/embed".into(),
                    params: params(&[("root", "/tmp/x")]),
                    ..b()
                },
                "qemu:///embed?root=/tmp/x",
            ),
            (
                "qemu+tcp://[::1]:16509/system",
                ConnectUri {
                    transport: Some(Transport::Tcp),
                    host: Some("::1".into()),
                    port: Some(16509),
                    ..b()
                },
                "qemu+tcp://[::1]:16509/system",
            ),
            (
                "qemu+libssh2://u@[fe80::1%25eth0]:0/system",
                ConnectUri {
                    transport: Some(Transport::Libssh2),
                    user: Some("u".into()),
                    host: Some("fe80::1%eth0".into()),
                    port: Some(0),
                    ..b()
                },
                "qemu+libssh2://u@[fe80::1%25eth0]:0/system",
            ),
            (
                "QEMU+SSH://h:65535/system",
                ConnectUri {
                    transport: Some(Transport::Ssh),
                    host: Some("h".into()),
                    port: Some(65535),
                    ..b()
                },
                "qemu+ssh://h:65535/system",
            ),
            (
                "qemu+ssh://h",
                ConnectUri {
                    transport: Some(Transport::Ssh),
                    host: Some("h".into()),
                    path: String::new(),
                    ..b()
                },
                "qemu+ssh://h",
            ),
            (
                "qemu://h:/system",
                ConnectUri {
                    host: Some("h".into()),
                    ..b()
                },
                "qemu://h/system",
            ),
            (
                "qemu:///system?a=1;b=&c&=d&&x=%26%3D%2B+",
                ConnectUri {
                    params: params(&[("a", "1"), ("b", ""), ("c", ""), ("x", "&=++")]),
                    ..b()
                },
                "qemu:///system?a=1&b=&c=&x=%26%3D%2B%2B",
            ),
            (
                "qemu+ext:///system?command=/bin/tunnel%20-v",
                ConnectUri {
                    transport: Some(Transport::Ext),
                    params: params(&[("command", "/bin/tunnel -v")]),
                    ..b()
                },
                "qemu+ext:///system?command=/bin/tunnel%20-v",
            ),
        ]
    }

    #[test]
    fn parse_accepts_every_form_and_display_writes_it_canonically() {
        for (input, want, canonical) in valid_cases() {
            let got = ConnectUri::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            assert_eq!(got.to_string(), canonical, "{input}");
            assert_eq!(
                ConnectUri::parse(canonical).expect("canonical parses"),
                want,
                "{canonical}"
            );
        }
    }

    #[test]
    fn parse_rejects_malformed_uris_naming_uri_and_fault() {
        let uri = (ErrorCode::InvalidArg, ErrorDomain::Uri);
        let remote = (ErrorCode::InvalidArg, ErrorDomain::Remote);
        let no_connect = (ErrorCode::NoConnect, ErrorDomain::Uri);
        let cases: &[(&str, (ErrorCode, ErrorDomain), &str)] = &[
            ("qemu://h:abc/system", uri, "invalid argument: invalid port 'abc' in URI 'qemu://h:abc/system'"),
            ("qemu://h:65536/system", uri, "invalid argument: invalid port '65536' in URI 'qemu://h:65536/system'"),
            ("qemu://h:+1/system", uri, "invalid argument: invalid port '+1' in URI 'qemu://h:+1/system'"),
            ("qemu://h:1:2/system", uri, "invalid argument: invalid port '1:2' in URI 'qemu://h:1:2/system'"),
            (
                "qemu+foo:///system",
                remote,
                "invalid argument: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
            ),
            (
                "qemu+unix://h/system",
                remote,
                "invalid argument: using unix socket and remote server 'h' is not supported.",
            ),
            ("qemu+ext:///system", remote, "invalid argument: for 'ext' transport, command is required"),
            ("://h/system", no_connect, "no connection driver available for '://h/system': the URI does not name a driver"),
            ("+ssh://h/system", no_connect, "no connection driver available for '+ssh://h/system': the URI does not name a driver"),
            ("default", no_connect, "no connection driver available for 'default': the URI does not name a driver"),
            ("qemu:/system", uri, "invalid argument: missing '//' after 'qemu:' in URI 'qemu:/system'"),
            ("1qemu:///system", uri, "invalid argument: invalid driver name '1qemu' in URI '1qemu:///system'"),
            ("qemu:///sys%zztem", uri, "invalid argument: invalid percent-escape '%zz' in URI 'qemu:///sys%zztem'"),
            ("qemu:///system?x=%4", uri, "invalid argument: invalid percent-escape '%4' in URI 'qemu:///system?x=%4'"),
            ("qemu:///%ff", uri, "invalid argument: percent-escapes in '/%ff' that are not UTF-8 in URI 'qemu:///%ff'"),
            ("qemu://[::1/system", uri, "invalid argument: unterminated IPv6 address '[::1' in URI 'qemu://[::1/system'"),
            ("qemu://[host]/system", uri, "invalid argument: invalid IPv6 address '[host]' in URI 'qemu://[host]/system'"),
            ("qemu://[::1]x/system", uri, "invalid argument: unexpected 'x' after host in URI 'qemu://[::1]x/system'"),
            ("qemu://h!/system", uri, "invalid argument: invalid host name 'h!' in URI 'qemu://h!/system'"),
            ("qemu://h h/system", uri, "invalid argument: invalid character ' ' in URI 'qemu://h h/system'"),
            ("qemu:///system#top", uri, "invalid argument: unexpected fragment '#top' in URI 'qemu:///system#top'"),
        ];
        for (input, (code, domain), message) in cases {
            let err = ConnectUri::parse(input).expect_err(input);
            assert_eq!((err.code, err.domain), (*code, *domain), "{input}");
            assert_eq!(err.message(), *message, "{input}");
        }
    }

    #[test]
    fn daemon_uri_drops_transport_authority_and_client_params() {
        let cases = [
            ("qemu:///system", "qemu:///system"),
            (
                "qemu+ssh://user@host:2222/system?keyfile=/k&no_tty=1",
                "qemu:///system",
            ),
            (
                "qemu+unix:///system?socket=/run/x&mode=direct",
                "qemu:///system",
            ),
            (
                "test+tcp://h/default?Socket=/x&foo=a%26b&authfile=/a",
                "test:///default?foo=a%26b",
            ),
            (
                "qemu+ssh://h/system?name=qemu:///session&keyfile=/k",
                "qemu:///session",
            ),
            ("qemu:///embed?root=/tmp/x", "qemu:///embed?root=/tmp/x"),
            ("qemu+ssh://h", "qemu:///"),
            ("remote+tls://h/", ""),
        ];
        for (input, want) in cases {
            let uri = ConnectUri::parse(input).expect(input);
            assert_eq!(uri.daemon_uri(), want, "{input}");
        }
    }

    #[test]
    fn transport_defaults_follow_the_host() {
        let cases = [
            ("qemu:///system", false, Transport::Unix, None),
            ("qemu+unix:///system", false, Transport::Unix, None),
            ("qemu://h/system", true, Transport::Tls, Some(16514)),
            ("qemu+tcp://h/system", true, Transport::Tcp, Some(16509)),
            ("qemu+ssh://h/system", true, Transport::Ssh, Some(22)),
            ("qemu+libssh:///system", true, Transport::Libssh, Some(22)),
            ("qemu+ext:///system?command=x", true, Transport::Ext, None),
        ];
        for (input, remote, transport, port) in cases {
            let uri = ConnectUri::parse(input).expect(input);
            assert_eq!(uri.is_remote(), remote, "{input}");
            assert_eq!(uri.effective_transport(), transport, "{input}");
            assert_eq!(uri.default_port(), port, "{input}");
        }
    }

    #[test]
    fn in_process_forms_are_recognised() {
        let p = |s: &str| ConnectUri::parse(s).expect(s);
        assert!(p("test:///default").is_test_default());
        assert!(!p("test+unix:///default").is_test_default());
        assert!(!p("test:///abs/path.xml").is_test_default());
        assert!(p("test:///abs/path.xml").is_in_process_test());
        assert!(!p("test://h/default").is_in_process_test());
        assert_eq!(p("qemu:///embed?root=/tmp/x").embed_root(), Some("/tmp/x"));
        assert_eq!(p("qemu:///system?root=/tmp/x").embed_root(), None);
        assert_eq!(
            p("qemu:///x?KeyFile=/a&keyfile=/b").param("keyfile"),
            Some("/b")
        );
        assert_eq!(
            "lxc:///".parse::<ConnectUri>().expect("parses").driver,
            "lxc"
        );
    }
}
