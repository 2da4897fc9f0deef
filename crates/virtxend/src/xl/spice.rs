//! SPICE graphics of an xl HVM guest (`spice`, `spicehost`, `spiceport`, `spicetls_port`,
//! `spicedisable_ticketing`, `spiceagent_mouse`, `spice_clipboard_sharing`, `spicevdagent`).
//!
//! libvirt needs `spicedisable_ticketing = 1` or a `spicepasswd`; it does not keep the password
//! in the XML it shows, so a password is refused. It derives `spicevdagent` from the mouse mode
//! and clipboard sharing when writing, so a `spicevdagent` that disagrees is refused too.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::cfg::Value;
use super::from_native::{esc, Cfg};

/// The SPICE keys (xl only).
pub(crate) const KEYS: &[&str] = &[
    "spice",
    "spicehost",
    "spiceport",
    "spicetls_port",
    "spicedisable_ticketing",
    "spicepasswd",
    "spiceagent_mouse",
    "spice_clipboard_sharing",
    "spicevdagent",
];

/// A SPICE display, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Spice {
    /// The port; none: `autoport`.
    pub port: Option<u16>,
    /// The TLS port.
    pub tls_port: Option<u16>,
    /// The listen address.
    pub host: Option<String>,
    /// `<mouse mode='client'/>` rather than `server`.
    pub mouse_client: bool,
    /// `<clipboard copypaste='yes'/>`.
    pub clipboard: bool,
}

fn port(c: &Cfg, key: &str) -> Result<Option<u16>, VirtError> {
    match c.num(key)? {
        None | Some(0) => Ok(None),
        Some(p) => u16::try_from(p)
            .map(Some)
            .map_err(|_| c.refuse(key, format!("port {p} is out of range"))),
    }
}

/// The SPICE display of `c`, when `spice = 1`.
pub(crate) fn from_native(c: &Cfg, hvm: bool) -> Result<Option<Spice>, VirtError> {
    let on = c.flag("spice")?.unwrap_or(false);
    if !on {
        return match KEYS.iter().find(|k| c.has(k) && **k != "spice") {
            Some(k) => Err(c.refuse(k, "without 'spice = 1' is not supported")),
            None => Ok(None),
        };
    }
    if !hvm {
        return Err(c.refuse("spice", "only for HVM guests"));
    }
    for k in ["vnc", "sdl"] {
        if c.flag(k)? == Some(true) {
            return Err(c.refuse(k, "together with 'spice' is not supported"));
        }
    }
    if c.has("spicepasswd") {
        return Err(c.refuse(
            "spicepasswd",
            "not supported (libvirt's XML would not show it)",
        ));
    }
    if c.flag("spicedisable_ticketing")? != Some(true) {
        return Err(c.refuse(
            "spice",
            "needs 'spicedisable_ticketing = 1' (passwords are not supported)",
        ));
    }
    let s = Spice {
        port: port(c, "spiceport")?,
        tls_port: port(c, "spicetls_port")?,
        host: c.str("spicehost")?.map(str::to_string),
        mouse_client: c.flag("spiceagent_mouse")?.unwrap_or(false),
        clipboard: c.flag("spice_clipboard_sharing")?.unwrap_or(false),
    };
    if let Some(v) = c.flag("spicevdagent")? {
        if v != (s.mouse_client || s.clipboard) {
            return Err(c.refuse(
                "spicevdagent",
                "libvirt derives it from 'spiceagent_mouse' and 'spice_clipboard_sharing'",
            ));
        }
    }
    Ok(Some(s))
}

impl Spice {
    /// The XML of this display.
    pub fn xml(&self) -> String {
        let mut x = String::from("    <graphics type='spice'");
        if let Some(p) = self.port {
            let _ = write!(x, " port='{p}'");
        }
        if let Some(p) = self.tls_port {
            let _ = write!(x, " tlsPort='{p}'");
        }
        let auto = if self.port.is_some() || self.tls_port.is_some() {
            "no"
        } else {
            "yes"
        };
        let _ = write!(x, " autoport='{auto}'");
        if let Some(h) = &self.host {
            let _ = write!(
                x,
                " listen='{0}'>\n      <listen type='address' address='{0}'/>\n",
                esc(h)
            );
        } else {
            x.push_str(">\n      <listen type='address'/>\n");
        }
        let mouse = if self.mouse_client {
            "client"
        } else {
            "server"
        };
        let clip = if self.clipboard { "yes" } else { "no" };
        let _ = write!(
            x,
            "      <mouse mode='{mouse}'/>\n      <clipboard copypaste='{clip}'/>\n    </graphics>\n"
        );
        x
    }

    /// The keys libvirt writes for this display, in its order.
    pub fn native(&self, v: &mut Vec<(&'static str, Value)>) {
        let n = |x: bool| Value::Num(i64::from(x));
        v.push(("sdl", n(false)));
        v.push(("vnc", n(false)));
        v.push(("spice", n(true)));
        if let Some(h) = &self.host {
            v.push(("spicehost", Value::Str(h.clone())));
        }
        v.push(("spiceport", Value::Num(self.port.map_or(0, i64::from))));
        v.push((
            "spicetls_port",
            Value::Num(self.tls_port.map_or(0, i64::from)),
        ));
        v.push(("spicedisable_ticketing", n(true)));
        v.push(("spiceagent_mouse", n(self.mouse_client)));
        // libvirt sets `spicevdagent` with the first of the two that needs the agent.
        if self.mouse_client {
            v.push(("spicevdagent", n(true)));
        }
        if self.clipboard {
            v.push(("spice_clipboard_sharing", n(true)));
            if !self.mouse_client {
                v.push(("spicevdagent", n(true)));
            }
        }
    }
}
