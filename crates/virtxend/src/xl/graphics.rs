//! Graphics in both native formats: an HVM guest's `vnc`/`sdl` keys (with `vnclisten`,
//! `vncpasswd`, `vncunused`, `vncdisplay`, `keymap`), a PV guest's `vfb` list of one
//! `key=value` entry; the emulated video card libvirt adds beside them.

use std::fmt::Write as _;

use virt_core::VirtError;

use super::cfg::Value;
use super::from_native::{esc, Cfg};

/// One graphics device, as libvirt's domain XML holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Graphics {
    /// SDL rather than VNC.
    pub sdl: bool,
    /// The VNC display number (port 5900 + N); none: `autoport`.
    pub display: Option<u16>,
    /// The VNC listen address.
    pub listen: Option<String>,
    /// The VNC password.
    pub passwd: Option<String>,
    /// The keyboard map.
    pub keymap: Option<String>,
    /// The X display of SDL.
    pub sdl_display: Option<String>,
    /// The X authority file of SDL.
    pub xauth: Option<String>,
}

const HVM_KEYS: &[&str] = &[
    "display",
    "xauthority",
    "vnc",
    "sdl",
    "vnclisten",
    "vncpasswd",
    "vncunused",
    "vncdisplay",
    "keymap",
];

/// Reads the graphics keys of `c` and writes the graphics and video XML.
pub(crate) fn from_native(c: &Cfg, hvm: bool, x: &mut String) -> Result<(), VirtError> {
    if let Some(sp) = super::spice::from_native(c, hvm)? {
        x.push_str(&sp.xml());
        x.push_str(
            "    <video>\n      <model type='cirrus' vram='8192' heads='1' primary='yes'/>\n    </video>\n",
        );
        return Ok(());
    }
    let g = if hvm {
        if c.has("vfb") {
            return Err(c.refuse("vfb", "only for PV guests (HVM guests use 'vnc'/'sdl')"));
        }
        hvm_graphics(c)?
    } else {
        for k in HVM_KEYS {
            if c.has(k) {
                return Err(c.refuse(k, "only for HVM guests (PV guests use 'vfb')"));
            }
        }
        match c.list("vfb")?.as_slice() {
            [] => None,
            [one] => {
                Some(parse_vfb(one).map_err(|why| c.refuse("vfb", format!("'{one}': {why}")))?)
            }
            _ => return Err(c.refuse("vfb", "more than one framebuffer is not supported")),
        }
    };
    if let Some(g) = g {
        x.push_str(&g.xml());
        if hvm {
            x.push_str(
                "    <video>\n      <model type='cirrus' vram='8192' heads='1' primary='yes'/>\n    </video>\n",
            );
        } else {
            x.push_str(
                "    <video>\n      <model type='xen' vram='4096' heads='1' primary='yes'/>\n    </video>\n",
            );
        }
    }
    Ok(())
}

fn display(unused: Option<bool>, display: Option<i64>) -> Result<Option<u16>, String> {
    match (unused.unwrap_or(true), display) {
        (true, None) => Ok(None),
        (true, Some(_)) => Err("'vncdisplay' needs 'vncunused = 0'".into()),
        (false, d) => {
            let d = d.unwrap_or(0);
            u16::try_from(d)
                .ok()
                .filter(|d| *d < 100)
                .map(Some)
                .ok_or_else(|| format!("display {d} is out of range"))
        }
    }
}

fn hvm_graphics(c: &Cfg) -> Result<Option<Graphics>, VirtError> {
    let vnc = c.flag("vnc")?.unwrap_or(false);
    let sdl = c.flag("sdl")?.unwrap_or(false);
    if vnc && sdl {
        return Err(c.refuse("sdl", "together with 'vnc' is not supported yet"));
    }
    if !vnc {
        for k in [
            "vnclisten",
            "vncpasswd",
            "vncunused",
            "vncdisplay",
            "keymap",
        ] {
            if c.has(k) {
                return Err(c.refuse(k, "without 'vnc = 1' is not supported"));
            }
        }
        if !sdl {
            for k in ["display", "xauthority"] {
                if c.has(k) {
                    return Err(c.refuse(k, "without 'sdl = 1' is not supported"));
                }
            }
            return Ok(None);
        }
        return Ok(Some(Graphics {
            sdl: true,
            sdl_display: c.str("display")?.map(str::to_string),
            xauth: c.str("xauthority")?.map(str::to_string),
            ..Graphics::default()
        }));
    }
    for k in ["display", "xauthority"] {
        if c.has(k) {
            return Err(c.refuse(
                k,
                "with VNC is not supported (libvirt reads it for SDL only)",
            ));
        }
    }
    let d = display(c.flag("vncunused")?, c.num("vncdisplay")?)
        .map_err(|why| c.refuse("vncdisplay", why))?;
    Ok(Some(Graphics {
        sdl: false,
        sdl_display: None,
        xauth: None,
        display: d,
        listen: c.str("vnclisten")?.map(str::to_string),
        passwd: c.str("vncpasswd")?.map(str::to_string),
        keymap: c.str("keymap")?.map(str::to_string),
    }))
}

/// One `vfb` entry, read as libvirt reads it: SDL when it says `type=sdl`, VNC otherwise;
/// a VNC port comes from `vncunused=1` (automatic) or `vncdisplay` (fixed), and an entry with
/// neither (libvirt's port-less `autoport='no'`) is refused.
fn parse_vfb(spec: &str) -> Result<Graphics, String> {
    let (mut sdl, mut unused, mut disp) = (false, None, None);
    let mut g = Graphics::default();
    let mut vnc_keys = false;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("type", "vnc")) | Some(("vnc", "1")) => {}
            Some(("type", "sdl")) => sdl = true,
            Some(("vncunused", v @ ("0" | "1"))) => unused = Some(v == "1"),
            Some(("vncdisplay", v)) => {
                disp = Some(v.parse::<i64>().map_err(|_| format!("vncdisplay '{v}'"))?)
            }
            Some(("vnclisten", v)) if !v.is_empty() => g.listen = Some(v.to_string()),
            Some(("vncpasswd", v)) => g.passwd = Some(v.to_string()),
            Some(("keymap", v)) if !v.is_empty() => g.keymap = Some(v.to_string()),
            Some(("display", v)) if !v.is_empty() => g.sdl_display = Some(v.to_string()),
            Some(("xauthority", v)) if !v.is_empty() => g.xauth = Some(v.to_string()),
            Some((k, v)) => return Err(format!("vfb parameter '{k}={v}' is not supported")),
            None => return Err(format!("'{item}' is not a key=value parameter")),
        }
        vnc_keys |= item.starts_with("vnc") || item.starts_with("keymap=");
    }
    if sdl {
        if vnc_keys {
            return Err("VNC parameters with 'type=sdl' are not supported".into());
        }
        g.sdl = true;
        return Ok(g);
    }
    if g.sdl_display.is_some() || g.xauth.is_some() {
        return Err("'display'/'xauthority' without 'type=sdl' are not supported".into());
    }
    g.display = match (unused, disp) {
        (Some(true), None) => None,
        (Some(false) | None, Some(d)) => Some(
            u16::try_from(d)
                .ok()
                .filter(|d| *d < 100)
                .ok_or_else(|| format!("display {d} is out of range"))?,
        ),
        (Some(true), Some(_)) => return Err("'vncdisplay' needs 'vncunused=0'".into()),
        (_, None) => return Err("needs 'vncunused=1' or a 'vncdisplay'".into()),
    };
    Ok(g)
}

impl Graphics {
    /// The XML of this device.
    pub fn xml(&self) -> String {
        if self.sdl {
            let mut x = String::from("    <graphics type='sdl'");
            if let Some(d) = &self.sdl_display {
                let _ = write!(x, " display='{}'", esc(d));
            }
            if let Some(a) = &self.xauth {
                let _ = write!(x, " xauth='{}'", esc(a));
            }
            x.push_str("/>\n");
            return x;
        }
        let mut x = String::new();
        let (port, auto) = match self.display {
            Some(d) => (i32::from(d) + 5900, "no"),
            None => (-1, "yes"),
        };
        let _ = write!(
            x,
            "    <graphics type='vnc' port='{port}' autoport='{auto}'"
        );
        if let Some(l) = &self.listen {
            let _ = write!(x, " listen='{}'", esc(l));
        }
        if let Some(k) = &self.keymap {
            let _ = write!(x, " keymap='{}'", esc(k));
        }
        if let Some(p) = &self.passwd {
            let _ = write!(x, " passwd='{}'", esc(p));
        }
        x.push_str(">\n");
        match &self.listen {
            Some(l) => {
                let _ = writeln!(x, "      <listen type='address' address='{}'/>", esc(l));
            }
            None => x.push_str("      <listen type='address'/>\n"),
        }
        x.push_str("    </graphics>\n");
        x
    }

    /// Reads the opening line of a `<graphics>` element of the canonical XML.
    pub fn from_line(l: &str, attr: impl Fn(&str) -> Option<String>) -> Option<Graphics> {
        if l.starts_with("<graphics type='sdl'") {
            return Some(Graphics {
                sdl: true,
                sdl_display: attr("display"),
                xauth: attr("xauth"),
                ..Graphics::default()
            });
        }
        if !l.starts_with("<graphics type='vnc'") {
            return None;
        }
        let display = match attr("autoport").as_deref() {
            Some("yes") => None,
            _ => attr("port")
                .and_then(|p| p.parse::<u16>().ok())
                .and_then(|p| p.checked_sub(5900)),
        };
        Some(Graphics {
            sdl: false,
            display,
            listen: attr("listen"),
            passwd: attr("passwd"),
            keymap: attr("keymap"),
            sdl_display: None,
            xauth: None,
        })
    }

    /// An HVM guest's graphics keys, as libvirt writes them.
    pub fn hvm_native(&self, v: &mut Vec<(&'static str, Value)>) {
        let s = |x: &str| Value::Str(x.to_string());
        v.push(("sdl", Value::Num(i64::from(self.sdl))));
        v.push(("vnc", Value::Num(i64::from(!self.sdl))));
        if self.sdl {
            if let Some(d) = &self.sdl_display {
                v.push(("display", s(d)));
            }
            if let Some(a) = &self.xauth {
                v.push(("xauthority", s(a)));
            }
            return;
        }
        v.push(("vncunused", Value::Num(i64::from(self.display.is_none()))));
        if let Some(d) = self.display {
            v.push(("vncdisplay", Value::Num(i64::from(d))));
        }
        if let Some(l) = &self.listen {
            v.push(("vnclisten", s(l)));
        }
        if let Some(p) = &self.passwd {
            v.push(("vncpasswd", s(p)));
        }
        if let Some(k) = &self.keymap {
            v.push(("keymap", s(k)));
        }
    }

    /// A PV guest's `vfb` entry, as libvirt writes it.
    pub fn vfb(&self) -> String {
        if self.sdl {
            let mut s = String::from("type=sdl");
            if let Some(d) = &self.sdl_display {
                let _ = write!(s, ",display={d}");
            }
            if let Some(a) = &self.xauth {
                let _ = write!(s, ",xauthority={a}");
            }
            return s;
        }
        let mut s = String::from("type=vnc");
        match self.display {
            None => s.push_str(",vncunused=1"),
            Some(d) => {
                let _ = write!(s, ",vncunused=0,vncdisplay={d}");
            }
        }
        if let Some(l) = &self.listen {
            let _ = write!(s, ",vnclisten={l}");
        }
        if let Some(p) = &self.passwd {
            let _ = write!(s, ",vncpasswd={p}");
        }
        if let Some(k) = &self.keymap {
            let _ = write!(s, ",keymap={k}");
        }
        s
    }
}
