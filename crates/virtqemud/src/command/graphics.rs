//! Displays and host audio on the command line: `-audiodev` for each `<audio>` backend, then
//! `-vnc` or `-spice` for the `<graphics>` (or `-display none` without one), as libvirt 9.0
//! emits them.
//!
//! VNC with `autoport` listens on the first free display from :0 (`to=99`: QEMU picks the
//! port itself, `query-vnc` reports it); a socket listen is `vnc=unix:PATH`, `<listen
//! type='none'>` is `none`. SPICE is in `spice.rs`. A display has one listen (QEMU takes one;
//! libvirt defines more and refuses them at start, and so do we).

use virt_core::model::display::{Graphics, Listen};
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
        GraphicsType::Spice => super::spice::spice(b, g),
        GraphicsType::EglHeadless => Err(unsupported(format!(
            "graphics type 'egl-headless' {}",
            crate::define::devices::NO_RENDER_NODE
        ))),
        GraphicsType::Sdl => Err(unsupported(format!(
            "graphics type 'sdl' {}",
            crate::define::devices::NO_X_DISPLAY
        ))),
        t => Err(unsupported(format!(
            "graphics type '{t}' is not supported (vnc, spice)"
        ))),
    }
}

/// The display's only listen: QEMU takes one per display (libvirt refuses more at start);
/// an address listen without an address gets 127.0.0.1, as libvirt's `vnc_listen` /
/// `spice_listen`.
pub(super) fn only_listen(g: &Graphics) -> Result<Listen, VirtError> {
    if g.listens.len() > 1 {
        return Err(unsupported(
            "QEMU does not support multiple listens for one graphics device.",
        ));
    }
    let mut l = g.listens.first().cloned().unwrap_or(Listen {
        listen_type: ListenType::Address,
        ..Listen::default()
    });
    match l.listen_type {
        ListenType::Address | ListenType::None => {}
        ListenType::Socket if l.socket.is_some() => {}
        ListenType::Socket => {
            return Err(unsupported(
                "a socket listen needs a socket path (<listen type='socket' socket=...>)",
            ))
        }
        t => {
            return Err(unsupported(format!(
                "graphics listen type '{t}' is not supported (address, socket, none)"
            )))
        }
    }
    if l.listen_type == ListenType::Address && l.address.is_none() {
        l.address = Some("127.0.0.1".into());
    }
    Ok(l)
}

pub(super) fn first_audio(b: &Builder<'_>) -> u32 {
    b.def.devices.audios.first().map_or(1, |a| a.id)
}

/// `-vnc` (and `-k` for a keymap): where it listens, then `share=`, `password=on` when a
/// password is set (the password itself goes through the monitor after the start, see
/// `live/monitor_setup.rs`), the audio backend.
fn vnc(b: &mut Builder<'_>, g: &Graphics) -> Result<(), VirtError> {
    let l = only_listen(g)?;
    let mut v = match l.listen_type {
        ListenType::Socket => format!("vnc=unix:{}", opt(l.socket.as_deref().unwrap_or(""))),
        ListenType::None => "none".to_string(),
        _ => {
            let host = l.address.unwrap_or_else(|| "127.0.0.1".into());
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            let display = match g.port {
                Some(p) if !g.autoport && p >= 5900 => (p - 5900).to_string(),
                Some(p) if !g.autoport => {
                    return Err(unsupported(format!("VNC port {p} is below 5900")))
                }
                _ => "0,to=99".to_string(),
            };
            format!("{}:{display}", opt(&host))
        }
    };
    if let Some(share) = &g.share_policy {
        v.push_str(&format!(",share={share}"));
    }
    if g.passwd.is_some() {
        v.push_str(",password=on");
    }
    let audio = first_audio(b);
    v.push_str(&format!(",audiodev=audio{audio}"));
    b.arg("-vnc", v);
    if let Some(k) = &g.keymap {
        b.arg("-k", k.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::command::build;
    use crate::command::tests::ctx;

    fn vnc_args(graphics: &str) -> Vec<String> {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>vnc</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{graphics}<audio id='1' type='none'/></devices></domain>"
        ))
        .expect("test XML parses");
        let args = build(&def, &ctx()).expect("builds").args;
        args.windows(2)
            .filter(|w| matches!(w[0].as_str(), "-vnc" | "-k"))
            .flat_map(|w| w.iter().cloned())
            .collect()
    }

    /// libvirt 9.0's `domxml-to-native` for the same displays (the password itself is set
    /// over the monitor, never on the command line).
    #[test]
    fn vnc_options_match_libvirts() {
        assert_eq!(
            vnc_args(
                "<graphics type='vnc' port='5907' autoport='no' passwd='sercet' \
                 passwdValidTo='2031-05-31T16:11:22' connected='keep' keymap='de' \
                 sharePolicy='force-shared' listen='127.0.0.1'/>"
            ),
            [
                "-vnc",
                "127.0.0.1:7,share=force-shared,password=on,audiodev=audio1",
                "-k",
                "de"
            ]
        );
        assert_eq!(
            vnc_args("<graphics type='vnc' autoport='no' socket='/tmp/dev2o/vnc.sock'/>"),
            ["-vnc", "vnc=unix:/tmp/dev2o/vnc.sock,audiodev=audio1"]
        );
        assert_eq!(
            vnc_args("<graphics type='vnc'><listen type='none'/></graphics>"),
            ["-vnc", "none,audiodev=audio1"]
        );
        assert_eq!(
            vnc_args("<graphics type='vnc' port='5905' autoport='no' listen='::1'/>"),
            ["-vnc", "[::1]:5,audiodev=audio1"]
        );
    }
}
