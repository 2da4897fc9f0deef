//! `<input>`, `<graphics>`, `<sound>` and `<video>`.
//!
//! Graphics follow libvirt's listen rules: the legacy `listen=`/`socket=` attributes become a
//! first `<listen>` element; VNC without any listen gets `<listen type='address'/>`, SPICE gets
//! one when a port is involved and `<listen type='none'/>` otherwise; ports and autoport are
//! printed only for address and network listens; the password only in secure XML.

use virt_core::model::display::{Graphics, Input, Listen, Sound, Video};
use virt_core::model::enums::{
    GraphicsType, InputBus, InputType, ListenType, SoundModel, VideoModel,
};
use virt_core::xml::FormatOptions;

use super::{format_info, parse_address, parse_alias};
use crate::domain::non_empty;
use crate::strict::{parse_i32, Cursor};
use crate::writer::Writer;
use crate::XmlError;

pub(super) fn parse_input(mut c: Cursor<'_>) -> Result<Input, XmlError> {
    let ty = c.attr_req("type")?;
    let ty = InputType::from_xml(ty).ok_or_else(|| {
        c.invalid_attr(
            "type",
            ty,
            "expected mouse, tablet, keyboard, passthrough or evdev",
        )
    })?;
    if matches!(ty, InputType::Passthrough | InputType::Evdev) {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("input type '{ty}' is not supported"),
        });
    }
    let bus = c.attr_with(
        "bus",
        "expected ps2, usb, xen, virtio or none",
        InputBus::from_xml,
    )?;
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(Input {
        input_type: ty,
        bus,
        alias,
        address,
    })
}

pub(super) fn format_input(w: &mut Writer, i: &Input) {
    w.tag("input")
        .attr("type", i.input_type)
        .attr_opt("bus", i.bus)
        .children(|w| format_info(w, None, i.alias.as_deref(), i.address.as_ref()));
}

fn port(c: &mut Cursor<'_>, name: &str) -> Result<Option<i32>, XmlError> {
    c.attr_with(name, "expected -1 or a TCP port", |v| {
        parse_i32(v).filter(|p| (-1..=65535).contains(p))
    })
}

pub(super) fn parse_graphics(mut c: Cursor<'_>) -> Result<Graphics, XmlError> {
    let ty = c.attr_req("type")?;
    let ty = GraphicsType::from_xml(ty)
        .ok_or_else(|| c.invalid_attr("type", ty, "expected a graphics type"))?;
    let mut g = Graphics {
        graphics_type: ty,
        ..Graphics::default()
    };
    match ty {
        GraphicsType::Vnc | GraphicsType::Spice => parse_remote(&mut c, &mut g)?,
        GraphicsType::Sdl => {
            g.display = non_empty(c.attr_string("display"));
            g.xauth = non_empty(c.attr_string("xauth"));
            g.fullscreen = c.attr_yes_no("fullscreen")?;
        }
        GraphicsType::EglHeadless => {}
        _ => {
            return Err(XmlError::Unsupported {
                path: c.attr_path("type"),
                message: format!("graphics type '{ty}' is not supported"),
            })
        }
    }
    if let Some(mut gl) = c.child("gl")? {
        g.gl_enable = gl.attr_yes_no("enable")?;
        g.gl_rendernode = non_empty(gl.attr_string("rendernode"));
        gl.finish()?;
    }
    c.finish()?;
    Ok(g)
}

fn parse_remote(c: &mut Cursor<'_>, g: &mut Graphics) -> Result<(), XmlError> {
    let spice = g.graphics_type == GraphicsType::Spice;
    let port_v = port(c, "port")?;
    let tls_v = if spice { port(c, "tlsPort")? } else { None };
    let autoport = c.attr_yes_no("autoport")?;
    g.autoport = match autoport {
        Some(a) => a,
        None if spice => port_v == Some(-1) || tls_v == Some(-1),
        None => port_v.is_none_or(|p| p == -1),
    };
    if !g.autoport {
        g.port = port_v.filter(|p| *p >= 0).map(|p| p as u32);
        g.tls_port = tls_v.filter(|p| *p >= 0).map(|p| p as u32);
    }
    g.keymap = non_empty(c.attr_string("keymap"));
    if spice {
        g.default_mode = c.attr_word("defaultMode", &["any", "secure", "insecure"])?;
    } else {
        g.websocket = c.attr_with("websocket", "expected -1 or a TCP port", |v| {
            parse_i32(v).filter(|p| (-1..=65535).contains(p))
        })?;
        g.share_policy = c.attr_word(
            "sharePolicy",
            &["allow-exclusive", "force-shared", "ignore"],
        )?;
    }
    g.passwd = c.attr_string("passwd");
    g.passwd_valid_to = c.attr_string("passwdValidTo");
    g.connected = if spice {
        c.attr_word("connected", &["fail", "disconnect", "keep"])?
    } else {
        c.attr_word("connected", &["keep"])?
    };
    if let Some(t) = &g.passwd_valid_to {
        let b = t.as_bytes();
        let shape = b.len() == 19
            && b.iter().enumerate().all(|(i, ch)| match i {
                4 | 7 => *ch == b'-',
                10 => *ch == b'T',
                13 | 16 => *ch == b':',
                _ => ch.is_ascii_digit(),
            });
        if !shape {
            return Err(c.invalid_attr("passwdValidTo", t, "expected YYYY-MM-DDTHH:MM:SS"));
        }
    }
    parse_listens(c, g)?;
    if spice {
        parse_spice_children(c, g)?;
    }
    Ok(())
}

/// SPICE's channel modes and compression, streaming and transfer settings.
fn parse_spice_children(c: &mut Cursor<'_>, g: &mut Graphics) -> Result<(), XmlError> {
    const CHANNELS: &[&str] = &[
        "main",
        "display",
        "inputs",
        "cursor",
        "playback",
        "record",
        "smartcard",
        "usbredir",
    ];
    for mut ch in c.children("channel") {
        let name = ch
            .attr_word("name", CHANNELS)?
            .ok_or_else(|| XmlError::Missing {
                path: ch.attr_path("name"),
            })?;
        let mode = ch
            .attr_word("mode", &["any", "secure", "insecure"])?
            .ok_or_else(|| XmlError::Missing {
                path: ch.attr_path("mode"),
            })?;
        ch.finish()?;
        // `any` is every channel's default, which libvirt does not keep.
        if mode != "any" {
            g.channels.push((name, mode));
        }
    }
    if let Some(mut e) = c.child("image")? {
        g.image_compression = e.attr_word(
            "compression",
            &["auto_glz", "auto_lz", "quic", "glz", "lz", "off"],
        )?;
        e.finish()?;
    }
    for (name, slot) in [
        ("jpeg", &mut g.jpeg_compression),
        ("zlib", &mut g.zlib_compression),
    ] {
        if let Some(mut e) = c.child(name)? {
            *slot = e.attr_word("compression", &["auto", "never", "always"])?;
            e.finish()?;
        }
    }
    if let Some(mut e) = c.child("playback")? {
        g.playback_compression = e.attr_on_off("compression")?;
        e.finish()?;
    }
    if let Some(mut e) = c.child("streaming")? {
        g.streaming_mode = e.attr_word("mode", &["filter", "all", "off"])?;
        e.finish()?;
    }
    if let Some(mut e) = c.child("filetransfer")? {
        g.filetransfer_enable = e.attr_yes_no("enable")?;
        e.finish()?;
    }
    if let Some(mut e) = c.child("mouse")? {
        g.mouse_mode = e.attr_word("mode", &["server", "client"])?;
        e.finish()?;
    }
    if let Some(mut e) = c.child("clipboard")? {
        g.clipboard_copypaste = e.attr_yes_no("copypaste")?;
        e.finish()?;
    }
    Ok(())
}

fn parse_listens(c: &mut Cursor<'_>, g: &mut Graphics) -> Result<(), XmlError> {
    let legacy = non_empty(c.attr_string("listen"));
    let socket = if g.graphics_type == GraphicsType::Vnc {
        non_empty(c.attr_string("socket"))
    } else {
        None
    };
    for mut l in c.children("listen") {
        let ty = l.attr_req("type")?;
        let ty = ListenType::from_xml(ty).ok_or_else(|| {
            l.invalid_attr("type", ty, "expected address, network, socket or none")
        })?;
        let mut listen = Listen {
            listen_type: ty,
            ..Listen::default()
        };
        match ty {
            ListenType::Address => listen.address = non_empty(l.attr_string("address")),
            ListenType::Network => {
                listen.network = Some(l.attr_req("network")?.to_string());
                listen.address = non_empty(l.attr_string("address"));
            }
            ListenType::Socket => listen.socket = non_empty(l.attr_string("socket")),
            ListenType::None => {}
        }
        l.finish()?;
        g.listens.push(listen);
    }
    let first_addr = g
        .listens
        .iter()
        .find(|l| l.listen_type == ListenType::Address)
        .cloned();
    let first = g.listens.first().cloned();
    match (legacy, socket, first) {
        (Some(addr), _, Some(_)) if first_addr.as_ref().and_then(|l| l.address.as_deref()) != Some(addr.as_str()) => {
            return Err(XmlError::Invalid {
                path: c.attr_path("listen"),
                message: format!("graphics 'listen' attribute '{addr}' must match the 'address' attribute of the first address listen element"),
            })
        }
        (_, Some(sock), Some(f)) if f.socket.as_deref() != Some(sock.as_str()) => {
            return Err(XmlError::Invalid {
                path: c.attr_path("socket"),
                message: format!("graphics 'socket' attribute '{sock}' must match the first socket listen element"),
            })
        }
        (Some(addr), _, None) => g.listens.push(Listen { listen_type: ListenType::Address, address: Some(addr), ..Listen::default() }),
        (None, Some(sock), None) => g.listens.push(Listen { listen_type: ListenType::Socket, socket: Some(sock), ..Listen::default() }),
        (None, None, None) => {
            let ported = g.autoport || g.port.is_some() || g.tls_port.is_some();
            let ty = if g.graphics_type == GraphicsType::Vnc || ported { ListenType::Address } else { ListenType::None };
            g.listens.push(Listen { listen_type: ty, ..Listen::default() });
        }
        // libvirt 9.0 gives an auto-ported VNC display whose listens are all sockets an
        // address listen too (which its start then refuses as a second listen).
        (None, None, Some(_))
            if g.graphics_type == GraphicsType::Vnc
                && g.autoport
                && g.listens.iter().all(|l| l.listen_type == ListenType::Socket) =>
        {
            g.listens.push(Listen { listen_type: ListenType::Address, ..Listen::default() });
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn format_graphics(w: &mut Writer, g: &Graphics, opts: FormatOptions) {
    let mut tag = w.tag("graphics").attr("type", g.graphics_type);
    let first = g.listens.first();
    // libvirt prints ports only when the first listen is an address or network one, and so
    // loses them when a socket listen comes first; any such listen counts here.
    let remote = g
        .listens
        .iter()
        .any(|l| matches!(l.listen_type, ListenType::Address | ListenType::Network));
    match g.graphics_type {
        GraphicsType::Vnc | GraphicsType::Spice => {
            let spice = g.graphics_type == GraphicsType::Spice;
            // libvirt's schema makes a VNC `socket=` exclusive with ports and `listen=`: with
            // an address listen too, the socket stays in its `<listen>` element only.
            let socket_first = first.filter(|l| l.listen_type == ListenType::Socket);
            if let (false, false, Some(l)) = (spice, remote, socket_first) {
                tag = tag.attr_opt("socket", l.socket.as_deref());
            }
            if remote && !spice {
                match g.port {
                    Some(p) if !g.autoport || !opts.inactive => tag = tag.attr("port", p),
                    _ if g.autoport => tag = tag.attr("port", "-1"),
                    _ => {}
                }
                tag = tag
                    .yes_no("autoport", Some(g.autoport))
                    .attr_opt("websocket", g.websocket);
            }
            if remote && spice {
                tag = tag
                    .attr_opt("port", g.port)
                    .attr_opt("tlsPort", g.tls_port)
                    .yes_no("autoport", Some(g.autoport));
            }
            // libvirt prints `listen=` only when the first listen is an address; it is kept
            // here from the first address listen, as the parser checks it against that one.
            let first_address = g
                .listens
                .iter()
                .find(|l| l.listen_type == ListenType::Address);
            if let Some(l) = first_address {
                tag = tag.attr_opt("listen", l.address.as_deref());
            }
            tag = tag
                .attr_opt("keymap", g.keymap.as_deref())
                .attr_opt("sharePolicy", g.share_policy.as_deref())
                .attr_opt("defaultMode", g.default_mode.as_deref())
                .attr_opt(
                    "passwd",
                    if opts.secure {
                        g.passwd.as_deref()
                    } else {
                        None
                    },
                )
                // libvirt ignores these two without a passwd; they are kept here, so that
                // XML printed without secrets (no passwd) still says the same on re-parse.
                .attr_opt("passwdValidTo", g.passwd_valid_to.as_deref())
                .attr_opt("connected", g.connected.as_deref());
        }
        GraphicsType::Sdl => {
            tag = tag
                .attr_opt("display", g.display.as_deref())
                .attr_opt("xauth", g.xauth.as_deref())
                .yes_no("fullscreen", g.fullscreen);
        }
        _ => {}
    }
    tag.children(|w| {
        for l in &g.listens {
            w.tag("listen")
                .attr("type", l.listen_type)
                .attr_opt("address", l.address.as_deref())
                .attr_opt("network", l.network.as_deref())
                .attr_opt("socket", l.socket.as_deref())
                .empty();
        }
        for (name, mode) in &g.channels {
            w.tag("channel")
                .attr("name", name)
                .attr("mode", mode)
                .empty();
        }
        if let Some(c) = &g.image_compression {
            w.tag("image").attr("compression", c).empty();
        }
        if let Some(c) = &g.jpeg_compression {
            w.tag("jpeg").attr("compression", c).empty();
        }
        if let Some(c) = &g.zlib_compression {
            w.tag("zlib").attr("compression", c).empty();
        }
        if g.playback_compression.is_some() {
            w.tag("playback")
                .on_off("compression", g.playback_compression)
                .empty();
        }
        if let Some(m) = &g.streaming_mode {
            w.tag("streaming").attr("mode", m).empty();
        }
        if let Some(m) = &g.mouse_mode {
            w.tag("mouse").attr("mode", m).empty();
        }
        if g.clipboard_copypaste.is_some() {
            w.tag("clipboard")
                .yes_no("copypaste", g.clipboard_copypaste)
                .empty();
        }
        if g.filetransfer_enable.is_some() {
            w.tag("filetransfer")
                .yes_no("enable", g.filetransfer_enable)
                .empty();
        }
        if g.gl_enable.is_some() || g.gl_rendernode.is_some() {
            w.tag("gl")
                .yes_no("enable", g.gl_enable)
                .attr_opt("rendernode", g.gl_rendernode.as_deref())
                .empty();
        }
    });
}

pub(super) fn parse_sound(mut c: Cursor<'_>) -> Result<Sound, XmlError> {
    let model = c.attr_req("model")?;
    let model = SoundModel::from_xml(model)
        .ok_or_else(|| c.invalid_attr("model", model, "expected a sound model"))?;
    let mut s = Sound {
        model,
        ..Sound::default()
    };
    for mut codec in c.children("codec") {
        s.codecs.push(
            codec
                .attr_word("type", &["duplex", "micro", "output"])?
                .ok_or_else(|| XmlError::Missing {
                    path: codec.attr_path("type"),
                })?,
        );
        codec.finish()?;
    }
    s.alias = parse_alias(&mut c)?;
    s.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(s)
}

pub(super) fn format_sound(w: &mut Writer, s: &Sound) {
    w.tag("sound").attr("model", s.model).children(|w| {
        for codec in &s.codecs {
            w.tag("codec").attr("type", codec).empty();
        }
        format_info(w, None, s.alias.as_deref(), s.address.as_ref());
    });
}

pub(super) fn parse_video(mut c: Cursor<'_>) -> Result<Video, XmlError> {
    let mut m = c.child("model")?.ok_or_else(|| XmlError::Missing {
        path: format!("{}/model", c.path()),
    })?;
    let ty = m.attr_req("type")?;
    let model = VideoModel::from_xml(ty)
        .ok_or_else(|| m.invalid_attr("type", ty, "expected a video model"))?;
    let mut v = Video {
        model,
        ram: m.attr_u32("ram")?,
        vram: m.attr_u32("vram")?,
        vram64: m.attr_u32("vram64")?,
        vgamem: m.attr_u32("vgamem")?,
        heads: m.attr_u32("heads")?,
        primary: m.attr_yes_no("primary")?.unwrap_or(false),
        ..Video::default()
    };
    if let Some(mut a) = m.child("acceleration")? {
        v.accel3d = a.attr_yes_no("accel3d")?;
        v.accel2d = a.attr_yes_no("accel2d")?;
        a.finish()?;
    }
    m.finish()?;
    v.alias = parse_alias(&mut c)?;
    v.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(v)
}

pub(super) fn format_video(w: &mut Writer, v: &Video) {
    w.tag("video").open();
    let tag = w
        .tag("model")
        .attr("type", v.model)
        .attr_opt("ram", v.ram)
        .attr_opt("vram", v.vram)
        .attr_opt("vram64", v.vram64)
        .attr_opt("vgamem", v.vgamem)
        .attr_opt("heads", v.heads)
        .yes_no("primary", v.primary.then_some(true));
    tag.children(|w| {
        if v.accel3d.is_some() || v.accel2d.is_some() {
            w.tag("acceleration")
                .yes_no("accel3d", v.accel3d)
                .yes_no("accel2d", v.accel2d)
                .empty();
        }
    });
    format_info(w, None, v.alias.as_deref(), v.address.as_ref());
    w.close("video");
}
