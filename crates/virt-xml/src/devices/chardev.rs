//! `<serial>`, `<parallel>`, `<console>` and `<channel>`, plus the character-device source
//! shared with the egd `<rng>` backend.
//!
//! On output the first console of an HVM guest is libvirt's alias of the first serial port:
//! it is printed with that serial port's source, as `virDomainDefFormatInternal` does.

use virt_core::model::chardev::{CharDev, CharSource, CharTarget};
use virt_core::model::enums::{CharProtocol, CharSourceMode, CharType};
use virt_core::model::DomainDef;
use virt_core::xml::FormatOptions;

use super::{format_info, parse_address, parse_alias};
use crate::domain::non_empty;
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

const SERIAL_TARGETS: &[&str] = &[
    "isa-serial",
    "usb-serial",
    "pci-serial",
    "spapr-vio-serial",
    "system-serial",
    "sclp-serial",
    "isa-debug",
];
const SERIAL_MODELS: &[&str] = &[
    "isa-serial",
    "usb-serial",
    "pci-serial",
    "spapr-vty",
    "pl011",
    "16550a",
    "sclpconsole",
    "sclplmconsole",
    "isa-debugcon",
];
const CONSOLE_TARGETS: &[&str] = &["serial", "virtio", "xen", "lxc", "openvz", "sclp", "sclplm"];

/// The console target type a driver gives a `<console>` written without one: `lxc` for
/// containers, `xen` for Xen PV guests, `serial` otherwise (libvirt's generic default).
pub(crate) fn default_console_target(def: &DomainDef) -> &'static str {
    match (def.virt_type.as_str(), def.os.os_type.as_str()) {
        ("lxc", _) => "lxc",
        ("xen", "xen" | "linux" | "xenpvh") => "xen",
        _ => "serial",
    }
}

/// Parses a character device element (`kind` is its name).
pub(super) fn parse(mut c: Cursor<'_>, kind: &str) -> Result<CharDev, XmlError> {
    let ty = c
        .attr_with(
            "type",
            "expected a character device type",
            CharType::from_xml,
        )?
        .unwrap_or_default();
    // `tty=` is the live XML's copy of a pty console's path: output only, as in libvirt.
    let _ = c.attr("tty");
    if matches!(ty, CharType::Nmdm | CharType::Dbus) {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("character device type '{ty}' is not supported"),
        });
    }
    let source = parse_source(&mut c, ty)?;
    let target = match c.child("target")? {
        Some(t) => parse_target(t, kind)?,
        None if kind == "channel" => {
            return Err(XmlError::Missing {
                path: format!("{}/target", c.path()),
            })
        }
        None => CharTarget::default(),
    };
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(CharDev {
        source,
        target,
        alias,
        address,
    })
}

/// Parses the `<source>` (and `<protocol>`) children of an element whose `type` is `ty`.
pub(crate) fn parse_source(c: &mut Cursor<'_>, ty: CharType) -> Result<CharSource, XmlError> {
    let mut s = CharSource {
        char_type: ty,
        ..CharSource::default()
    };
    let mut sources = c.children("source");
    let max = if ty == CharType::Udp { 2 } else { 1 };
    if sources.len() > max {
        return Err(XmlError::Duplicate {
            path: sources[max].path().to_string(),
        });
    }
    for src in sources.iter_mut() {
        let mode = src.attr_with("mode", "expected bind or connect", CharSourceMode::from_xml)?;
        match ty {
            CharType::Pty | CharType::Dev | CharType::File | CharType::Pipe => {
                s.path = non_empty(src.attr_string("path"));
                if ty == CharType::File {
                    s.append = src.attr_on_off("append")?;
                }
            }
            CharType::Unix => {
                s.mode = mode;
                s.path = non_empty(src.attr_string("path"));
            }
            CharType::Tcp => {
                s.mode = mode;
                s.host = non_empty(src.attr_string("host"));
                s.service = non_empty(src.attr_string("service"));
                s.tls = src.attr_yes_no("tls")?;
            }
            CharType::Udp if mode == Some(CharSourceMode::Bind) => {
                s.bind_host = non_empty(src.attr_string("host"));
                s.bind_service = non_empty(src.attr_string("service"));
            }
            CharType::Udp => {
                s.host = non_empty(src.attr_string("host"));
                s.service = non_empty(src.attr_string("service"));
            }
            CharType::Spiceport => s.channel = non_empty(src.attr_string("channel")),
            CharType::QemuVdagent => {
                if let Some(mut cb) = src.child("clipboard")? {
                    s.clipboard_copypaste = cb.attr_yes_no("copypaste")?;
                    cb.finish()?;
                }
                if let Some(mut m) = src.child("mouse")? {
                    s.mouse_mode = m.attr_word("mode", &["server", "client"])?;
                    m.finish()?;
                }
            }
            _ => {}
        }
    }
    for src in sources {
        src.finish()?;
    }
    if matches!(ty, CharType::Dev | CharType::File | CharType::Pipe) && s.path.is_none() {
        return Err(XmlError::Missing {
            path: format!("{}/source/@path", c.path()),
        });
    }
    if ty == CharType::Tcp {
        if let Some(mut p) = c.child("protocol")? {
            s.protocol = p.attr_with(
                "type",
                "expected raw, telnet, telnets or tls",
                CharProtocol::from_xml,
            )?;
            p.finish()?;
        }
        s.protocol.get_or_insert(CharProtocol::Raw);
    }
    Ok(s)
}

fn parse_target(mut t: Cursor<'_>, kind: &str) -> Result<CharTarget, XmlError> {
    let mut target = CharTarget::default();
    match kind {
        "serial" => {
            target.target_type = t.attr_word("type", SERIAL_TARGETS)?;
            target.port = t.attr_u32("port")?;
            if let Some(mut m) = t.child("model")? {
                target.model = m.attr_word("name", SERIAL_MODELS)?;
                m.finish()?;
            }
        }
        "parallel" => target.port = t.attr_u32("port")?,
        "console" => {
            target.target_type = t.attr_word("type", CONSOLE_TARGETS)?;
            target.port = t.attr_u32("port")?;
        }
        _ => {
            let ty = t.attr_word("type", &["virtio", "guestfwd", "xen"])?;
            let ty = ty.ok_or_else(|| XmlError::Missing {
                path: t.attr_path("type"),
            })?;
            if ty == "guestfwd" {
                target.address = Some(t.attr_req("address")?.to_string());
                target.port = Some(t.attr_u32("port")?.ok_or_else(|| XmlError::Missing {
                    path: t.attr_path("port"),
                })?);
            } else {
                target.name = non_empty(t.attr_string("name"));
                if ty == "virtio" {
                    target.state = t.attr_word("state", &["connected", "disconnected"])?;
                }
            }
            target.target_type = Some(ty);
        }
    }
    t.finish()?;
    Ok(target)
}

/// Writes the `<source>` and `<protocol>` children for `s`.
pub(crate) fn format_source(w: &mut Writer, s: &CharSource, opts: FormatOptions) {
    let mode = |m: Option<CharSourceMode>| m.unwrap_or_default();
    match s.char_type {
        CharType::Pty if opts.inactive => {}
        CharType::Pty | CharType::Dev | CharType::File | CharType::Pipe if s.path.is_some() => {
            w.tag("source")
                .attr_opt("path", s.path.as_deref())
                .on_off("append", s.append)
                .empty();
        }
        CharType::Udp => {
            if s.bind_host.is_some() || s.bind_service.is_some() {
                w.tag("source")
                    .attr("mode", "bind")
                    .attr_opt("host", s.bind_host.as_deref())
                    .attr_opt("service", s.bind_service.as_deref())
                    .empty();
            }
            if s.host.is_some() || s.service.is_some() {
                w.tag("source")
                    .attr("mode", "connect")
                    .attr_opt("host", s.host.as_deref())
                    .attr_opt("service", s.service.as_deref())
                    .empty();
            }
        }
        CharType::Tcp => {
            w.tag("source")
                .attr("mode", mode(s.mode))
                .attr_opt("host", s.host.as_deref())
                .attr_opt("service", s.service.as_deref())
                .yes_no("tls", s.tls)
                .empty();
            w.tag("protocol")
                .attr("type", s.protocol.unwrap_or_default())
                .empty();
        }
        CharType::Unix => {
            if let Some(p) = &s.path {
                w.tag("source")
                    .attr("mode", mode(s.mode))
                    .attr("path", p)
                    .empty();
            }
        }
        CharType::Spiceport => {
            if let Some(ch) = &s.channel {
                w.tag("source").attr("channel", ch).empty();
            }
        }
        CharType::QemuVdagent if s.clipboard_copypaste.is_none() && s.mouse_mode.is_none() => {}
        CharType::QemuVdagent => w.tag("source").children(|w| {
            if s.clipboard_copypaste.is_some() {
                w.tag("clipboard")
                    .yes_no("copypaste", s.clipboard_copypaste)
                    .empty();
            }
            if let Some(m) = &s.mouse_mode {
                w.tag("mouse").attr("mode", m).empty();
            }
        }),
        _ => {}
    }
}

fn format_one(w: &mut Writer, kind: &str, dev: &CharDev, opts: FormatOptions) {
    let tty = (kind == "console" && !opts.inactive && dev.source.char_type == CharType::Pty)
        .then_some(dev.source.path.as_deref())
        .flatten();
    w.tag(kind)
        .attr("type", dev.source.char_type)
        .attr_opt("tty", tty)
        .open();
    format_source(w, &dev.source, opts);
    let t = &dev.target;
    let tag = w
        .tag("target")
        .attr_opt("type", t.target_type.as_deref())
        .attr_opt("address", t.address.as_deref())
        .attr_opt("name", t.name.as_deref())
        .attr_opt(
            "state",
            if opts.inactive {
                None
            } else {
                t.state.as_deref()
            },
        )
        .attr_opt("port", t.port);
    match &t.model {
        Some(m) => tag.children(|w| w.tag("model").attr("name", m).empty()),
        None => tag.empty(),
    }
    format_info(w, None, dev.alias.as_deref(), dev.address.as_ref());
    w.close(kind);
}

/// Writes serials, parallels, consoles and channels in libvirt's order.
pub(super) fn format_all(w: &mut Writer, def: &DomainDef, opts: FormatOptions) {
    let d = &def.devices;
    for s in &d.serials {
        format_one(w, "serial", s, opts);
    }
    for p in &d.parallels {
        format_one(w, "parallel", p, opts);
    }
    for (n, c) in d.consoles.iter().enumerate() {
        let alias = def.os.os_type == "hvm"
            && c.target
                .target_type
                .as_deref()
                .is_none_or(|t| t == "serial");
        match d.serials.get(n) {
            Some(serial) if alias => {
                let copy = CharDev {
                    source: serial.source.clone(),
                    target: CharTarget {
                        target_type: Some("serial".into()),
                        port: serial.target.port,
                        ..CharTarget::default()
                    },
                    // The serial console is the serial port itself, under its name.
                    alias: serial.alias.clone(),
                    address: None,
                };
                format_one(w, "console", &copy, opts);
            }
            _ => format_one(w, "console", c, opts),
        }
    }
    for ch in &d.channels {
        format_one(w, "channel", ch, opts);
    }
}
