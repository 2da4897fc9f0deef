//! Character devices: an HVM guest's `serial` (QEMU's chardev syntax: `pty`, `file:PATH`,
//! `/dev/...`, `tcp:`/`telnet:HOST:PORT[,server,nowait]`, `udp:HOST:PORT[@HOST:PORT]`,
//! `unix:PATH[,server,nowait]`, `stdio`, `null`, `vc`) and xl's `channel` entries
//! (`connection=pty|socket,name=...,path=...`), read into one [`Chardev`] and written back as
//! libvirt 9.0 writes them.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::from_native::{esc, Cfg};
use super::NativeFormat;

/// One character device's backend, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Chardev {
    /// libvirt's type: `pty`, `file`, `dev`, `tcp`, `udp`, `unix`, `stdio`, `null`, `vc`.
    pub kind: String,
    /// The path of `file`, `dev` and `unix`.
    pub path: Option<String>,
    /// Listening (`server,nowait`; `mode='bind'`) rather than connecting.
    pub server: bool,
    /// `tcp` and `udp`: the host and port connected to (or bound, for a `tcp` server).
    pub host: Option<(String, String)>,
    /// `udp`: the local address bound.
    pub bind: Option<(String, String)>,
    /// `tcp`: `telnet` rather than `raw`.
    pub telnet: bool,
}

fn host_port(s: &str) -> Result<(String, String), String> {
    let (h, p) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("'{s}' is not HOST:PORT"))?;
    if h.is_empty() || p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || h.contains(',') {
        return Err(format!("'{s}' is not HOST:PORT"));
    }
    Ok((h.to_string(), p.to_string()))
}

/// `,server,nowait` (a listener) or nothing (a client).
fn server_suffix(s: &str) -> Result<(&str, bool), String> {
    match s.strip_suffix(",server,nowait") {
        Some(rest) => Ok((rest, true)),
        None if s.contains(',') => Err(format!("options of '{s}' other than ',server,nowait'")),
        None => Ok((s, false)),
    }
}

/// One `serial` value (not `none`).
pub(crate) fn parse_serial(spec: &str) -> Result<Chardev, String> {
    let mut c = Chardev::default();
    if matches!(spec, "pty" | "stdio" | "null" | "vc") {
        c.kind = spec.to_string();
    } else if let Some(p) = spec.strip_prefix("file:") {
        c.kind = "file".into();
        c.path = Some(p.to_string());
    } else if spec.starts_with("/dev/") {
        c.kind = "dev".into();
        c.path = Some(spec.to_string());
    } else if let Some(rest) = spec.strip_prefix("unix:") {
        let (p, server) = server_suffix(rest)?;
        c.kind = "unix".into();
        c.path = Some(p.to_string());
        c.server = server;
    } else if let Some((proto, rest)) = spec
        .strip_prefix("tcp:")
        .map(|r| (false, r))
        .or_else(|| spec.strip_prefix("telnet:").map(|r| (true, r)))
    {
        let (hp, server) = server_suffix(rest)?;
        c.kind = "tcp".into();
        c.telnet = proto;
        c.server = server;
        c.host = Some(host_port(hp)?);
    } else if let Some(rest) = spec.strip_prefix("udp:") {
        c.kind = "udp".into();
        match rest.split_once('@') {
            Some((conn, bind)) => {
                c.host = Some(host_port(conn)?);
                c.bind = Some(host_port(bind)?);
            }
            None => c.host = Some(host_port(rest)?),
        }
    } else {
        return Err(format!("'{spec}' is not supported"));
    }
    if c.path
        .as_deref()
        .is_some_and(|p| p.is_empty() || p.contains(','))
    {
        return Err(format!("'{spec}': the path is not supported"));
    }
    Ok(c)
}

/// One xl `channel` entry.
pub(crate) fn parse_channel(spec: &str) -> Result<(Chardev, String), String> {
    let (mut conn, mut name, mut path) = (None, None, None);
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("connection", v)) => conn = Some(v),
            Some(("name", v)) if !v.is_empty() => name = Some(v),
            Some(("path", v)) if !v.is_empty() => path = Some(v),
            Some((k, _)) => return Err(format!("channel parameter '{k}' is not supported")),
            None => return Err(format!("'{item}' is not a key=value parameter")),
        }
    }
    let name = name.ok_or("a channel needs a name")?;
    let c = match (conn, path) {
        (Some("pty"), None) => Chardev {
            kind: "pty".into(),
            ..Chardev::default()
        },
        (Some("socket"), Some(p)) => Chardev {
            kind: "unix".into(),
            path: Some(p.to_string()),
            server: true,
            ..Chardev::default()
        },
        _ => return Err("only 'connection=pty' and 'connection=socket,path=...'".into()),
    };
    Ok((c, name.to_string()))
}

/// `serial`: one value (both formats) or a list (xl) of an HVM guest; the first port's
/// console mirrors it.
pub(crate) fn serials(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    let specs: Vec<&str> = match c.str("serial") {
        Ok(None) => return Ok(()),
        Ok(Some("none")) if hvm => return Ok(()),
        Ok(Some(one)) => vec![one],
        Err(_) if c.format == NativeFormat::Xl => c.list("serial")?,
        Err(e) => return Err(e),
    };
    if !hvm {
        return Err(c.refuse("serial", "only for HVM guests (libvirt ignores it for PV)"));
    }
    let mut consoles = String::new();
    for (port, spec) in specs.iter().enumerate() {
        let dev =
            parse_serial(spec).map_err(|why| c.refuse("serial", format!("'{spec}': {why}")))?;
        x.push_str(&dev.serial_xml(port));
        if port == 0 {
            consoles = dev.console_xml();
        }
    }
    x.push_str(&consoles);
    Ok(())
}

/// xl's `channel` list.
pub(crate) fn channels(c: &Cfg, x: &mut String) -> Result<(), VirtError> {
    for spec in c.list("channel")? {
        let (dev, name) =
            parse_channel(spec).map_err(|why| c.refuse("channel", format!("'{spec}': {why}")))?;
        x.push_str(&dev.channel_xml(&name));
    }
    Ok(())
}

/// `parallel` of an HVM guest: `none` or one character device.
pub(crate) fn parallel(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    let Some(spec) = c.str("parallel")? else {
        return Ok(());
    };
    if !hvm {
        return Err(c.refuse(
            "parallel",
            "only for HVM guests (libvirt ignores it for PV)",
        ));
    }
    if spec == "none" {
        return Ok(());
    }
    let dev = parse_serial(spec).map_err(|why| c.refuse("parallel", format!("'{spec}': {why}")))?;
    let _ = writeln!(x, "    <parallel type='{}'>", dev.kind);
    dev.inner(x);
    x.push_str("      <target port='0'/>\n    </parallel>\n");
    Ok(())
}

impl Chardev {
    /// The `<source>` and `<protocol>` lines of this backend.
    fn inner(&self, x: &mut String) {
        let mode = if self.server { "bind" } else { "connect" };
        if let Some((h, p)) = &self.bind {
            let _ = writeln!(
                x,
                "      <source mode='bind' host='{}' service='{p}'/>",
                esc(h)
            );
        }
        match self.kind.as_str() {
            "file" | "dev" => {
                let path = self.path.as_deref().unwrap_or_default();
                let _ = writeln!(x, "      <source path='{}'/>", esc(path));
            }
            "unix" => {
                let path = self.path.as_deref().unwrap_or_default();
                let _ = writeln!(x, "      <source mode='{mode}' path='{}'/>", esc(path));
            }
            "tcp" | "udp" => {
                let mode = if self.kind == "udp" { "connect" } else { mode };
                if let Some((h, p)) = &self.host {
                    let _ = writeln!(
                        x,
                        "      <source mode='{mode}' host='{}' service='{p}'/>",
                        esc(h)
                    );
                }
                if self.kind == "tcp" {
                    let proto = if self.telnet { "telnet" } else { "raw" };
                    let _ = writeln!(x, "      <protocol type='{proto}'/>");
                }
            }
            _ => {}
        }
    }

    /// The `<serial>` element at `port`, and for port 0 the `<console>` that mirrors it.
    pub fn serial_xml(&self, port: usize) -> String {
        let mut x = String::new();
        let _ = writeln!(x, "    <serial type='{}'>", self.kind);
        self.inner(&mut x);
        let _ = writeln!(x, "      <target port='{port}'/>\n    </serial>");
        x
    }

    /// The `<console>` of the first serial port.
    pub fn console_xml(&self) -> String {
        let mut x = String::new();
        let _ = writeln!(x, "    <console type='{}'>", self.kind);
        self.inner(&mut x);
        x.push_str("      <target type='serial' port='0'/>\n    </console>\n");
        x
    }

    /// A `<channel>` named `name`.
    pub fn channel_xml(&self, name: &str) -> String {
        let mut x = String::new();
        let _ = writeln!(x, "    <channel type='{}'>", self.kind);
        self.inner(&mut x);
        let _ = writeln!(
            x,
            "      <target type='xen' name='{}'/>\n    </channel>",
            esc(name)
        );
        x
    }

    /// Reads one line inside a `<serial>` or `<channel>` element of the canonical XML.
    pub fn read_line(&mut self, l: &str, attr: impl Fn(&str) -> Option<String>) {
        if l.starts_with("<source ") {
            let mode = attr("mode");
            match (attr("host"), attr("service")) {
                (Some(h), Some(p)) if mode.as_deref() == Some("bind") && self.kind == "udp" => {
                    self.bind = Some((h, p))
                }
                (Some(h), Some(p)) => {
                    self.host = Some((h, p));
                    self.server = mode.as_deref() == Some("bind");
                }
                _ => {
                    self.path = attr("path");
                    self.server = mode.as_deref() == Some("bind");
                }
            }
        } else if l.starts_with("<protocol ") {
            self.telnet = attr("type").as_deref() == Some("telnet");
        }
    }

    /// This backend as a `serial` value.
    pub fn serial_native(&self) -> String {
        let server = if self.server { ",server,nowait" } else { "" };
        let hp = |o: &Option<(String, String)>| {
            o.as_ref()
                .map(|(h, p)| format!("{h}:{p}"))
                .unwrap_or_default()
        };
        match self.kind.as_str() {
            "file" => format!("file:{}", self.path.as_deref().unwrap_or_default()),
            "dev" => self.path.clone().unwrap_or_default(),
            "unix" => format!("unix:{}{server}", self.path.as_deref().unwrap_or_default()),
            "tcp" => {
                let proto = if self.telnet { "telnet" } else { "tcp" };
                format!("{proto}:{}{server}", hp(&self.host))
            }
            "udp" => match &self.bind {
                Some(_) => format!("udp:{}@{}", hp(&self.host), hp(&self.bind)),
                None => format!("udp:{}", hp(&self.host)),
            },
            k => k.to_string(),
        }
    }

    /// This backend as a `channel` entry named `name`.
    pub fn channel_native(&self, name: &str) -> String {
        match self.kind.as_str() {
            "unix" => format!(
                "connection=socket,path={},name={name}",
                self.path.as_deref().unwrap_or_default()
            ),
            k => format!("connection={k},name={name}"),
        }
    }
}
