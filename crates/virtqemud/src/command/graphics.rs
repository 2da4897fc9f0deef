//! Displays and host audio on the command line: `-audiodev` for each `<audio>` backend, then
//! `-vnc` or `-spice` for the `<graphics>` (or `-display none` without one), as libvirt 9.0
//! emits them.
//!
//! VNC with `autoport` listens on the first free display from :0 (`to=99`: QEMU picks the
//! port itself, `query-vnc` reports it). SPICE cannot pick its own port, so the daemon picks a
//! free one before the start ([`super::LaunchContext::spice_port`]); the live XML shows it.
//! A SPICE `<listen type='none'>` gets `port=0` (no TCP listener; clients attach through the
//! monitor), as libvirt does.

use virt_core::model::display::Graphics;
use virt_core::model::enums::{GraphicsType, ListenType};
use virt_core::VirtError;

use super::json::Json;
use super::{opt, unsupported, Builder};

/// Audio backends QEMU 7.2 is given by id; `spice` needs SPICE graphics.
fn audiodev(b: &mut Builder<'_>, id: u32, kind: &str) -> Result<(), VirtError> {
    let driver = match kind {
        "none" => "none",
        "spice" if b.has_spice() => "spice",
        "spice" => {
            return Err(unsupported(
                "audio backend 'spice' needs SPICE graphics (<graphics type='spice'>)",
            ))
        }
        other => {
            return Err(unsupported(format!(
                "audio backend '{other}' is not supported (none, spice)"
            )))
        }
    };
    b.json(
        "-audiodev",
        Json::obj([
            ("id", Json::str(format!("audio{id}"))),
            ("driver", Json::str(driver)),
        ]),
    );
    Ok(())
}

/// The audio backends, then the display.
pub(super) fn audio_and_graphics(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let d = &b.def.devices;
    for a in &d.audios {
        audiodev(b, a.id, &a.audio_type)?;
    }
    if d.audios.is_empty() && !d.graphics.is_empty() {
        // A definition that never went through define (the display still needs one).
        audiodev(b, 1, "none")?;
    }
    if d.graphics.is_empty() {
        b.arg("-display", "none");
        return Ok(());
    }
    if d.graphics.len() > 1 {
        return Err(unsupported("only one <graphics> device is supported"));
    }
    let g = &d.graphics[0];
    match g.graphics_type {
        GraphicsType::Vnc => vnc(b, g),
        GraphicsType::Spice => spice(b, g),
        GraphicsType::EglHeadless => Err(unsupported(
            "graphics type 'egl-headless' needs a DRM render node (/dev/dri/renderD*), which \
             this host does not have",
        )),
        GraphicsType::Sdl => Err(unsupported(
            "graphics type 'sdl' needs an X display on the host, which a daemon does not \
             have; use 'vnc' or 'spice'",
        )),
        t => Err(unsupported(format!(
            "graphics type '{t}' is not supported (vnc, spice)"
        ))),
    }
}

/// The address a display listens on: `<listen type='address' address=...>` or the
/// attribute; 127.0.0.1 by default, as libvirt's `vnc_listen` / `spice_listen`.
fn listen_address(g: &Graphics) -> Result<Option<String>, VirtError> {
    match g.listens.first() {
        Some(l) if l.listen_type == ListenType::None => Ok(None),
        Some(l) if l.listen_type == ListenType::Address => Ok(Some(
            l.address.clone().unwrap_or_else(|| "127.0.0.1".into()),
        )),
        Some(l) => Err(unsupported(format!(
            "graphics listen type '{}' is not supported (address, none)",
            l.listen_type
        ))),
        None => Ok(Some("127.0.0.1".into())),
    }
}

fn first_audio(b: &Builder<'_>) -> u32 {
    b.def.devices.audios.first().map_or(1, |a| a.id)
}

fn vnc(b: &mut Builder<'_>, g: &Graphics) -> Result<(), VirtError> {
    let host = listen_address(g)?.unwrap_or_else(|| "127.0.0.1".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let display = match g.port {
        Some(p) if !g.autoport && p >= 5900 => (p - 5900).to_string(),
        Some(p) if !g.autoport => return Err(unsupported(format!("VNC port {p} is below 5900"))),
        _ => "0,to=99".to_string(),
    };
    let audio = first_audio(b);
    b.arg("-vnc", format!("{host}:{display},audiodev=audio{audio}"));
    Ok(())
}

fn spice(b: &mut Builder<'_>, g: &Graphics) -> Result<(), VirtError> {
    let mut opts: Vec<String> = Vec::new();
    match listen_address(g)? {
        None => opts.push("port=0".into()),
        Some(addr) => {
            let port = if g.autoport {
                b.ctx.spice_port.map(u32::from)
            } else {
                g.port
            };
            let port = port.ok_or_else(|| {
                unsupported("SPICE graphics need a port: set port= or autoport='yes'")
            })?;
            opts.push(format!("port={port}"));
            opts.push(format!("addr={}", opt(&addr)));
        }
    }
    opts.push("disable-ticketing=on".into());
    if let Some(c) = &g.image_compression {
        opts.push(format!("image-compression={}", opt(c)));
    }
    if let Some(m) = &g.mouse_mode {
        opts.push(format!(
            "agent-mouse={}",
            if m == "client" { "on" } else { "off" }
        ));
    }
    if g.clipboard_copypaste == Some(false) {
        opts.push("disable-copy-paste=on".into());
    }
    if g.gl_enable == Some(true) {
        return Err(unsupported(
            "SPICE OpenGL (<gl enable='yes'/>) needs a DRM render node, which this host does \
             not have",
        ));
    }
    opts.push("seamless-migration=on".into());
    b.arg("-spice", opts.join(","));
    Ok(())
}
