//! The proxy's config file, `CONFIG_DIR/virt-proxy.conf` (or `--config PATH`).
//!
//! The format is libvirt's own daemon config syntax (`virtproxyd.conf`, `libvirtd.conf`):
//! `key = value` lines, `#` comments, values that are a quoted string, an integer, or a list of
//! quoted strings in brackets (which may span lines). We chose it over TOML because an admin
//! moving from libvirt already knows it (the TLS keys are spelled as libvirt spells them:
//! `key_file`, `cert_file`, `ca_file`, `tls_allowed_dn_list`), because it needs no parser
//! dependency, and because every value the proxy needs is flat. A missing file means defaults;
//! an unknown key or a malformed line is an error naming the file and line, so a typo never
//! silently falls back to a default.
//!
//! Keys:
//!
//! | key | value | default |
//! |---|---|---|
//! | `DRIVER_MODE_socket` (e.g. `qemu_system_socket`) | read-write socket of that backend | `RUN/DAEMON-sock` |
//! | `DRIVER_MODE_socket_ro` | its read-only socket | `RUN/DAEMON-sock-ro` |
//! | `listen_addr` | TCP listen addresses (for the TLS listener) | `[]` |
//! | `uri_default` | the connection URI of a call without `virt-uri` metadata (libvirt.conf's key) | probe, see [`crate::route`] |
//! | `listen_tls` / `listen_tcp` | enable those listeners (0/1) | 0 |
//! | `tls_port` / `tcp_port` | port number or service name, quoted as libvirtd.conf writes it (`"16514"`); a bare integer is accepted too | `"16514"` / `"16509"` |
//! | `key_file`, `cert_file`, `ca_file`, `crl_file` | TLS PKI paths | libvirt's PKI layout |
//! | `tls_allowed_dn_list` | allowed client certificate DNs | `[]` (any) |
//! | `timeout` | idle timeout in seconds (0: never), when `--timeout` is not given | 0 |
//!
//! Values have the types libvirt's own parser gives the same keys (`virtproxyd.conf`,
//! `libvirtd.conf`, `libvirt.conf`): ports are strings (a number or an `/etc/services` name, as
//! libvirt resolves them), `listen_tls` / `listen_tcp` are 0 or 1, paths and DNs are strings, so
//! a libvirt file's lines can be copied over unchanged. `listen_addr` also takes a list.
//!
//! The file also holds the daemon runtime's keys (`auth_unix_rw`, `auth_unix_ro`,
//! `unix_sock_group`, `unix_sock_rw_perms`, `unix_sock_ro_perms`, `metrics_listen`), which
//! [`virt_core::runtime::config`] reads; the syntax's parser is the runtime's too.
//!
//! DRIVER is `qemu`, `lxc` or `xen`; MODE is `system` or `session`. TLS paths not given follow
//! libvirt's PKI layout (`/etc/pki/CA/cacert.pem`, `/etc/pki/libvirt/servercert.pem`,
//! `/etc/pki/libvirt/private/serverkey.pem`; under `--root` when given).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use virt_core::runtime::config::{parse_entries, strip_comment, Value, RUNTIME_KEYS};

/// File name of the config file under the config dir.
pub const CONFIG_FILE: &str = "virt-proxy.conf";

/// Errors reading the config file, the runtime's own: each names the file (and the line).
pub use virt_core::runtime::config::ConfigError;

/// The TLS listener's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Server private key (`key_file`).
    pub key_file: Option<PathBuf>,
    /// Server certificate (`cert_file`).
    pub cert_file: Option<PathBuf>,
    /// CA certificate (`ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Certificate revocation list (`crl_file`).
    pub crl_file: Option<PathBuf>,
    /// Allowed client DNs (`tls_allowed_dn_list`); empty allows any client the CA signed.
    pub allowed_dns: Vec<String>,
}

/// The proxy's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Socket overrides: `(driver, mode, read_only)` → path, e.g. `("qemu", "system", false)`.
    pub sockets: HashMap<(String, String, bool), PathBuf>,
    /// TCP listen addresses.
    pub listen_addrs: Vec<String>,
    /// Whether the TLS listener is enabled.
    pub listen_tls: bool,
    /// Whether the plain TCP listener is enabled (never by default).
    pub listen_tcp: bool,
    /// TLS port.
    pub tls_port: Option<u16>,
    /// TCP port.
    pub tcp_port: Option<u16>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Idle timeout in seconds (0: never).
    pub timeout: Option<u64>,
    /// The URI of calls that carry no `virt-uri` metadata (`uri_default`).
    pub uri_default: Option<String>,
}

impl ProxyConfig {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<ProxyConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ProxyConfig::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProxyConfig::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses the text of the file at `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ProxyConfig, ConfigError> {
        let mut cfg = ProxyConfig::default();
        for (line, key, value) in entries(path, text)? {
            let err = |message: String| ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            };
            cfg.set(&key, value).map_err(err)?;
        }
        Ok(cfg)
    }

    fn set(&mut self, key: &str, value: Value) -> Result<(), String> {
        let string = |v: Value| match v {
            Value::Str(s) => Ok(s),
            _ => Err(format!("{key} needs a quoted string")),
        };
        let int = |v: &Value| match v {
            Value::Int(i) => Ok(*i),
            _ => Err(format!("{key} needs an integer")),
        };
        let flag = |v: &Value| match v {
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            _ => Err(format!("{key} needs 0 or 1")),
        };
        let port = |v: &Value| match v {
            Value::Int(i) => {
                u16::try_from(*i).map_err(|_| format!("{key} {i} is not a port number"))
            }
            Value::Str(s) => port_or_service(s, Path::new(SERVICES)).ok_or_else(|| {
                format!("{key} \"{s}\" is neither a port number nor a tcp service in {SERVICES}")
            }),
            Value::List(_) => Err(format!(
                "{key} needs a port number or service name in quotes"
            )),
        };
        match key {
            "uri_default" => self.uri_default = Some(string(value)?).filter(|u| !u.is_empty()),
            "listen_addr" => {
                self.listen_addrs = match value {
                    Value::List(l) => l,
                    v => vec![string(v)?],
                }
            }
            "listen_tls" => self.listen_tls = flag(&value)?,
            "listen_tcp" => self.listen_tcp = flag(&value)?,
            "tls_port" => self.tls_port = Some(port(&value)?),
            "tcp_port" => self.tcp_port = Some(port(&value)?),
            "key_file" => self.tls.key_file = Some(string(value)?.into()),
            "cert_file" => self.tls.cert_file = Some(string(value)?.into()),
            "ca_file" => self.tls.ca_file = Some(string(value)?.into()),
            "crl_file" => self.tls.crl_file = Some(string(value)?.into()),
            "tls_allowed_dn_list" => match value {
                Value::List(l) => self.tls.allowed_dns = l,
                _ => return Err(format!("{key} needs a list of quoted strings")),
            },
            "timeout" => {
                self.timeout =
                    Some(u64::try_from(int(&value)?).map_err(|_| format!("{key} is negative"))?)
            }
            // The runtime's keys (auth_unix_rw, ...), read by the runtime from this file.
            _ if RUNTIME_KEYS.contains(&key) => {}
            _ => {
                let Some((driver, mode, ro)) = socket_key(key) else {
                    return Err(format!("unknown key {key}"));
                };
                self.sockets
                    .insert((driver, mode, ro), PathBuf::from(string(value)?));
            }
        }
        Ok(())
    }

    /// The TCP listeners the file asks for: TLS on `tls_port` (16514) when `listen_tls = 1`,
    /// plain TCP on `tcp_port` (16509) when `listen_tcp = 1`, each on every `listen_addr`
    /// (default `0.0.0.0`). TLS paths default to libvirt's PKI layout for `mode`, under `root`
    /// when given. An address that is not an IP address is an error naming it.
    pub fn tcp_listeners(
        &self,
        mode: virt_core::runtime::Mode,
        root: Option<&Path>,
    ) -> Result<Vec<virt_core::runtime::TcpListen>, String> {
        use virt_core::runtime::tls::{TlsSettings, DEFAULT_TLS_PORT};
        let addrs: Vec<std::net::IpAddr> = if self.listen_addrs.is_empty() {
            vec![std::net::Ipv4Addr::UNSPECIFIED.into()]
        } else {
            self.listen_addrs
                .iter()
                .map(|a| {
                    a.trim_matches(|c| c == '[' || c == ']')
                        .parse()
                        .map_err(|_| format!("listen_addr '{a}' is not an IP address"))
                })
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        if self.listen_tls {
            let base = TlsSettings::libvirt_layout(mode, root);
            let tls = TlsSettings {
                ca_cert: self.tls.ca_file.clone().unwrap_or(base.ca_cert),
                server_cert: self.tls.cert_file.clone().unwrap_or(base.server_cert),
                server_key: self.tls.key_file.clone().unwrap_or(base.server_key),
                allowed_dns: self.tls.allowed_dns.clone(),
                crl: self.tls.crl_file.clone(),
            };
            let port = self.tls_port.unwrap_or(DEFAULT_TLS_PORT);
            out.extend(addrs.iter().map(|ip| virt_core::runtime::TcpListen {
                addr: (*ip, port).into(),
                tls: Some(tls.clone()),
            }));
        }
        if self.listen_tcp {
            let port = self.tcp_port.unwrap_or(16509);
            out.extend(addrs.iter().map(|ip| virt_core::runtime::TcpListen {
                addr: (*ip, port).into(),
                tls: None,
            }));
        }
        Ok(out)
    }

    /// The configured socket of `driver` in `mode`, read-only or not.
    pub fn socket(&self, driver: &str, mode: &str, read_only: bool) -> Option<&Path> {
        self.sockets
            .get(&(driver.to_string(), mode.to_string(), read_only))
            .map(PathBuf::as_path)
    }
}

/// The service database libvirt's port names are looked up in (through getaddrinfo).
const SERVICES: &str = "/etc/services";

/// A port given as text: digits, or a tcp service name (or alias) listed in `services`.
fn port_or_service(text: &str, services: &Path) -> Option<u16> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let db = std::fs::read_to_string(services).ok()?;
    db.lines().find_map(|line| {
        let mut words = strip_comment(line).split_whitespace();
        let name = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let named = name == text || words.any(|alias| alias == text);
        (named && proto == "tcp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// `qemu_system_socket_ro` → `("qemu", "system", true)`.
fn socket_key(key: &str) -> Option<(String, String, bool)> {
    let (rest, ro) = match key.strip_suffix("_socket_ro") {
        Some(r) => (r, true),
        None => (key.strip_suffix("_socket")?, false),
    };
    let (driver, mode) = rest.split_once('_')?;
    let known = ["qemu", "lxc", "xen"].contains(&driver) && ["system", "session"].contains(&mode);
    known.then(|| (driver.to_string(), mode.to_string(), ro))
}

/// The `(line, key, value)` entries of the file, in libvirt's syntax (the runtime's parser,
/// [`virt_core::runtime::config::parse_entries`], shared with every daemon's `NAME.conf`).
fn entries(path: &Path, text: &str) -> Result<Vec<(usize, String, Value)>, ConfigError> {
    let entries = parse_entries(text).map_err(|(line, message)| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    })?;
    Ok(entries
        .into_iter()
        .map(|e| (e.line, e.key, e.value))
        .collect())
}

/// Whether `key` is one of the proxy's own keys (so the runtime, which reads the same file for
/// its keys, neither warns about it nor refuses it).
pub fn is_proxy_key(key: &str) -> bool {
    PROXY_KEYS.contains(&key) || socket_key(key).is_some()
}

/// The proxy's keys besides the `DRIVER_MODE_socket[_ro]` ones.
const PROXY_KEYS: &[&str] = &[
    "uri_default",
    "listen_addr",
    "listen_tls",
    "listen_tcp",
    "tls_port",
    "tcp_port",
    "key_file",
    "cert_file",
    "ca_file",
    "crl_file",
    "tls_allowed_dn_list",
    "timeout",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProxyConfig, ConfigError> {
        ProxyConfig::parse(Path::new("/etc/virt/virt-proxy.conf"), text)
    }

    #[test]
    fn parses_sockets_listeners_tls_and_timeout() {
        let cfg = parse(
            r#"
# comment
qemu_system_socket = "/srv/q.sock"   # trailing comment
qemu_system_socket_ro = "/srv/q.sock-ro"
listen_addr = ["0.0.0.0", "::"]
listen_tls = 1
tls_port = 16514
key_file = "/etc/pki/libvirt/private/serverkey.pem"
tls_allowed_dn_list = [
  "C=GB,O=Example,CN=admin",  # one
  "C=GB,O=Example,CN=ops#2",
]
timeout = 120
"#,
        )
        .expect("valid");
        assert_eq!(
            cfg.socket("qemu", "system", false),
            Some(Path::new("/srv/q.sock"))
        );
        assert_eq!(
            cfg.socket("qemu", "system", true),
            Some(Path::new("/srv/q.sock-ro"))
        );
        assert_eq!(cfg.socket("lxc", "system", false), None);
        assert_eq!(cfg.listen_addrs, ["0.0.0.0", "::"]);
        assert!(cfg.listen_tls && !cfg.listen_tcp);
        assert_eq!(cfg.tls_port, Some(16514));
        assert_eq!(
            cfg.tls.key_file.as_deref(),
            Some(Path::new("/etc/pki/libvirt/private/serverkey.pem"))
        );
        assert_eq!(
            cfg.tls.allowed_dns,
            ["C=GB,O=Example,CN=admin", "C=GB,O=Example,CN=ops#2"]
        );
        assert_eq!(cfg.timeout, Some(120));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_and_line() {
        let e = parse("\nqemu_sytem_socket = \"/x\"\n").expect_err("typo");
        assert_eq!(
            e.to_string(),
            "/etc/virt/virt-proxy.conf:2: unknown key qemu_sytem_socket"
        );
        let e = parse("tls_port = \"no-such-service-x\"").expect_err("type");
        assert_eq!(
            e.to_string(),
            "/etc/virt/virt-proxy.conf:1: tls_port \"no-such-service-x\" is neither a port number nor a tcp service in /etc/services"
        );
        let e = parse("tcp_port = 70000").expect_err("range");
        assert_eq!(
            e.to_string(),
            "/etc/virt/virt-proxy.conf:1: tcp_port 70000 is not a port number"
        );
        let e = parse("listen_tls = 2").expect_err("bool");
        assert_eq!(
            e.to_string(),
            "/etc/virt/virt-proxy.conf:1: listen_tls needs 0 or 1"
        );
        assert!(parse("listen_addr = [\"a\"").is_err());
        assert!(parse("just words").is_err());
    }

    #[test]
    fn libvirtd_conf_lines_are_taken_as_libvirt_writes_them() {
        // The network section as libvirtd.conf / virtproxyd.conf ship it, uncommented.
        let cfg = parse(
            r#"
listen_tls = 1
listen_tcp = 0
tls_port = "16514"
tcp_port = "16509"
listen_addr = "192.168.0.1"
key_file = "/etc/pki/libvirt/private/serverkey.pem"
cert_file = "/etc/pki/libvirt/servercert.pem"
ca_file = "/etc/pki/CA/cacert.pem"
crl_file = "/etc/pki/CA/crl.pem"
tls_allowed_dn_list = ["DN1", "DN2"]
uri_default = "qemu:///system"
"#,
        )
        .expect("libvirt's own lines");
        assert_eq!((cfg.tls_port, cfg.tcp_port), (Some(16514), Some(16509)));
        assert!(cfg.listen_tls && !cfg.listen_tcp);
        assert_eq!(cfg.listen_addrs, ["192.168.0.1"]);
        assert_eq!(cfg.tls.allowed_dns, ["DN1", "DN2"]);
        assert_eq!(cfg.uri_default.as_deref(), Some("qemu:///system"));
        // The integer form this file accepted before stays valid.
        assert_eq!(
            parse("tls_port = 16514").expect("int").tls_port,
            Some(16514)
        );
    }

    #[test]
    fn ports_may_be_service_names_from_the_services_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("services");
        std::fs::write(
            &db,
            "# comment\nhttps\t\t443/tcp\nlibvirt-tls\t16514/tcp  vtls # alias\nonly-udp 9/udp\n",
        )
        .expect("write");
        assert_eq!(port_or_service("16509", &db), Some(16509));
        assert_eq!(port_or_service("libvirt-tls", &db), Some(16514));
        assert_eq!(port_or_service("vtls", &db), Some(16514));
        assert_eq!(port_or_service("only-udp", &db), None);
        assert_eq!(port_or_service("99999", &db), None);
        assert_eq!(port_or_service("", &db), None);
    }

    #[test]
    fn the_runtimes_keys_share_the_file() {
        let cfg = parse("auth_unix_rw = \"polkit\"\nqemu_system_socket = \"/q\"\n").expect("valid");
        assert_eq!(cfg.socket("qemu", "system", false), Some(Path::new("/q")));
        assert!(is_proxy_key("qemu_system_socket") && is_proxy_key("listen_tls"));
        assert!(!is_proxy_key("auth_unix_rw") && !is_proxy_key("max_clients"));
    }

    #[test]
    fn a_missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = ProxyConfig::load(&dir.path().join("nope.conf")).expect("defaults");
        assert_eq!(cfg, ProxyConfig::default());
    }
}
