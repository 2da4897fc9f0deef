//! The client's default connection URI and URI aliases: environment variables, then the
//! client config file (`uri_default`, `uri_aliases`), as virsh and libvirt's virConnectOpen find
//! them.

use std::path::{Path, PathBuf};

use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// Reads one environment variable.
type EnvLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Where a client looks for its default URI and aliases: environment variables and the client
/// config file, both injectable so that tests need not touch the process's own. libvirt:
/// virConnectGetDefaultURI, virURIResolveAlias; virsh adds `VIRSH_DEFAULT_CONNECT_URI`.
pub struct UriResolver<'a> {
    env: Box<EnvLookup<'a>>,
    config_path: Option<PathBuf>,
}

impl UriResolver<'static> {
    /// The process's environment and the config file for its effective user.
    pub fn from_process() -> UriResolver<'static> {
        let env = |key: &str| std::env::var(key).ok();
        let path = client_config_path(nix::unistd::geteuid().is_root(), &env);
        UriResolver::new(env, path)
    }
}

impl<'a> UriResolver<'a> {
    /// A resolver reading variables through `env` and settings from `config_path` (none: no file).
    pub fn new(env: impl Fn(&str) -> Option<String> + 'a, config_path: Option<PathBuf>) -> Self {
        UriResolver {
            env: Box::new(env),
            config_path,
        }
    }

    /// The config file consulted, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The URI to open: `explicit` (`virt -c`), else `VIRSH_DEFAULT_CONNECT_URI`, else
    /// `LIBVIRT_DEFAULT_URI`, else `uri_default` from the config file, else none (the caller
    /// decides). Empty strings count as unset. A config file that does not exist is no error.
    pub fn default_uri(&self, explicit: Option<&str>) -> Result<Option<String>, VirtError> {
        let from_env = ["VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI"]
            .iter()
            .find_map(|k| (self.env)(k));
        if let Some(uri) = explicit
            .map(str::to_string)
            .into_iter()
            .chain(from_env)
            .find(|u| !u.is_empty())
        {
            return Ok(Some(uri));
        }
        match self.setting("uri_default")? {
            None => Ok(None),
            Some(ConfValue::Str(uri)) => Ok(Some(uri).filter(|u| !u.is_empty())),
            Some(_) => Err(self.conf_error("'uri_default' must be a string")),
        }
    }

    /// The URI the alias `name` stands for in `uri_aliases = ["name=uri", ...]`, or none. A name
    /// with characters other than `A-Z a-z 0-9 _ -` is never an alias; a malformed entry met
    /// before the match is CONF_SYNTAX, as libvirt checks them.
    pub fn resolve_alias(&self, name: &str) -> Result<Option<String>, VirtError> {
        if name.is_empty() || !name.chars().all(alias_char) {
            return Ok(None);
        }
        let entries = match self.setting("uri_aliases")? {
            None => return Ok(None),
            Some(ConfValue::List(entries)) => entries,
            Some(_) => return Err(self.conf_error("'uri_aliases' must be a list of strings")),
        };
        for entry in entries {
            let Some((alias, uri)) = entry.split_once('=') else {
                let why = format!(
                    "malformed 'uri_aliases' entry '{entry}', expected 'alias=uri://host/path'"
                );
                return Err(self.conf_error(&why));
            };
            if !alias.chars().all(alias_char) {
                let why = format!("malformed 'uri_aliases' entry '{entry}', aliases may only contain 'a-Z, 0-9, _, -'");
                return Err(self.conf_error(&why));
            }
            if alias == name {
                return Ok(Some(uri.to_string()));
            }
        }
        Ok(None)
    }

    /// [`UriResolver::default_uri`], then, unless `no_aliases` (`VIR_CONNECT_NO_ALIASES`), the
    /// alias it names replaced by its URI.
    pub fn resolve(
        &self,
        explicit: Option<&str>,
        no_aliases: bool,
    ) -> Result<Option<String>, VirtError> {
        let Some(uri) = self.default_uri(explicit)? else {
            return Ok(None);
        };
        if no_aliases {
            return Ok(Some(uri));
        }
        Ok(Some(self.resolve_alias(&uri)?.unwrap_or(uri)))
    }

    /// The last value given to `key` in the config file.
    fn setting(&self, key: &str) -> Result<Option<ConfValue>, VirtError> {
        let Some(path) = &self.config_path else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                let detail = format!("cannot read '{}': {e}", path.display());
                return Err(VirtError::new(
                    ErrorCode::ReadFailed,
                    ErrorDomain::Conf,
                    detail,
                ));
            }
        };
        let settings = ConfParser {
            chars: text.chars().peekable(),
            line: 1,
        }
        .settings();
        let settings =
            settings.map_err(|(line, why)| self.conf_error(&format!("line {line}: {why}")))?;
        Ok(settings
            .into_iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v))
    }

    fn conf_error(&self, why: &str) -> VirtError {
        let path = self.config_path.as_deref().unwrap_or(Path::new("?"));
        VirtError::new(
            ErrorCode::ConfSyntax,
            ErrorDomain::Conf,
            format!("{}: {why}", path.display()),
        )
    }
}

/// The client config file: `/etc/virt/virt.conf` for root, else
/// `$XDG_CONFIG_HOME/virt/virt.conf` (`$HOME/.config` when XDG_CONFIG_HOME is unset).
pub fn client_config_path(is_root: bool, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if is_root {
        return Some(PathBuf::from("/etc/virt/virt.conf"));
    }
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let dir = non_empty("XDG_CONFIG_HOME").map(PathBuf::from);
    let dir = dir.or_else(|| non_empty("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(dir.join("virt").join("virt.conf"))
}

/// The default URI as virsh finds it, for this process ([`UriResolver::default_uri`]); a broken
/// config file is logged and treated as absent.
pub fn resolve_default_uri(explicit: Option<&str>) -> Option<String> {
    UriResolver::from_process()
        .default_uri(explicit)
        .unwrap_or_else(|e| {
            tracing::warn!("ignoring the client config: {e}");
            None
        })
}

fn alias_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A value in a libvirt-style config file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConfValue {
    Str(String),
    List(Vec<String>),
    Int,
}

/// The subset of libvirt's config syntax a client file uses: `key = value` lines, values a
/// quoted string, an integer or a (multi-line) list of strings, `#` comments.
struct ConfParser<I: Iterator<Item = char>> {
    chars: std::iter::Peekable<I>,
    line: usize,
}

type ConfResult<T> = Result<T, (usize, String)>;

impl<I: Iterator<Item = char>> ConfParser<I> {
    fn settings(mut self) -> ConfResult<Vec<(String, ConfValue)>> {
        let mut out = Vec::new();
        while self.skip(true).is_some() {
            let key = self.take(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if key.is_empty() {
                return self.fail("expected a setting name");
            }
            self.skip(false);
            if self.chars.next() != Some('=') {
                return self.fail(&format!("expected '=' after '{key}'"));
            }
            self.skip(false);
            let value = self.value()?;
            if !matches!(self.skip(false), None | Some('\n' | ';')) {
                return self.fail(&format!("unexpected text after the value of '{key}'"));
            }
            out.push((key, value));
        }
        Ok(out)
    }

    fn value(&mut self) -> ConfResult<ConfValue> {
        match self.chars.peek().copied() {
            Some('[') => {
                self.chars.next();
                let mut items = Vec::new();
                loop {
                    match self.skip(true) {
                        Some(']') => break,
                        Some('"' | '\'') => items.push(self.string()?),
                        _ => return self.fail("expected a string or ']' in a list"),
                    }
                    match self.skip(true) {
                        Some(',') => {
                            self.chars.next();
                        }
                        Some(']') => {}
                        _ => return self.fail("expected ',' or ']' in a list"),
                    }
                }
                self.chars.next();
                Ok(ConfValue::List(items))
            }
            Some('"' | '\'') => self.string().map(ConfValue::Str),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let n = self.take(|c| c == '-' || c.is_ascii_digit());
                n.parse::<i64>()
                    .map(|_| ConfValue::Int)
                    .or_else(|_| self.fail(&format!("invalid number '{n}'")))
            }
            _ => self.fail("expected a value"),
        }
    }

    fn string(&mut self) -> ConfResult<String> {
        let quote = self.chars.next().expect("called at a quote");
        let s = self.take(|c| c != quote && c != '\n');
        match self.chars.next() {
            Some(c) if c == quote => Ok(s),
            _ => self.fail("unterminated string"),
        }
    }

    /// Skips blanks and comments (and newlines and `;` when `lines`); the next character.
    fn skip(&mut self, lines: bool) -> Option<char> {
        loop {
            match self.chars.peek().copied()? {
                ' ' | '\t' | '\r' => {}
                '#' => {
                    self.take(|c| c != '\n');
                    continue;
                }
                '\n' if lines => self.line += 1,
                ';' if lines => {}
                c => return Some(c),
            }
            self.chars.next();
        }
    }

    fn take(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.chars.next_if(|c| keep(*c)) {
            s.push(c);
        }
        s
    }

    fn fail<T>(&self, why: &str) -> ConfResult<T> {
        Err((self.line, why.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A resolver over `vars` and a config file holding `conf` (no file when `None`).
    fn resolver<'a>(
        dir: &tempfile::TempDir,
        vars: &'a HashMap<&str, &str>,
        conf: Option<&str>,
    ) -> UriResolver<'a> {
        let path = dir.path().join("virt.conf");
        if let Some(text) = conf {
            std::fs::write(&path, text).expect("write config");
        }
        UriResolver::new(|k: &str| vars.get(k).map(|v| v.to_string()), Some(path))
    }

    #[test]
    fn default_uri_prefers_explicit_then_virsh_env_then_libvirt_env_then_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = Some("# client\nuri_default = \"lxc:///system\"\n");
        let both = HashMap::from([
            ("VIRSH_DEFAULT_CONNECT_URI", "xen:///system"),
            ("LIBVIRT_DEFAULT_URI", "qemu:///session"),
        ]);
        let libvirt_only = HashMap::from([("LIBVIRT_DEFAULT_URI", "qemu:///session")]);
        let empty_env = HashMap::from([("LIBVIRT_DEFAULT_URI", "")]);
        let none = HashMap::new();
        let cases = [
            (
                Some("test:///default"),
                &both,
                conf,
                Some("test:///default"),
            ),
            (Some(""), &both, conf, Some("xen:///system")),
            (None, &both, conf, Some("xen:///system")),
            (None, &libvirt_only, conf, Some("qemu:///session")),
            (None, &empty_env, conf, Some("lxc:///system")),
            (None, &none, conf, Some("lxc:///system")),
            (None, &none, Some("uri_default = ''\n"), None),
            (None, &none, None, None),
        ];
        for (explicit, vars, conf, want) in cases {
            let got = resolver(&dir, vars, conf)
                .default_uri(explicit)
                .expect("resolves");
            assert_eq!(got.as_deref(), want, "{explicit:?} {vars:?} {conf:?}");
        }
    }

    #[test]
    fn aliases_resolve_from_a_multi_line_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vars = HashMap::new();
        let conf = "uri_default = \"hail\"  # an alias\nuri_aliases = [\n  \"hail=qemu+ssh://root@hail.cloud.example.com/system\", # remote\n  'sleet=qemu+ssh://root@sleet.cloud.example.com/system',\n]\nother = 3\n";
        let r = resolver(&dir, &vars, Some(conf));
        let hail = "qemu+ssh://root@hail.cloud.example.com/system";
        assert_eq!(r.resolve_alias("hail").expect("ok").as_deref(), Some(hail));
        assert_eq!(
            r.resolve_alias("sleet").expect("ok").as_deref(),
            Some("qemu+ssh://root@sleet.cloud.example.com/system")
        );
        assert_eq!(r.resolve_alias("snow").expect("ok"), None);
        assert_eq!(r.resolve_alias("qemu:///system").expect("ok"), None);
        assert_eq!(r.resolve(None, false).expect("ok").as_deref(), Some(hail));
        assert_eq!(r.resolve(None, true).expect("ok").as_deref(), Some("hail"));
        assert_eq!(
            r.resolve(Some("test:///default"), false)
                .expect("ok")
                .as_deref(),
            Some("test:///default")
        );
    }

    #[test]
    fn malformed_config_is_conf_syntax_naming_file_and_fault() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vars = HashMap::new();
        let path = dir.path().join("virt.conf").display().to_string();
        let cases = [
            ("uri_aliases = [\"noequals\"]\n", "malformed 'uri_aliases' entry 'noequals', expected 'alias=uri://host/path'"),
            ("uri_aliases = [\"bad.name=qemu:///system\"]\n", "malformed 'uri_aliases' entry 'bad.name=qemu:///system', aliases may only contain 'a-Z, 0-9, _, -'"),
            ("uri_aliases = \"a=qemu:///system\"\n", "'uri_aliases' must be a list of strings"),
            ("uri_aliases = [\"a=b\"\n", "line 2: expected ',' or ']' in a list"),
            ("uri_default = \"open\n", "line 1: unterminated string"),
            ("uri_default \"x\"\n", "line 1: expected '=' after 'uri_default'"),
            ("\n\n= 3\n", "line 3: expected a setting name"),
            ("uri_default = \"a\" \"b\"\n", "line 1: unexpected text after the value of 'uri_default'"),
        ];
        for (conf, why) in cases {
            let err = resolver(&dir, &vars, Some(conf))
                .resolve(Some("x"), false)
                .expect_err(conf);
            assert_eq!(
                (err.code, err.domain),
                (ErrorCode::ConfSyntax, ErrorDomain::Conf),
                "{conf}"
            );
            assert_eq!(
                err.message(),
                format!("configuration file syntax error: {path}: {why}"),
                "{conf}"
            );
        }
        let err = resolver(&dir, &vars, Some("uri_default = 5\n"))
            .default_uri(None)
            .expect_err("int");
        assert_eq!(
            err.detail,
            format!("{path}: 'uri_default' must be a string")
        );
    }

    #[test]
    fn config_path_depends_on_user_and_xdg() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let xdg = env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/home/u")]);
        let home = env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/u")]);
        let nothing = env(&[]);
        assert_eq!(
            client_config_path(true, &xdg),
            Some(PathBuf::from("/etc/virt/virt.conf"))
        );
        assert_eq!(
            client_config_path(false, &xdg),
            Some(PathBuf::from("/x/virt/virt.conf"))
        );
        assert_eq!(
            client_config_path(false, &home),
            Some(PathBuf::from("/home/u/.config/virt/virt.conf"))
        );
        assert_eq!(client_config_path(false, &nothing), None);
    }
}
