//! `-spice` (and `-k` for a keymap), as libvirt 9.0 writes it for QEMU 7.2:
//!
//! ```text
//! -spice port=5901,addr=127.0.0.1,agent-mouse=on,disable-ticketing=on,plaintext-channel=main,
//!        image-compression=auto_glz,jpeg-wan-compression=auto,zlib-glz-wan-compression=auto,
//!        playback-compression=on,streaming-video=filter,disable-copy-paste=on,
//!        disable-agent-file-xfer=on,seamless-migration=on
//! ```
//!
//! Where it listens: `port=P,addr=A` on an address (the daemon picks P for `autoport`, see
//! [`super::LaunchContext::spice_port`]), `unix,addr=PATH` on a socket, `port=0` with
//! `<listen type='none'>` (no listener; clients attach through the monitor). With a password
//! `disable-ticketing=on` is left out and the password is set through the monitor after the
//! start (`live/monitor_setup.rs`), never on the command line.
//!
//! No SPICE TLS is configured here (libvirt's `spice_tls` in qemu.conf is off): a `tlsPort`
//! is refused at define (`define/devices.rs`), and secure channels or `defaultMode='secure'`
//! are refused here with libvirt's start-time messages.

use virt_core::model::display::Graphics;
use virt_core::model::enums::ListenType;
use virt_core::VirtError;

use super::graphics::only_listen;
use super::{opt, unsupported, Builder};

/// SPICE channel names in libvirt's order, which its `tls-channel=` / `plaintext-channel=`
/// options follow.
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

/// The `-spice` value's listener part.
fn listener(b: &Builder<'_>, g: &Graphics) -> Result<Vec<String>, VirtError> {
    let l = only_listen(g)?;
    Ok(match l.listen_type {
        ListenType::Socket => vec![
            "unix".into(),
            format!("addr={}", opt(l.socket.as_deref().unwrap_or(""))),
        ],
        ListenType::None => vec!["port=0".into()],
        _ => {
            let port = if g.autoport {
                b.ctx.spice_port.map(u32::from)
            } else {
                g.port
            };
            let port = port.ok_or_else(|| {
                unsupported("SPICE graphics need a port: set port= or autoport='yes'")
            })?;
            let addr = l.address.unwrap_or_else(|| "127.0.0.1".into());
            vec![format!("port={port}"), format!("addr={}", opt(&addr))]
        }
    })
}

/// Refuses what needs TLS (none is configured), with libvirt's messages.
fn refuse_secure(g: &Graphics) -> Result<(), VirtError> {
    let secure_channel = g.channels.iter().any(|(_, m)| m == "secure");
    let secure_default = g.default_mode.as_deref() == Some("secure");
    if !secure_channel && !secure_default {
        return Ok(());
    }
    Err(unsupported(if g.autoport {
        "Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf"
    } else if secure_default {
        "spice defaultMode secure requested in XML configuration, but TLS connection is not \
         available"
    } else {
        "spice secure channels set in XML configuration, but TLS connection is not available"
    }))
}

/// `-spice` for `g` (see the module docs).
pub(super) fn spice(b: &mut Builder<'_>, g: &Graphics) -> Result<(), VirtError> {
    let mut opts = listener(b, g)?;
    refuse_secure(g)?;
    if let Some(m) = &g.mouse_mode {
        let on = if m == "client" { "on" } else { "off" };
        opts.push(format!("agent-mouse={on}"));
    }
    if g.passwd.is_none() {
        opts.push("disable-ticketing=on".into());
    }
    if g.default_mode.as_deref() == Some("insecure") {
        opts.push("plaintext-channel=default".into());
    }
    for name in CHANNELS {
        if g.channels.iter().any(|(n, m)| n == name && m == "insecure") {
            opts.push(format!("plaintext-channel={name}"));
        }
    }
    let compression = [
        ("image-compression", &g.image_compression),
        ("jpeg-wan-compression", &g.jpeg_compression),
        ("zlib-glz-wan-compression", &g.zlib_compression),
    ];
    for (key, value) in compression {
        if let Some(v) = value {
            opts.push(format!("{key}={}", opt(v)));
        }
    }
    if let Some(on) = g.playback_compression {
        opts.push(format!(
            "playback-compression={}",
            if on { "on" } else { "off" }
        ));
    }
    if let Some(m) = &g.streaming_mode {
        opts.push(format!("streaming-video={}", opt(m)));
    }
    if g.clipboard_copypaste == Some(false) {
        opts.push("disable-copy-paste=on".into());
    }
    if g.filetransfer_enable == Some(false) {
        opts.push("disable-agent-file-xfer=on".into());
    }
    if g.gl_enable == Some(true) {
        return Err(unsupported(format!(
            "OpenGL (<gl enable='yes'/>) {}",
            crate::define::devices::NO_RENDER_NODE
        )));
    }
    opts.push("seamless-migration=on".into());
    b.arg("-spice", opts.join(","));
    if let Some(k) = &g.keymap {
        b.arg("-k", k.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use virt_core::error::ErrorCode;

    use crate::command::build;
    use crate::command::tests::ctx;

    fn def(graphics: &str) -> virt_core::model::DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>sp</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{graphics}<audio id='1' type='spice'/></devices></domain>"
        ))
        .expect("test XML parses")
    }

    /// The display arguments (`-vnc`, `-spice`, `-k`) and their values.
    fn display_args(args: &[String]) -> Vec<String> {
        args.windows(2)
            .filter(|w| matches!(w[0].as_str(), "-vnc" | "-spice" | "-k"))
            .flat_map(|w| w.iter().cloned())
            .collect()
    }

    fn spice_args(graphics: &str) -> Vec<String> {
        display_args(&build(&def(graphics), &ctx()).expect("builds").args)
    }

    /// libvirt 9.0's `domxml-to-native` for the same displays.
    #[test]
    fn spice_options_match_libvirts() {
        assert_eq!(
            spice_args(
                "<graphics type='spice' autoport='yes' keymap='de'>\
                 <listen type='socket' socket='/tmp/dev2o/spice.sock'/>\
                 <image compression='auto_glz'/><jpeg compression='auto'/>\
                 <zlib compression='auto'/><playback compression='on'/>\
                 <streaming mode='filter'/><mouse mode='client'/>\
                 <clipboard copypaste='no'/><filetransfer enable='no'/></graphics>"
            ),
            [
                "-spice",
                "unix,addr=/tmp/dev2o/spice.sock,agent-mouse=on,disable-ticketing=on,\
                 image-compression=auto_glz,jpeg-wan-compression=auto,\
                 zlib-glz-wan-compression=auto,playback-compression=on,streaming-video=filter,\
                 disable-copy-paste=on,disable-agent-file-xfer=on,seamless-migration=on",
                "-k",
                "de",
            ]
        );
        assert_eq!(
            spice_args(
                "<graphics type='spice' port='5901' autoport='no'>\
                 <listen type='address' address='127.0.0.1'/>\
                 <channel name='inputs' mode='insecure'/><channel name='main' mode='insecure'/>\
                 </graphics>"
            ),
            [
                "-spice",
                "port=5901,addr=127.0.0.1,disable-ticketing=on,plaintext-channel=main,\
                 plaintext-channel=inputs,seamless-migration=on"
            ]
        );
        // A password is set over the monitor: the command line only stops disabling tickets.
        assert_eq!(
            spice_args("<graphics type='spice' port='5901' autoport='no' passwd='abc'/>"),
            ["-spice", "port=5901,addr=127.0.0.1,seamless-migration=on"]
        );
        assert_eq!(
            spice_args("<graphics type='spice' port='5902' autoport='no' defaultMode='insecure'/>")
                [1],
            "port=5902,addr=127.0.0.1,disable-ticketing=on,plaintext-channel=default,\
             seamless-migration=on"
        );
    }

    #[test]
    fn what_needs_tls_or_a_second_listen_is_refused_with_libvirts_messages() {
        let refusal = |g: &str| {
            let e = build(&def(g), &ctx()).expect_err("refused");
            assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e:?}");
            e.detail
        };
        assert_eq!(
            refusal("<graphics type='spice' autoport='yes'><channel name='main' mode='secure'/></graphics>"),
            "Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf"
        );
        assert_eq!(
            refusal("<graphics type='spice' port='5944' autoport='no' defaultMode='secure'/>"),
            "spice defaultMode secure requested in XML configuration, but TLS connection is \
             not available"
        );
        assert_eq!(
            refusal(
                "<graphics type='spice' port='5944' autoport='no'>\
                 <channel name='main' mode='secure'/></graphics>"
            ),
            "spice secure channels set in XML configuration, but TLS connection is not \
             available"
        );
        assert_eq!(
            refusal(
                "<graphics type='spice' port='5944' autoport='no'>\
                 <listen type='socket' socket='/tmp/s.sock'/>\
                 <listen type='address' address='127.0.0.1'/></graphics>"
            ),
            "QEMU does not support multiple listens for one graphics device."
        );
    }
}
